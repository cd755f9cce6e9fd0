// Run inside a second network namespace (another "host" of the LAN, reached over a veth
// pair, not loopback): the certificate `meet` generated verifies for the server's LAN
// address (NODE_EXTRA_CA_CERTS holds it), plain HTTP redirects to HTTPS, and two browsers
// exchange media through the bridge at that address.
import { execFileSync } from 'node:child_process';
import { launch, join, scenario, assert, waitFor, waitPlaying, log, BASE } from './lib.mjs';

await scenario('lan', async (onClose) => {
  const url = new URL(BASE);
  await waitFor('the server to answer over HTTPS with a certificate for its LAN address', async () => {
    const r = await fetch(`${BASE}/health`);
    return r.ok;
  }, 60000, 250);
  const redirect = await fetch(`http://${url.hostname}:${process.env.HTTP_PORT}/lan-room?x=1`, { redirect: 'manual' });
  assert(redirect.status === 308, `HTTP answers ${redirect.status}`);
  assert(redirect.headers.get('location') === `${BASE}/lan-room?x=1`, `redirect to ${redirect.headers.get('location')}`);
  log('HTTPS certificate verified for', url.hostname, '; HTTP redirects');

  const browser = await launch();
  onClose(() => browser.close());
  const room = `lan-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Lan A');
  const b = await join(browser, room, 'Lan B');
  await waitPlaying(a, ['Lan B'], 120000);
  await waitPlaying(b, ['Lan A'], 120000);
  for (const p of [a, b]) {
    const remote = await p.evaluate(async () => {
      const s = window.meet.conference.bridge;
      if (!s) return null;
      const stats = await s.pc.getStats();
      let pair = null;
      stats.forEach((r) => { if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) pair = r; });
      const cand = pair && stats.get(pair.remoteCandidateId);
      return cand ? `${cand.address}:${cand.port}` : null;
    });
    log(`${p.displayName}: bridge media via ${remote}`);
    assert(remote && remote.startsWith(`${url.hostname}:`), `media goes to the bridge at the LAN address (${remote})`);
  }

  // A network outage on this host (the link goes down for OUTAGE_S seconds): ICE breaks;
  // afterwards media must come back by itself, without a reload.
  const dev = process.env.LAN_DEV;
  if (dev) {
    const outage = Number(process.env.OUTAGE_S || 12);
    await Promise.all([a, b].map((p) => p.evaluate(() => { window.__loaded = true; })));
    log(`link ${dev} down for ${outage} s`);
    execFileSync('ip', ['link', 'set', dev, 'down']);
    await new Promise((r) => setTimeout(r, outage * 1000));
    execFileSync('ip', ['link', 'set', dev, 'up']);
    const t0 = Date.now();
    log(`link ${dev} up`);
    await waitPlaying(a, ['Lan B'], 120000);
    await waitPlaying(b, ['Lan A'], 120000);
    for (const p of [a, b]) assert(await p.evaluate(() => window.__loaded === true), `${p.displayName} was not reloaded`);
    log(`media back ${((Date.now() - t0) / 1000).toFixed(1)} s after the link came back`);
  }
});
