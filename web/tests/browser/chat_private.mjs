// Private messages: Ada picks Bo in "Send to" and writes; Bo sees it marked private, Cy
// never does (checked after a later group message has reached Cy, so it would have come
// before). Bo's chat panel is closed meanwhile: the chat tab shows the unread count, which
// clears when Bo opens the panel. Edit/Delete buttons appear only on one's own messages;
// Ada's edit and delete reach Bo.
import { launch, join, scenario, assert, waitFor, log } from './lib.mjs';

async function openChat(p) {
  await p.click('#btn-side');
  await p.click('.side-tabs button[data-tab="chat"]');
  await waitFor(`${p.displayName}'s chat to connect`, () => p.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
}

const texts = (p) => p.evaluate(() => [...document.querySelectorAll('#chat-log .chat-msg[data-kind="text"]')].map((m) => ({
  text: m.querySelector('.text').textContent, private: m.dataset.private === 'true', edited: !m.querySelector('.edited').hidden,
  actions: m.querySelectorAll('.msg-actions button').length,
})));

await scenario('chat_private', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `private-${Date.now().toString(36)}`;
  const a = await join(browser, room, 'Ada');
  const b = await join(browser, room, 'Bo');
  const c = await join(browser, room, 'Cy');
  await openChat(a);
  await openChat(c);
  // Bo's chat connects with the conference; the panel stays closed.
  await waitFor('Ada to list Bo and Cy', () => a.evaluate(() => [...document.querySelectorAll('#chat-to option')].map((o) => o.textContent).filter((n) => n === 'Bo' || n === 'Cy').length === 2), 30000);
  const boNick = await a.evaluate(() => [...document.querySelectorAll('#chat-to option')].find((o) => o.textContent === 'Bo').value);
  await a.selectOption('#chat-to', boNick);
  await a.fill('#chat-input', 'only for <b>Bo</b>');
  await a.press('#chat-input', 'Enter');
  await a.selectOption('#chat-to', '');
  await a.fill('#chat-input', 'hello everyone');
  await a.press('#chat-input', 'Enter');

  const cySaw = await waitFor('Cy to get the group message', async () => {
    const t = await texts(c);
    return t.some((m) => m.text === 'hello everyone') && t;
  }, 15000);
  log('Cy sees', JSON.stringify(cySaw));
  assert(!cySaw.some((m) => m.text.includes('only for')), 'the private message did not reach Cy');
  const badge = await waitFor('Bo\'s unread badge to count 2', () => b.evaluate(() => {
    const e = document.querySelector('#chat-unread');
    return !e.hidden && e.textContent === '2' && e.textContent;
  }), 15000);
  log('Bo\'s unread badge', badge);
  await openChat(b);
  assert(await b.evaluate(() => document.querySelector('#chat-unread').hidden), 'opening the chat panel clears the unread count');
  const boSaw = await texts(b);
  log('Bo sees', JSON.stringify(boSaw));
  const priv = boSaw.find((m) => m.text === 'only for <b>Bo</b>');
  assert(priv && priv.private, 'Bo got the private message, marked private, as text');
  assert(boSaw.every((m) => m.actions === 0), 'no edit/delete buttons on others\' messages');
  const adaSaw = await texts(a);
  assert(adaSaw.length === 2 && adaSaw.every((m) => m.actions === 2), `Ada has edit and delete on her own messages: ${JSON.stringify(adaSaw)}`);
  assert(adaSaw.find((m) => m.text.startsWith('only for')).private, 'Ada\'s copy is marked private');

  // Ada edits her group message, then deletes the private one.
  await a.evaluate(() => [...document.querySelectorAll('#chat-log .chat-msg[data-kind="text"]')].find((m) => m.querySelector('.text').textContent === 'hello everyone').querySelector('.edit').click());
  await a.fill('#chat-input', 'hello everyone (fixed)');
  await a.press('#chat-input', 'Enter');
  await waitFor('Bo and Cy to see the edit', async () => {
    const [tb, tc] = [await texts(b), await texts(c)];
    return [tb, tc].every((t) => t.some((m) => m.text === 'hello everyone (fixed)' && m.edited));
  }, 15000);
  await a.evaluate(() => [...document.querySelectorAll('#chat-log .chat-msg[data-kind="text"]')].find((m) => m.querySelector('.text').textContent.startsWith('only for')).querySelector('.delete').click());
  await waitFor('the private message to go from Bo\'s and Ada\'s logs', async () => {
    const [ta, tb] = [await texts(a), await texts(b)];
    return [ta, tb].every((t) => t.length === 1 && t[0].text === 'hello everyone (fixed)');
  }, 15000);
  log('edit and delete reached the others');
  for (const p of [a, b, c]) assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors`);
});
