// Peer-to-peer file transfer between two pages (issue 6 §6), signalled through filestore's
// `/chat` (`p2p` messages, opaque to the server: {offer,name,size,mime}, {answer},
// {candidates:[...]}, {done,sha256}) over one ordered RTCDataChannel per transfer, 64 KiB
// chunks with back-pressure (bufferedAmountLowThreshold + bufferedamountlow). The receiver
// keeps chunks as Blob parts (never one growing buffer) and both ends hash with the
// incremental SHA-256. When the direct path fails (ICE failed, or no open channel within
// 10 s) the sender falls back to filestore's streamed relay (`relay-open` → PUT / GET).
// Names and texts from others are shown with textContent only.

import { el, formatSize } from './ui.js';
import { iceServers } from './ice.js';
import { Sha256, sha256OfBlob } from './sha256.js';

const CHUNK = 64 * 1024;
const READ = 1024 * 1024;
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const DIRECT_TIMEOUT_MS = 10000;
const PARTS_PER_BLOB = 64;

/** Collects received chunks as Blobs (the browser may keep them outside the JS heap). */
class BlobSink {
  constructor(mime) {
    this.mime = mime || 'application/octet-stream';
    this.blobs = [];
    this.pending = [];
    this.hash = new Sha256();
    this.bytes = 0;
  }

  write(chunk) {
    const u8 = chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk);
    this.hash.update(u8);
    this.bytes += u8.length;
    this.pending.push(u8);
    if (this.pending.length >= PARTS_PER_BLOB) this.#flush();
  }

  #flush() {
    if (this.pending.length) this.blobs.push(new Blob(this.pending));
    this.pending = [];
  }

  finish() {
    this.#flush();
    return { blob: new Blob(this.blobs, { type: this.mime }), sha256: this.hash.hex() };
  }
}

export class FileTransfers {
  /**
   * `send(obj)` sends a `/chat` message, `token()` gives the current room token, `log` is the
   * element transfer cards are appended to.
   */
  constructor({ send, token, log }) {
    this.send = send;
    this.token = token;
    this.log = log;
    this.transfers = new Map(); // transfer id -> state
  }

  #card(t, title) {
    t.progress = el('progress', { max: String(t.size || 1), value: '0' });
    t.status = el('span', { class: 'status', text: '' });
    t.card = el('div', { class: 'chat-msg transfer', 'data-transfer': t.id, 'data-role': t.role, 'data-state': 'starting', 'data-path': 'p2p' }, [
      el('div', { class: 'chat-head' }, [el('span', { class: 'from', text: title })]),
      el('span', { class: 'file-name', text: t.name }),
      el('span', { class: 'file-size', text: ` ${formatSize(t.size)}` }),
      el('div', {}, [t.progress, t.status]),
    ]);
    this.log.appendChild(t.card);
    this.log.scrollTop = this.log.scrollHeight;
  }

  #state(t, state, text) {
    t.card.dataset.state = state;
    t.status.textContent = ` ${text}`;
  }

  #signal(t, signal) {
    return this.send({ type: 'p2p', to: t.peer, transfer: t.id, signal });
  }

  #newPc(t) {
    const pc = new RTCPeerConnection({ iceServers: iceServers() });
    const batch = [];
    let timer = null;
    const flush = () => {
      timer = null;
      if (batch.length) this.#signal(t, { candidates: batch.splice(0) });
    };
    // Candidates go in batches: `p2p` messages count against the chat rate limit.
    pc.onicecandidate = (e) => {
      if (e.candidate) {
        batch.push(e.candidate.toJSON());
        if (!timer) timer = setTimeout(flush, 200);
      } else {
        clearTimeout(timer);
        flush();
      }
    };
    return pc;
  }

  /** Sends `file` directly to participant `to` (nick). */
  async sendFile(file, to, toName) {
    const id = `t-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const t = { id, role: 'send', peer: to, file, name: file.name, size: file.size, hash: null, fellBack: false, done: false };
    this.transfers.set(id, t);
    this.#card(t, `To ${toName} (direct)`);
    const pc = this.#newPc(t);
    t.pc = pc;
    const dc = pc.createDataChannel(`file-${id}`, { ordered: true });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    t.dc = dc;
    t.timer = setTimeout(() => this.#fallback(t, 'no direct connection within 10 s'), DIRECT_TIMEOUT_MS);
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === 'failed') this.#fallback(t, 'direct connection failed');
    };
    dc.onopen = () => {
      clearTimeout(t.timer);
      this.#pump(t).catch((e) => this.#fallback(t, `direct send failed: ${e.message}`));
    };
    dc.onclose = () => {
      if (!t.sent && !t.fellBack) this.#fallback(t, 'direct channel closed');
    };
    this.#state(t, 'connecting', 'connecting directly…');
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this.#signal(t, { offer: { type: offer.type, sdp: offer.sdp }, name: file.name, size: file.size, mime: file.type || '' });
  }

  async #pump(t) {
    const { dc, file } = t;
    const hash = new Sha256();
    this.#state(t, 'sending', 'sending directly…');
    const drained = () => new Promise((resolve, reject) => {
      dc.addEventListener('bufferedamountlow', resolve, { once: true });
      dc.addEventListener('close', () => reject(new Error('channel closed')), { once: true });
    });
    let sent = 0;
    for (let off = 0; off < file.size; off += READ) {
      const buf = new Uint8Array(await file.slice(off, off + READ).arrayBuffer());
      for (let i = 0; i < buf.length; i += CHUNK) {
        if (t.fellBack) return;
        if (dc.bufferedAmount > HIGH_WATER) {
          t.card.dataset.waits = String(Number(t.card.dataset.waits || 0) + 1);
          await drained();
        }
        const piece = buf.subarray(i, i + CHUNK);
        hash.update(piece);
        dc.send(piece);
        sent += piece.length;
        t.progress.value = sent - dc.bufferedAmount;
      }
    }
    t.hash = hash.hex();
    t.sent = true;
    dc.send(JSON.stringify({ done: true, sha256: t.hash }));
    t.card.dataset.sha256 = t.hash;
    t.progress.value = t.size;
    this.#state(t, 'sent', 'sent, waiting for the receiver to verify…');
  }

  async #fallback(t, why) {
    if (t.fellBack || t.done || t.sent) return;
    t.fellBack = true;
    clearTimeout(t.timer);
    console.info(`file transfer ${t.id}: ${why}; relaying through the server`);
    try { t.pc.close(); } catch (_) { /* closed */ }
    t.card.dataset.path = 'relay';
    this.#state(t, 'hashing', `${why}: relaying through the server (hashing first)…`);
    t.progress.value = 0;
    try {
      t.hash = await sha256OfBlob(t.file, (n) => { t.progress.value = n; });
      t.card.dataset.sha256 = t.hash;
      if (!this.send({ type: 'relay-open', to: t.peer, transfer: t.id, name: t.name, size: t.size, sha256: t.hash })) throw new Error('chat is not connected');
      this.#state(t, 'relay-wait', 'waiting for the relay…');
    } catch (e) {
      this.#state(t, 'failed', `failed: ${e.message}`);
    }
  }

  async #relayPut(t, url) {
    t.relaying = true;
    this.#state(t, 'sending', 'sending through the server…');
    try {
      const r = await fetch(url, { method: 'PUT', headers: { Authorization: `Bearer ${this.token()}` }, body: t.file });
      if (!r.ok) throw new Error(`relay answered ${r.status}`);
      t.sent = true;
      t.progress.value = t.size;
      this.#state(t, 'sent', 'sent, waiting for the receiver to verify…');
    } catch (e) {
      this.#state(t, 'failed', `relay failed: ${e.message}`);
    }
  }

  // ---- receiving side ----

  #receiveOffer(from, id, signal) {
    const size = Number(signal.size);
    if (!Number.isSafeInteger(size) || size < 0 || typeof signal.name !== 'string') return;
    const t = { id, role: 'receive', peer: from.nick, name: signal.name, size, mime: typeof signal.mime === 'string' ? signal.mime : '', sink: null, senderHash: null, done: false };
    this.transfers.set(id, t);
    this.#card(t, `From ${from.name} (direct)`);
    const pc = this.#newPc(t);
    t.pc = pc;
    t.sink = new BlobSink(t.mime);
    pc.ondatachannel = (e) => {
      const dc = e.channel;
      dc.binaryType = 'arraybuffer';
      this.#state(t, 'receiving', 'receiving directly…');
      dc.onmessage = (m) => {
        if (t.card.dataset.path !== 'p2p') return;
        if (typeof m.data === 'string') {
          try { t.senderHash = JSON.parse(m.data).sha256; } catch (_) { t.senderHash = ''; }
          this.#finishReceive(t);
          return;
        }
        t.sink.write(m.data);
        t.progress.value = t.sink.bytes;
      };
    };
    t.ready = (async () => {
      await pc.setRemoteDescription(signal.offer);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      this.#signal(t, { answer: { type: answer.type, sdp: answer.sdp } });
    })().catch((e) => console.warn(`file transfer ${id}: answer failed:`, e.message));
    this.#state(t, 'connecting', 'connecting directly…');
  }

  #finishReceive(t) {
    if (t.done) return;
    const { blob, sha256 } = t.sink.finish();
    t.done = true;
    try { t.pc && t.pc.close(); } catch (_) { /* closed */ }
    t.card.dataset.sha256 = sha256;
    const ok = blob.size === t.size && sha256 === t.senderHash;
    this.#signal(t, { done: true, sha256, ok });
    if (!ok) {
      this.#state(t, 'failed', `failed: SHA-256 differs from the sender's (${blob.size} of ${t.size} bytes)`);
      return;
    }
    const save = el('a', { class: 'save', href: URL.createObjectURL(blob), download: t.name, text: 'Save' });
    t.card.appendChild(save);
    this.#state(t, 'verified', 'received, SHA-256 verified');
  }

  async #relayGet(from, msg) {
    let t = this.transfers.get(msg.transfer);
    if (!t) {
      const size = Number(msg.size);
      if (!Number.isSafeInteger(size) || size < 0) return;
      t = { id: msg.transfer, role: 'receive', peer: from.nick, name: String(msg.name), size, mime: '', done: false };
      this.transfers.set(t.id, t);
      this.#card(t, `From ${from.name}`);
    }
    try { t.pc && t.pc.close(); } catch (_) { /* closed */ }
    t.card.dataset.path = 'relay';
    t.senderHash = msg.sha256 || '';
    t.sink = new BlobSink(t.mime);
    t.progress.value = 0;
    this.#state(t, 'receiving', 'receiving through the server…');
    try {
      const r = await fetch(msg.url, { headers: { Authorization: `Bearer ${this.token()}` } });
      if (!r.ok || !r.body) throw new Error(`relay answered ${r.status}`);
      const reader = r.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        t.sink.write(value);
        t.progress.value = t.sink.bytes;
      }
      this.#finishReceive(t);
    } catch (e) {
      this.#state(t, 'failed', `relay failed: ${e.message}`);
    }
  }

  /** A `/chat` message of type p2p, relay-open or relay-ready. */
  handle(msg) {
    if (msg.type === 'relay-ready') {
      const t = this.transfers.get(msg.transfer);
      if (t && t.role === 'send' && t.fellBack && !t.sent && !t.relaying && typeof msg.url === 'string' && msg.url.startsWith('/files/relay/')) this.#relayPut(t, msg.url);
      return;
    }
    if (msg.type === 'relay-open') {
      if (!msg.from || typeof msg.url !== 'string' || !msg.url.startsWith('/files/relay/') || typeof msg.transfer !== 'string') return;
      const known = this.transfers.get(msg.transfer);
      if (known && (known.role !== 'receive' || known.peer !== msg.from.nick)) return;
      this.#relayGet(msg.from, msg);
      return;
    }
    if (msg.type !== 'p2p' || !msg.from || typeof msg.transfer !== 'string' || !msg.signal) return;
    const s = msg.signal;
    const t = this.transfers.get(msg.transfer);
    if (s.offer && !t) {
      this.#receiveOffer(msg.from, msg.transfer, s);
      return;
    }
    if (!t || t.peer !== msg.from.nick) return;
    if (s.answer && t.role === 'send') {
      t.ready = t.pc.setRemoteDescription(s.answer).catch((e) => this.#fallback(t, `bad answer: ${e.message}`));
    } else if (Array.isArray(s.candidates)) {
      const add = async () => {
        if (t.ready) await t.ready;
        for (const c of s.candidates) await t.pc.addIceCandidate(c).catch(() => {});
      };
      t.ready = add();
    } else if (s.done && t.role === 'send') {
      t.done = true;
      clearTimeout(t.timer);
      try { t.pc.close(); } catch (_) { /* closed */ }
      if (s.ok && s.sha256 === t.hash) this.#state(t, 'verified', 'delivered, SHA-256 verified by both');
      else this.#state(t, 'failed', 'the receiver\'s SHA-256 differs');
    }
  }
}
