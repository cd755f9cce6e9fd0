// Three people in one room through the whole system started by `meet`: each sees the two
// others' video playing; muting shows as muted to the others; a screen share appears on
// the others' tiles; a reload is seen as a leave and a return. Screenshots of the tile
// view go to artifacts/.
import { launch, joinAll, scenario, assert, waitFor, waitPlaying, remoteVideos, screenshot, log } from './lib.mjs';

const tileOf = (page, name) => page.evaluate((n) => {
  const v = [...document.querySelectorAll('video[data-participant]')].find((x) => x.dataset.participant === n);
  const t = v && v.closest('.tile');
  return t ? { ...t.dataset, width: v.videoWidth, height: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames } : null;
}, name);

await scenario('conference', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Alice', 'Bob', 'Carol'];
  const { room, pages } = await joinAll(browser, 'e2e', names);
  const others = (n) => names.filter((x) => x !== n);

  for (const n of names) {
    const vids = await waitPlaying(pages[n], others(n), 120000);
    log(`${n} plays`, JSON.stringify(vids.map((v) => [v.participant, v.width, v.height, v.frames])));
  }
  for (const n of names) await screenshot(pages[n], `tile-view-${n}.png`);
  for (const n of names) {
    const st = await pages[n].evaluate(() => window.meet.conference.debugState());
    log(`${n} state`, JSON.stringify(st));
    assert(st.bridge && !st.bridge.closed, `${n} is on the bridge with three participants`);
  }

  // Mute: Alice turns off microphone and camera; Bob and Carol see it.
  await pages.Alice.click('#btn-mic');
  await pages.Alice.click('#btn-cam');
  for (const n of ['Bob', 'Carol']) {
    await waitFor(`${n} to see Alice muted`, async () => {
      const t = await tileOf(pages[n], 'Alice');
      return t && t.audioMuted === 'true' && t.videoMuted === 'true';
    }, 20000);
  }
  await pages.Alice.click('#btn-mic');
  await pages.Alice.click('#btn-cam');
  for (const n of ['Bob', 'Carol']) {
    await waitFor(`${n} to see Alice unmuted`, async () => {
      const t = await tileOf(pages[n], 'Alice');
      return t && t.audioMuted === 'false' && t.videoMuted === 'false';
    }, 20000);
  }
  log('mute and unmute seen by the others');

  // Screen share: Bob's screen replaces his camera on the same sender.
  const before = await tileOf(pages.Alice, 'Bob');
  await pages.Bob.click('#btn-screen');
  await waitFor('Bob to be sharing', () => pages.Bob.evaluate(() => window.meet.media.sharing), 10000);
  for (const n of ['Alice', 'Carol']) {
    const t = await waitFor(`${n} to see Bob's screen`, async () => {
      const t = await tileOf(pages[n], 'Bob');
      return t && t.videoType === 'desktop' && t.width > 0 && (t.width !== before.width || t.height !== before.height) && t;
    }, 30000);
    log(`${n} sees Bob's screen`, JSON.stringify(t));
  }
  await waitPlaying(pages.Alice, others('Alice'), 30000);
  await screenshot(pages.Alice, 'screen-share-seen-by-Alice.png');
  await pages.Bob.click('#btn-screen');
  await waitFor('Alice to see Bob back on camera', async () => (await tileOf(pages.Alice, 'Bob'))?.videoType === 'camera', 20000);

  // Reload: Alice and Bob see Carol leave and come back.
  for (const n of ['Alice', 'Bob']) {
    await pages[n].evaluate(() => {
      window.__tiles = [];
      new MutationObserver((records) => {
        for (const r of records) {
          for (const node of r.addedNodes) if (node.querySelector) { const v = node.querySelector('video[data-participant]'); if (v) window.__tiles.push(`+${v.dataset.participant}`); }
          for (const node of r.removedNodes) if (node.querySelector) { const v = node.querySelector('video[data-participant]'); if (v) window.__tiles.push(`-${v.dataset.participant}`); }
        }
      }).observe(document.querySelector('#stage'), { childList: true });
    });
  }
  await pages.Carol.reload({ waitUntil: 'load' });
  for (const n of ['Alice', 'Bob']) {
    const seen = await waitFor(`${n} to see Carol leave and return`, async () => {
      const log = await pages[n].evaluate(() => window.__tiles);
      const left = log.indexOf('-Carol');
      return left >= 0 && log.indexOf('+Carol', left) > left && log;
    }, 60000);
    log(`${n} saw`, JSON.stringify(seen));
  }
  for (const n of names) await waitPlaying(pages[n], others(n), 120000);
  log('after the reload everyone plays everyone again');
  for (const n of names) assert(pages[n].errors.length === 0, `${n}: no uncaught page errors`);
});
