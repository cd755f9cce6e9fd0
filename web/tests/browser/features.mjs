// What people do in a meeting besides looking: raise a hand (participant list and tile),
// send an emoji reaction (EndpointMessage over the bridge channel), see the connection
// quality and the dominant speaker, switch to speaker view, where the tile on stage asks
// the bridge for a bigger layer than the strip (ReceiverVideoConstraints from tile sizes).
import { launch, joinAll, scenario, assert, waitFor, waitPlaying, screenshot, log } from './lib.mjs';

const tileOf = (page, name) => page.evaluate((n) => {
  const v = [...document.querySelectorAll('video[data-participant]')].find((x) => x.dataset.participant === n);
  const t = v && v.closest('.tile');
  return t ? {
    ...t.dataset,
    classes: t.className,
    quality: t.querySelector('.quality').dataset.quality,
    reactions: [...t.querySelectorAll('.reaction')].map((r) => r.textContent),
    height: v.videoHeight,
    tileHeight: t.clientHeight,
  } : null;
}, name);

/** Which of the page's bridge video encodings are on, and frames encoded per rid so far. */
const encodingState = (page) => page.evaluate(async () => {
  const sender = window.meet.conference.bridge.videoSender;
  const active = sender.getParameters().encodings.map((e) => e.active);
  const frames = {};
  (await sender.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.rid) frames[r.rid] = r.framesEncoded || 0;
  });
  return { active, frames };
});

await scenario('features', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Dora', 'Eli', 'Fay'];
  const { pages } = await joinAll(browser, 'feat', names, { viewport: { width: 1280, height: 720 } });
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  const { Dora, Eli, Fay } = pages;

  // Raise hand: Eli and Fay see it on Dora's tile and in their participant list.
  await Dora.click('#btn-hand');
  for (const p of [Eli, Fay]) {
    await waitFor(`${p.displayName} to see Dora's hand`, async () => {
      const t = await tileOf(p, 'Dora');
      const listed = await p.evaluate(() => [...document.querySelectorAll('#participant-list li')].some((li) => li.dataset.handRaised === 'true' && li.textContent.includes('Dora')));
      return t && t.handRaised === 'true' && listed;
    }, 20000);
  }
  log('raised hand seen');

  // Reaction: an EndpointMessage relayed by the bridge shows on Dora's tile elsewhere.
  await Dora.click('.btn-reaction[data-emoji="🎉"]');
  for (const p of [Eli, Fay]) {
    await waitFor(`${p.displayName} to see Dora's reaction`, async () => (await tileOf(p, 'Dora'))?.reactions.includes('🎉'), 10000);
  }
  log('reaction seen');

  // Connection quality: measured locally, and announced to the others over the bridge.
  await waitFor('Dora to rate her own connection', () => Dora.evaluate(() => document.querySelector('.tile.local .quality').dataset.quality !== 'unknown'), 20000);
  await waitFor('Eli to see Dora\'s connection quality', async () => ['good', 'fair', 'poor'].includes((await tileOf(Eli, 'Dora'))?.quality), 20000);
  log('quality indicators set');

  // Dominant speaker: the bridge names one; every page highlights exactly one tile.
  for (const p of [Dora, Eli, Fay]) {
    await waitFor(`${p.displayName} to highlight the dominant speaker`, () => p.evaluate(() => document.querySelectorAll('.tile.dominant').length === 1), 30000);
  }
  log('dominant speaker highlighted');

  // Small windows: every tile asks for 180 lines, so the bridge tells every sender 180 and
  // each page encodes only its lowest layer (the others are paused and stop producing).
  for (const n of names) await pages[n].setViewportSize({ width: 480, height: 270 });
  for (const n of names) {
    await waitFor(`${n} to send only its lowest layer`, async () => {
      const a = await encodingState(pages[n]);
      if (!(a.active.join() === 'true,false,false')) return false;
      await new Promise((r) => setTimeout(r, 1500));
      const b = await encodingState(pages[n]);
      return b.active.join() === 'true,false,false' && b.frames.q > a.frames.q && b.frames.h === a.frames.h && b.frames.f === a.frames.f;
    }, 30000);
  }
  log('tile view in small windows: every page encodes its lowest layer only');
  await Dora.setViewportSize({ width: 1280, height: 720 });

  // Speaker view: the stage tile is large, the strip small; the stage gets a higher layer,
  // which Fay's page encodes again once the bridge tells it someone asks for it.
  // Fay is pinned (double click), so the dominant speaker does not move the stage meanwhile.
  await Dora.click('#btn-view');
  await Dora.dblclick('.tile:has(video[data-participant="Fay"])');
  const staged = await waitFor('Fay on stage', () => Dora.evaluate(() => {
    const t = document.querySelector('#stage[data-view="speaker"] .tile.on-stage:not(.local) video');
    return t && t.dataset.participant;
  }), 10000);
  assert(staged === 'Fay', `the pinned tile is on stage (got ${staged})`);
  const strip = 'Eli';
  let lastSizes = null;
  const sizes = await waitFor(`${staged} on stage to arrive larger than ${strip} in the strip`, async () => {
    const big = await tileOf(Dora, staged);
    const small = await tileOf(Dora, strip);
    if (!(big && small && big.tileHeight > 2 * small.tileHeight && big.height > small.height)) {
      lastSizes = { big: big && [big.tileHeight, big.height], small: small && [small.tileHeight, small.height] };
      return false;
    }
    return { big, small };
  }, 45000).catch((e) => { throw new Error(`${e.message}; sizes: ${JSON.stringify(lastSizes)}`); });
  log('speaker view', JSON.stringify({ stage: [staged, sizes.big.tileHeight, sizes.big.height], strip: [strip, sizes.small.tileHeight, sizes.small.height] }));
  const fay = await encodingState(Fay);
  log("Fay's encodings with Fay on Dora's stage", JSON.stringify(fay));
  assert(fay.active[0] && fay.active[1], "Fay's page encodes more than its lowest layer again");
  assert(sizes.big.height > 180, `Fay arrives above the lowest layer (${sizes.big.height} lines)`);
  await screenshot(Dora, 'speaker-view-Dora.png');

  // Unpinned, a screen share takes the stage by itself.
  await Dora.dblclick('.tile:has(video[data-participant="Fay"])');
  await Eli.click('#btn-screen');
  await waitFor("Eli's screen on Dora's stage", () => Dora.evaluate(() => {
    const v = document.querySelector('#stage .tile.on-stage video[data-participant]');
    return v && v.dataset.participant === 'Eli' && v.closest('.tile').dataset.videoType === 'desktop';
  }), 20000);
  log('a screen share takes the stage in speaker view');
  await Eli.click('#btn-screen');
  for (const n of names) assert(pages[n].errors.length === 0, `${n}: no uncaught page errors`);
});
