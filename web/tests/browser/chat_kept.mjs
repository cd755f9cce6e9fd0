// What chat.mjs left in room CHAT_ROOM is still there later (the compose test runs it after
// `restart` and after `down`/`up`): a newcomer sees the message and both files, oldest first,
// and the uploaded file downloads to the bytes chat.mjs sent.
import { launch, join, scenario, assert, log, openChat, chatHistory, downloadFile, sha256, CHAT_SAMPLE } from './lib.mjs';

await scenario('chat_kept', async (onClose) => {
  const room = process.env.CHAT_ROOM;
  assert(room, 'CHAT_ROOM names the room chat.mjs used');
  const browser = await launch();
  onClose(() => browser.close());
  const page = await join(browser, room, 'Pia');
  await openChat(page);
  const history = await chatHistory(page, 3);
  log('history', JSON.stringify(history));
  assert(history[0] === CHAT_SAMPLE.text, 'the message is first, as sent');
  assert(history.includes(CHAT_SAMPLE.fileName) && history.includes(CHAT_SAMPLE.dropped.name), 'both files are listed');
  const saved = await downloadFile(page, CHAT_SAMPLE.fileName);
  assert(sha256(saved) === sha256(CHAT_SAMPLE.bytes()), `the file downloads to the bytes sent (${saved.length} bytes)`);
  const dropped = await downloadFile(page, CHAT_SAMPLE.dropped.name);
  assert(dropped.toString() === CHAT_SAMPLE.dropped.text, 'the dropped file too');
  assert(page.errors.length === 0, 'no uncaught page errors');
});
