// A machine without camera and microphone (the browser answers the prompts "no"): the page
// still joins, the others see it with microphone and camera off, and it plays their video.
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

await scenario('no_devices', async (onClose) => {
  const bare = await launch({ grantMedia: false });
  onClose(() => bare.close());
  const normal = await launch();
  onClose(() => normal.close());
  const room = `nodev-${Date.now().toString(36)}`;
  const a = await join(bare, room, 'Pat');
  const b = await join(normal, room, 'Quinn');
  await waitPlaying(a, ['Quinn'], 90000);
  const seen = await waitFor('Quinn to see Pat with microphone and camera off', () => b.evaluate(() => {
    const t = document.querySelector('video[data-participant="Pat"]')?.closest('.tile');
    return t && t.dataset.audioMuted === 'true' && t.dataset.videoMuted === 'true' && { ...t.dataset };
  }), 30000);
  log('Quinn sees Pat', JSON.stringify(seen));
  const own = await a.evaluate(() => ({ audio: !!window.meet.media.audioTrack, video: !!window.meet.media.cameraTrack }));
  assert(!own.audio && !own.video, 'Pat really has no devices');
  assert(a.errors.length === 0 && b.errors.length === 0, 'no uncaught page errors');
});
