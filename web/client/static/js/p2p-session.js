// A direct session with the one other participant (proto/src/session.rs, P2P mode): the
// initiator focus chose offers to the peer's occupant JID, the peer answers in the IQ
// result. One encoding (no simulcast: nobody forwards), host candidates in the SDP.

import { PeerSession, gathered } from './peer.js';

export class P2PSession extends PeerSession {
  constructor(sid, media, peer) {
    super('p2p', sid, media);
    this.peer = peer;
    // Negotiated on both sides with the same id: usable without waiting for the peer.
    this.channel = this.pc.createDataChannel('p2p-channel', { negotiated: true, id: 1 });
    this.channel.addEventListener('message', (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch (_) { return; }
      if (msg && typeof msg === 'object') this.dispatchEvent(new CustomEvent('message', { detail: msg }));
    });
  }

  nickForTrack() {
    return this.peer;
  }

  /** Initiator: our offer (with candidates). */
  offer() {
    return this.serial(async () => {
      this.addLocalTransceivers('sendrecv', false);
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await gathered(this.pc);
      return this.pc.localDescription.sdp;
    });
  }

  applyAnswer(sdp) {
    return this.serial(() => this.pc.setRemoteDescription({ type: 'answer', sdp }));
  }

  /** Responder: the peer's offer in, our answer (with candidates) out. */
  answer(sdp) {
    return this.serial(async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      for (const t of this.pc.getTransceivers()) {
        const kind = t.receiver.track && t.receiver.track.kind;
        if (kind !== 'audio' && kind !== 'video') continue;
        const track = kind === 'audio' ? this.media.audioTrack : this.media.currentVideoTrack();
        t.direction = 'sendrecv';
        await t.sender.replaceTrack(track || null);
        t.sender.setStreams(this.media.stream);
        this.media.registerSender(kind, t.sender);
        if (kind === 'audio') this.audioSender = t.sender;
        else if (!this.videoSender) this.videoSender = t.sender;
      }
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await gathered(this.pc);
      return this.pc.localDescription.sdp;
    });
  }

  send(msg) {
    if (this.channel.readyState !== 'open') return false;
    this.channel.send(JSON.stringify(msg));
    return true;
  }
}
