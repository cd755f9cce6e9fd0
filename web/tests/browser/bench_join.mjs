// Join time as a person feels it: on the prejoin screen, click "Join meeting", then wait
// for the first decoded frame of the participant already in the room. Measured in the page
// (performance.now() at the click and at the first frame), JOINS times, with a fresh
// browser context each time; prints each value and the p50/p90.
import { launch, join, scenario, waitFor, waitPlaying, log } from './lib.mjs';

const JOINS = Number(process.env.JOINS || 10);

await scenario('bench_join', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `bench-${Date.now().toString(36)}`;
  await join(browser, room, 'Host');
  const times = [];
  for (let i = 0; i < JOINS; i++) {
    const page = await join(browser, room, `Guest ${i}`, { autojoin: false });
    await waitFor('the prejoin preview', () => page.evaluate(() => document.querySelector('#preview').videoWidth > 0), 30000);
    await page.evaluate(() => {
      window.__firstFrame = null;
      const tick = () => {
        const v = document.querySelector('video[data-participant="Host"]');
        if (v && v.getVideoPlaybackQuality().totalVideoFrames > 0) window.__firstFrame = performance.now();
        else setTimeout(tick, 5);
      };
      window.__t0 = performance.now();
      document.querySelector('#join-button').click();
      tick();
    });
    const ms = await waitFor('the first remote frame', () => page.evaluate(() => window.__firstFrame && window.__firstFrame - window.__t0), 60000, 50);
    times.push(ms);
    log(`join ${i + 1}: ${ms.toFixed(0)} ms`);
    await page.context().close();
    // Let the room settle back to one participant before the next join.
    await new Promise((r) => setTimeout(r, 1500));
  }
  const sorted = [...times].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  log(`join time over ${times.length} joins: p50 ${q(0.5).toFixed(0)} ms, p90 ${q(0.9).toFixed(0)} ms, min ${sorted[0].toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms`);
});
