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

  // Speaker view: the stage tile is large, the strip small; the stage gets a higher layer.
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
