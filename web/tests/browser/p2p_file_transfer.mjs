// Direct (browser-to-browser) file transfer signalled through filestore's /chat:
// 1. the page's incremental SHA-256 (static/js/sha256.js) against FIPS 180 vectors, fed in
//    uneven pieces, and against WebCrypto on random data;
// 2. Ada sends Bo 24 MiB + 123 bytes over an RTCDataChannel: both ends show "verified", the
//    path stayed p2p, the sender waited for bufferedamountlow (back-pressure), and the bytes
//    Bo saves have the source's SHA-256;
// 3. Cy's /chat WebSocket is routed so every ICE candidate in the p2p signals points at a
//    dead port: Cy's transfer to Bo cannot connect directly, falls back to the streamed
//    relay, and arrives with the source's SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, log } from './lib.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');

function breakCandidates(frame) {
  if (typeof frame !== 'string' || !frame.includes('"p2p"') || !frame.includes('candidate:')) return frame;
  log('routing: p2p candidates pointed at port 40009');
  return frame.replace(/(candidate:\S+ \d+ \S+ \d+ \S+ )\d+( typ)/g, '$140009$2');
}

async function routeChat(context) {
  await context.routeWebSocket(/\/chat\?/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(breakCandidates(m)));
    server.onMessage((m) => ws.send(breakCandidates(m)));
  });
}

async function openChat(p) {
  await p.click('#btn-side');
  await p.click('.side-tabs button[data-tab="chat"]');
  await waitFor(`${p.displayName}'s chat to connect`, () => p.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
}

async function sendDirect(from, toName, name, bytes) {
  await waitFor(`${from.displayName} to list ${toName}`, () => from.evaluate((n) => [...document.querySelectorAll('#chat-to option')].some((o) => o.textContent === n), toName), 30000);
  const nick = await from.evaluate((n) => [...document.querySelectorAll('#chat-to option')].find((o) => o.textContent === n).value, toName);
  await from.selectOption('#chat-to', nick);
  await from.setInputFiles('#p2p-file-input', { name, mimeType: 'application/octet-stream', buffer: bytes });
}

async function received(page, name, timeoutMs) {
  return waitFor(`${page.displayName} to receive ${name}`, () => page.evaluate((n) => {
    const c = [...document.querySelectorAll('.transfer[data-role="receive"]')].find((e) => e.querySelector('.file-name').textContent === n);
    if (!c) return null;
    if (c.dataset.state === 'failed') return { failed: c.querySelector('.status').textContent };
    return c.dataset.state === 'verified' && { path: c.dataset.path, sha256: c.dataset.sha256, id: c.dataset.transfer };
  }, name), timeoutMs, 250);
}

async function sent(page, name, timeoutMs) {
  return waitFor(`${page.displayName}'s side to confirm ${name}`, () => page.evaluate((n) => {
    const c = [...document.querySelectorAll('.transfer[data-role="send"]')].find((e) => e.querySelector('.file-name').textContent === n);
    if (!c) return null;
    if (c.dataset.state === 'failed') return { failed: c.querySelector('.status').textContent };
    return c.dataset.state === 'verified' && { path: c.dataset.path, sha256: c.dataset.sha256, waits: Number(c.dataset.waits || 0) };
  }, name), timeoutMs, 250);
}

async function save(page, id) {
  const download = page.waitForEvent('download');
  await page.evaluate((t) => document.querySelector(`.transfer[data-transfer="${t}"] .save`).click(), id);
  return fs.readFileSync(await (await download).path());
}

await scenario('p2p_file_transfer', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `p2pfile-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ada');
  const b = await join(browser, room, 'Bo');
  for (const p of [a, b]) await openChat(p);

  // 1. The incremental SHA-256 against known vectors.
  const vectors = await a.evaluate(async () => {
    const { Sha256 } = await import('/static/js/sha256.js');
    const enc = new TextEncoder();
    const pieces = (bytes, sizes) => {
      const h = new Sha256();
      let off = 0;
      let k = 0;
      while (off < bytes.length) { const n = sizes[k++ % sizes.length]; h.update(bytes.subarray(off, off + n)); off += n; }
      return h.hex();
    };
    const million = new Uint8Array(1000000).fill(0x61);
    const random = new Uint8Array(65536 * 3 + 17);
    for (let i = 0; i < random.length; i += 65536) crypto.getRandomValues(random.subarray(i, i + 65536));
    const subtle = [...new Uint8Array(await crypto.subtle.digest('SHA-256', random))].map((x) => x.toString(16).padStart(2, '0')).join('');
    return {
      empty: new Sha256().hex(),
      abc: new Sha256().update(enc.encode('abc')).hex(),
      two_blocks: pieces(enc.encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'), [1, 7, 13]),
      million_a: pieces(million, [63, 64, 65, 1000, 4096]),
      random_ok: pieces(random, [1, 55, 56, 57, 64, 9999]) === subtle,
    };
  });
  log('sha256 vectors', JSON.stringify(vectors));
  // Speed of the incremental SHA-256 next to WebCrypto's one-shot digest (a figure for the
  // report, not a check): 32 MiB in 64 KiB updates.
  const speed = await a.evaluate(async () => {
    const { Sha256 } = await import('/static/js/sha256.js');
    const data = new Uint8Array(32 * 1024 * 1024).fill(7);
    let t0 = performance.now();
    const h = new Sha256();
    for (let i = 0; i < data.length; i += 65536) h.update(data.subarray(i, i + 65536));
    h.hex();
    const js = performance.now() - t0;
    t0 = performance.now();
    await crypto.subtle.digest('SHA-256', data);
    const subtle = performance.now() - t0;
    return { js_mb_s: Math.round(32 * 1.048576 / (js / 1000)), webcrypto_mb_s: Math.round(32 * 1.048576 / (subtle / 1000)) };
  });
  log('sha256 speed (MB/s, 32 MiB)', JSON.stringify(speed));
  assert(vectors.empty === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'SHA-256("")');
  assert(vectors.abc === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'SHA-256("abc")');
  assert(vectors.two_blocks === '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1', 'SHA-256 of the 448-bit vector, fed in pieces');
  assert(vectors.million_a === 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0', 'SHA-256 of a million "a", fed in pieces');
  assert(vectors.random_ok, 'incremental SHA-256 of random data equals WebCrypto\'s');

  // 2. Direct transfer, Ada -> Bo.
  const direct = randomBytes(24 * 1024 * 1024 + 123);
  await sendDirect(a, 'Bo', 'direct.bin', direct);
  const t0 = Date.now();
  const got = await received(b, 'direct.bin', 60000);
  log(`direct transfer of ${direct.length} bytes verified after ${Date.now() - t0} ms`);
  log('Bo received', JSON.stringify(got));
  assert(!got.failed, `direct transfer did not fail: ${got.failed}`);
  assert(got.path === 'p2p', 'the bytes came over the direct data channel');
  assert(got.sha256 === sha(direct), 'Bo\'s incremental SHA-256 equals the source\'s');
  const adaSide = await sent(a, 'direct.bin', 30000);
  assert(!adaSide.failed && adaSide.path === 'p2p' && adaSide.sha256 === sha(direct), `Ada's side verified the same hash: ${JSON.stringify(adaSide)}`);
  assert(adaSide.waits > 0, `the sender paused on back-pressure (bufferedamountlow waits: ${adaSide.waits})`);
  log(`sender waited for bufferedamountlow ${adaSide.waits} times`);
  const saved = await save(b, got.id);
  assert(saved.length === direct.length && sha(saved) === sha(direct), `Bo's saved file has the source's SHA-256 (${saved.length} bytes)`);
  log('direct transfer verified on both ends and in the saved file');

  // 3. Direct path broken for Cy: fallback to the relay.
  const c = await join(browser, room, 'Cy', { setup: routeChat });
  await openChat(c);
  const relayed = randomBytes(3 * 1024 * 1024 + 7);
  await sendDirect(c, 'Bo', 'relayed.bin', relayed);
  const got2 = await received(b, 'relayed.bin', 90000);
  log('Bo received', JSON.stringify(got2));
  assert(!got2.failed, `relayed transfer did not fail: ${got2.failed}`);
  assert(got2.path === 'relay', 'the bytes came through the relay');
  assert(got2.sha256 === sha(relayed), 'Bo\'s SHA-256 of the relayed bytes equals the source\'s');
  const cySide = await sent(c, 'relayed.bin', 30000);
  assert(!cySide.failed && cySide.path === 'relay' && cySide.sha256 === sha(relayed), `Cy's side verified the same hash: ${JSON.stringify(cySide)}`);
  const saved2 = await save(b, got2.id);
  assert(sha(saved2) === sha(relayed), 'Bo\'s saved relayed file has the source\'s SHA-256');
  log('relay fallback verified on both ends and in the saved file');
  for (const p of [a, b, c]) assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors`);
});
