// Signal (the XMPP server everyone talks through) restarts under a running meeting (the test stops it and starts a new one, see
// browser_focus_restart.rs): the pages get their conference back by themselves, without a
// reload, and play each other's video again (every WebSocket drops: the pages rejoin).
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

const control = process.env.CONTROL_DIR;

await scenario('signal_restart', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `resignal-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ray');
  const b = await join(browser, room, 'Sue');
  await waitPlaying(a, ['Sue'], 90000);
  await waitPlaying(b, ['Ray'], 90000);
  await Promise.all([a, b].map((p) => p.evaluate(() => { window.__loaded = true; })));

  fs.writeFileSync(`${control}/restart-signal`, '');
  log('asked the test to restart signal');
  await waitFor('the test to restart signal', () => fs.existsSync(`${control}/signal-restarted`), 60000, 100);
  const t0 = Date.now();
  await waitPlaying(a, ['Sue'], 120000);
  await waitPlaying(b, ['Ray'], 120000);
  for (const p of [a, b]) {
    await waitFor(`${p.displayName} on a live bridge session`, () => p.evaluate(() => {
      const s = window.meet.conference.debugState();
      return s.bridge && !s.bridge.closed && s.bridge.ice === 'connected';
    }), 60000);
    assert(await p.evaluate(() => window.__loaded === true), `${p.displayName} was not reloaded`);
  }
  log(`conference back ${((Date.now() - t0) / 1000).toFixed(1)} s after the new signal started`);
});
