// A bridge dies under a running meeting (kill -9): focus moves the sessions to the other
// bridge (session-terminate reason="moving", then a new session-initiate) and the pages,
// without reloading, play each other's video again.
// Env: BRIDGES = "pid@http://addr,pid@http://addr" (the bridges' /stats), FOCUS_METRICS.
// Or, for bridges in containers, COMPOSE = the docker-compose command as a JSON array (with
// its -f files) and BRIDGES = their service names: /stats and focus's /metrics are read with
// `exec`, and the kill is `docker-compose kill` (SIGKILL; the restart policy leaves it down).
import { execFileSync } from 'node:child_process';
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

const compose = process.env.COMPOSE ? JSON.parse(process.env.COMPOSE) : null;
const inCompose = (...args) => execFileSync(compose[0], [...compose.slice(1), ...args], { encoding: 'utf8' });
const bridges = process.env.BRIDGES.split(',').map((b) => {
  if (compose) {
    return {
      name: b,
      stats: async () => JSON.parse(inCompose('exec', '-T', b, 'curl', '-fsS', 'http://127.0.0.1:8080/stats')),
      kill: () => inCompose('kill', b),
    };
  }
  const [pid, url] = b.split('@');
  return { name: url, stats: async () => (await fetch(`${url}/stats`)).json(), kill: () => process.kill(Number(pid), 'SIGKILL') };
});
const focusMetrics = compose
  ? async () => inCompose('exec', '-T', 'focus', 'curl', '-fsS', 'http://127.0.0.1:8888/metrics')
  : async () => (await fetch(process.env.FOCUS_METRICS)).text();

await scenario('bridge_failover', async (onClose) => {
  await waitFor('focus to have both bridges in its pool', async () => {
    const text = await focusMetrics();
    const m = text.match(/bridges_usable\S* (\d+)/);
    return m && Number(m[1]) >= 2;
  }, 60000, 250);
  const browser = await launch();
  onClose(() => browser.close());
  const room = `failover-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Kim');
  const b = await join(browser, room, 'Lee');
  await waitPlaying(a, ['Lee'], 90000);
  await waitPlaying(b, ['Kim'], 90000);
  const sidsBefore = await Promise.all([a, b].map((p) => p.evaluate(() => window.meet.conference.debugState().bridge.sid)));
  const nicksBefore = await Promise.all([a, b].map((p) => p.evaluate(() => window.meet.conference.nick)));

  const used = await waitFor('the bridge that carries the room', async () => {
    for (const br of bridges) {
      const s = await br.stats();
      if (s.endpoints >= 2) return br;
    }
    return null;
  }, 20000);
  log(`killing bridge ${used.name}`);
  const t0 = Date.now();
  used.kill();

  for (const [i, p] of [a, b].entries()) {
    await waitFor(`${p.displayName} to get a new bridge session`, async () => {
      const s = await p.evaluate(() => window.meet.conference.debugState());
      return s.bridge && s.bridge.sid !== sidsBefore[i] && s.bridge.ice === 'connected';
    }, 90000);
  }
  await waitPlaying(a, ['Lee'], 90000);
  await waitPlaying(b, ['Kim'], 90000);
  log(`media back ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill`);
  const nicksAfter = await Promise.all([a, b].map((p) => p.evaluate(() => window.meet.conference.nick)));
  assert(JSON.stringify(nicksAfter) === JSON.stringify(nicksBefore), 'same participants: nobody rejoined, nobody reloaded');
  const other = bridges.find((br) => br !== used);
  const s = await other.stats();
  assert(s.endpoints >= 2, `the other bridge now carries the room (${JSON.stringify(s)})`);
});
