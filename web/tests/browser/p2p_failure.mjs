// Two people on P2P whose P2P connection cannot work: the test routes each page's XMPP
// WebSocket and points every ICE candidate of the P2P offer and answer at port 40009 (a
// port nothing of this test listens on), so ICE between the two browsers cannot connect. By then focus has released
// the bridge (P2P step 3): the pages must tell focus (session-terminate of the P2P sid,
// transport="p2p" reason="failed"), and focus puts both back on the bridge, where they
// play each other again without reload or rejoin.
import zlib from 'node:zlib';
import { launch, join, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

const deadPort = (sdp) => sdp.replace(/(a=candidate:\S+ \d+ \S+ \d+ \S+ )\d+( typ)/g, '$140009$2');

/**
 * Rewrites the candidates of P2P SDP (and only those) to an unreachable port, in plain
 * descriptions and in `encoding="deflate"` ones (raw DEFLATE, base64: inflated, rewritten,
 * deflated again).
 */
function breakP2P(frame) {
  if (typeof frame !== 'string' || !/transport=["']p2p["']/.test(frame)) return frame;
  let changed = false;
  let out = frame.replace(/(<description\b[^>]*encoding=["']deflate["'][^>]*>)([^<]*)(<\/description>)/g, (m, open, data, close) => {
    const sdp = zlib.inflateRawSync(Buffer.from(data, 'base64')).toString('utf8');
    if (!sdp.includes('a=candidate:')) return m;
    changed = true;
    return open + zlib.deflateRawSync(Buffer.from(deadPort(sdp), 'utf8')).toString('base64') + close;
  });
  if (out.includes('a=candidate:')) {
    out = deadPort(out);
    changed = true;
  }
  if (changed) log('routing: P2P SDP with its candidates pointed at port 40009');
  return out;
}

async function routeXmpp(context) {
  await context.routeWebSocket(/\/xmpp-websocket/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(breakP2P(m)));
    server.onMessage((m) => ws.send(breakP2P(m)));
  });
}

await scenario('p2p_failure', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `p2pfail-${Date.now().toString(36)}`;
  const seen = { Ann: [], Ben: [] };
  const a = await join(browser, room, 'Ann', { setup: routeXmpp });
  const b = await join(browser, room, 'Ben', { setup: routeXmpp });
  for (const p of [a, b]) p.on('console', (m) => seen[p.displayName].push(m.text()));
  await waitPlaying(a, ['Ben'], 90000);
  await waitPlaying(b, ['Ann'], 90000);
  log('both play each other on the bridge; waiting for P2P to be tried');
  for (const p of [a, b]) {
    await waitFor(`${p.displayName} to get the P2P session-initiate`, () => seen[p.displayName].some((t) => /jingle session-initiate from focus .*transport=p2p/.test(t)), 30000);
  }
  // ICE cannot connect; the bridge is released meanwhile. The pages must report it.
  for (const p of [a, b]) {
    await waitFor(`${p.displayName} to hear from focus that P2P failed`, () => seen[p.displayName].some((t) => /jingle session-terminate from focus .*transport=p2p reason=failed/.test(t)), 120000, 500);
  }
  assert([...seen.Ann, ...seen.Ben].some((t) => /telling focus that P2P session \S+ failed/.test(t)), 'a page reported its failed P2P session');
  for (const p of [a, b]) {
    // A bridge session offered after focus ended the failed P2P one. (Counting every bridge
    // offer raced with the listener above: a page's first offer can come before it is set.)
    await waitFor(`${p.displayName} to get a new bridge session`, () => {
      const lines = seen[p.displayName];
      const failed = lines.findIndex((t) => /jingle session-terminate from focus .*transport=p2p reason=failed/.test(t));
      return failed >= 0 && lines.slice(failed + 1).some((t) => /jingle session-initiate from focus .*transport=bridge/.test(t));
    }, 30000);
  }
  await waitPlaying(a, ['Ben'], 60000);
  await waitPlaying(b, ['Ann'], 60000);
  for (const [p, other] of [[a, 'Ben'], [b, 'Ann']]) {
    const st = await p.evaluate(() => window.meet.conference.debugState());
    log(`${p.displayName}`, JSON.stringify(st));
    assert(st.shown[other] === 'bridge' && !st.p2p, `${p.displayName} shows ${other} from the bridge, P2P closed`);
  }
  for (const name of ['Ann', 'Ben']) {
    const joins = seen[name].filter((t) => /^joined /.test(t)).length;
    assert(joins <= 1, `${name} did not rejoin the room (joined ${joins} times)`);
  }
});
