// Automatic reconnection: a page whose signal connection drops (the WebSocket closes under
// it, as when the network or the server goes away) rejoins by itself, without a reload,
// and media flows again both ways.
import { launch, joinAll, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

await scenario('reconnect', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Gil', 'Hal', 'Ivy'];
  const { pages } = await joinAll(browser, 'reco', names);
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  const { Gil } = pages;
  const before = await Gil.evaluate(() => window.meet.conference.nick);
  await Gil.evaluate(() => { window.__loaded = true; window.meet.conference.xmpp.ws.close(4000, 'test: connection lost'); });
  const after = await waitFor('Gil to rejoin under a new endpoint', async () => {
    const s = await Gil.evaluate(() => window.meet.conference.debugState());
    return s.joined && s.nick !== before && s.nick;
  }, 60000);
  log(`Gil rejoined: ${before} -> ${after}`);
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  assert(await Gil.evaluate(() => window.__loaded === true), 'the page was not reloaded');
  log('media flows again everywhere');
  for (const n of names) assert(pages[n].errors.length === 0, `${n}: no uncaught page errors`);
});
