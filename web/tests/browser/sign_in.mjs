// Sign-in, "secure domain" (issue 14, point 5; AUTH_MODE=accounts): a guest cannot open a
// room and waits for a host; a wrong password is refused; the host signs in on the page
// (SCRAM over the page's WebSocket), opens the room and is its moderator; the waiting guest
// then joins by itself as a participant and cannot be made moderator. No password is kept
// in the browser's storage.
import { BASE, launch, join, scenario, assert, waitFor, waitPlaying, waitState, waitRoles, personAction, log } from './lib.mjs';

const USER = process.env.ACCOUNT_USER;
const PASSWORD = process.env.ACCOUNT_PASSWORD;

await scenario('sign-in', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `secure-${Date.now().toString(36)}`;

  const gina = await join(browser, room, 'Gina');
  await waitState(gina, 'waiting-for-host');
  const st = await gina.evaluate(() => window.meet.conference.debugState());
  assert(!st.joined && !st.bridge, `a waiting guest is not in the room: ${JSON.stringify(st)}`);
  log('the guest cannot open the room and waits for a host');

  const hank = await join(browser, room, 'Hank', { autojoin: false });
  await hank.locator('button[data-action="sign-in"]').waitFor({ state: 'visible', timeout: 20000 });
  await hank.fill('input[data-field="username"]', USER);
  await hank.fill('input[data-field="password"]', 'not the password');
  await hank.click('button[data-action="sign-in"]');
  await waitState(hank, 'sign-in-refused');
  assert((await hank.inputValue('input[data-field="password"]')) === '', 'the password field is emptied');
  await hank.fill('input[data-field="password"]', PASSWORD);
  await hank.click('button[data-action="sign-in"]');
  await waitState(hank, 'signed-in');
  log('a wrong password is refused; the right one signs Hank in');
  await hank.click('#join-button');
  await waitPlaying(hank, ['Gina'], 120000);
  await waitPlaying(gina, ['Hank'], 60000);
  for (const p of [hank, gina]) await waitRoles(p, { Hank: 'moderator', Gina: 'participant' });
  log('Hank opened the room as its moderator; Gina joined by herself');

  await personAction(hank, 'Gina', 'make-moderator');
  await waitFor('the refusal to show', () => hank.evaluate(() => [...document.querySelectorAll('#notices .notice')].some((n) => /moderator/i.test(n.textContent))), 20000);
  await waitRoles(gina, { Hank: 'moderator', Gina: 'participant' });
  log('a guest cannot be made moderator');

  const stored = await hank.evaluate(() => JSON.stringify({ l: { ...localStorage }, s: { ...sessionStorage }, c: document.cookie }));
  assert(!stored.includes(PASSWORD), `no password in the browser's storage: ${stored}`);
  assert(await hank.evaluate((pw) => !document.documentElement.outerHTML.includes(pw), PASSWORD), 'nor in the page');

  // Another room nobody signed in to: still nobody can open it.
  const ivan = await join(browser, `${room}-other`, 'Ivan');
  await waitState(ivan, 'waiting-for-host');
  log(`guests wait in ${BASE}/${room}-other too`);
});
