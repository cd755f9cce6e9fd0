// Local media: the camera and microphone stream, device choice, mute state and screen
// sharing. Sessions ask this module for the current tracks and register their video
// senders, so a screen share swaps the track on every sender with replaceTrack (never a
// new offer: see proto/src/session.rs).

export class LocalMedia extends EventTarget {
  constructor() {
    super();
    this.stream = new MediaStream();
    this.audioTrack = null;
    this.cameraTrack = null;
    this.screenTrack = null;
    this.audioMuted = false;
    this.videoMuted = false;
    this.audioDeviceId = localStorage.getItem('meet.audioDevice') || undefined;
    this.videoDeviceId = localStorage.getItem('meet.videoDevice') || undefined;
    this.videoSenders = new Set();
    this.audioSenders = new Set();
  }

  /** Opens camera and microphone (each may fail alone: a machine without a camera still joins). */
  async open() {
    const audio = this.audioDeviceId ? { deviceId: { exact: this.audioDeviceId } } : true;
    const video = {
      width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 },
      ...(this.videoDeviceId ? { deviceId: { exact: this.videoDeviceId } } : {}),
    };
    let got;
    try {
      got = await navigator.mediaDevices.getUserMedia({ audio, video });
    } catch (e) {
      console.warn('camera+microphone failed, trying each alone:', e.name);
      got = new MediaStream();
      for (const constraints of [{ audio }, { video }]) {
        try {
          for (const t of (await navigator.mediaDevices.getUserMedia(constraints)).getTracks()) got.addTrack(t);
        } catch (e2) {
          console.warn('getUserMedia failed for', Object.keys(constraints)[0], e2.name);
        }
      }
    }
    this.#setTrack('audio', got.getAudioTracks()[0] || null);
    this.#setTrack('video', got.getVideoTracks()[0] || null);
    this.dispatchEvent(new Event('change'));
  }

  #setTrack(kind, track) {
    const old = kind === 'audio' ? this.audioTrack : this.cameraTrack;
    if (old) {
      this.stream.removeTrack(old);
      old.stop();
    }
    if (kind === 'audio') {
      this.audioTrack = track;
      if (track) track.enabled = !this.audioMuted;
      for (const s of this.audioSenders) s.replaceTrack(track).catch((e) => console.warn('replaceTrack audio', e));
    } else {
      this.cameraTrack = track;
      if (track) track.enabled = !this.videoMuted;
      if (!this.screenTrack) {
        for (const s of this.videoSenders) s.replaceTrack(track).catch((e) => console.warn('replaceTrack video', e));
      }
    }
    if (track && (kind === 'audio' || !this.screenTrack)) this.stream.addTrack(track);
  }

  async devices() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      audio: all.filter((d) => d.kind === 'audioinput'),
      video: all.filter((d) => d.kind === 'videoinput'),
    };
  }

  async useDevice(kind, deviceId) {
    if (kind === 'audio') {
      this.audioDeviceId = deviceId;
      localStorage.setItem('meet.audioDevice', deviceId);
    } else {
      this.videoDeviceId = deviceId;
      localStorage.setItem('meet.videoDevice', deviceId);
    }
    const constraints = kind === 'audio'
      ? { audio: { deviceId: { exact: deviceId } } }
      : { video: { deviceId: { exact: deviceId }, width: { ideal: 1280 }, height: { ideal: 720 } } };
    const s = await navigator.mediaDevices.getUserMedia(constraints);
    this.#setTrack(kind, kind === 'audio' ? s.getAudioTracks()[0] : s.getVideoTracks()[0]);
    this.dispatchEvent(new Event('change'));
  }

  /** The track video senders should carry now (the screen while sharing). */
  currentVideoTrack() {
    return this.screenTrack || this.cameraTrack;
  }

  registerSender(kind, sender) {
    (kind === 'audio' ? this.audioSenders : this.videoSenders).add(sender);
  }

  unregisterSender(sender) {
    this.audioSenders.delete(sender);
    this.videoSenders.delete(sender);
  }

  setAudioMuted(muted) {
    this.audioMuted = muted;
    if (this.audioTrack) this.audioTrack.enabled = !muted;
    this.dispatchEvent(new Event('change'));
  }

  setVideoMuted(muted) {
    this.videoMuted = muted;
    if (this.cameraTrack) this.cameraTrack.enabled = !muted;
    this.dispatchEvent(new Event('change'));
  }

  get sharing() {
    return !!this.screenTrack;
  }

  async startScreenShare() {
    const s = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    const track = s.getVideoTracks()[0];
    if (!track) throw new Error('no screen track');
    track.contentHint = 'detail';
    this.screenTrack = track;
    track.addEventListener('ended', () => this.stopScreenShare());
    await Promise.all([...this.videoSenders].map((sn) => sn.replaceTrack(track)));
    if (this.cameraTrack) this.stream.removeTrack(this.cameraTrack);
    this.stream.addTrack(track);
    this.dispatchEvent(new Event('change'));
  }

  async stopScreenShare() {
    const track = this.screenTrack;
    if (!track) return;
    this.screenTrack = null;
    this.stream.removeTrack(track);
    track.stop();
    if (this.cameraTrack) this.stream.addTrack(this.cameraTrack);
    await Promise.all([...this.videoSenders].map((sn) => sn.replaceTrack(this.cameraTrack)));
    this.dispatchEvent(new Event('change'));
  }

  close() {
    for (const t of [this.audioTrack, this.cameraTrack, this.screenTrack]) if (t) t.stop();
  }
}
