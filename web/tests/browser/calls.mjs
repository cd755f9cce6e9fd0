// Calling a person (issue 15, point 3): A calls B, B's page rings and accepts: both see each
// other's video; hang up. B declines. B is busy (in a call with C): A sees busy and "notify
// me", and is told when B is free. B does not answer: after 30 s A sees no answer. A third
// person is added to a call and rings too. A page rings for one call at a time.
import {
  launch, home, scenario, assert, waitFor, waitPlaying, waitPresence, waitCallState, callState, log,
} from './lib.mjs';

const accept = (page, caller) => page.click(`[data-incoming-call="${caller}"] button[data-action="accept"]`);
const decline = (page, caller) => page.click(`[data-incoming-call="${caller}"] button[data-action="decline"]`);
const ringing = (page, caller, timeoutMs = 20000) => page.locator(`[data-incoming-call="${caller}"]`).waitFor({ state: 'visible', timeout: timeoutMs });
const call = (page, name) => page.click(`#people [data-person="${name}"] button[data-action="call"]`);
const hangUp = (page) => page.click('[data-call-state] button[data-action="hang-up"]');

await scenario('calls', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const A = await home(browser, 'Ann');
  const B = await home(browser, 'Ben');
  const C = await home(browser, 'Cat');
  for (const [p, others] of [[A, ['Ben', 'Cat']], [B, ['Ann', 'Cat']], [C, ['Ann', 'Ben']]]) {
    for (const o of others) await waitPresence(p, o, 'available');
  }
  log('everyone sees everyone available');

  // A calls B; B accepts; video both ways; hang up.
  await call(A, 'Ben');
  await waitCallState(A, 'ringing');
  await ringing(B, 'Ann');
  assert((await C.locator('[data-incoming-call]').count()) === 0, 'only the callee rings');
  await accept(B, 'Ann');
  await waitCallState(A, 'connected');
  await waitCallState(B, 'connected');
  await waitPlaying(A, ['Ben'], 90000);
  await waitPlaying(B, ['Ann'], 60000);
  await waitPresence(C, 'Ann', 'in-meeting');
  await waitPresence(C, 'Ben', 'in-meeting');
  log('Ann and Ben are in a call and see each other; Cat sees both in a meeting');

  // Busy: Cat calls Ben, who is in the call.
  await call(C, 'Ben');
  await waitCallState(C, 'busy');
  await C.click('[data-call-state="busy"] button[data-action="notify-me"]');
  log('Cat sees Ben busy');

  // A third person: Ben adds Cat; Cat rings, accepts, and all three meet.
  await C.click('[data-call-state] button[data-action="dismiss-call"]');
  await B.click('#btn-invite');
  await B.click('[data-invite="Cat"] button[data-action="invite-person"]');
  await ringing(C, 'Ben');
  await accept(C, 'Ben');
  await waitPlaying(C, ['Ann', 'Ben'], 90000);
  await waitPlaying(A, ['Ben', 'Cat'], 90000);
  log('Cat was added to the call and all three meet');

  await hangUp(A);
  await waitCallState(A, 'ended');
  await waitPlaying(B, ['Cat'], 30000);
  log('Ann hung up; Ben and Cat stay in the call');
  await hangUp(B);
  for (const p of [B, C]) await waitCallState(p, 'ended');
  log("Ben hung up; Cat, alone, is out of the call by herself");
  await waitPresence(A, 'Ben', 'available');
  await C.locator('[data-notify-free="Ben"]').waitFor({ state: 'visible', timeout: 20000 });
  log('everyone hung up; Cat is told Ben is free');

  // Decline.
  for (const p of [A, B, C]) await p.click('[data-call-state] button[data-action="dismiss-call"]').catch(() => {});
  await call(A, 'Ben');
  await ringing(B, 'Ann');
  await decline(B, 'Ann');
  await waitCallState(A, 'declined');
  log('Ben declined');

  // One ring at a time: while Ben's page rings for Ann, Cat's call is answered busy.
  await A.click('[data-call-state] button[data-action="dismiss-call"]');
  await call(A, 'Ben');
  await ringing(B, 'Ann');
  await call(C, 'Ben');
  await waitCallState(C, 'busy');
  assert((await B.locator('[data-incoming-call]').count()) === 1, 'Ben rings for one call only');
  log("a second call while Ben's page rings is answered busy");

  // No answer: Ben lets it ring; after 30 s Ann sees no answer and Ben's page stops ringing.
  await waitCallState(A, 'no-answer', 45000);
  await waitFor("Ben's page to stop ringing", async () => (await B.locator('[data-incoming-call]').count()) === 0, 10000);
  log('no answer after 30 s');
  assert(await callState(A) === 'no-answer', 'the caller keeps the no-answer state until dismissed');
});
