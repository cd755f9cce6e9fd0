// The side panel's chat and files, against filestore's protocol: `/chat?token=<room token>`
// (JSON messages: welcome, history, message, edited, deleted, error, auth-ok; we send
// message, file, auth) and tus 1.0 uploads to `/files/` with the token as a Bearer header. The room token
// comes from signal (CLIENT_FLOW step 6) and is renewed before it expires.
// Everything a person typed or named is shown with textContent, never as HTML.

import { el, formatSize } from './ui.js';
import { FileTransfers } from './p2p-transfer.js';
import { Upload } from './files.js';

export class ChatPanel {
  constructor({ conference = null, root }) {
    this.conference = null;
    this.root = root;
    this.log = root.querySelector('#chat-log');
    this.form = root.querySelector('#chat-form');
    this.input = root.querySelector('#chat-input');
    this.fileInput = root.querySelector('#file-input');
    this.unavailable = root.querySelector('#chat-unavailable');
    this.to = root.querySelector('#chat-to');
    this.p2pInput = root.querySelector('#p2p-file-input');
    this.participants = new Map(); // nick -> name, chat-connected, without us
    this.transfers = new FileTransfers({ send: (m) => this.#send(m), token: () => this.token, log: this.log });
    this.ws = null;
    this.token = null;
    this.seen = new Set();
    this.pending = new Map(); // client_id -> element
    this.refreshTimer = null;
    this.generation = 0;
    this.editing = null; // id of our message being edited
    this.unread = 0;
    this.badge = document.querySelector('#chat-unread');
    this.panel = root.querySelector('#panel-chat');
    // The unread count resets whenever the chat panel becomes visible.
    const seenCheck = new MutationObserver(() => { if (this.#panelVisible()) this.#setUnread(0); });
    seenCheck.observe(root, { attributes: true, attributeFilter: ['hidden'] });
    seenCheck.observe(this.panel, { attributes: true, attributeFilter: ['hidden'] });
    document.addEventListener('visibilitychange', () => { if (this.#panelVisible()) this.#setUnread(0); });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.editing !== null) this.#stopEditing();
    });
    if (conference) this.attach(conference);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.sendText();
    });
    root.querySelector('#file-button').addEventListener('click', () => this.fileInput.click());
    // File drop anywhere on the side panel.
    root.addEventListener('dragover', (e) => {
      if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) {
        e.preventDefault();
        root.classList.add('drop-target');
      }
    });
    root.addEventListener('dragleave', () => root.classList.remove('drop-target'));
    root.addEventListener('drop', (e) => {
      root.classList.remove('drop-target');
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      if (this.form.hidden) {
        this.#system('⚠ Chat is not connected: the file was not sent.');
        return;
      }
      for (const f of e.dataTransfer.files) this.upload(f);
    });
    root.querySelector('#p2p-button').addEventListener('click', () => {
      if (!this.to.value) {
        this.#system('Pick a participant (Send to) for a direct transfer.');
        return;
      }
      this.p2pInput.click();
    });
    this.p2pInput.addEventListener('change', () => {
      const nick = this.to.value;
      const name = this.participants.get(nick);
      if (nick && name !== undefined) for (const f of this.p2pInput.files) this.transfers.sendFile(f, nick, name);
      this.p2pInput.value = '';
    });
    this.fileInput.addEventListener('change', () => {
      for (const f of this.fileInput.files) this.upload(f);
      this.fileInput.value = '';
    });
  }

  /**
   * Serves `conference` from now on (a page that calls from home holds one conference after
   * another): the previous one's socket and log go.
   */
  attach(conference) {
    if (this.conference === conference) return;
    this.close();
    this.generation++;
    this.conference = conference;
    this.log.replaceChildren();
    this.seen.clear();
    this.pending.clear();
    this.participants.clear();
    this.editing = null;
    this.#setUnread(0);
    conference.addEventListener('joined', () => { if (this.conference === conference) this.connect(); });
    conference.addEventListener('left', () => { if (this.conference === conference) this.close(); });
  }

  async connect() {
    const gen = ++this.generation;
    this.close(false);
    let token;
    try {
      token = await this.conference.roomToken();
    } catch (e) {
      console.warn('no room token, chat unavailable:', e.message);
      this.#setAvailable(false);
      return;
    }
    if (gen !== this.generation) return;
    this.token = token;
    const url = new URL(`/chat?token=${encodeURIComponent(token)}`, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url.href);
    this.ws = ws;
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      this.#onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.#setAvailable(false);
      // The conference's rejoin reconnects us; a chat-only drop retries on its own.
      setTimeout(() => { if (this.ws === ws && !this.conference.left) this.connect(); }, 2000);
    };
  }

  close(markUnavailable = true) {
    clearTimeout(this.refreshTimer);
    const ws = this.ws;
    this.ws = null;
    if (ws) try { ws.close(1000); } catch (_) { /* closed */ }
    if (markUnavailable) this.#setAvailable(false);
  }

  #setAvailable(on) {
    this.form.hidden = !on;
    this.unavailable.hidden = on;
  }

  #scheduleRefresh(exp) {
    clearTimeout(this.refreshTimer);
    const ms = Math.max(5000, exp * 1000 - Date.now() - 60000);
    this.refreshTimer = setTimeout(async () => {
      try {
        const token = await this.conference.roomToken();
        this.token = token;
        this.#send({ type: 'auth', token });
      } catch (e) {
        console.warn('room token renewal failed:', e.message);
      }
    }, ms);
  }

  #send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  #onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        this.you = msg.you;
        this.#setAvailable(true);
        // A reconnect redraws the log from the history; uploads and direct transfers still
        // running keep their rows.
        this.log.replaceChildren(...this.log.querySelectorAll('.uploading:not([data-state="done"]), .transfer:not([data-state="verified"]):not([data-state="failed"])'));
        this.seen.clear();
        this.participants.clear();
        for (const p of msg.participants || []) if (p.nick !== msg.you.nick) this.participants.set(p.nick, p.name);
        this.#renderParticipants();
        for (const m of msg.history || []) this.#render(m);
        if (msg.token_exp) this.#scheduleRefresh(msg.token_exp);
        break;
      case 'history':
        // Sent after the welcome in bounded frames, oldest first.
        for (const m of msg.messages || []) this.#render(m);
        break;
      case 'message':
        this.#render(msg);
        if (this.you && msg.from && msg.from.nick !== this.you.nick && !this.#panelVisible()) this.#setUnread(this.unread + 1);
        break;
      case 'joined':
        if (msg.participant && this.you && msg.participant.nick !== this.you.nick) {
          this.participants.set(msg.participant.nick, msg.participant.name);
          this.#renderParticipants();
        }
        break;
      case 'left':
        if (msg.participant) {
          this.participants.delete(msg.participant.nick);
          this.#renderParticipants();
        }
        break;
      case 'p2p':
      case 'relay-open':
      case 'relay-ready':
        this.transfers.handle(msg);
        break;
      case 'auth-ok':
        if (msg.token_exp) this.#scheduleRefresh(msg.token_exp);
        break;
      case 'edited': {
        const item = this.log.querySelector(`[data-id="${CSS.escape(String(msg.id))}"]`);
        const e = item && item.querySelector('.text');
        if (e) {
          e.textContent = msg.text;
          item.querySelector('.edited').hidden = false;
        }
        break;
      }
      case 'deleted': {
        const e = this.log.querySelector(`[data-id="${CSS.escape(String(msg.id))}"]`);
        if (e) e.remove();
        break;
      }
      case 'error':
        this.#system(`⚠ ${msg.message || msg.error}`);
        if (msg.client_id && this.pending.has(msg.client_id)) this.pending.get(msg.client_id).classList.add('failed');
        break;
      default:
        break;
    }
  }

  #panelVisible() {
    return !this.root.hidden && !this.panel.hidden && document.visibilityState !== 'hidden';
  }

  #setUnread(n) {
    this.unread = n;
    if (!this.badge) return;
    this.badge.textContent = String(n);
    this.badge.hidden = n === 0;
  }

  #stopEditing() {
    this.editing = null;
    this.form.classList.remove('editing');
    this.input.value = '';
  }

  #renderParticipants() {
    const current = this.to.value;
    const options = [el('option', { value: '', text: 'Everyone' })];
    for (const [nick, name] of this.participants) options.push(el('option', { value: nick, text: name }));
    this.to.replaceChildren(...options);
    this.to.value = this.participants.has(current) ? current : '';
  }

  #system(text) {
    this.log.appendChild(el('div', { class: 'chat-system', text }));
    this.log.scrollTop = this.log.scrollHeight;
  }

  #render(m) {
    if (m.id !== undefined && this.seen.has(m.id)) return;
    if (m.id !== undefined) this.seen.add(m.id);
    const mine = this.you && m.from && m.from.nick === this.you.nick;
    const optimistic = m.client_id && this.pending.get(m.client_id);
    const when = new Date(m.created_at || Date.now()).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const toName = m.to && mine ? (this.participants.get(m.to) || m.to) : null;
    const head = el('div', { class: 'chat-head' }, [
      el('span', { class: 'from', text: m.from ? m.from.name : '' }),
      m.to ? el('span', { class: 'private', text: toName ? ` (private to ${toName})` : ' (private)' }) : null,
      el('span', { class: 'when', text: ` ${when}` }),
      el('span', { class: 'edited', text: ' (edited)', hidden: !m.edited_at }),
    ]);
    const isFile = m.kind === 'file' && m.file;
    const body = isFile ? this.#fileCard(m.file) : el('div', { class: 'text', text: m.text || '' });
    const item = el('div', { class: mine ? 'chat-msg mine' : 'chat-msg', 'data-id': m.id, 'data-kind': m.kind || 'text', 'data-private': m.to ? 'true' : undefined }, [head, body]);
    // Edit and delete only on our own messages (the server checks it again).
    if (mine && m.id !== undefined) {
      const actions = el('span', { class: 'msg-actions' });
      if (!isFile) {
        actions.appendChild(el('button', { type: 'button', class: 'edit', text: 'Edit', onclick: () => {
          this.editing = m.id;
          this.form.classList.add('editing');
          this.input.value = item.querySelector('.text').textContent;
          this.input.focus();
        } }));
      }
      actions.appendChild(el('button', { type: 'button', class: 'delete', text: 'Delete', onclick: () => this.#send({ type: 'delete', id: m.id }) }));
      head.appendChild(actions);
    }
    if (optimistic && optimistic.isConnected) {
      optimistic.replaceWith(item);
      this.pending.delete(m.client_id);
    } else {
      if (optimistic) this.pending.delete(m.client_id);
      this.log.appendChild(item);
    }
    this.log.scrollTop = this.log.scrollHeight;
  }

  #fileCard(f) {
    const progress = el('progress', { max: String(f.size || 1), value: '0', hidden: true });
    const link = el('a', { class: 'download', href: '#', text: 'Download' });
    link.addEventListener('click', (e) => {
      e.preventDefault();
      this.download(f, progress, link);
    });
    let thumb = null;
    if (typeof f.mime === 'string' && f.mime.startsWith('image/') && f.size <= 20 * 1024 * 1024) {
      thumb = el('img', { class: 'thumb', alt: f.name });
      fetch(f.url || `/files/${f.id}`, { headers: { Authorization: `Bearer ${this.token}` } })
        .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
        .then((b) => { thumb.src = URL.createObjectURL(b); })
        .catch((e) => { console.warn('thumbnail failed:', e.message); thumb.remove(); });
    }
    return el('div', { class: 'file', 'data-file-id': f.id, 'data-sha256': f.sha256 }, [
      el('span', { class: 'file-name', text: f.name }),
      el('span', { class: 'file-size', text: ` ${formatSize(f.size)}` }),
      el('span', { class: 'file-sender', text: f.uploader_name ? ` from ${f.uploader_name}` : '' }),
      el('div', {}, [link, progress]),
      thumb,
    ]);
  }

  sendText() {
    const text = this.input.value.trim();
    if (!text) return;
    if (this.editing !== null) {
      if (!this.#send({ type: 'edit', id: this.editing, text })) this.#system('⚠ Chat is not connected.');
      this.#stopEditing();
      return;
    }
    const to = this.to.value || undefined;
    const clientId = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    if (!this.#send({ type: 'message', text, to, client_id: clientId })) {
      this.#system('⚠ Chat is not connected.');
      return;
    }
    const item = el('div', { class: 'chat-msg mine sending' }, [
      el('div', { class: 'chat-head' }, [el('span', { class: 'from', text: this.you ? this.you.name : '' })]),
      el('div', { class: 'text', text }),
    ]);
    this.pending.set(clientId, item);
    this.log.appendChild(item);
    this.log.scrollTop = this.log.scrollHeight;
    this.input.value = '';
  }

  /** A resumable tus upload with its progress row; announced to the room when complete. */
  upload(file) {
    const up = new Upload({
      file,
      token: () => this.token,
      sizeText: formatSize(file.size),
      onDone: (fileId, row) => {
        const clientId = `f${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
        this.pending.set(clientId, row);
        const to = this.to.value || undefined;
        if (!this.#send({ type: 'file', file_id: fileId, to, client_id: clientId })) {
          row.classList.add('failed');
          this.#system(`⚠ Chat is not connected: ${file.name} was uploaded but not announced.`);
        }
      },
    });
    this.log.appendChild(up.row);
    this.log.scrollTop = this.log.scrollHeight;
    up.start();
    return up;
  }

  /** Downloads with a progress bar, then hands the bytes to the browser as a file. */
  async download(f, progress, link) {
    progress.hidden = false;
    const url = `${f.url || `/files/${f.id}`}`;
    const r = await fetch(url, { headers: { Authorization: `Bearer ${this.token}` } });
    if (!r.ok || !r.body) {
      link.textContent = `Download failed (${r.status})`;
      return;
    }
    const reader = r.body.getReader();
    const parts = [];
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      got += value.length;
      progress.value = got;
    }
    const blob = new Blob(parts, { type: f.mime || 'application/octet-stream' });
    const a = el('a', { href: URL.createObjectURL(blob), download: f.name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    link.textContent = 'Downloaded';
    link.dataset.bytes = String(got);
  }
}
