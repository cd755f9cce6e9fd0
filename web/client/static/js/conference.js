// The conference as CLIENT_FLOW.md describes it: XMPP login, the conference request to
// focus, the MUC join with our media state in presence, the sessions focus starts (bridge
// and P2P, proto/src/session.rs), and everything that arrives on the bridge channel.
// It owns the participant list; the Ui only draws what this module tells it.
//
// Transitions never leave a participant without video: a new session's stream replaces
// the old one on a tile only once it decodes frames, and the old session is closed after.

import { Xmpp, x, child } from './xmpp.js';
import { jingle, parseJingle, compressDescription, descriptionSdp } from './jingle.js';
import { BridgeSession } from './bridge-session.js';
import { P2PSession } from './p2p-session.js';

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_NICK = 'http://jabber.org/protocol/nick';
const NS_MEDIA = 'urn:meet-lan:media:0';
const NS_FOCUS = 'http://jitsi.org/protocol/focus';
export const NS_TOKEN = 'urn:meet-lan:token:0';

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
 * Opens and authenticates the signal connection ahead of the join (on the prejoin screen).
 * Only the connection: focus is asked at the join, since it leaves rooms nobody enters.
 */
export function preconnect(config) {
  const xmpp = new Xmpp(wsUrl(config), config.domain);
  return xmpp.connect().then(() => xmpp, (e) => { xmpp.close(); throw e; });
}

export class Conference extends EventTarget {
  constructor({ config, room, displayName, media, ui, preconnected = null }) {
    super();
    this.preconnected = preconnected;
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

  /** Joins, retrying with back-off until it works or the user leaves. */
  async join() {
    let delay = 500;
    for (;;) {
      if (this.left) return;
      try {
        this.ui.status(this.joinedOnce ? 'Reconnecting…' : 'Connecting…');
        await this.#connectOnce();
        this.joinedOnce = true;
        this.ui.status('');
        this.dispatchEvent(new Event('joined'));
        return;
      } catch (e) {
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

  async #connectOnce() {
    // A connection opened while the person was on the prejoin screen saves its set-up time.
    let xmpp = null;
    if (this.preconnected) {
      const pending = this.preconnected;
      this.preconnected = null;
      xmpp = await pending.catch(() => null);
      if (xmpp && (!xmpp.ws || xmpp.ws.readyState !== WebSocket.OPEN)) xmpp = null;
    }
    const fresh = !xmpp;
    if (fresh) xmpp = new Xmpp(wsUrl(this.config), this.config.domain);
    this.xmpp = xmpp;
    xmpp.addEventListener('iq', (e) => this.#onIq(e));
    xmpp.addEventListener('presence', (e) => this.#onPresence(e.detail));
    xmpp.addEventListener('message', (e) => this.dispatchEvent(new CustomEvent('xmppmessage', { detail: e.detail })));
    xmpp.addEventListener('disconnected', (e) => this.#onDisconnected(xmpp, e.detail));
    if (fresh) await xmpp.connect();
    console.info(`xmpp: ${fresh ? 'bound' : 'preconnected'} as`, xmpp.jid);
    await this.#askFocus();
    this.nick = randomHex(4);
    const joined = new Promise((resolve, reject) => {
      this.joinWaiter = { resolve, reject };
      setTimeout(() => reject(new Error('no answer to the room join')), 15000);
    });
    this.#sendPresence(true);
    await joined;
    console.info(`joined ${this.roomJid} as ${this.nick}`);
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
        if (e.condition === 'bad-request' || attempt >= 5) throw new Error(`focus: ${e.message}`);
        await sleep(1000);
      }
    }
  }

  #presence(join) {
    return x('presence', { to: `${this.roomJid}/${this.nick}` }, [
      join ? x('x', { xmlns: NS_MUC }) : null,
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
    const self = nick === this.nick || (mucUser && [...mucUser.children].some((s) => s.localName === 'status' && s.getAttribute('code') === '110'));
    if (type === 'error') {
      if (self && this.joinWaiter) this.joinWaiter.reject(new Error(`room refused the join (${errorCondition(p)})`));
      return;
    }
    if (self) {
      if (type !== 'unavailable' && this.joinWaiter) {
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
    let part = this.participants.get(nick);
    const isNew = !part;
    if (!part) {
      part = { nick, streams: {}, shown: null };
      this.participants.set(nick, part);
    }
    part.name = (text('nick', NS_NICK) || nick).slice(0, 100);
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
    // and drops the people held from before, who come back under new nicks).
    console.warn('signal connection lost; rejoining (media continues meanwhile)');
    for (const nick of this.participants.keys()) this.held.add(nick);
    this.nick = null;
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
    return { nick: this.nick, joined: !!this.nick, bridge: sess(this.bridge), p2p: sess(this.p2p), shown };
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

function errorCondition(stanza) {
  const err = child(stanza, 'error');
  return err && err.firstElementChild ? err.firstElementChild.localName : 'error';
}
