// Messages and calls that wait (issue 15, points 4 and 5), across a restart of every
// service. PHASE=1: Bea has been here once (so she is known) and is gone; Abe sees her
// offline, writes her 52 messages, calls her (a missed call: she is offline), and invites
// her from a meeting. PHASE=2, after meet restarted: Bea opens her home page and sees the
// unread count (also in the title), the missed call and the invitation; opening the
// conversation shows the newest 50, "older" the rest, each once, in order; reading clears
// the count. Abe's history survived the restart too, and Bea's answer reaches him live.
// The browsers keep their profiles in PROFILES (the same guest keys in both phases).
import path from 'node:path';
import {
  BASE, persistentHome, scenario, assert, waitFor, waitPresence, waitCallState, conversationTexts, unreadOf, sendTo, log,
} from './lib.mjs';

const PROFILES = process.env.PROFILES;
const N = 52;
const texts = Array.from({ length: N }, (_, i) => `note ${String(i + 1).padStart(2, '0')}`);

async function openConversation(page, name) {
  await page.click(`[data-conversation="${name}"] .conv-head`);
  await page.locator(`[data-conversation="${name}"] textarea[data-field="message"]`).waitFor({ state: 'visible', timeout: 20000 });
}

async function allMessages(page, name, want) {
  await waitFor(`${page.displayName} to load the newest page`, async () => ((await conversationTexts(page, name)) || []).length >= Math.min(50, want), 20000);
  while (((await conversationTexts(page, name)) || []).length < want) {
    const before = (await conversationTexts(page, name)).length;
    await page.click(`[data-conversation="${name}"] button[data-action="older"]`);
    await waitFor('an older page', async () => (await conversationTexts(page, name)).length > before, 20000);
  }
  return conversationTexts(page, name);
}

await scenario(`people-offline phase ${process.env.PHASE}`, async (onClose) => {
  if (process.env.PHASE === '1') {
    const bea = await persistentHome(path.join(PROFILES, 'bea'), 'Bea');
    const abe = await persistentHome(path.join(PROFILES, 'abe'), 'Abe');
    onClose(() => abe.closeAll());
    await waitPresence(abe, 'Bea', 'available');
    await bea.closeAll();
    await waitPresence(abe, 'Bea', 'offline');
    log('Bea was here once and is gone; Abe still lists her, offline');

    await sendTo(abe, 'Bea', texts[0]);
    // The rest through the page's own session, paced under signal's 20 per 10 s (a sliding
    // window: the one sent through the panel counts too, so 520 ms could make 21).
    await abe.evaluate(async (rest) => {
      const s = window.meet.session;
      const bea = [...s.people.values()].find((p) => p.name === 'Bea').bare;
      for (const t of rest) {
        s.sendMessage(bea, t);
        await new Promise((r) => setTimeout(r, 600));
      }
    }, texts.slice(1));
    await waitFor('Abe to have sent them all', async () => ((await conversationTexts(abe, 'Bea')) || []).length >= 1, 10000);
    log(`Abe wrote ${N} messages to offline Bea`);

    await abe.click('#people [data-person="Bea"] button[data-action="call"]');
    await waitCallState(abe, 'no-answer');
    log('calling offline Bea ends at once (she will see a missed call)');

    const room = await abe.context().newPage();
    room.on('console', (m) => log(`(Abe in planning) ${m.type()}: ${m.text()}`));
    await room.goto(`${BASE}/planning?name=Abe&autojoin=1`, { waitUntil: 'load' });
    await waitFor('Abe to be in planning', () => room.evaluate(() => !!(window.meet && window.meet.conference.inRoom)), 60000);
    await room.click('#btn-invite');
    await room.click('[data-invite="Bea"] button[data-action="invite-person"]');
    await room.locator('[data-invite="Bea"] button[data-action="invite-person"]:disabled').waitFor({ timeout: 10000 });
    await room.click('button[data-action="close-invite"]');
    await room.waitForTimeout(1000);
    await room.click('#btn-leave');
    log('Abe invited Bea to planning');
    return;
  }

  const bea = await persistentHome(path.join(PROFILES, 'bea'), 'Bea');
  onClose(() => bea.closeAll());
  await waitFor('the unread count', async () => (await unreadOf(bea, 'Abe')) === N, 30000);
  assert((await bea.title()).startsWith(`(${N})`), `the title counts the unread: ${await bea.title()}`);
  await bea.locator('[data-notification="missed-call"][data-from="Abe"]').waitFor({ state: 'visible', timeout: 20000 });
  await bea.locator('[data-notification="invitation"][data-from="Abe"][data-room="planning"]').waitFor({ state: 'visible', timeout: 20000 });
  log('after the restart Bea sees 52 unread, the missed call and the invitation');

  await openConversation(bea, 'Abe');
  const got = await allMessages(bea, 'Abe', N);
  assert(JSON.stringify(got) === JSON.stringify(texts), `all ${N} messages, in order, once: ${JSON.stringify(got)}`);
  await waitFor('reading to clear the count', async () => (await unreadOf(bea, 'Abe')) === 0, 10000);
  await waitFor('the title to clear', async () => !(await bea.title()).startsWith('('), 10000);
  log('the conversation pages backwards through all of them; reading clears the count');

  const abe = await persistentHome(path.join(PROFILES, 'abe'), 'Abe');
  onClose(() => abe.closeAll());
  await waitPresence(abe, 'Bea', 'available');
  await openConversation(abe, 'Bea');
  const his = await allMessages(abe, 'Bea', N);
  assert(JSON.stringify(his) === JSON.stringify(texts), "Abe's history survived the restart");
  await sendTo(bea, 'Abe', 'thanks, read them all');
  await waitFor('Abe to get the answer live', async () => ((await conversationTexts(abe, 'Bea')) || []).includes('thanks, read them all'), 20000);
  log("Abe's history survived; Bea's answer arrives live");
});
