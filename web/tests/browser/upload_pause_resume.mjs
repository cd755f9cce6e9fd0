// Pause and resume of a tus upload in the side panel: the test holds Ada's second PATCH
// (4 MiB chunks) in a route, Ada presses Pause (the PATCH in flight is aborted), the hold
// is lifted, Ada presses Resume: the page asks the server (HEAD) and continues from its
// offset, exactly the first chunk. Bo downloads the file: same SHA-256 as the source. A
// second upload whose PATCH gets a 500 fails, and Retry continues it the same way. A PNG
// sent afterwards shows as a thumbnail on Bo's side.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, log } from './lib.mjs';

const sha = (b) => createHash('sha256').update(b).digest('hex');
const CHUNK = 4 * 1024 * 1024;

async function openChat(p) {
  await p.click('#btn-side');
  await p.click('.side-tabs button[data-tab="chat"]');
  await waitFor(`${p.displayName}'s chat to connect`, () => p.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
}

await scenario('upload_pause_resume', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `pause-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ada');
  const b = await join(browser, room, 'Bo');
  for (const p of [a, b]) await openChat(p);

  let patches = 0;
  let release;
  let heldGone;
  const held = new Promise((r) => { release = r; });
  const gone = new Promise((r) => { heldGone = r; });
  const hold = async (route) => {
    if (route.request().method() === 'PATCH' && ++patches === 2) {
      log('holding the second PATCH');
      await held;
      // The page aborted it on Pause; it must never reach the server (a dropped connection),
      // so the server's offset stays at exactly the first chunk.
      await route.abort().catch((e) => log('held PATCH already gone:', e.message.split('\n')[0]));
      heldGone();
      return;
    }
    await route.continue().catch((e) => log('PATCH not continued (aborted by the page):', e.message.split('\n')[0]));
  };
  await a.route('**/files/**', hold);

  const bytes = randomBytes(5 * CHUNK + 321);
  await a.setInputFiles('#file-input', { name: 'big.bin', mimeType: 'application/octet-stream', buffer: bytes });
  await waitFor('the second PATCH to be held', () => patches === 2, 30000, 50);
  const before = await a.evaluate(() => Number(document.querySelector('.uploading progress').value));
  assert(before === 4 * 1024 * 1024, `progress shows the first chunk done (${before})`);
  await a.click('.uploading .pause');
  const paused = await a.evaluate(() => {
    const r = document.querySelector('.uploading');
    return { state: r.dataset.state, button: r.querySelector('.pause').textContent };
  });
  log('after Pause', JSON.stringify(paused));
  assert(paused.state === 'paused' && paused.button === 'Resume', 'the row is paused and offers Resume');
  release();
  await gone;
  await a.unroute('**/files/**', hold);

  // Kept by reference: once announced, the row is replaced in the log by the file message.
  await a.evaluate(() => { window.uploadRow = document.querySelector('.uploading'); });
  await a.click('.uploading .pause');
  const done = await waitFor('the resumed upload to finish', () => a.evaluate(() => {
    const r = window.uploadRow;
    if (r.dataset.state === 'failed') return { failed: r.querySelector('.status').textContent };
    return r.dataset.state === 'done' && { resumedFrom: r.dataset.resumedFrom, value: Number(r.querySelector('progress').value) };
  }), 60000);
  log('upload after Resume', JSON.stringify(done));
  assert(!done.failed, `the resumed upload did not fail: ${done.failed}`);
  assert(done.resumedFrom === String(CHUNK), `resumed from the server's offset, the first chunk (${done.resumedFrom})`);
  assert(done.value === bytes.length, 'progress reaches the full size');

  await waitFor('Bo to see big.bin', () => b.evaluate(() => [...document.querySelectorAll('#chat-log .file .file-name')].some((e) => e.textContent === 'big.bin')), 30000);
  const download = b.waitForEvent('download');
  await b.evaluate(() => [...document.querySelectorAll('#chat-log .file')].find((f) => f.querySelector('.file-name').textContent === 'big.bin').querySelector('.download').click());
  const saved = fs.readFileSync(await (await download).path());
  assert(saved.length === bytes.length && sha(saved) === sha(bytes), `Bo's download has the source's SHA-256 (${saved.length} bytes)`);
  log('paused and resumed upload downloads with the source SHA-256', sha(saved));

  // Retry after a failure: the test answers the second PATCH with a 500; the row fails and
  // offers Retry, which continues from the server's offset (the first chunk).
  let patches2 = 0;
  const fail = async (route) => {
    if (route.request().method() === 'PATCH' && ++patches2 === 2) {
      await route.fulfill({ status: 500, body: 'injected failure' });
      return;
    }
    await route.continue();
  };
  await a.route('**/files/**', fail);
  const bytes2 = randomBytes(3 * CHUNK + 5);
  await a.setInputFiles('#file-input', { name: 'retry.bin', mimeType: 'application/octet-stream', buffer: bytes2 });
  const failed = await waitFor('the upload to fail on the injected 500', () => a.evaluate(() => {
    const r = [...document.querySelectorAll('.uploading')].find((e) => e.querySelector('.file-name').textContent === 'retry.bin');
    if (!r || r.dataset.state !== 'failed') return null;
    window.retryRow = r;
    return { status: r.querySelector('.status').textContent, retry: !r.querySelector('.retry').hidden };
  }), 30000, 50);
  log('failed upload', JSON.stringify(failed));
  assert(failed.retry && failed.status.includes('500'), 'the failed row says why and offers Retry');
  await a.unroute('**/files/**', fail);
  await a.evaluate(() => window.retryRow.querySelector('.retry').click());
  const retried = await waitFor('the retried upload to finish', () => a.evaluate(() => {
    const r = window.retryRow;
    if (r.dataset.state === 'failed') return { failed: r.querySelector('.status').textContent };
    return r.dataset.state === 'done' && { resumedFrom: r.dataset.resumedFrom };
  }), 60000);
  assert(!retried.failed && retried.resumedFrom === String(CHUNK), `Retry continued from the server's offset: ${JSON.stringify(retried)}`);
  await waitFor('Bo to see retry.bin', () => b.evaluate(() => [...document.querySelectorAll('#chat-log .file .file-name')].some((e) => e.textContent === 'retry.bin')), 30000);
  const download2 = b.waitForEvent('download');
  await b.evaluate(() => [...document.querySelectorAll('#chat-log .file')].find((f) => f.querySelector('.file-name').textContent === 'retry.bin').querySelector('.download').click());
  const saved2 = fs.readFileSync(await (await download2).path());
  assert(sha(saved2) === sha(bytes2), 'the retried upload downloads with the source SHA-256');
  log('retried upload verified');

  // An image shows as a thumbnail.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
  await a.setInputFiles('#file-input', { name: 'dot <x>.png', mimeType: 'image/png', buffer: png });
  const thumb = await waitFor('Bo to show the thumbnail', () => b.evaluate(() => {
    const f = [...document.querySelectorAll('#chat-log .file')].find((e) => e.querySelector('.file-name').textContent === 'dot <x>.png');
    const img = f && f.querySelector('img.thumb');
    return img && img.complete && img.naturalWidth > 0 && { w: img.naturalWidth, h: img.naturalHeight, alt: img.alt };
  }), 30000);
  log('thumbnail', JSON.stringify(thumb));
  assert(thumb.w === 1 && thumb.h === 1 && thumb.alt === 'dot <x>.png', 'the image renders as a thumbnail');
  for (const p of [a, b]) assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors`);
});
