// Room password (issue 14, point 3): a moderator sets it from the page; every page shows the
// room locked; a joiner is asked for it, a wrong one is refused and the prompt stays for
// another try, the right one joins; the password holds after the moderator left; a page at
// the prompt receives no media; a moderator removes it.
import {
  launch, joinAll, join, scenario, assert, waitFor, waitPlaying, waitState, waitRootAttr, roomAction, tryAction, log,
} from './lib.mjs';

const noMedia = async (page) => {
  const st = await page.evaluate(() => window.meet.conference.debugState());
  return !st.bridge && !st.p2p && !st.joined;
};

await scenario('room-password', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const { room, pages } = await joinAll(browser, 'locked', ['Alice', 'Bob'], { inRoomOrder: true });
  await waitFor('Alice to be moderator', () => pages.Alice.evaluate(() => window.meet.conference.isModerator), 30000);
  for (const p of Object.values(pages)) await waitRootAttr(p, 'data-room-locked', 'false');

  assert((await tryAction(pages.Bob, 'setPassword', 'mine')) === 'forbidden', "Bob (not a moderator) cannot set the password");
  await pages.Alice.click('[data-action="open-people"]');
  await pages.Alice.fill('input[data-field="new-room-password"]', 'sesame 42');
  await pages.Alice.click('button[data-action="set-password"]');
  for (const p of Object.values(pages)) await waitRootAttr(p, 'data-room-locked', 'true');
  log('Alice locked the room; both pages show it');

  const carol = await join(browser, room, 'Carol');
  await waitState(carol, 'password-required');
  assert(await noMedia(carol), 'a page at the password prompt receives no media');
  await carol.fill('input[data-field="room-password"]', 'open sesame');
  await carol.click('button[data-action="submit-password"]');
  await waitState(carol, 'password-refused');
  assert(await carol.locator('input[data-field="room-password"]').isVisible(), 'the prompt stays for another try');
  assert(await noMedia(carol), 'still no media after a wrong password');
  await carol.fill('input[data-field="room-password"]', 'sesame 42');
  await carol.click('button[data-action="submit-password"]');
  await waitPlaying(carol, ['Alice', 'Bob'], 90000);
  await waitRootAttr(carol, 'data-room-locked', 'true');
  log('Carol was refused with a wrong password and joined with the right one');

  await pages.Alice.click('#btn-leave');
  const dave = await join(browser, room, 'Dave');
  await waitState(dave, 'password-required');
  log('the password holds after the moderator left');

  await waitFor('Bob to be moderator', () => pages.Bob.evaluate(() => window.meet.conference.isModerator), 30000);
  await roomAction(pages.Bob, 'remove-password');
  for (const p of [pages.Bob, carol]) await waitRootAttr(p, 'data-room-locked', 'false');
  const erin = await join(browser, room, 'Erin');
  await waitPlaying(erin, ['Bob', 'Carol'], 90000);
  log('Bob removed the password; Erin joins without one');
  await dave.close();
});
