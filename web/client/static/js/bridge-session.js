// A session with the bridge (proto/src/session.rs, bridge mode): we offer our audio, our
// video in three simulcast encodings (rid q/h/f) and the `bridge-channel` data channel;
// focus returns the bridge's answer; afterwards only the bridge offers (source-add /
// source-remove) and we answer. The bridge's m-lines are slots that move between sources;
// its SourcesMap says who each carries (PeerSession.applySlotMap). Screen sharing swaps the
// video track on the same sender.

import { PeerSession, gathered } from './peer.js';

export const BRIDGE_CHANNEL = 'bridge-channel';

export class BridgeSession extends PeerSession {
  /** `accept(offerSdp)` sends session-accept to focus and resolves with the bridge's answer. */
  constructor(sid, media, accept) {
    super('bridge', sid, media);
    this.accept = accept;
    this.channel = null;
    this.pendingOut = new Map();
    // The bridge's last SenderSourceConstraints height; applied again when the video track
    // changes (a screen share has other layer heights than the camera).
    this.senderMaxHeight = null;
    this.senderUpdate = Promise.resolve();
    this.onMediaChange = () => {
      if (this.senderMaxHeight !== null) this.applySenderConstraint(this.senderMaxHeight);
    };
    media.addEventListener('change', this.onMediaChange);
  }

  close() {
    this.media.removeEventListener('change', this.onMediaChange);
    super.close();
  }

  start() {
    return this.serial(async () => {
      this.channel = this.pc.createDataChannel(BRIDGE_CHANNEL, { ordered: true });
      this.channel.addEventListener('open', () => {
        console.info('bridge channel open');
        for (const msg of this.pendingOut.values()) this.channel.send(JSON.stringify(msg));
        this.pendingOut.clear();
        this.dispatchEvent(new Event('channelopen'));
      });
      this.channel.addEventListener('message', (e) => {
        let msg;
        try { msg = JSON.parse(e.data); } catch (_) { return; }
        if (msg && msg.colibriClass === 'SourcesMap') this.applySlotMap(msg.mappedSources);
        else if (msg && typeof msg.colibriClass === 'string') this.dispatchEvent(new CustomEvent('message', { detail: msg }));
      });
      // sendonly: the bridge sends other participants' media on m-lines of its own offers.
      this.addLocalTransceivers('sendonly', true);
      const t0 = performance.now();
      await this.pc.setLocalDescription(await this.pc.createOffer());
      const t1 = performance.now();
      await gathered(this.pc, 3000, true);
      const t2 = performance.now();
      const answer = await this.accept(this.pc.localDescription.sdp);
      console.info(`bridge session ${this.sid}: offer ${Math.round(t1 - t0)} ms, candidates ${Math.round(t2 - t1)} ms, bridge answer ${Math.round(performance.now() - t2)} ms`);
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
    });
  }

  /**
   * ICE restart (proto/src/session.rs, bridge step 2 repeated): a new offer with fresh ICE
   * credentials goes to focus as `session-accept` on this same sid; focus re-allocates us on
   * the same bridge, which keeps our session (same DTLS certificate) and answers.
   */
  restartIce() {
    return this.serial(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer({ iceRestart: true }));
      await gathered(this.pc, 3000, true);
      const answer = await this.accept(this.pc.localDescription.sdp);
      if (this.closed) return;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: answer });
      this.pruneTracks();
    });
  }

  /** A renegotiation offer from the bridge (source-add / source-remove); resolves with our answer. */
  handleOffer(sdp) {
    return this.serial(async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp });
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      await gathered(this.pc, 1000, true);
      this.pruneTracks();
      return this.pc.localDescription.sdp;
    });
  }

  /**
   * Sends a bridge-channel message. While the channel is not open yet, only the latest
   * message of each class is kept (constraints supersede each other).
   */
  send(msg) {
    if (this.channel && this.channel.readyState === 'open') {
      this.channel.send(JSON.stringify(msg));
      return true;
    }
    this.pendingOut.set(msg.colibriClass, msg);
    return false;
  }

  /**
   * The bridge says the largest height anyone watches of our video: encodings taller than
   * that are paused, the lowest stays on while anyone watches, nobody (0) pauses them all.
   * This is the bridge's own choice rule (a receiver gets the tallest layer not above its
   * height, else the lowest), so nothing paused here would have been forwarded; asked for
   * more later, the bridge says so and the layers come back (it assumes a full ladder for
   * layers it never saw). A layer's height: the track's, divided by its scale-down.
   */
  applySenderConstraint(maxHeight) {
    this.senderMaxHeight = maxHeight;
    // One setParameters at a time (each needs the parameters the last one left), with the
    // latest height when its turn comes.
    this.senderUpdate = this.senderUpdate.then(() => this.#applyEncodings()).catch((e) => console.warn('encodings', e));
    return this.senderUpdate;
  }

  async #applyEncodings() {
    const maxHeight = this.senderMaxHeight;
    const sender = this.videoSender;
    if (!sender) return;
    const params = sender.getParameters();
    const encodings = params.encodings || [];
    if (!encodings.length) return;
    const full = (sender.track && sender.track.getSettings().height) || 720;
    const heights = encodings.map((e) => Math.round(full / (e.scaleResolutionDownBy || 1)));
    const lowest = heights.indexOf(Math.min(...heights));
    let changed = false;
    encodings.forEach((enc, i) => {
      const want = maxHeight > 0 && (i === lowest || heights[i] <= maxHeight);
      if (enc.active !== want) {
        enc.active = want;
        changed = true;
      }
    });
    if (changed) await sender.setParameters(params).catch((e) => console.warn('setParameters', e));
  }
}
