// Loudest-only audio routing (the bridge runs with BRIDGE_LOUDEST_AUDIO=1): three people,
// Alice mutes her microphone and unmutes it again, so the bridge stops and restarts
// forwarding her audio (and others' as the ranking changes). Chromium, the receiver, must see
// no lost packets in any audio stream across those pauses (the bridge keeps sequence numbers
// contiguous), and the bridge must really have left audio out.
import { launch, joinAll, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

const METRICS = process.env.BRIDGE_METRICS_URL;

async function notRouted() {
  const body = await (await fetch(METRICS)).text();
  const line = body.split('\n').find((l) => l.startsWith('bridge_audio_not_routed_total '));
  assert(line, 'the bridge exports bridge_audio_not_routed_total');
  return Number(line.split(' ')[1]);
}

// Per remote audio stream of the bridge session: packets received and lost.
const audioIn = (page) => page.evaluate(async () => {
  const b = window.meet.conference.bridge;
  if (!b || !b.pc) return [];
  const out = [];
  (await b.pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.push({ ssrc: s.ssrc, received: s.packetsReceived, lost: s.packetsLost });
  });
  return out;
});

await scenario('loudest_audio', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Alice', 'Bob', 'Carol'];
  const { pages } = await joinAll(browser, 'loud', names);
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  await waitFor('some audio to reach every page', async () => {
    for (const n of names) if (!(await audioIn(pages[n])).some((s) => s.received > 50)) return false;
    return true;
  }, 30000);

  const before = await notRouted();
  for (let round = 0; round < 3; round++) {
    await pages.Alice.click('#btn-mic');
    await new Promise((r) => setTimeout(r, 3000));
    await pages.Alice.click('#btn-mic');
    await new Promise((r) => setTimeout(r, 3000));
  }
  const left = (await notRouted()) - before;
  log('audio packets the bridge left out meanwhile', left);
  assert(left > 100, `the bridge routed only the loudest audio (left out ${left})`);
  for (const n of names) {
    const streams = await audioIn(pages[n]);
    log(`${n} audio in`, JSON.stringify(streams));
    assert(streams.some((s) => s.received > 100), `${n} heard someone`);
    for (const s of streams) assert(s.lost <= 5, `${n}: ssrc ${s.ssrc} lost ${s.lost} packets across routing pauses`);
  }
});
