// A component (COMPONENT=focus or signal) restarts under a running meeting: the test stops it
// and starts a new one (browser_focus_restart.rs, browser_signal_restart.rs). The pages get
// their conference back by themselves, without a reload, and play each other's video again
// (after a signal restart every WebSocket drops and the pages rejoin).
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

const control = process.env.CONTROL_DIR;
const component = process.env.COMPONENT;
if (!['focus', 'signal'].includes(component)) throw new Error(`COMPONENT must be focus or signal, not ${component}`);

await scenario(`${component}_restart`, async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `re${component}-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ray');
  const b = await join(browser, room, 'Sue');
  await waitPlaying(a, ['Sue'], 90000);
  await waitPlaying(b, ['Ray'], 90000);
  await Promise.all([a, b].map((p) => p.evaluate(() => { window.__loaded = true; })));

  fs.writeFileSync(`${control}/restart-${component}`, '');
  log(`asked the test to restart ${component}`);
  await waitFor(`the test to restart ${component}`, () => fs.existsSync(`${control}/${component}-restarted`), 60000, 100);
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
  log(`conference back ${((Date.now() - t0) / 1000).toFixed(1)} s after the new ${component} started`);
});
