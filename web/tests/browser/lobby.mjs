// Lobby (issue 14, point 4): a moderator turns it on; joiners knock with their name and wait
// (no media); the moderator sees the knock and admits (the admitted page joins without any
// new input) or denies (the page says so); a knocker who knows the room password goes
// straight in; a non-moderator cannot admit.
import {
  launch, joinAll, join, scenario, assert, waitFor, waitPlaying, waitState, waitRootAttr, roomAction, tryAction, log,
} from './lib.mjs';

await scenario('lobby', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const { room, pages } = await joinAll(browser, 'lobby', ['Alice', 'Bob'], { inRoomOrder: true });
  await waitFor('Alice to be moderator', () => pages.Alice.evaluate(() => window.meet.conference.isModerator), 30000);
  await roomAction(pages.Alice, 'lobby-on');
  for (const p of Object.values(pages)) await waitRootAttr(p, 'data-lobby', 'on');
  log('Alice turned the lobby on');

  const carol = await join(browser, room, 'Carol');
  await waitState(carol, 'lobby-waiting');
  const st = await carol.evaluate(() => window.meet.conference.debugState());
  assert(!st.joined && !st.bridge && !st.p2p, `a page in the lobby receives no media: ${JSON.stringify(st)}`);
  await pages.Alice.locator('[data-knock="Carol"]').waitFor({ state: 'visible', timeout: 20000 });
  assert((await pages.Bob.locator('[data-knock="Carol"]').count()) === 0, 'only moderators see knocks');
  const carolNick = await carol.evaluate(() => window.meet.conference.nick);
  const refused = await tryAction(pages.Bob, 'admit', carolNick);
  assert(refused === 'forbidden', `Bob (not a moderator) cannot admit: ${refused}`);
  await pages.Alice.click('[data-knock="Carol"] button[data-action="admit"]');
  await waitPlaying(carol, ['Alice', 'Bob'], 90000);
  await waitFor('the knock to go', () => pages.Alice.evaluate(() => !document.querySelector('[data-knock="Carol"]')), 20000);
  log('Carol knocked, was admitted and joined without typing anything');

  const dave = await join(browser, room, 'Dave');
  await waitState(dave, 'lobby-waiting');
  await pages.Alice.locator('[data-knock="Dave"]').waitFor({ state: 'visible', timeout: 20000 });
  await pages.Alice.click('[data-knock="Dave"] button[data-action="deny"]');
  await waitState(dave, 'lobby-denied');
  log('Dave was denied and sees it');

  await pages.Alice.fill('input[data-field="new-room-password"]', 'letmein');
  await pages.Alice.click('button[data-action="set-password"]');
  await waitRootAttr(pages.Alice, 'data-room-locked', 'true');
  const erin = await join(browser, room, 'Erin');
  await waitState(erin, 'lobby-waiting');
  await erin.fill('input[data-field="room-password"]', 'letmein');
  await erin.click('button[data-action="submit-password"]');
  await waitPlaying(erin, ['Alice', 'Bob', 'Carol'], 90000);
  log('Erin knew the password and went straight in');

  await roomAction(pages.Alice, 'lobby-off');
  for (const p of [pages.Alice, pages.Bob, carol, erin]) await waitRootAttr(p, 'data-lobby', 'off');
});
