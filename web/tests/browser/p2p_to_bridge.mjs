// Two people meet peer-to-peer; a third joins and focus moves everyone to the bridge.
// The two first ones' videos must keep decoding through the move (sampled in the page every
// 200 ms: decoded frames grow, or a new stream starts counting), and end on the bridge.
import { launch, join, scenario, assert, waitFor, waitPlaying, screenshot, log } from './lib.mjs';

const MAX_STALL_MS = Number(process.env.MAX_STALL_MS || 4000);

function installSampler(page) {
  return page.evaluate(() => {
    window.__samples = [];
    setInterval(() => {
      const t = performance.now();
      for (const v of document.querySelectorAll('video[data-participant]')) {
        window.__samples.push({ t, p: v.dataset.participant, f: v.getVideoPlaybackQuality().totalVideoFrames, s: v.srcObject ? v.srcObject.id : null });
      }
    }, 200);
  });
}

/** Longest time (ms) `who` showed no new frame on `page` since `fromT` (page clock). */
async function longestStall(page, who, fromT) {
  const samples = await page.evaluate(() => window.__samples);
  const mine = samples.filter((x) => x.p === who && x.t >= fromT);
  let lastProgress = mine.length ? mine[0].t : fromT;
  let worst = 0;
  for (let i = 1; i < mine.length; i++) {
    const a = mine[i - 1];
    const b = mine[i];
    const progressed = b.s !== a.s ? b.f > 0 : b.f > a.f;
    if (progressed) lastProgress = b.t;
    worst = Math.max(worst, b.t - lastProgress);
  }
  return { worst, samples: mine.length };
}

await scenario('p2p_to_bridge', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `p2p-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ann');
  const b = await join(browser, room, 'Ben');
  await waitPlaying(a, ['Ben'], 90000);
  await waitPlaying(b, ['Ann'], 90000);

  for (const [p, other] of [[a, 'Ben'], [b, 'Ann']]) {
    const st = await waitFor(`${p.displayName} to show ${other} over P2P`, async () => {
      const s = await p.evaluate(() => window.meet.conference.debugState());
      return s.p2p && !s.p2p.closed && s.shown[other] === 'p2p' && s;
    }, 60000);
    log(`${p.displayName} on P2P`, JSON.stringify(st));
  }
  // Without the bridge, each page finds the dominant speaker from audio levels itself.
  for (const p of [a, b]) {
    await waitFor(`${p.displayName} to highlight a speaker over P2P`, () => p.evaluate(() => {
      const s = window.meet.conference.debugState();
      return !s.bridge && s.p2p && document.querySelectorAll('.tile.dominant').length === 1;
    }), 30000);
  }
  // Over P2P there is no bridge channel: reactions and quality go over the P2P data channel.
  await a.click('.btn-reaction[data-emoji="👏"]');
  await waitFor('Ben to see Ann\'s reaction over P2P', () => b.evaluate(() => {
    const t = document.querySelector('video[data-participant="Ann"]')?.closest('.tile');
    return t && [...t.querySelectorAll('.reaction')].some((r) => r.textContent === '👏');
  }), 10000);
  // Forget what the bridge channel said earlier, then wait for a figure over P2P.
  await b.evaluate(() => { document.querySelector('video[data-participant="Ann"]').closest('.tile').querySelector('.quality').dataset.quality = 'unknown'; });
  await waitFor('Ben to see Ann\'s connection quality over P2P', () => b.evaluate(() => {
    const t = document.querySelector('video[data-participant="Ann"]')?.closest('.tile');
    return t && ['good', 'fair', 'poor'].includes(t.querySelector('.quality').dataset.quality);
  }), 20000);
  log('reaction and quality over the P2P channel');
  await installSampler(a);
  await installSampler(b);
  const tA = await a.evaluate(() => performance.now());
  const tB = await b.evaluate(() => performance.now());

  const c = await join(browser, room, 'Cid');
  await waitPlaying(c, ['Ann', 'Ben'], 120000);
  await waitPlaying(a, ['Ben', 'Cid'], 120000);
  await waitPlaying(b, ['Ann', 'Cid'], 120000);
  for (const [p, other] of [[a, 'Ben'], [b, 'Ann']]) {
    const st = await waitFor(`${p.displayName} to show ${other} from the bridge, P2P closed`, async () => {
      const s = await p.evaluate(() => window.meet.conference.debugState());
      return !s.p2p && s.bridge && s.shown[other] === 'bridge' && s;
    }, 60000);
    log(`${p.displayName} moved to the bridge`, JSON.stringify(st));
  }
  // Let a few seconds of bridge video pass, then judge the whole transition.
  await new Promise((r) => setTimeout(r, 2000));
  const stallA = await longestStall(a, 'Ben', tA);
  const stallB = await longestStall(b, 'Ann', tB);
  log(`longest stall: Ann saw Ben ${Math.round(stallA.worst)} ms (${stallA.samples} samples), Ben saw Ann ${Math.round(stallB.worst)} ms (${stallB.samples} samples)`);
  assert(stallA.samples > 10 && stallB.samples > 10, 'the sampler ran through the move');
  assert(stallA.worst < MAX_STALL_MS, `Ben's video froze ${Math.round(stallA.worst)} ms on Ann's page`);
  assert(stallB.worst < MAX_STALL_MS, `Ann's video froze ${Math.round(stallB.worst)} ms on Ben's page`);
  await screenshot(a, 'after-p2p-to-bridge-Ann.png');
});
