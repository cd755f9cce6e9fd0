// Calling a person (signal/PEOPLE.md, section 5; XEP-0353): the caller proposes a private room
// (a random name and password), the callee's pages ring, accept (both join the room: two
// people go peer to peer as in any room) or decline; no answer in 30 s, a callee who is
// offline, or one who is busy ends the attempt with that state. Either person adds a third,
// who rings too. A page rings for one call at a time: another proposal meanwhile is answered
// busy, as is any proposal while this page is in a call.
//
// Page hooks (ARCHITECTURE.md): `[data-incoming-call="<caller>"]` with `accept` / `decline`;
// `[data-call-state="ringing|declined|busy|no-answer|connected|ended"]` with `hang-up`.

import { el } from './ui.js';
import { NS_JMI, NS_PEOPLE, bareOf } from './person.js';
import { x, child } from './xmpp.js';
import { randomHex } from './conference.js';

const NO_ANSWER_MS = 30000;
const NS_RTP = 'urn:xmpp:jingle:apps:rtp:1';
const NS_JINGLE = 'urn:xmpp:jingle:1';

function password() {
  const a = new Uint8Array(18);
  crypto.getRandomValues(a);
  return btoa(String.fromCharCode(...a)).replace(/[+/=]/g, 'x');
}

export class Calls {
  /**
   * `session`: the PersonSession; `root`: the overlay element; `startCall({ room, password,
   * media, peerName })`: shows the conference for the call and resolves with its Conference.
   */
  constructor({ session, root, startCall }) {
    this.session = session;
    this.root = root;
    this.boxes = el('div', { class: 'call-boxes' });
    this.notes = el('div', { class: 'call-notes' });
    root.replaceChildren(this.boxes, this.notes);
    this.startCall = startCall;
    this.incoming = null; // { id, from, name, room, password, media }
    this.outgoing = null; // { id, peer, name, room, password, media, timer }
    this.active = null; // { id, room, password, conf }
    this.ring = null;
    this.notifyWhenFree = new Set();
    session.addEventListener('jmi', (e) => this.#onJmi(e.detail));
    session.addEventListener('people', () => this.#checkNotify());
  }

  get busy() {
    return !!(this.active || this.incoming || this.outgoing);
  }

  /** Calls `peer` (bare JID); `media` is 'video' or 'audio'. */
  call(peer, media = 'video') {
    if (this.busy) return;
    const id = randomHex(8);
    const call = { id, peer, name: this.session.nameOf(peer), room: `call-${randomHex(16)}`, password: password(), media };
    this.outgoing = call;
    this.session.sendJmi(peer, 'propose', id, this.#description(call));
    if (this.session.stateOf(peer) === 'offline') {
      // Nobody to ring: the proposal becomes a missed call for them (the archive).
      this.session.sendJmi(peer, 'retract', id);
      this.outgoing = null;
      this.#state('no-answer', call, `${call.name} is offline; they will see a missed call.`);
      return;
    }
    call.timer = setTimeout(() => {
      if (this.outgoing !== call) return;
      this.session.sendJmi(peer, 'retract', id);
      this.outgoing = null;
      this.#state('no-answer', call, `${call.name} did not answer.`);
    }, NO_ANSWER_MS);
    this.#state('ringing', call, `Calling ${call.name}…`);
  }

  /** Rings `peer` into the call we are in (they join its room when they accept). */
  add(peer) {
    if (!this.active) return;
    const call = { ...this.active, id: randomHex(8), peer, name: this.session.nameOf(peer) };
    this.session.sendJmi(peer, 'propose', call.id, this.#description(call));
    this.active.invited = this.active.invited || new Map();
    this.active.invited.set(call.id, call);
    this.#notice(`Calling ${call.name}…`);
  }

  #description(call) {
    return [
      x('description', { xmlns: NS_RTP, media: 'audio' }),
      call.media === 'video' ? x('description', { xmlns: NS_RTP, media: 'video' }) : null,
      x('call', { xmlns: NS_PEOPLE, room: call.room, password: call.password }),
    ];
  }

  #onJmi({ kind, el: j, from, id }) {
    const fromBare = bareOf(from);
    const mine = fromBare === this.session.me;
    switch (kind) {
      case 'propose': {
        if (mine) return;
        const c = child(j, 'call', NS_PEOPLE);
        const room = c && c.getAttribute('room');
        if (!c || !/^call-[0-9a-f]{32}$/.test(room || '') || !c.getAttribute('password')) return;
        if (this.busy) {
          // In a call, or ringing for another: busy, and this page never rings twice.
          this.session.sendJmi(from, 'reject', id, [x('reason', { xmlns: NS_JINGLE }, [x('busy', {}, [], NS_JINGLE)])]);
          return;
        }
        const video = [...j.children].some((d) => d.localName === 'description' && d.getAttribute('media') === 'video');
        this.incoming = { id, from, name: this.session.nameOf(fromBare), room, password: c.getAttribute('password'), media: video ? 'video' : 'audio' };
        this.#ring();
        return;
      }
      case 'retract':
        if (this.incoming && this.incoming.id === id) {
          this.#stopRinging();
          this.#render();
        }
        return;
      case 'accept':
      case 'reject':
        // Another page of ours answered: stop ringing here.
        if (mine && this.incoming && this.incoming.id === id) {
          this.#stopRinging();
          this.#render();
          return;
        }
        if (kind === 'reject' && !mine) this.#rejected(id, fromBare, j);
        return;
      case 'proceed':
        if (this.outgoing && this.outgoing.id === id && fromBare === this.outgoing.peer) this.#connect(this.outgoing);
        else if (this.active && this.active.invited && this.active.invited.has(id)) this.active.invited.delete(id);
        return;
      default:
    }
  }

  #rejected(id, fromBare, j) {
    const reason = child(j, 'reason', NS_JINGLE);
    const busy = !!(reason && child(reason, 'busy', NS_JINGLE));
    if (this.outgoing && this.outgoing.id === id && fromBare === this.outgoing.peer) {
      const call = this.outgoing;
      clearTimeout(call.timer);
      this.outgoing = null;
      // A busy answer may come from one page (in a meeting) while another rings: end the ringing.
      if (busy) this.session.sendJmi(call.peer, 'retract', id);
      this.#state(busy ? 'busy' : 'declined', call, busy ? `${call.name} is busy.` : `${call.name} declined.`);
    } else if (this.active && this.active.invited && this.active.invited.has(id)) {
      const call = this.active.invited.get(id);
      this.active.invited.delete(id);
      this.#notice(busy ? `${call.name} is busy.` : `${call.name} declined.`);
    }
  }

  async #connect(call) {
    clearTimeout(call.timer);
    this.outgoing = null;
    this.active = { id: call.id, room: call.room, password: call.password, media: call.media, peerName: call.name };
    this.#state('connected', call, `In a call with ${call.name}`);
    const conf = await this.startCall({ room: call.room, password: call.password, media: call.media, peerName: call.name });
    this.active.conf = conf;
    this.session.inMeeting = true;
    this.session.sendPresence();
  }

  #accept() {
    const c = this.incoming;
    if (!c) return;
    this.#stopRinging();
    this.session.sendJmi(this.session.me, 'accept', c.id);
    this.session.sendJmi(c.from, 'proceed', c.id);
    this.#connect({ ...c, peer: bareOf(c.from), name: c.name });
  }

  #decline() {
    const c = this.incoming;
    if (!c) return;
    this.#stopRinging();
    this.session.sendJmi(bareOf(c.from), 'reject', c.id);
    this.session.sendJmi(this.session.me, 'reject', c.id);
    this.#render();
  }

  /** Leaves the call (hang up, or everyone else left). */
  end(text = 'The call ended.') {
    if (this.outgoing) {
      clearTimeout(this.outgoing.timer);
      this.session.sendJmi(this.outgoing.peer, 'retract', this.outgoing.id);
      const call = this.outgoing;
      this.outgoing = null;
      this.#state('ended', call, 'Call cancelled.');
      return;
    }
    const a = this.active;
    if (!a) return;
    this.active = null;
    this.session.inMeeting = false;
    this.session.sendPresence();
    if (a.conf) a.conf.leave();
    this.#state('ended', { name: a.peerName }, text);
  }

  #ring() {
    this.#render();
    const c = this.incoming;
    try {
      const ctx = new AudioContext();
      const beep = () => {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = 660;
        g.gain.value = 0.08;
        o.connect(g).connect(ctx.destination);
        o.start();
        o.stop(ctx.currentTime + 0.4);
      };
      beep();
      this.ring = { ctx, timer: setInterval(beep, 1500) };
    } catch (e) {
      console.warn('no ring tone:', e.message);
    }
    if ('Notification' in window && Notification.permission === 'granted') {
      try {
        const n = new Notification(`${c.name} is calling`, { body: c.media === 'video' ? 'Video call' : 'Audio call', tag: c.id });
        n.onclick = () => window.focus();
        this.ring = { ...(this.ring || {}), notification: n };
      } catch (_) { /* notifications unavailable here */ }
    }
  }

  #stopRinging() {
    if (this.ring) {
      clearInterval(this.ring.timer);
      if (this.ring.ctx) this.ring.ctx.close().catch(() => {});
      if (this.ring.notification) this.ring.notification.close();
    }
    this.ring = null;
    this.incoming = null;
  }

  /** Shows the caller's (or an ended call's) state; `connected` stays while the call lasts. */
  #state(state, call, text) {
    this.lastState = { state, call, text };
    this.#render();
  }

  #notice(text) {
    const n = el('div', { class: 'notice', role: 'status', text });
    this.notes.appendChild(n);
    setTimeout(() => n.remove(), 6000);
  }

  #render() {
    const parts = [];
    const c = this.incoming;
    if (c) {
      parts.push(el('div', { class: 'call-box incoming', 'data-incoming-call': c.name }, [
        el('span', { text: `${c.name} is calling (${c.media === 'video' ? 'video' : 'audio'})` }),
        el('button', { type: 'button', 'data-action': 'accept', text: 'Accept', onclick: () => this.#accept() }),
        el('button', { type: 'button', 'data-action': 'decline', class: 'danger', text: 'Decline', onclick: () => this.#decline() }),
      ]));
    }
    const s = this.lastState;
    if (s) {
      const live = s.state === 'ringing' || s.state === 'connected';
      const box = el('div', { class: `call-box ${s.state}`, 'data-call-state': s.state }, [el('span', { text: s.text })]);
      if (live) box.appendChild(el('button', { type: 'button', 'data-action': 'hang-up', class: 'danger', text: 'Hang up', onclick: () => this.end() }));
      else box.appendChild(el('button', { type: 'button', 'data-action': 'dismiss-call', text: 'OK', onclick: () => { this.lastState = null; this.#render(); } }));
      if (s.state === 'busy' && s.call.peer) {
        const peer = s.call.peer;
        box.appendChild(el('button', { type: 'button', 'data-action': 'notify-me', text: 'Notify me when free', onclick: () => {
          this.notifyWhenFree.add(peer);
          this.#notice(`You will be told when ${s.call.name} is free.`);
        } }));
      }
      parts.push(box);
    }
    this.boxes.replaceChildren(...parts);
  }

  /** "Notify me": once a busy person is available again, say so (and by a browser notification). */
  #checkNotify() {
    for (const peer of [...this.notifyWhenFree]) {
      if (this.session.stateOf(peer) !== 'available') continue;
      this.notifyWhenFree.delete(peer);
      const text = `${this.session.nameOf(peer)} is available now.`;
      const n = el('div', { class: 'notice', 'data-notify-free': this.session.nameOf(peer), text });
      this.notes.appendChild(n);
      if ('Notification' in window && Notification.permission === 'granted') {
        try { new Notification(text); } catch (_) { /* unavailable */ }
      }
    }
  }
}
