// Drawing the conference: tiles (tile view and speaker view), indicators (muted, hand,
// quality, dominant speaker), reactions and status lines (the people list is people.js).
// Every display name is set with textContent, never as HTML. Remote videos carry
// data-participant="<display name>" (the page contract of ARCHITECTURE.md).

export function el(tag, attrs = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of [].concat(children)) {
    if (c === undefined || c === null) continue;
    e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

/** A byte count for people: 512 B, 1.5 MiB. */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  do { v /= 1024; u++; } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** An HTTP error for a status line: the code and the start of the server's reason. */
export async function errorText(r) {
  try {
    const t = await r.text();
    return `${r.status} ${t.slice(0, 200)}`;
  } catch (_) {
    return String(r.status);
  }
}

const QUALITY_TEXT = { good: 'Good connection', fair: 'Fair connection', poor: 'Poor connection', unknown: 'Connecting' };

export class Ui extends EventTarget {
  constructor(root) {
    super();
    this.root = root;
    this.stage = root.querySelector('#stage');
    this.stage.replaceChildren(); // an earlier conference of this page leaves no tiles
    this.tiles = new Map(); // nick or 'local' -> { tile, video, label, ... }
    this.view = 'tile';
    this.dominant = null;
    this.pinned = null;
    this.statusLine = root.querySelector('#status');
    this.resizeObserver = new ResizeObserver(() => this.#layoutChanged());
    this.layoutTimer = null;
  }

  #layoutChanged() {
    clearTimeout(this.layoutTimer);
    this.layoutTimer = setTimeout(() => this.dispatchEvent(new Event('layout')), 250);
  }

  status(text) {
    this.statusLine.textContent = text;
    this.statusLine.hidden = !text;
  }

  #tile(key, name, local) {
    const video = el('video', { autoplay: true, playsinline: true, ...(local ? { muted: true, 'data-local': 'true' } : { 'data-participant': name }) });
    if (local) video.muted = true;
    const label = el('span', { class: 'name', text: local ? `${name} (you)` : name });
    const avatar = el('div', { class: 'avatar', 'aria-hidden': 'true', text: initials(name) });
    const icons = el('span', { class: 'icons' }, [
      el('span', { class: 'icon mic-off', title: 'Microphone off', text: '🔇' }),
      el('span', { class: 'icon cam-off', title: 'Camera off', text: '📷' }),
      el('span', { class: 'icon hand', title: 'Hand raised', text: '✋' }),
      el('span', { class: 'icon screen', title: 'Sharing the screen', text: '🖥' }),
    ]);
    const quality = el('span', { class: 'quality', 'data-quality': 'unknown', title: QUALITY_TEXT.unknown });
    const reactions = el('div', { class: 'reactions', 'aria-live': 'polite' });
    const tile = el('div', { class: local ? 'tile local' : 'tile', 'data-nick': key }, [
      video, avatar, reactions, el('div', { class: 'bar' }, [quality, label, icons]),
    ]);
    tile.addEventListener('dblclick', () => this.pin(this.pinned === key ? null : key));
    const t = { key, tile, video, label, avatar, quality, reactions };
    this.tiles.set(key, t);
    this.stage.appendChild(tile);
    if (!local) this.resizeObserver.observe(tile);
    this.#arrange();
    return t;
  }

  setLocal(name, stream) {
    const t = this.tiles.get('local') || this.#tile('local', name, true);
    t.video.srcObject = stream;
    t.name = name;
  }

  updateLocal(state) {
    const t = this.tiles.get('local');
    if (!t) return;
    this.#applyState(t.tile, state);
    this.#renderList();
  }

  addParticipant(p) {
    if (this.tiles.has(p.nick)) return this.updateParticipant(p);
    this.#tile(p.nick, p.name, false);
    this.updateParticipant(p);
    this.dispatchEvent(new CustomEvent('participants'));
  }

  updateParticipant(p) {
    const t = this.tiles.get(p.nick);
    if (!t) return;
    t.p = p;
    t.label.textContent = p.name;
    t.avatar.textContent = initials(p.name);
    t.video.setAttribute('data-participant', p.name);
    const wasSharing = t.tile.dataset.videoType === 'desktop';
    this.#applyState(t.tile, { audioMuted: p.audioMuted, videoMuted: p.videoMuted, hand: p.hand, sharing: p.videoType === 'desktop' });
    if (wasSharing !== (p.videoType === 'desktop')) this.#arrange();
    this.#renderList();
  }

  #applyState(tile, s) {
    tile.dataset.audioMuted = String(!!s.audioMuted);
    tile.dataset.videoMuted = String(!!s.videoMuted);
    tile.dataset.handRaised = String(!!s.hand);
    tile.dataset.videoType = s.sharing ? 'desktop' : 'camera';
  }

  removeParticipant(nick) {
    const t = this.tiles.get(nick);
    if (!t) return;
    this.resizeObserver.unobserve(t.tile);
    t.video.srcObject = null;
    t.tile.remove();
    this.tiles.delete(nick);
    if (this.pinned === nick) this.pinned = null;
    this.#arrange();
    this.#renderList();
    this.dispatchEvent(new CustomEvent('participants'));
  }

  setStream(nick, stream) {
    const t = this.tiles.get(nick);
    if (!t) return;
    if (t.video.srcObject !== stream) {
      t.video.srcObject = stream;
      if (stream) this.#play(t.video);
    }
  }

  /**
   * Plays a remote video. Without a user gesture yet (autojoin), browsers refuse sound: the
   * video then plays muted and the first click anywhere turns the sound on for all tiles.
   */
  #play(video) {
    video.play().catch((e) => {
      if (e.name !== 'NotAllowedError') return;
      video.muted = true;
      video.play().catch(() => {});
      if (this.soundBlocked) return;
      this.soundBlocked = true;
      this.status('Click anywhere to turn the sound on.');
      addEventListener('pointerdown', () => {
        this.soundBlocked = false;
        this.status('');
        for (const t of this.tiles.values()) {
          if (t.key === 'local') continue;
          t.video.muted = false;
          t.video.play().catch(() => {});
        }
      }, { once: true, capture: true });
    });
  }

  setDominant(key) {
    this.dominant = key;
    for (const t of this.tiles.values()) t.tile.classList.toggle('dominant', t.key === key);
    if (this.view === 'speaker') this.#arrange();
  }

  setQuality(key, level, details) {
    const t = this.tiles.get(key);
    if (!t) return;
    t.quality.dataset.quality = level;
    let title = QUALITY_TEXT[level] || level;
    if (details && details.rtt !== null && details.rtt !== undefined) title += ` · ${Math.round(details.rtt)} ms`;
    if (details && details.loss) title += ` · ${(details.loss * 100).toFixed(1)}% loss`;
    t.quality.title = title;
  }

  reaction(key, emoji) {
    const t = this.tiles.get(key);
    if (!t) return;
    const r = el('span', { class: 'reaction', text: emoji.slice(0, 8) });
    t.reactions.appendChild(r);
    setTimeout(() => r.remove(), 4000);
  }

  setView(view) {
    this.view = view;
    this.stage.dataset.view = view;
    this.#arrange();
  }

  pin(key) {
    this.pinned = key;
    this.#arrange();
  }

  /**
   * Who is on stage in speaker view: the pinned tile, else someone sharing a screen, else the
   * dominant speaker, else the first remote.
   */
  onStage() {
    if (this.view !== 'speaker') return null;
    const remote = [...this.tiles.keys()].filter((k) => k !== 'local');
    if (this.pinned && this.tiles.has(this.pinned) && this.pinned !== 'local') return this.pinned;
    const sharing = remote.find((k) => this.tiles.get(k).tile.dataset.videoType === 'desktop');
    if (sharing) return sharing;
    if (this.dominant && this.dominant !== 'local' && this.tiles.has(this.dominant)) return this.dominant;
    return remote[0] || null;
  }

  #arrange() {
    const n = this.tiles.size;
    this.stage.dataset.count = String(n);
    const cols = Math.ceil(Math.sqrt(n || 1));
    this.stage.style.setProperty('--cols', String(cols));
    const stage = this.onStage();
    for (const t of this.tiles.values()) t.tile.classList.toggle('on-stage', t.key === stage);
    this.#layoutChanged();
  }

  /** Heights (CSS px × devicePixelRatio) of remote tiles; 0 for tiles not visible. */
  tileHeights() {
    const out = new Map();
    for (const t of this.tiles.values()) {
      if (t.key === 'local') continue;
      const h = t.tile.offsetParent === null ? 0 : t.tile.clientHeight;
      out.set(t.key, Math.round(h * (window.devicePixelRatio || 1)));
    }
    return out;
  }

  /** The people panel (people.js) draws the list; it is told when tiles change. */
  #renderList() {
    this.dispatchEvent(new Event('list'));
  }

}

function initials(name) {
  return (name || '?').trim().split(/\s+/).slice(0, 2).map((w) => w[0] || '').join('').toUpperCase() || '?';
}
