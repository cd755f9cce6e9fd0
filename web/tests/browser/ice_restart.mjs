// ICE restart on the bridge session: the page makes a new offer with fresh ICE credentials
// and sends it to focus as session-accept on its current sid; focus re-allocates it on the
// same bridge (same DTLS certificate: the bridge keeps the session) and answers. Same
// endpoint id, same session, no rejoin, and media flows both ways afterwards. (The restart
// is started from the page's console entry point, the one its ICE 'failed' handler calls.)
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

await scenario('ice_restart', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `icer-${Date.now().toString(36)}`;
  const seen = [];
  const a = await join(browser, room, 'Ann');
  const b = await join(browser, room, 'Ben');
  a.on('console', (m) => seen.push(m.text()));
  await waitPlaying(a, ['Ben'], 90000);
  await waitPlaying(b, ['Ann'], 90000);
  const before = await a.evaluate(() => window.meet.conference.debugState());
  const ufrag = () => a.evaluate(() => (window.meet.conference.bridge.pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/) || [])[1]);
  const ufragBefore = await ufrag();
  log('before', JSON.stringify(before));
  await a.evaluate(() => { window.__loaded = true; });
  const ok = await a.evaluate(() => window.meet.conference.restartBridgeIce('test'));
  assert(ok === true, 'the ICE restart went through focus and the bridge');
  const after = await a.evaluate(() => window.meet.conference.debugState());
  log('after', JSON.stringify(after));
  assert(after.nick === before.nick, 'same endpoint id (no rejoin)');
  assert(after.bridge.sid === before.bridge.sid, 'same bridge session');
  assert((await ufrag()) !== ufragBefore, 'new ICE credentials');
  assert(!seen.some((t) => /rejoining|not \(yet\) an occupant/.test(t)), 'no rejoin, no track of an unknown sender');
  // Media keeps flowing both ways on the restarted transport.
  await waitPlaying(a, ['Ben'], 30000);
  await waitPlaying(b, ['Ann'], 30000);
  const s = await a.evaluate(() => window.meet.conference.debugState());
  assert(s.shown.Ben === 'bridge' && s.bridge.ice === 'connected', 'Ann shows Ben from the restarted bridge session');
  assert(await a.evaluate(() => window.__loaded === true), 'the page was not reloaded');
  for (const p of [a, b]) assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors`);
});
