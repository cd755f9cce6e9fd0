// What bridge and P2P sessions share: one RTCPeerConnection, operations run one at a time
// (an offer from the other side never interleaves with our own negotiation), non-trickle
// ICE (candidates are in the SDP: host candidates on a LAN; STUN/TURN only when the admin
// set ICE_SERVERS), and mapping
// of received tracks to participants.

import { iceServers } from './ice.js';

export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

/**
 * Waits until ICE gathering completes (host candidates only: fast), or `ms` pass. With
 * `firstOnly`, the first candidate is enough: the bridge is ICE-lite and learns our address
 * from our connectivity checks, so it needs no complete list (this saves ~150 ms per join).
 */
export function gathered(pc, ms = 3000, firstOnly = false) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  if (firstOnly && /^a=candidate:/m.test((pc.localDescription && pc.localDescription.sdp) || '')) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const onCandidate = (e) => { if (firstOnly && e.candidate) done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', onCandidate);
  });
}

/** msid stream ids by mid, from an SDP: the bridge names each stream after its sender. */
export function msidByMid(sdp) {
  const out = new Map();
  let mid = null;
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) mid = null;
    else if (line.startsWith('a=mid:')) mid = line.slice(6).trim();
    else if (line.startsWith('a=msid:') && mid !== null) out.set(mid, line.slice(7).trim().split(' ')[0]);
  }
  return out;
}

export class PeerSession extends EventTarget {
  constructor(kind, sid, media) {
    super();
    this.kind = kind; // 'bridge' | 'p2p'
    this.sid = sid;
    this.media = media;
    this.pc = new RTCPeerConnection({ iceServers: iceServers(), bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.queue = Promise.resolve();
    this.closed = false;
    this.startedAt = performance.now();
    this.tracks = new Map(); // track id -> { nick, track, transceiver }; nick null: an idle slot
    // The bridge's slot map (SourcesMap): mid -> the participant its m-line carries now
    // (null: nothing). It outranks the msid, which names only a slot's first source.
    this.slotOwners = new Map();
    this.flowingNicks = new Set();
    this.pc.addEventListener('track', (e) => this.#onTrack(e));
    this.pc.addEventListener('iceconnectionstatechange', () => {
      const s = this.pc.iceConnectionState;
      console.info(`${this.kind} session ${this.sid}: ICE ${s}`);
      if (s === 'failed') this.dispatchEvent(new Event('failed'));
    });
  }

  /** Runs `fn` after every earlier operation of this session. */
  serial(fn) {
    const run = this.queue.then(() => (this.closed ? Promise.reject(new Error('session closed')) : fn()));
    this.queue = run.catch(() => {});
    return run;
  }

  addLocalTransceivers(direction, simulcast) {
    const stream = this.media.stream;
    const a = this.pc.addTransceiver(this.media.audioTrack || 'audio', { direction, streams: [stream] });
    const vInit = { direction, streams: [stream] };
    if (simulcast) vInit.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
    const v = this.pc.addTransceiver(this.media.currentVideoTrack() || 'video', vInit);
    this.media.registerSender('audio', a.sender);
    this.media.registerSender('video', v.sender);
    this.audioSender = a.sender;
    this.videoSender = v.sender;
    if (v.setCodecPreferences && RTCRtpReceiver.getCapabilities) {
      // VP8 first: every browser decodes it and simulcast by rid is well trodden with it.
      const caps = RTCRtpReceiver.getCapabilities('video')?.codecs || [];
      const vp8 = caps.filter((c) => /vp8/i.test(c.mimeType));
      const rest = caps.filter((c) => !/vp8/i.test(c.mimeType));
      if (vp8.length) {
        try { v.setCodecPreferences([...vp8, ...rest]); } catch (_) { /* keep the default order */ }
      }
    }
  }

  /**
   * The participant a received track belongs to: the bridge's slot map says it (null: the
   * slot carries nothing now), else the msid names it (P2P: the peer, bridge: the slot's
   * first source). `undefined` when nothing names it.
   */
  nickForTrack(e) {
    const mid = e.transceiver && e.transceiver.mid;
    if (mid !== null && mid !== undefined && this.slotOwners.has(mid)) return this.slotOwners.get(mid);
    const fromStream = e.streams && e.streams[0] && e.streams[0].id;
    if (fromStream && fromStream !== '-') return fromStream;
    const sdp = this.pc.remoteDescription && this.pc.remoteDescription.sdp;
    const named = sdp && mid !== null ? msidByMid(sdp).get(mid) : undefined;
    return named && named !== '-' ? named : undefined;
  }

  #onTrack(e) {
    const nick = this.nickForTrack(e);
    if (nick === undefined) {
      console.warn(`${this.kind}: track without a sender id, ignored`);
      return;
    }
    this.tracks.set(e.track.id, { nick, track: e.track, transceiver: e.transceiver });
    if (nick) this.dispatchEvent(new CustomEvent('track', { detail: { nick, track: e.track } }));
  }

  /**
   * The bridge moved slots between sources (SourcesMap, complete each time): a track whose
   * slot now carries someone else leaves its old participant and joins the new one.
   */
  applySlotMap(mapped) {
    if (!Array.isArray(mapped)) return;
    this.slotOwners = new Map();
    for (const m of mapped) {
      if (m && typeof m.mid === 'string') this.slotOwners.set(m.mid, typeof m.owner === 'string' ? m.owner : null);
    }
    for (const t of this.tracks.values()) {
      const mid = t.transceiver.mid;
      if (mid === null || !this.slotOwners.has(mid)) continue;
      const nick = this.slotOwners.get(mid);
      if (nick === t.nick) continue;
      if (t.nick) this.dispatchEvent(new CustomEvent('trackremoved', { detail: { nick: t.nick, track: t.track } }));
      t.nick = nick;
      if (nick) this.dispatchEvent(new CustomEvent('track', { detail: { nick, track: t.track } }));
    }
  }

  /** After a negotiation: tracks whose m-line stopped receiving are gone. */
  pruneTracks() {
    for (const [id, t] of this.tracks) {
      const dir = t.transceiver.currentDirection;
      if (t.transceiver.stopped || dir === 'inactive' || dir === 'sendonly' || dir === 'stopped') {
        this.tracks.delete(id);
        if (t.nick) this.dispatchEvent(new CustomEvent('trackremoved', { detail: { nick: t.nick, track: t.track } }));
      }
    }
  }

  /**
   * Polls decoded frames per participant: `flowingNicks` holds the senders whose video this
   * session decodes (frames counted since the last poll), which is what a handover waits for.
   */
  async checkFlowingNicks() {
    if (this.closed) return this.flowingNicks;
    const decoded = this.framesByTrack || new Map();
    const now = new Set();
    try {
      const stats = await this.pc.getStats();
      stats.forEach((r) => {
        if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
        const t = this.tracks.get(r.trackIdentifier);
        if (!t || !t.nick) return;
        const frames = r.framesDecoded || 0;
        if (frames > (decoded.get(r.trackIdentifier) || 0)) now.add(t.nick);
        decoded.set(r.trackIdentifier, frames);
      });
    } catch (_) { return this.flowingNicks; }
    this.framesByTrack = decoded;
    // A participant stays "flowing" while any frame arrived within the last polls.
    const prev = this.flowingNicks || new Set();
    this.staleCount = this.staleCount || new Map();
    for (const n of now) this.staleCount.set(n, 0);
    const next = new Set(now);
    for (const n of prev) {
      if (now.has(n)) continue;
      const c = (this.staleCount.get(n) || 0) + 1;
      this.staleCount.set(n, c);
      if (c < 6) next.add(n);
    }
    this.flowingNicks = next;
    return next;
  }

  /** Round-trip time (ms) and receive loss (0..1) from the selected candidate pair and inbound RTP. */
  async quality() {
    let rtt = null;
    let lost = 0;
    let received = 0;
    const stats = await this.pc.getStats();
    stats.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && r.currentRoundTripTime !== undefined) {
        rtt = r.currentRoundTripTime * 1000;
      }
      if (r.type === 'inbound-rtp') {
        lost += r.packetsLost || 0;
        received += r.packetsReceived || 0;
      }
    });
    const delta = { lost: lost - (this.lastLost || 0), received: received - (this.lastReceived || 0) };
    this.lastLost = lost;
    this.lastReceived = received;
    const loss = delta.lost + delta.received > 0 ? Math.max(0, delta.lost) / (delta.lost + delta.received) : 0;
    return { rtt, loss, connected: ['connected', 'completed'].includes(this.pc.iceConnectionState) };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.audioSender) this.media.unregisterSender(this.audioSender);
    if (this.videoSender) this.media.unregisterSender(this.videoSender);
    for (const t of this.tracks.values()) {
      if (t.nick) this.dispatchEvent(new CustomEvent('trackremoved', { detail: { nick: t.nick, track: t.track } }));
    }
    this.tracks.clear();
    try { this.pc.close(); } catch (_) { /* already closed */ }
    this.dispatchEvent(new Event('closed'));
  }
}
