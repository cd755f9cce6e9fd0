// Moderators (issue 14, point 1): the first person in a room is its moderator, marked as one
// on every page; others see no moderator tools and signal refuses their requests; when the
// moderator leaves, the longest-present remaining person becomes one; a moderator makes
// another one.
import { launch, joinAll, join, scenario, assert, waitFor, waitRoles, personAction, tryAction, log } from './lib.mjs';

await scenario('moderators', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const { room, pages } = await joinAll(browser, 'mods', ['Alice', 'Bob', 'Carol'], { inRoomOrder: true });
  const all = () => Object.values(pages);
  for (const p of all()) await waitRoles(p, { Alice: 'moderator', Bob: 'participant', Carol: 'participant' }, 60000);
  log('Alice, the first, is the moderator on every page');

  for (const n of ['Bob', 'Carol']) {
    const tools = await pages[n].evaluate(() => document.querySelectorAll('[data-action="kick"], [data-action="mute-everyone"], [data-action="end-meeting"]').length);
    assert(tools === 0, `${n} is shown no moderator tools (${tools})`);
  }
  const aliceTools = await pages.Alice.evaluate(() => ({
    kick: document.querySelectorAll('[data-person="Bob"] [data-action="kick"]').length,
    ownKick: document.querySelectorAll('[data-person="Alice"] [data-action="kick"]').length,
    end: document.querySelectorAll('[data-action="end-meeting"]').length,
  }));
  assert(aliceTools.kick === 1 && aliceTools.ownKick === 0 && aliceTools.end === 1, `Alice has the tools: ${JSON.stringify(aliceTools)}`);

  // A tampered page: Bob calls the actions without the buttons. signal refuses; nothing changes.
  for (const [m, args] of [['kick', [{ person: 'Carol' }]], ['makeModerator', [{ person: 'Bob' }]], ['mute', [{ person: 'Alice' }, 'audio']], ['setLobby', [true]], ['setPassword', ['x']], ['endMeeting', []]]) {
    const r = await tryAction(pages.Bob, m, ...args);
    assert(r === 'forbidden', `Bob's ${m} is refused as forbidden, got ${r}`);
  }
  await waitRoles(pages.Carol, { Alice: 'moderator', Bob: 'participant', Carol: 'participant' });
  const st = await pages.Alice.evaluate(() => [document.documentElement.dataset.selfAudio, document.documentElement.dataset.roomLocked, document.documentElement.dataset.lobby]);
  assert(st.join() === 'on,false,off', `nothing changed in the room: ${st}`);
  log("a non-moderator's requests are refused by signal");

  // Alice leaves: Bob (here longer than Carol) becomes moderator.
  await pages.Alice.click('#btn-leave');
  for (const n of ['Bob', 'Carol']) await waitRoles(pages[n], { Bob: 'moderator', Carol: 'participant' });
  log('Bob, the longest present, is the moderator after Alice left');

  // Bob makes Carol a moderator; Dave, joining later, is a participant and sees both marked.
  await personAction(pages.Bob, 'Carol', 'make-moderator');
  for (const n of ['Bob', 'Carol']) await waitRoles(pages[n], { Bob: 'moderator', Carol: 'moderator' });
  const dave = await join(browser, room, 'Dave');
  await waitRoles(dave, { Bob: 'moderator', Carol: 'moderator', Dave: 'participant' });
  await waitFor('Carol to have moderator tools', () => pages.Carol.evaluate(() => document.querySelectorAll('[data-person="Dave"] [data-action="kick"]').length === 1), 20000);
  log('Carol was made moderator; Dave sees both moderators marked');
});
