// The side panel's chat and files through web's proxies to the real filestore, with the
// room token signal issues: a message with markup arrives as text with its sender; a file
// uploaded by one (tus, with progress) shows on the other's side with name, size and
// sender, and downloads to the same bytes.
import { launch, join, scenario, assert, waitFor, log, screenshot } from './lib.mjs';

await scenario('chat', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `chat-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Max');
  const b = await join(browser, room, 'Nia <i>x</i>');
  for (const p of [a, b]) {
    await p.click('#btn-side');
    await p.click('.side-tabs button[data-tab="chat"]');
    await waitFor(`${p.displayName}'s chat to connect`, () => p.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
  }
  const text = 'hello <b>bold</b> & <script>alert(1)</script>';
  await a.fill('#chat-input', text);
  await a.press('#chat-input', 'Enter');
  const got = await waitFor('Nia to receive the message', () => b.evaluate(() => {
    const m = [...document.querySelectorAll('#chat-log .chat-msg[data-kind="text"]')].pop();
    return m && { from: m.querySelector('.from').textContent, text: m.querySelector('.text').textContent, tags: m.querySelectorAll('b, script').length };
  }), 15000);
  log('received', JSON.stringify(got));
  assert(got.text === text, 'the text arrives exactly, as text');
  assert(got.from === 'Max', 'the sender comes from the token');
  assert(got.tags === 0, 'no element was made from the message');

  // A file from Nia (whose name has markup) to the room.
  const bytes = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) % 251));
  await b.setInputFiles('#file-input', { name: 'notes <1>.bin', mimeType: 'application/octet-stream', buffer: bytes });
  const card = await waitFor('Max to see the file', () => a.evaluate(() => {
    const f = document.querySelector('#chat-log .chat-msg[data-kind="file"] .file');
    return f && { name: f.querySelector('.file-name').textContent, size: f.querySelector('.file-size').textContent, sender: f.querySelector('.file-sender').textContent };
  }), 30000);
  log('file card', JSON.stringify(card));
  assert(card.name === 'notes <1>.bin', 'file name shown as text');
  assert(card.size.includes('300') && card.size.includes('KiB'), 'size shown');
  assert(card.sender.includes('Nia <i>x</i>'), 'sender shown as text');
  const download = a.waitForEvent('download');
  await a.click('#chat-log .chat-msg[data-kind="file"] .download');
  const d = await download;
  const fs = await import('node:fs');
  const { createHash } = await import('node:crypto');
  const sha = (b) => createHash('sha256').update(b).digest('hex');
  const saved = fs.readFileSync(await d.path());
  const announced = await a.evaluate(() => document.querySelector('#chat-log .chat-msg[data-kind="file"] .file').dataset.sha256);
  assert(sha(saved) === sha(bytes), `SHA-256 of the download equals the source's (${sha(saved)} vs ${sha(bytes)}, ${saved.length} vs ${bytes.length} bytes)`);
  assert(announced === sha(bytes), `the SHA-256 filestore announced equals the source's (${announced})`);
  log('download SHA-256 equals the source', sha(saved));

  // A file dropped on Max's side panel reaches Nia too.
  await a.evaluate(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
    document.querySelector('#side').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
  const dropped = await waitFor('Nia to see the dropped file', () => b.evaluate(() => {
    const names = [...document.querySelectorAll('#chat-log .file .file-name')].map((e) => e.textContent);
    return names.includes('dropped.txt') && names;
  }), 30000);
  log('files on Nia\'s side', JSON.stringify(dropped));
  // Nia downloads the dropped file through its link: same SHA-256 as what was dropped.
  const dropDownload = b.waitForEvent('download');
  await b.evaluate(() => [...document.querySelectorAll('#chat-log .file')].find((f) => f.querySelector('.file-name').textContent === 'dropped.txt').querySelector('.download').click());
  const droppedSaved = fs.readFileSync(await (await dropDownload).path());
  assert(sha(droppedSaved) === sha(Buffer.from('dropped bytes')), `SHA-256 of the dropped file's download equals the source's (${sha(droppedSaved)})`);
  log('dropped file downloads with the source SHA-256');
  await screenshot(a, 'chat-panel-Max.png');

  // Someone who joins later gets the history: the text and both files.
  const c = await join(browser, room, 'Oda');
  await c.click('#btn-side');
  await c.click('.side-tabs button[data-tab="chat"]');
  const history = await waitFor('Oda to see the history', () => c.evaluate(() => {
    const items = [...document.querySelectorAll('#chat-log .chat-msg')].map((m) => m.querySelector('.text, .file-name')?.textContent);
    return items.length >= 3 && items;
  }), 30000);
  log('history for a late joiner', JSON.stringify(history));
  assert(history[0] === text && history.includes('notes <1>.bin') && history.includes('dropped.txt'), 'history holds the text and the files, oldest first');
  for (const p of [a, b, c]) assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors`);
});
