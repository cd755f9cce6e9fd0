// The home page (`/`, issue 15): people known to this server with their presence (call,
// message), the rooms in progress open to join, the conversations with unread counts (one
// open at a time: its history paged backwards, the composer, files through the resumable
// upload), and the notifications that waited (missed calls, invitations). The unread total
// is in the title. Page hooks as ARCHITECTURE.md lists them; every name and text is set as
// text, never as HTML.

import { el, formatSize } from './ui.js';
import { Upload } from './files.js';

const ROOMS_EVERY_MS = 5000;

export class Home {
  constructor({ root, session, calls, openRoom }) {
    this.root = root;
    this.s = session;
    this.calls = calls;
    this.openRoom = openRoom;
    this.peopleList = root.querySelector('#people');
    this.search = root.querySelector('#people-search');
    this.roomsList = root.querySelector('#rooms');
    this.convBox = root.querySelector('#conversations');
    this.notesBox = root.querySelector('#notifications');
    this.conversations = new Map(); // peer -> { peer, unread, last, messages: [], complete, el, open, seen }
    this.open = null;
    this.search.addEventListener('input', () => this.#renderPeople());
    session.addEventListener('people', () => {
      this.#renderPeople();
      for (const c of this.conversations.values()) this.#renderConversation(c);
      this.#renderNotifications();
    });
    session.addEventListener('message', (e) => this.#onMessage(e.detail));
    session.addEventListener('marker', (e) => this.#onMarker(e.detail));
    session.addEventListener('message-error', (e) => this.onError(e.detail));
    session.addEventListener('notification', () => this.#loadNotifications());
    session.addEventListener('connected', () => this.refresh());
    this.roomsTimer = setInterval(() => this.#loadRooms(), ROOMS_EVERY_MS);
    document.addEventListener('visibilitychange', () => this.#markOpenRead());
  }

  /** Everything the server kept for us: conversations, notifications, rooms. */
  async refresh() {
    await Promise.all([this.#loadInbox(), this.#loadNotifications(), this.#loadRooms()].map((p) => p.catch((e) => console.warn('home:', e.message))));
    if (this.open) await this.#openConversation(this.open, true);
  }

  // --- people ---------------------------------------------------------------------------------

  #renderPeople() {
    const q = this.search.value.trim().toLowerCase();
    const rank = { available: 0, 'in-meeting': 1, busy: 2, away: 3, offline: 4 };
    const people = [...this.s.people.values()]
      .map((p) => ({ ...p, state: this.s.stateOf(p.bare) }))
      .filter((p) => !q || p.name.toLowerCase().includes(q))
      .sort((a, b) => rank[a.state] - rank[b.state] || a.name.localeCompare(b.name));
    this.peopleList.replaceChildren(...people.map((p) => el('li', { 'data-person': p.name, 'data-presence': p.state }, [
      el('span', { class: `dot ${p.state}`, title: p.state }),
      el('span', { class: 'who', text: p.name }),
      el('span', { class: 'state', text: STATE_TEXT[p.state] }),
      el('button', { type: 'button', 'data-action': 'call', title: 'Video call', text: '📞', onclick: () => this.calls.call(p.bare, 'video') }),
      el('button', { type: 'button', 'data-action': 'call-audio', title: 'Audio call', text: '🎧', onclick: () => this.calls.call(p.bare, 'audio') }),
      el('button', { type: 'button', 'data-action': 'message', title: 'Message', text: '💬', onclick: () => this.#openConversation(p.bare) }),
    ])));
    if (!people.length) this.peopleList.appendChild(el('li', { class: 'hint', text: q ? 'Nobody by that name.' : 'Nobody else has been here yet.' }));
  }

  // --- rooms and notifications ----------------------------------------------------------------

  async #loadRooms() {
    if (!this.s.xmpp || !this.s.xmpp.jid) return;
    let rooms;
    try {
      rooms = await this.s.rooms();
    } catch (e) {
      return;
    }
    this.roomsList.replaceChildren(...rooms.map((r) => el('li', { 'data-room': r.name }, [
      el('span', { class: 'who', text: r.name }),
      el('span', { class: 'state', text: `${r.people} ${r.people === 1 ? 'person' : 'people'}` }),
      el('button', { type: 'button', 'data-action': 'join-room', text: 'Join', onclick: () => this.openRoom(r.name) }),
    ])));
    if (!rooms.length) this.roomsList.appendChild(el('li', { class: 'hint', text: 'No meeting open to everyone right now.' }));
  }

  async #loadNotifications() {
    if (!this.s.xmpp || !this.s.xmpp.jid) return;
    this.notes = await this.s.notifications().catch(() => []);
    this.#renderNotifications();
  }

  /** Names come from the directory when the stored notification has none: the roster may
   * arrive after the notifications, so this runs again when it does. */
  #renderNotifications() {
    this.notesBox.replaceChildren(...(this.notes || []).map((n) => {
      const name = n.name || this.s.nameOf(n.from);
      const text = n.kind === 'missed-call'
        ? `Missed ${n.media === 'audio' ? 'audio' : 'video'} call from ${name}`
        : `${name} invites you to “${n.room}”`;
      return el('div', { class: 'notification', 'data-notification': n.kind, 'data-from': name, 'data-room': n.kind === 'invitation' ? n.room : null }, [
        el('span', { text }),
        n.at ? el('time', { datetime: n.at, text: ` ${new Date(n.at).toLocaleString()}` }) : null,
        n.kind === 'invitation' ? el('button', { type: 'button', 'data-action': 'join-room', text: 'Join', onclick: () => this.openRoom(n.room) }) : null,
        n.kind === 'missed-call' ? el('button', { type: 'button', 'data-action': 'call', text: 'Call back', onclick: () => this.calls.call(n.from, n.media) }) : null,
        el('button', { type: 'button', 'data-action': 'dismiss', text: '✕', title: 'Dismiss', onclick: async () => {
          await this.s.dismiss(n.id).catch((e) => console.warn('dismiss:', e.message));
          this.#loadNotifications();
        } }),
      ]);
    }));
  }

  // --- conversations --------------------------------------------------------------------------

  async #loadInbox() {
    const rows = await this.s.inbox();
    for (const r of rows) {
      const c = this.#conversation(r.peer);
      c.unread = c.open ? 0 : r.unread;
      c.last = r.last;
      this.#renderConversation(c);
    }
    this.#order();
  }

  #conversation(peer) {
    let c = this.conversations.get(peer);
    if (!c) {
      c = { peer, unread: 0, last: null, messages: [], ids: new Set(), complete: false, open: false, el: null };
      this.conversations.set(peer, c);
    }
    return c;
  }

  /** Newest conversation first; the unread total in the title. */
  #order() {
    const list = [...this.conversations.values()].sort((a, b) => (b.last ? b.last.at : '').localeCompare(a.last ? a.last.at : ''));
    for (const c of list) {
      if (!c.el) this.#renderConversation(c);
      this.convBox.appendChild(c.el);
    }
    const unread = list.reduce((n, c) => n + c.unread, 0);
    document.title = unread ? `(${unread}) meet-lan` : 'meet-lan';
    this.convBox.parentElement.querySelector('.empty').hidden = list.length > 0;
  }

  #renderConversation(c) {
    if (!c.el) {
      const log = el('div', { class: 'messages', 'aria-live': 'polite' });
      const more = el('button', { type: 'button', 'data-action': 'older', class: 'older', text: 'Older messages', onclick: () => this.#older(c) });
      const input = el('textarea', { 'data-field': 'message', rows: '2', maxlength: '4000', placeholder: 'Message' });
      const send = el('button', { type: 'submit', 'data-action': 'send', text: 'Send' });
      const fileInput = el('input', { type: 'file', hidden: true });
      const attach = el('button', { type: 'button', 'data-action': 'attach', title: 'Send a file', text: '📎', onclick: () => fileInput.click() });
      fileInput.addEventListener('change', () => {
        for (const f of fileInput.files) this.#sendFile(c, f);
        fileInput.value = '';
      });
      const form = el('form', { class: 'composer' }, [input, attach, fileInput, send]);
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        this.#send(c, input.value);
        input.value = '';
      });
      input.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey) {
          e.preventDefault();
          form.requestSubmit();
        }
      });
      const head = el('button', { type: 'button', class: 'conv-head', onclick: () => (c.open ? this.#close(c) : this.#openConversation(c.peer)) }, [
        el('span', { class: 'who' }),
        el('span', { class: 'badge' }),
        el('span', { class: 'preview' }),
      ]);
      const body = el('div', { class: 'conv-body', hidden: true }, [more, log, form]);
      c.el = el('article', { class: 'conversation' }, [head, body]);
      c.parts = { head, body, log, more, input };
    }
    const name = this.s.nameOf(c.peer);
    c.el.dataset.conversation = name;
    c.el.dataset.unread = String(c.unread);
    c.el.dataset.presence = this.s.stateOf(c.peer);
    c.parts.head.querySelector('.who').textContent = name;
    const badge = c.parts.head.querySelector('.badge');
    badge.textContent = c.unread ? String(c.unread) : '';
    badge.hidden = !c.unread;
    c.parts.head.querySelector('.preview').textContent = c.last ? ` ${c.last.file ? `📎 ${c.last.file.name}` : c.last.body.slice(0, 80)}` : '';
    c.parts.body.hidden = !c.open;
    c.parts.more.hidden = c.complete;
  }

  async #openConversation(peer, again = false) {
    const c = this.#conversation(peer);
    for (const other of this.conversations.values()) if (other !== c && other.open) this.#close(other);
    c.open = true;
    this.open = peer;
    this.#renderConversation(c);
    this.#order();
    if (!c.loaded || again) {
      const page = await this.s.history(peer).catch((e) => {
        console.warn('history:', e.message);
        return { items: [], complete: false };
      });
      c.loaded = true;
      c.messages = [];
      c.ids.clear();
      c.parts.log.replaceChildren();
      c.complete = page.complete;
      for (const m of page.items) this.#append(c, m);
    }
    this.#renderConversation(c);
    c.parts.input.focus();
    this.#markOpenRead();
  }

  #close(c) {
    c.open = false;
    if (this.open === c.peer) this.open = null;
    this.#renderConversation(c);
  }

  /** One page further back in the open conversation. */
  async #older(c) {
    const first = c.messages.find((m) => m.id);
    const page = await this.s.history(c.peer, first ? first.id : null);
    c.complete = page.complete;
    const fresh = page.items.filter((m) => !(m.id && c.ids.has(m.id)) && !(m.originId && c.ids.has(`o:${m.originId}`)));
    for (const m of fresh) {
      if (m.id) c.ids.add(m.id);
      if (m.originId) c.ids.add(`o:${m.originId}`);
    }
    c.messages = [...fresh, ...c.messages];
    const before = c.parts.log.firstChild;
    for (const m of fresh) c.parts.log.insertBefore(this.#messageEl(m), before);
    this.#renderConversation(c);
  }

  /**
   * Adds a message at the end of the conversation, once: by archive id, else by the sender's
   * origin id (our own message sent from this page comes back from the archive with both).
   */
  #append(c, m) {
    if ((m.id && c.ids.has(m.id)) || (m.originId && c.ids.has(`o:${m.originId}`))) {
      const shown = m.originId && c.parts.log.querySelector(`[data-origin-id="${CSS.escape(m.originId)}"]`);
      if (shown && m.id) {
        shown.dataset.message = m.id;
        c.ids.add(m.id);
      }
      return;
    }
    if (m.id) c.ids.add(m.id);
    if (m.originId) c.ids.add(`o:${m.originId}`);
    c.messages.push(m);
    c.parts.log.appendChild(this.#messageEl(m));
    c.parts.log.scrollTop = c.parts.log.scrollHeight;
    c.last = m;
  }

  #messageEl(m) {
    const mine = m.from === this.s.me;
    const item = el('div', {
      class: `chat-msg${mine ? ' mine' : ''}`,
      'data-message': m.id || m.originId || '',
      'data-origin-id': m.originId || null,
      'data-from': mine ? this.s.name : this.s.nameOf(m.from),
    }, [
      el('div', { class: 'chat-head' }, [
        el('span', { class: 'from', text: mine ? 'You' : this.s.nameOf(m.from) }),
        el('time', { datetime: m.at, text: ` ${new Date(m.at).toLocaleTimeString()}` }),
      ]),
      m.file ? this.#fileEl(m) : el('div', { class: 'text', text: m.body }),
    ]);
    return item;
  }

  #fileEl(m) {
    const link = el('a', { class: 'download', href: '#', text: 'Download' });
    link.addEventListener('click', async (e) => {
      e.preventDefault();
      const peer = m.from === this.s.me ? m.to : m.from;
      try {
        const token = await this.s.conversationToken(peer);
        const r = await fetch(m.file.url, { headers: { Authorization: `Bearer ${token}` } });
        if (!r.ok) throw new Error(String(r.status));
        const blob = await r.blob();
        const a = el('a', { href: URL.createObjectURL(blob), download: m.file.name });
        document.body.appendChild(a);
        a.click();
        a.remove();
        link.textContent = 'Downloaded';
        link.dataset.bytes = String(blob.size);
      } catch (err) {
        link.textContent = `Download failed (${err.message})`;
      }
    });
    return el('div', { class: 'file' }, [
      el('span', { class: 'file-name', text: m.file.name }),
      el('span', { class: 'file-size', text: m.file.size ? ` ${formatSize(m.file.size)}` : '' }),
      el('div', {}, [link]),
    ]);
  }

  #send(c, text) {
    const body = text.trim();
    if (!body) return;
    let originId;
    try {
      originId = this.s.sendMessage(c.peer, body);
    } catch (e) {
      c.parts.log.appendChild(el('div', { class: 'chat-system', text: `⚠ Not sent: ${e.message}` }));
      return;
    }
    this.#append(c, { from: this.s.me, to: c.peer, id: null, originId, body, at: new Date().toISOString(), file: null });
    this.#renderConversation(c);
    this.#order();
  }

  #sendFile(c, file) {
    let token = null;
    const up = new Upload({
      file,
      token: () => token,
      sizeText: formatSize(file.size),
      onDone: (fileId, row) => {
        row.remove();
        const originId = this.s.sendMessage(c.peer, file.name, { url: `/files/${fileId}`, name: file.name, size: file.size, mime: file.type });
        this.#append(c, { from: this.s.me, to: c.peer, id: null, originId, body: file.name, at: new Date().toISOString(), file: { url: `/files/${fileId}`, name: file.name, size: file.size } });
      },
    });
    c.parts.log.appendChild(up.row);
    this.s.conversationToken(c.peer).then((t) => {
      token = t;
      up.start();
    }, (e) => {
      up.row.appendChild(el('span', { class: 'error', text: ` cannot send files here: ${e.message}` }));
    });
  }

  #onMessage({ peer, msg }) {
    const c = this.#conversation(peer);
    const known = (msg.id && c.ids.has(msg.id)) || (msg.originId && c.ids.has(`o:${msg.originId}`));
    if (c.loaded) this.#append(c, msg);
    else c.last = msg;
    if (!known && msg.from !== this.s.me && !(c.open && !document.hidden)) c.unread += 1;
    this.#renderConversation(c);
    this.#order();
    this.#markOpenRead();
  }

  /** signal refused one of our messages (no such person, too long, too many): say so on it. */
  onError({ originId, text }) {
    const shown = originId && this.convBox.querySelector(`[data-origin-id="${CSS.escape(originId)}"]`);
    if (!shown) return;
    shown.classList.add('failed');
    shown.dataset.state = 'failed';
    shown.appendChild(el('div', { class: 'error', text: `Not delivered: ${text}` }));
  }

  #onMarker({ peer, id }) {
    // Our own other session read this conversation: it is read here too.
    if (peer === this.s.me) return;
    const c = this.conversations.get(peer);
    if (!c) return;
    c.readByPeer = id;
  }

  /** The open conversation, while the page is visible, is read: tell the archive and the peer. */
  #markOpenRead() {
    if (!this.open || document.hidden) return;
    const c = this.conversations.get(this.open);
    if (!c) return;
    const last = [...c.messages].reverse().find((m) => m.id && m.from !== this.s.me);
    if (c.unread || (last && c.readUpTo !== last.id)) {
      if (last) {
        this.s.markRead(c.peer, last.id);
        c.readUpTo = last.id;
      }
      c.unread = 0;
      this.#renderConversation(c);
      this.#order();
    }
  }
}

const STATE_TEXT = { available: 'available', 'in-meeting': 'in a meeting', busy: 'busy', away: 'away', offline: 'offline' };
