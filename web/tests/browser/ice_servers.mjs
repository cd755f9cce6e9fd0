// One page joins a room while the admin has set ICE_SERVERS to the test's own STUN socket;
// the Rust side watches that socket and writes DONE_FILE once a Binding request arrived.
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, log } from './lib.mjs';

await scenario('ice_servers', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const page = await join(browser, `ice-${Date.now().toString(36)}`, 'Sol');
  const servers = await page.evaluate(async () => (await (await fetch('/config.json')).json()).iceServers);
  log('iceServers in config.json', JSON.stringify(servers));
  assert(Array.isArray(servers) && servers.length === 1 && servers[0].urls.startsWith('stun:127.0.0.1:'), 'config.json names the STUN server');
  await waitFor('the test to see a Binding request', () => fs.existsSync(process.env.DONE_FILE), 90000);
  assert(page.errors.length === 0, 'no uncaught page errors');
});
