// The conference as CLIENT_FLOW.md describes it: XMPP login, the conference request to
// focus, the MUC join with our media state in presence, the sessions focus starts (bridge
// and P2P, proto/src/session.rs), and everything that arrives on the bridge channel.
// It owns the participant list; the Ui only draws what this module tells it.
//
// Transitions never leave a participant without video: a new session's stream replaces
// the old one on a tile only once it decodes frames, and the old session is closed after.

import { Xmpp, XmppError, x, child, stanzaError } from './xmpp.js';
import { jingle, parseJingle, compressDescription, descriptionSdp } from './jingle.js';
import { BridgeSession } from './bridge-session.js';
import { P2PSession } from './p2p-session.js';

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_NICK = 'http://jabber.org/protocol/nick';
const NS_MEDIA = 'urn:meet-lan:media:0';
const NS_FOCUS = 'http://jitsi.org/protocol/focus';
export const NS_TOKEN = 'urn:meet-lan:token:0';
/** Moderation, lobby and room state (signal/ROOMS.md). */
export const NS_ROOM = 'urn:meet-lan:room:0';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
const NS_DATA = 'jabber:x:data';
const NS_PEOPLE = 'urn:meet-lan:people:0';
const NS_JMI = 'urn:xmpp:jingle-message:0';
/** How often a page waiting for a host asks again (signal/ROOMS.md, section 1). */
const HOST_WAIT_MS = 3000;

/** How long an old session is kept for a new one to start flowing before it is closed anyway. */
const HANDOVER_MS = 20000;
// A P2P session whose ICE is not connected this long after it began counts as failed.
const P2P_CONNECT_MS = 10000;
// After a bridge ICE restart, ICE must be connected again within this, else the page rejoins.
const RESTART_MS = 10000;

export function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return [...a].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function wsUrl(config) {
  const u = new URL(config.websocket, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

/**
 * Opens and authenticates the signal connection ahead of the join (on the prejoin screen),
 * as `credentials` (auth.js). Only the connection: focus is asked at the join, since it
 * leaves rooms nobody enters.
 */
export function preconnect(config, credentials) {
  const xmpp = new Xmpp(wsUrl(config), credentials.host(config));
  return xmpp.connect(15000, credentials.mechanism()).then(() => xmpp, (e) => { xmpp.close(); throw e; });
}

/**
 * Why the page is not (or no longer) in the room, for good: the page shows it and does not
 * try again by itself. `state` is the page hook (ARCHITECTURE.md): removed, meeting-ended,
 * lobby-denied, token-refused, sign-in-refused.
 */
export class Outcome extends Error {
  constructor(state, text) {
    super(text || state);
    this.state = state;
    this.text = text || '';
  }
}

/** No host has been in the room yet (`accounts`/`token` modes): ask again in a while. */
class WaitForHost extends Error {}

/** The `<x xmlns=muc#user>` status codes of a presence. */
function statusCodes(p) {
  const u = child(p, 'x', NS_MUC_USER);
  return u ? [...u.children].filter((c) => c.localName === 'status').map((c) => c.getAttribute('code')) : [];
}

/** Role, affiliation and the moderator's mute that signal states in an occupant's presence. */
function roomFacts(p) {
  const u = child(p, 'x', NS_MUC_USER);
  const item = u ? child(u, 'item', NS_MUC_USER) : null;
  const muted = child(p, 'muted', NS_ROOM);
  const avatar = child(p, 'avatar', NS_ROOM);
  return {
    role: item ? item.getAttribute('role') || 'participant' : 'participant',
    affiliation: item ? item.getAttribute('affiliation') || 'none' : 'none',
    forced: { audio: !!muted && muted.getAttribute('audio') === 'true', video: !!muted && muted.getAttribute('video') === 'true' },
    mutedBy: muted ? muted.getAttribute('by') || '' : '',
    avatar: avatar && /^https?:\/\//.test(avatar.textContent.trim()) ? avatar.textContent.trim() : null,
  };
}

export class Conference extends EventTarget {
  constructor({ config, room, displayName, media, ui, credentials, gate, preconnected = null }) {
    super();
    this.preconnected = preconnected;
    this.credentials = credentials;
    // Prompts and outcome screens of the join (password, lobby, waiting for a host): join.js.
    this.gate = gate;
    /** The room password, once given: kept in memory for rejoining, never stored. */
    this.password = null;
    /** What signal says about us in the room: role and a moderator's mute. */
    this.self = { role: 'participant', affiliation: 'none', forced: { audio: false, video: false }, mutedBy: '' };
    /** Room state everyone sees (signal/ROOMS.md, section 4). */
    this.roomState = { locked: false, lobby: false };
    this.knocks = new Map(); // nick -> display name, for moderators
    this.removed = []; // [{ id, name }], for moderators
    this.outcome = null;
    this.inRoom = false;
    this.config = config;
    this.room = room;
    this.displayName = displayName;
    this.media = media;
    this.ui = ui;
    this.roomJid = `${room}@${config.muc}`;
    this.focusJid = `${this.roomJid}/focus`;
    this.participants = new Map();
    this.orphans = new Map(); // nick -> [{ session, track }] received before that occupant's presence
    this.bridge = null;
    /** Nicks kept on screen through a signal outage, dropped when the new session starts. */
    this.held = new Set();
    this.p2p = null;
    this.hand = false;
    this.left = false;
    this.xmpp = null;
    this.nick = null;
    this.dominant = null;
    this.lastConstraints = '';
    this.machineUid = localStorage.getItem('meet.machineUid') || randomHex(16);
    localStorage.setItem('meet.machineUid', this.machineUid);
    this.ticker = setInterval(() => this.#tick(), 500);
    this.qualityTicker = setInterval(() => this.#reportQuality(), 2000);
    media.addEventListener('change', () => this.#mediaChanged());
  }

  /**
   * Joins, retrying with back-off until it works or the user leaves. A gate on the way (a
   * password, the lobby, no host yet) is shown and waited for; an outcome (removed, denied,
   * a refused token) ends the page's attempts.
   */
  async join() {
    let delay = 500;
    for (;;) {
      if (this.left) return;
      try {
        this.ui.status(this.joinedOnce ? 'Reconnecting…' : 'Connecting…');
        await this.#connectOnce();
        this.joinedOnce = true;
        this.gate.clear();
        this.ui.status('');
        this.dispatchEvent(new Event('joined'));
        return;
      } catch (e) {
        if (e instanceof Outcome) {
          this.#finish(e);
          return;
        }
        if (e instanceof WaitForHost) {
          // Keep the connection: the next try asks focus again on it.
          this.gate.show('waiting-for-host', { text: e.message });
          this.ui.status('');
          await sleep(HOST_WAIT_MS);
          continue;
        }
        console.warn('join failed:', e.message);
        // Detached first: closing a failed attempt is not the end of the call (media held
        // through an outage stays until a new session replaces it).
        const failed = this.xmpp;
        this.xmpp = null;
        if (failed) failed.close();
        this.ui.status(`Cannot join yet (${e.message}); retrying…`);
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  /** Ends the page's stay for good and tells the page why (see `Outcome`). */
  #finish(outcome) {
    if (this.outcome) return;
    console.info(`not in the room: ${outcome.state} (${outcome.text})`);
    this.outcome = outcome;
    this.leave();
    this.dispatchEvent(new CustomEvent('outcome', { detail: outcome }));
  }

  async #connectOnce() {
    let xmpp = this.xmpp && this.xmpp.ws && this.xmpp.ws.readyState === WebSocket.OPEN ? this.xmpp : null;
    let fresh = false;
    if (!xmpp && this.preconnected) {
      // A connection opened while the person was on the prejoin screen saves its set-up time.
      const pending = this.preconnected;
      this.preconnected = null;
      xmpp = await pending.catch(() => null);
      if (xmpp && (!xmpp.ws || xmpp.ws.readyState !== WebSocket.OPEN)) xmpp = null;
    }
    if (!xmpp) {
      fresh = true;
      xmpp = new Xmpp(wsUrl(this.config), this.credentials.host(this.config));
    }
    if (xmpp !== this.xmpp) {
      this.xmpp = xmpp;
      xmpp.addEventListener('iq', (e) => this.#onIq(e));
      xmpp.addEventListener('presence', (e) => this.#onPresence(e.detail));
      xmpp.addEventListener('message', (e) => this.#onMessage(e.detail));
      xmpp.addEventListener('disconnected', (e) => this.#onDisconnected(xmpp, e.detail));
    }
    if (fresh) {
      try {
        await xmpp.connect(15000, this.credentials.mechanism());
      } catch (e) {
        if (e instanceof XmppError && e.condition.startsWith('sasl-') && e.condition !== 'sasl-aborted') {
          throw new Outcome(this.credentials.kind === 'token' ? 'token-refused' : 'sign-in-refused', e.text || e.condition.slice(5));
        }
        throw e;
      }
      console.info('xmpp: bound as', xmpp.jid);
      this.#personPresence();
    }
    await this.#askFocus();
    this.nick = this.nick || randomHex(4);
    await this.#enterRoom();
    this.inRoom = true;
    console.info(`joined ${this.roomJid} as ${this.nick}`);
  }

  /**
   * The MUC join, through whatever stands in the way: a password (asked for, and asked
   * again after a wrong one), the lobby (the page waits until a moderator decides; the
   * password, when known, goes straight in), a nickname conflict (another nick).
   */
  async #enterRoom() {
    let waitedInLobby = false;
    for (;;) {
      const answer = new Promise((resolve, reject) => { this.joinWaiter = { resolve, reject }; });
      this.#sendPresence(true);
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer to the room join')), waitedInLobby ? 2 ** 31 - 1 : 15000);
      });
      try {
        await Promise.race([answer, timeout]);
        return;
      } catch (e) {
        const app = e.app ? e.app.localName : '';
        if (app === 'removed') throw new Outcome('removed', e.text);
        if (app === 'host-required') throw new WaitForHost(e.text || 'waiting for a signed-in host');
        if (app === 'token-room') throw new Outcome('token-refused', e.text);
        if (e.condition === 'conflict') {
          this.nick = randomHex(4);
          continue;
        }
        if (app === 'password-required' || app === 'password-wrong' || app === 'retry-after') {
          const wait = app === 'retry-after' ? Number(e.app.getAttribute('seconds')) || 60 : 0;
          const state = app === 'password-required' ? 'password-required' : 'password-refused';
          this.password = await this.gate.askPassword(state, { text: e.text, wait });
          continue;
        }
        if (app === 'lobby') {
          waitedInLobby = true;
          this.password = null;
          const outcome = await this.#waitInLobby();
          if (outcome === 'admitted') return;
          continue; // a password was typed: knock with it (the right one goes straight in)
        }
        throw e;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /**
   * Waits in the lobby: resolves 'admitted' when the join completes (a moderator admitted
   * us), 'password' when the person typed the room's password; a denial or the end of the
   * meeting is an Outcome.
   */
  async #waitInLobby() {
    const admitted = new Promise((resolve, reject) => { this.joinWaiter = { resolve, reject }; });
    const verdict = new Promise((_, reject) => { this.lobbyWaiter = { reject }; });
    const typed = this.gate.show('lobby-waiting', { password: true });
    try {
      return await Promise.race([
        admitted.then(() => 'admitted'),
        verdict,
        typed.then((pw) => { this.password = pw; return 'password'; }),
      ]);
    } finally {
      this.lobbyWaiter = null;
    }
  }

  async #askFocus() {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.xmpp.iq('set', this.config.focus, x('conference', {
          xmlns: NS_FOCUS, room: this.roomJid, 'machine-uid': this.machineUid,
        }), 15000);
        const c = child(res, 'conference', NS_FOCUS);
        if (c && c.getAttribute('ready') === 'true') return;
        throw new Error('focus is not ready');
      } catch (e) {
        // signal answers for focus when the room may not be opened by us (signal/ROOMS.md).
        const app = e.app ? e.app.localName : '';
        if (app === 'host-required') throw new WaitForHost(e.text || 'waiting for a signed-in host');
        if (app === 'token-room') throw new Outcome('token-refused', e.text);
        if (app === 'removed') throw new Outcome('removed', e.text);
        if (e.condition === 'bad-request' || attempt >= 5) throw new Error(`focus: ${e.message}`);
        await sleep(1000);
      }
    }
  }

  #presence(join) {
    return x('presence', { to: `${this.roomJid}/${this.nick}` }, [
      join ? x('x', { xmlns: NS_MUC }, [
        this.password ? x('password', { xmlns: NS_MUC }, [this.password]) : null,
        // Who we are across reloads, for a moderator's removal (signal/ROOMS.md, section 3).
        x('browser', { xmlns: NS_ROOM, key: this.machineUid }),
      ]) : null,
      x('nick', { xmlns: NS_NICK }, [this.displayName]),
      x('audiomuted', { xmlns: NS_MEDIA }, [String(this.media.audioMuted || !this.media.audioTrack)]),
      x('videomuted', { xmlns: NS_MEDIA }, [String(this.media.videoMuted || !this.media.currentVideoTrack())]),
      x('videotype', { xmlns: NS_MEDIA }, [this.media.sharing ? 'desktop' : 'camera']),
      this.hand ? x('handraised', { xmlns: NS_MEDIA }, ['true']) : null,
    ]);
  }

  #sendPresence(join = false) {
    if (!this.xmpp || !this.nick) return;
    try { this.xmpp.send(this.#presence(join)); } catch (e) { console.warn('presence not sent:', e.message); }
  }

  #mediaChanged() {
    this.#sendPresence();
    this.ui.updateLocal({ audioMuted: this.media.audioMuted, videoMuted: this.media.videoMuted, sharing: this.media.sharing, hand: this.hand });
  }

  setHand(raised) {
    this.hand = raised;
    this.#mediaChanged();
  }

  #onPresence(p) {
    const from = p.getAttribute('from') || '';
    const [bare, nick] = splitJid(from);
    if (bare !== this.roomJid || !nick) return;
    const type = p.getAttribute('type');
    const mucUser = child(p, 'x', NS_MUC_USER);
    const codes = statusCodes(p);
    const self = nick === this.nick || codes.includes('110');
    if (type === 'error') {
      if (self && this.joinWaiter) this.joinWaiter.reject(stanzaError(p));
      return;
    }
    if (self) {
      if (type === 'unavailable') {
        this.#selfGone(p, codes);
        return;
      }
      this.#selfPresence(p);
      if (this.joinWaiter) {
        this.joinWaiter.resolve();
        this.joinWaiter = null;
      }
      return;
    }
    if (nick === 'focus') return;
    if (type === 'unavailable') {
      this.#removeParticipant(nick);
      return;
    }
    const text = (name, ns = NS_MEDIA) => {
      const el = child(p, name, ns);
      return el ? el.textContent.trim() : null;
    };
    // Present in the room we (re)joined: no longer one of the people held from before.
    this.held.delete(nick);
    let part = this.participants.get(nick);
    const isNew = !part;
    if (!part) {
      part = { nick, streams: {}, shown: null };
      this.participants.set(nick, part);
    }
    part.name = (text('nick', NS_NICK) || nick).slice(0, 100);
    Object.assign(part, roomFacts(p));
    part.audioMuted = text('audiomuted') === 'true';
    part.videoMuted = text('videomuted') === 'true';
    part.hand = text('handraised') === 'true';
    part.videoType = text('videotype') === 'desktop' ? 'desktop' : 'camera';
    if (isNew) this.ui.addParticipant(part);
    else this.ui.updateParticipant(part);
    if (isNew && this.orphans.has(nick)) {
      for (const o of this.orphans.get(nick)) if (!o.session.closed) this.#attachTrack(part, o.session, o.track);
      this.orphans.delete(nick);
    }
    this.#refreshStream(part);
  }

  #removeParticipant(nick) {
    const part = this.participants.get(nick);
    if (!part) return;
    this.participants.delete(nick);
    this.ui.removeParticipant(nick);
  }

  /** Our own presence as the room states it: our role, and a moderator's mute to obey. */
  #selfPresence(p) {
    const facts = roomFacts(p);
    const wasModerator = this.isModerator;
    this.self = facts;
    if (facts.forced.audio && !this.media.audioMuted) this.media.setAudioMuted(true);
    if (facts.forced.video && !this.media.videoMuted) this.media.setVideoMuted(true);
    if (!this.isModerator) {
      this.knocks.clear();
      this.removed = [];
    }
    if (wasModerator !== this.isModerator) console.info(`we are ${this.isModerator ? '' : 'no longer '}a moderator`);
    this.dispatchEvent(new Event('room'));
  }

  /** Our own unavailable presence: removed by a moderator (307), or the room was destroyed. */
  #selfGone(p, codes) {
    const u = child(p, 'x', NS_MUC_USER);
    const item = u ? child(u, 'item', NS_MUC_USER) : null;
    const destroy = u ? child(u, 'destroy', NS_MUC_USER) : null;
    const reasonOf = (el) => {
      const r = el ? child(el, 'reason', NS_MUC_USER) : null;
      return r ? r.textContent.trim() : '';
    };
    if (destroy) {
      this.#finish(new Outcome('meeting-ended', reasonOf(destroy) || 'The meeting was ended.'));
    } else if (codes.includes('307')) {
      const actor = item ? child(item, 'actor', NS_MUC_USER) : null;
      const by = actor ? this.#nameOf(actor.getAttribute('nick')) : '';
      this.#finish(new Outcome('removed', reasonOf(item) || (by ? `Removed from the meeting by ${by}.` : 'Removed from the meeting by a moderator.')));
    }
  }

  #nameOf(nick) {
    const part = nick && this.participants.get(nick);
    return part ? part.name : nick || '';
  }

  get isModerator() {
    return this.self.role === 'moderator';
  }

  /**
   * As a person (a recognised guest or an account, signal/PEOPLE.md), everyone sees us "in a
   * meeting" while this page is in one.
   */
  #personPresence() {
    const domain = this.xmpp && this.xmpp.jid ? this.xmpp.jid.split('/')[0].split('@')[1] : '';
    if (domain !== this.config.guestDomain && domain !== this.config.authDomain) return;
    try {
      this.xmpp.send(x('presence', {}, [x('show', {}, ['dnd']), x('nick', { xmlns: NS_NICK }, [this.displayName]), x('in-meeting', { xmlns: NS_PEOPLE })]));
    } catch (e) {
      console.warn('presence not sent:', e.message);
    }
  }

  /** The people of this server (the shared roster), for inviting: [{ bare, name }]. */
  async roster() {
    const res = await this.xmpp.iq('get', undefined, x('query', { xmlns: 'jabber:iq:roster' }));
    const q = child(res, 'query', 'jabber:iq:roster');
    return q ? [...q.children].filter((i) => i.localName === 'item').map((i) => ({ bare: i.getAttribute('jid'), name: (i.getAttribute('name') || '').slice(0, 100) })) : [];
  }

  /** Invites a person to this room (XEP-0249; signal checks we are in it). */
  invite(bare) {
    this.xmpp.send(x('message', { to: bare }, [x('x', { xmlns: 'jabber:x:conference', jid: this.roomJid, reason: `${this.displayName} invites you to “${this.room}”` })]));
  }

  /** Messages from the room itself: room state, knocks, the removed list, a request to unmute. */
  #onMessage(m) {
    const from = m.getAttribute('from') || '';
    const [bare, resource] = splitJid(from);
    const propose = child(m, 'propose', NS_JMI);
    if (propose && m.getAttribute('type') !== 'error') {
      // A call while we are in a meeting: busy (a page rings for no call while in one).
      try {
        this.xmpp.send(x('message', { to: from, type: 'chat' }, [x('reject', { xmlns: NS_JMI, id: propose.getAttribute('id') }, [
          x('reason', { xmlns: 'urn:xmpp:jingle:1' }, [x('busy', {}, [], 'urn:xmpp:jingle:1')]),
        ])]));
      } catch (_) { /* connection gone */ }
      return;
    }
    if (bare === this.roomJid) {
      const state = child(m, 'room-state', NS_ROOM);
      if (state) {
        this.roomState = { locked: state.getAttribute('locked') === 'true', lobby: state.getAttribute('lobby') === 'on' };
        this.dispatchEvent(new Event('room'));
      }
      const lobby = child(m, 'lobby', NS_ROOM);
      if (lobby && this.lobbyWaiter) {
        const st = lobby.getAttribute('state');
        if (st === 'denied') this.lobbyWaiter.reject(new Outcome('lobby-denied', 'A moderator did not let you in.'));
        else if (st === 'ended') this.lobbyWaiter.reject(new Outcome('meeting-ended', 'The meeting was ended.'));
      }
      const knock = child(m, 'knock', NS_ROOM);
      if (knock && knock.getAttribute('nick')) {
        this.knocks.set(knock.getAttribute('nick'), (knock.getAttribute('name') || knock.getAttribute('nick')).slice(0, 100));
        this.dispatchEvent(new Event('room'));
      }
      const gone = child(m, 'knock-gone', NS_ROOM);
      if (gone && this.knocks.delete(gone.getAttribute('nick'))) this.dispatchEvent(new Event('room'));
      const removed = child(m, 'removed', NS_ROOM);
      if (removed) {
        this.removed = [...removed.children].filter((c) => c.localName === 'person')
          .map((c) => ({ id: c.getAttribute('id'), name: (c.getAttribute('name') || '').slice(0, 100) }));
        this.dispatchEvent(new Event('room'));
      }
      const ask = child(m, 'ask-unmute', NS_ROOM);
      if (ask && resource) {
        const media = ask.getAttribute('media') === 'video' ? 'video' : 'audio';
        this.dispatchEvent(new CustomEvent('ask-unmute', { detail: { media, by: this.#nameOf(resource) } }));
      }
    }
    this.dispatchEvent(new CustomEvent('xmppmessage', { detail: m }));
  }

  // --- moderator actions (signal/ROOMS.md, section 3); signal refuses them for others ------

  #roomIq(payload, type = 'set') {
    if (!this.xmpp) return Promise.reject(new Error('not connected'));
    return this.xmpp.iq(type, this.roomJid, payload, 10000);
  }

  mute(nick, media) {
    return this.#roomIq(x('mute', { xmlns: NS_ROOM, nick, media }));
  }

  muteAll(media = 'audio') {
    return this.#roomIq(x('mute-all', { xmlns: NS_ROOM, media }));
  }

  askToUnmute(nick, media = 'audio') {
    return this.#roomIq(x('ask-unmute', { xmlns: NS_ROOM, nick, media }));
  }

  kick(nick) {
    const reason = `Removed from the meeting by ${this.displayName}.`;
    return this.#roomIq(x('query', { xmlns: NS_MUC_ADMIN }, [x('item', { nick, role: 'none' }, [x('reason', {}, [reason])], NS_MUC_ADMIN)]));
  }

  makeModerator(nick) {
    return this.#roomIq(x('query', { xmlns: NS_MUC_ADMIN }, [x('item', { nick, role: 'moderator' }, [], NS_MUC_ADMIN)]));
  }

  allowBack(id) {
    return this.#roomIq(x('allow', { xmlns: NS_ROOM, id }));
  }

  setLobby(enabled) {
    return this.#roomIq(x('lobby', { xmlns: NS_ROOM, enabled: String(enabled) }));
  }

  admit(nick) {
    return this.#roomIq(x('admit', { xmlns: NS_ROOM, nick }));
  }

  deny(nick) {
    return this.#roomIq(x('deny', { xmlns: NS_ROOM, nick }));
  }

  endMeeting() {
    const reason = `${this.displayName} ended the meeting for everyone.`;
    return this.#roomIq(x('query', { xmlns: NS_MUC_OWNER }, [x('destroy', {}, [x('reason', {}, [reason], NS_MUC_OWNER)], NS_MUC_OWNER)]));
  }

  /** Sets (or with null removes) the room password: the XEP-0045 room configuration form. */
  async setPassword(password) {
    const field = (v, value) => x('field', { var: v }, [x('value', {}, [value], NS_DATA)], NS_DATA);
    const form = x('x', { xmlns: NS_DATA, type: 'submit' }, [
      field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig'),
      field('muc#roomconfig_passwordprotectedroom', password ? '1' : '0'),
      field('muc#roomconfig_roomsecret', password || ''),
    ]);
    await this.#roomIq(x('query', { xmlns: NS_MUC_OWNER }, [form]));
    // Our own rejoin (after a lost connection) needs it too.
    this.password = password || null;
  }

  /**
   * Unmutes our microphone or camera. After a moderator's mute, signal is told first (only we
   * may lift it; signal/ROOMS.md): the bridge forwards our media again.
   */
  async unmuteSelf(media) {
    if (this.self.forced[media]) {
      await this.#roomIq(x('unmute', { xmlns: NS_ROOM, media }));
      this.self.forced = { ...this.self.forced, [media]: false };
    }
    if (media === 'audio') this.media.setAudioMuted(false);
    else this.media.setVideoMuted(false);
  }

  #onIq(e) {
    const iq = e.detail;
    const from = iq.getAttribute('from') || '';
    const [bare, resource] = splitJid(from);
    const j = parseJingle(iq);
    if (!j || bare !== this.roomJid || iq.getAttribute('type') !== 'set') return;
    e.preventDefault();
    console.info(`jingle ${j.action} from ${resource} sid=${j.sid}${j.transport ? ` transport=${j.transport}` : ''}${j.reason ? ` reason=${j.reason}` : ''}${j.peer ? ` peer=${j.peer}` : ''}`);
    const reply = (payload) => { try { this.xmpp.replyResult(iq, payload); } catch (_) { /* connection gone */ } };
    const fail = (cond, text) => { try { this.xmpp.replyError(iq, cond, 'cancel', text); } catch (_) { /* connection gone */ } };
    if (resource === 'focus') this.#fromFocus(j, reply, fail);
    else this.#fromPeer(resource, j, reply, fail);
  }

  #fromFocus(j, reply, fail) {
    switch (j.action) {
      case 'session-initiate':
        reply();
        if (j.transport === 'p2p') this.#startP2P(j.sid, j.peer, j.initiator);
        else this.#startBridge(j.sid);
        break;
      case 'source-add':
      case 'source-remove': {
        const b = this.bridge;
        if (!b || !j.description || j.description.type !== 'offer') {
          fail('item-not-found', 'no bridge session for this offer');
          return;
        }
        descriptionSdp(j.description).then((offer) => b.handleOffer(offer)).then(
          (sdp) => compressDescription({ type: 'answer', sdp }).then((d) => reply(jingle(j.action, j.sid, {}, d))),
          (err) => { console.warn('bridge offer failed:', err); fail('bad-request', String(err.message || err)); },
        );
        break;
      }
      case 'session-terminate':
        reply();
        this.#terminate(j.sid, j.reason);
        break;
      default:
        fail('feature-not-implemented');
    }
  }

  #fromPeer(nick, j, reply, fail) {
    if (j.action !== 'session-initiate' || j.transport !== 'p2p' || !j.description || j.description.type !== 'offer') {
      fail('bad-request', 'only P2P offers are accepted from participants');
      return;
    }
    let s = this.p2p;
    if (!s || s.sid !== j.sid || s.peer !== nick) {
      if (s) s.close();
      s = this.#newP2P(j.sid, nick);
    }
    descriptionSdp(j.description).then((offer) => s.answer(offer)).then(
      (sdp) => compressDescription({ type: 'answer', sdp }).then((d) => reply(jingle('session-accept', j.sid, { transport: 'p2p' }, d))),
      (err) => { console.warn('P2P answer failed:', err); fail('bad-request', String(err.message || err)); },
    );
  }

  #wire(session) {
    session.addEventListener('track', (e) => this.#onTrack(session, e.detail.nick, e.detail.track));
    session.addEventListener('trackremoved', (e) => this.#onTrackRemoved(session, e.detail.nick, e.detail.track));
    session.addEventListener('message', (e) => this.#onChannelMessage(session, e.detail));
    session.addEventListener('flowing', () => this.#refreshAll());
  }

  #startBridge(sid) {
    const old = this.bridge;
    const s = new BridgeSession(sid, this.media, async (offer) => {
      // The contract names our streams after our endpoint id (msid stream id = nick).
      const sdp = offer.replace(/^(a=msid:|a=ssrc:\d+ msid:)\S+/gm, `$1${this.nick}`);
      const d = await compressDescription({ type: 'offer', sdp });
      const res = await this.xmpp.iq('set', this.focusJid, jingle('session-accept', sid, { transport: 'bridge' }, d), 30000);
      const j = parseJingle(res);
      if (!j || !j.description || j.description.type !== 'answer') throw new Error('session-accept result without an answer');
      return descriptionSdp(j.description);
    });
    this.bridge = s;
    this.#wire(s);
    s.addEventListener('channelopen', () => { this.lastConstraints = ''; this.#sendConstraints(); });
    s.addEventListener('failed', () => {
      // ICE failure: first an ICE restart on this session (a new offer through focus, same
      // bridge); if that does not bring the transport back, rejoin the room.
      if (this.bridge === s && !this.left) this.restartBridgeIce('bridge ICE failed');
    });
    if (old) old.close();
    this.#dropHeld();
    if (this.p2p) this.p2p.handoverTo = s;
    s.start().catch((e) => {
      console.warn('bridge session failed:', e.message);
      if (this.bridge === s) {
        s.close();
        this.bridge = null;
      }
    });
  }

  #newP2P(sid, peer) {
    const s = new P2PSession(sid, this.media, peer);
    this.p2p = s;
    this.#wire(s);
    s.addEventListener('failed', () => {
      if (this.p2p === s) {
        console.warn('P2P ICE failed; back to the bridge');
        this.#closeP2P();
        this.#reportP2PFailed(s);
      }
    });
    // ICE may also never get going (no usable candidate pair: it stays 'new' or 'checking'
    // and never reports 'failed'); on a LAN P2P connects within a second or two.
    setTimeout(() => {
      const st = s.pc.iceConnectionState;
      if (this.p2p === s && !s.closed && st !== 'connected' && st !== 'completed') {
        console.warn(`P2P not connected after ${P2P_CONNECT_MS} ms (ICE ${st}); back to the bridge`);
        this.#closeP2P();
        this.#reportP2PFailed(s);
      }
    }, P2P_CONNECT_MS);
    return s;
  }

  /**
   * Tells focus that the P2P session `s` failed (focus/README.md, P2P step 4): once P2P took
   * over, the bridge holds nothing for us, so without this message there would be no media.
   * Focus answers, ends P2P for both pages and starts bridge sessions again.
   */
  #reportP2PFailed(s) {
    if (s.failureReported || this.left || !this.xmpp) return;
    s.failureReported = true;
    console.info(`telling focus that P2P session ${s.sid} failed`);
    this.xmpp.iq('set', this.focusJid, jingle('session-terminate', s.sid, { transport: 'p2p', reason: 'failed' }), 10000)
      .catch((e) => console.warn('focus did not take the P2P failure report:', e.message || e));
  }

  async #startP2P(sid, peer, initiator) {
    if (!initiator) {
      if (!this.p2p || this.p2p.sid !== sid) {
        if (this.p2p) this.p2p.close();
        this.#newP2P(sid, peer);
      }
      return;
    }
    if (this.p2p) this.p2p.close();
    const s = this.#newP2P(sid, peer);
    try {
      const offer = await s.offer();
      const d = await compressDescription({ type: 'offer', sdp: offer });
      const res = await this.xmpp.iq('set', `${this.roomJid}/${peer}`, jingle('session-initiate', sid, { transport: 'p2p' }, d), 30000);
      const j = parseJingle(res);
      if (!j || !j.description || j.description.type !== 'answer') throw new Error('P2P result without an answer');
      await s.applyAnswer(await descriptionSdp(j.description));
    } catch (e) {
      console.warn('P2P failed:', e.message);
      if (this.p2p === s) {
        this.#closeP2P();
        this.#reportP2PFailed(s);
      }
    }
  }

  #terminate(sid, reason) {
    if (this.p2p && this.p2p.sid === sid && reason === 'failed') {
      this.#closeP2P();
      return;
    }
    if (this.p2p && this.p2p.sid === sid) {
      // The bridge takes over; keep P2P media until the bridge's flows.
      this.p2p.handoverTo = this.bridge || true;
      this.p2p.endAt = performance.now() + HANDOVER_MS;
      return;
    }
    if (!this.bridge || (sid && this.bridge.sid !== sid)) return;
    if (reason === 'failed' || reason === 'ended') {
      // Focus gave up on this session (or restarts): no new one comes until we join again.
      setTimeout(() => { if (!this.left) this.#rejoin(`bridge session ${reason}`); }, reason === 'ended' ? 1000 : 0);
      return;
    }
    if (reason === 'p2p') {
      this.bridge.endAt = performance.now() + HANDOVER_MS;
      this.bridge.endWhenP2PFlows = true;
    } else {
      this.bridge.close();
      this.bridge = null;
      this.#refreshAll();
    }
  }

  #closeP2P() {
    if (!this.p2p) return;
    this.p2p.close();
    this.p2p = null;
    this.#refreshAll();
  }

  #onTrack(session, nick, track) {
    if (nick === this.nick) return;
    const part = this.participants.get(nick);
    if (!part) {
      // A track may come before its sender's presence (or for an endpoint that already left):
      // keep it aside; it is shown if and when that occupant appears.
      console.info(`track from ${nick}, not (yet) an occupant: kept aside`);
      if (!this.orphans.has(nick)) this.orphans.set(nick, []);
      this.orphans.get(nick).push({ session, track });
      return;
    }
    this.#attachTrack(part, session, track);
  }

  #attachTrack(part, session, track) {
    let stream = part.streams[session.kind];
    if (!stream || stream.session !== session) {
      stream = new MediaStream();
      stream.session = session;
      part.streams[session.kind] = stream;
    }
    for (const t of stream.getTracks()) if (t.kind === track.kind && t !== track) stream.removeTrack(t);
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    this.#refreshStream(part);
  }

  #onTrackRemoved(session, nick, track) {
    const kept = this.orphans.get(nick);
    if (kept) {
      const rest = kept.filter((o) => o.track !== track && !o.session.closed);
      if (rest.length) this.orphans.set(nick, rest);
      else this.orphans.delete(nick);
    }
    const part = this.participants.get(nick);
    if (!part) return;
    const stream = part.streams[session.kind];
    if (stream && stream.session === session) {
      stream.removeTrack(track);
      if (!stream.getTracks().length) delete part.streams[session.kind];
    }
    this.#refreshStream(part);
  }

  /** Picks the stream a tile shows: the newest session that decodes this participant's video. */
  #refreshStream(part) {
    const candidates = Object.values(part.streams).filter((s) => s && !s.session.closed && s.getTracks().length);
    candidates.sort((a, b) => b.session.startedAt - a.session.startedAt);
    const flowing = candidates.find((s) => s.session.flowingNicks && s.session.flowingNicks.has(part.nick));
    const pick = flowing || (part.shown && candidates.includes(part.shown) ? part.shown : candidates[0]) || null;
    if (pick !== part.shown) {
      part.shown = pick;
      this.ui.setStream(part.nick, pick);
    }
  }

  #refreshAll() {
    for (const p of this.participants.values()) this.#refreshStream(p);
  }

  async #tick() {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.#tickOnce();
    } finally {
      this.ticking = false;
    }
  }

  async #tickOnce() {
    const sessions = [this.bridge, this.p2p].filter((s) => s && !s.closed);
    for (const s of sessions) await s.checkFlowingNicks();
    this.#refreshAll();
    if (this.p2p && !this.p2p.closed && !this.bridge) await this.#p2pDominant(this.p2p);
    const now = performance.now();
    // P2P hands over to the bridge once the bridge decodes the peer (or after the deadline).
    const p = this.p2p;
    if (p && !this.participants.has(p.peer) && now - p.startedAt > 5000) {
      console.info('the P2P peer left: P2P closed');
      this.#closeP2P();
    } else if (p && p.handoverTo) {
      const b = this.bridge;
      if ((b && b.flowingNicks && b.flowingNicks.has(p.peer)) || (p.endAt && now > p.endAt) || (!this.participants.has(p.peer))) {
        console.info('P2P handed over to the bridge');
        this.#closeP2P();
      }
    }
    // P2P only makes sense with exactly one other participant: with more, the bridge carries
    // everyone, so a leftover P2P session goes once the bridge decodes the peer.
    const p2 = this.p2p;
    if (p2 && this.participants.size >= 2 && this.bridge && this.bridge.flowingNicks.has(p2.peer)) {
      console.info('more than two in the room: P2P handed over to the bridge');
      this.#closeP2P();
    }
    const b = this.bridge;
    if (b && b.endWhenP2PFlows && this.participants.size >= 2) {
      // Someone joined meanwhile: the bridge stays.
      b.endWhenP2PFlows = false;
    }
    if (b && b.endWhenP2PFlows) {
      const peerFlowing = this.p2p && this.p2p.flowingNicks && this.p2p.flowingNicks.size > 0;
      if (peerFlowing || now > b.endAt) {
        console.info('bridge session handed over to P2P');
        this.ui.setDominant(null);
        b.close();
        if (this.bridge === b) this.bridge = null;
        this.#refreshAll();
      }
    }
  }

  /**
   * Without a bridge nobody tells us who speaks: compare our microphone's level with the
   * peer's received audio level; the louder one (twice in a row, above silence) is dominant.
   */
  async #p2pDominant(s) {
    let local = 0;
    let remote = 0;
    try {
      const stats = await s.pc.getStats();
      stats.forEach((r) => {
        if (r.kind !== 'audio') return;
        if (r.type === 'media-source' && typeof r.audioLevel === 'number') local = Math.max(local, r.audioLevel);
        if (r.type === 'inbound-rtp' && typeof r.audioLevel === 'number') remote = Math.max(remote, r.audioLevel);
      });
    } catch (_) { return; }
    if (this.media.audioMuted) local = 0;
    if (Math.max(local, remote) < 0.01) return;
    const candidate = remote > local ? s.peer : 'local';
    this.speakerVotes = this.speakerCandidate === candidate ? (this.speakerVotes || 0) + 1 : 1;
    this.speakerCandidate = candidate;
    if (this.speakerVotes >= 2 && this.ui.dominant !== candidate) this.ui.setDominant(candidate);
  }

  #onChannelMessage(session, msg) {
    const kind = msg.colibriClass || msg.type;
    switch (kind) {
      case 'ServerHello':
        this.lastConstraints = '';
        this.#sendConstraints();
        break;
      case 'DominantSpeakerEndpointChangeEvent':
        this.dominant = msg.dominantSpeakerEndpoint;
        this.ui.setDominant(this.dominant === this.nick ? 'local' : this.dominant);
        break;
      case 'EndpointMessage':
        this.#onAppMessage(msg.from, msg.msgPayload);
        break;
      case 'EndpointStats':
        if (msg.from && typeof msg.quality === 'string') this.ui.setQuality(msg.from, msg.quality);
        break;
      case 'SenderSourceConstraints':
        if (session === this.bridge && typeof msg.maxHeight === 'number') session.applySenderConstraint(msg.maxHeight);
        break;
      case 'reaction':
      case 'stats':
        // P2P channel: the payload itself, from the peer.
        if (session.kind === 'p2p') this.#onAppMessage(session.peer, msg);
        break;
      default:
        break;
    }
  }

  #onAppMessage(from, payload) {
    if (!payload || typeof payload !== 'object') return;
    if (payload.type === 'reaction' && typeof payload.emoji === 'string') {
      this.ui.reaction(from, payload.emoji);
    } else if (payload.type === 'stats' && typeof payload.quality === 'string') {
      this.ui.setQuality(from, payload.quality);
    }
  }

  /** Sends `payload` to everyone else, on the path media uses now. */
  #broadcast(payload) {
    if (this.p2p && this.p2p.send(payload)) return;
    if (this.bridge) this.bridge.send({ colibriClass: 'EndpointMessage', from: '', to: '', msgPayload: payload });
  }

  sendReaction(emoji) {
    this.#broadcast({ type: 'reaction', emoji });
    this.ui.reaction('local', emoji);
  }

  /** ReceiverVideoConstraints following tile sizes; sent only when they change. */
  layoutChanged() {
    this.#sendConstraints();
  }

  #sendConstraints() {
    const b = this.bridge;
    if (!b) return;
    const heights = this.ui.tileHeights();
    const constraints = {};
    for (const [nick, h] of heights) {
      const want = h <= 0 ? 0 : h <= 200 ? 180 : h <= 400 ? 360 : 720;
      constraints[`${nick}-v0`] = { maxHeight: want };
    }
    const stage = this.ui.onStage();
    const msg = {
      colibriClass: 'ReceiverVideoConstraints',
      lastN: -1,
      onStageSources: stage ? [`${stage}-v0`] : [],
      defaultConstraints: { maxHeight: 180 },
      constraints,
    };
    const key = JSON.stringify(msg);
    if (key === this.lastConstraints) return;
    if (b.send(msg)) this.lastConstraints = key;
  }

  async #reportQuality() {
    const s = this.p2p && this.p2p.flowingNicks && this.p2p.flowingNicks.size ? this.p2p : this.bridge;
    if (!s || s.closed) {
      this.ui.setQuality('local', this.xmpp ? 'unknown' : 'poor');
      return;
    }
    let q;
    try { q = await s.quality(); } catch (_) { return; }
    const level = !q.connected ? 'poor' : (q.loss > 0.08 || (q.rtt ?? 0) > 400) ? 'poor' : (q.loss > 0.02 || (q.rtt ?? 0) > 150) ? 'fair' : 'good';
    this.ui.setQuality('local', level, q);
    if (s.kind === 'bridge') {
      s.send({ colibriClass: 'EndpointStats', from: '', quality: level, rtt: q.rtt, loss: q.loss });
    } else {
      s.send({ type: 'stats', quality: level });
    }
  }

  /**
   * ICE restart of the bridge session (`why` is logged). One at a time per session; if the
   * restart is refused, or ICE is not connected again within RESTART_MS, the page rejoins.
   * Public: the ICE 'failed' handler calls it, and so can a person in the console.
   */
  async restartBridgeIce(why) {
    const s = this.bridge;
    if (!s || s.closed || s.restarting || this.left) return false;
    s.restarting = true;
    console.warn(`${why}: ICE restart of bridge session ${s.sid}`);
    try {
      await s.restartIce();
      const ok = await new Promise((resolve) => {
        const check = () => ['connected', 'completed'].includes(s.pc.iceConnectionState);
        if (check()) return resolve(true);
        const timer = setTimeout(() => { s.pc.removeEventListener('iceconnectionstatechange', on); resolve(check()); }, RESTART_MS);
        const on = () => { if (check()) { clearTimeout(timer); s.pc.removeEventListener('iceconnectionstatechange', on); resolve(true); } };
        s.pc.addEventListener('iceconnectionstatechange', on);
      });
      if (!ok) throw new Error(`ICE not connected ${RESTART_MS} ms after the restart`);
      console.info(`bridge session ${s.sid}: ICE restart done`);
      return true;
    } catch (e) {
      console.warn(`ICE restart failed: ${e.message || e}`);
      // A newer session (moving) or a leave makes this one moot.
      if (this.bridge === s && !this.left) this.#rejoin('bridge ICE restart failed');
      return false;
    } finally {
      s.restarting = false;
    }
  }

  /** Leaves the room and joins it again on a new connection (a new endpoint id). */
  #rejoin(why) {
    console.warn(`${why}; rejoining`);
    const old = this.xmpp;
    if (old && this.nick) {
      try { old.send(x('presence', { to: `${this.roomJid}/${this.nick}`, type: 'unavailable' })); } catch (_) { /* gone */ }
    }
    this.xmpp = null;
    this.#teardown();
    if (old) old.close();
    this.join();
  }

  #onDisconnected(xmpp, { byUs }) {
    if (xmpp !== this.xmpp) return;
    if (byUs || this.left) {
      this.#teardown();
      return;
    }
    // The bridge holds the call while signal (or the way to it) is down: the media sessions
    // and tiles stay until the rejoin brings a new session (#startBridge closes the old one
    // and drops the people held from before whose presence did not come back in the room).
    console.warn('signal connection lost; rejoining (media continues meanwhile)');
    for (const nick of this.participants.keys()) this.held.add(nick);
    this.nick = null;
    this.inRoom = false;
    this.join();
  }

  #dropHeld() {
    for (const nick of this.held) if (this.participants.has(nick)) this.#removeParticipant(nick);
    this.held.clear();
  }

  #teardown() {
    if (this.bridge) this.bridge.close();
    if (this.p2p) this.p2p.close();
    this.bridge = null;
    this.p2p = null;
    for (const nick of [...this.participants.keys()]) this.#removeParticipant(nick);
    this.held.clear();
    this.orphans.clear();
    this.nick = null;
    this.inRoom = false;
  }

  /** Asks signal for a room token (filestore access), CLIENT_FLOW step 6. */
  async roomToken() {
    const res = await this.xmpp.iq('get', this.config.muc, x('token', { xmlns: NS_TOKEN, room: this.room }));
    const t = child(res, 'token', NS_TOKEN);
    if (!t) throw new Error('token result without a token');
    return t.textContent.trim();
  }

  /** A summary for people debugging in the console and for the end-to-end tests. */
  debugState() {
    const sess = (s) => s && { sid: s.sid, closed: s.closed, ice: s.pc.iceConnectionState, flowing: [...(s.flowingNicks || [])] };
    const shown = {};
    for (const p of this.participants.values()) shown[p.name] = p.shown ? p.shown.session.kind : null;
    return { nick: this.nick, joined: this.inRoom, bridge: sess(this.bridge), p2p: sess(this.p2p), shown };
  }

  leave() {
    if (this.left) return;
    this.left = true;
    this.dispatchEvent(new Event('left'));
    clearInterval(this.ticker);
    clearInterval(this.qualityTicker);
    if (this.xmpp && this.nick) {
      try { this.xmpp.send(x('presence', { to: `${this.roomJid}/${this.nick}`, type: 'unavailable' })); } catch (_) { /* gone */ }
    }
    this.#teardown();
    if (this.xmpp) this.xmpp.close();
  }
}

function splitJid(jid) {
  const i = jid.indexOf('/');
  return i < 0 ? [jid, ''] : [jid.slice(0, i), jid.slice(i + 1)];
}
