// Tokens from another application (issue 14, point 6; AUTH_MODE=token): `/<room>?jwt=…`
// joins with the token's name, avatar and moderator flag; a page without a token, with an
// expired one, one for another room or one with a bad signature gets a clear page and never
// a half-joined room. The tokens come from the test (TOKENS, JSON).
import { BASE, launch, scenario, assert, waitPlaying, waitState, waitRoles, log } from './lib.mjs';

const T = JSON.parse(process.env.TOKENS);
const ROOM = process.env.TOKEN_ROOM;

async function open(browser, path, label) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 960, height: 540 } });
  const page = await context.newPage();
  page.displayName = label;
  page.on('console', (m) => { if (m.type() !== 'debug') log(`(${label}) ${m.type()}: ${m.text()}`); });
  await page.goto(`${BASE}${path}`, { waitUntil: 'load' });
  return page;
}

await scenario('tokens', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());

  const none = await open(browser, `/${ROOM}?name=Nobody&autojoin=1`, 'no token');
  await waitState(none, 'token-refused');
  for (const [what, token, why] of [['expired', T.expired, /expired/i], ['other room', T.otherRoom, /room/i], ['bad signature', T.badSignature, /signature|invalid/i]]) {
    const p = await open(browser, `/${ROOM}?jwt=${token}&autojoin=1`, what);
    const text = await waitState(p, 'token-refused');
    assert(why.test(text), `${what}: the page says why: ${text}`);
    const st = await p.evaluate(() => window.meet && window.meet.conference.debugState());
    assert(!st || (!st.joined && !st.bridge), `${what}: no half-joined room: ${JSON.stringify(st)}`);
    assert(!p.url().includes('jwt='), 'the token leaves the address bar');
  }
  log('no token, expired, other room and bad signature: each a clear page');

  const mona = await open(browser, `/${ROOM}?jwt=${T.moderator}&name=Fake&autojoin=1`, 'Mona');
  const pat = await open(browser, `/${ROOM}?jwt=${T.participant}&autojoin=1`, 'Pat');
  await waitPlaying(mona, ['Pat Participant'], 120000);
  await waitPlaying(pat, ['Mona Moderator'], 60000);
  for (const p of [mona, pat]) await waitRoles(p, { 'Mona Moderator': 'moderator', 'Pat Participant': 'participant' });
  const avatar = await pat.evaluate(() => { const i = document.querySelector('[data-person="Mona Moderator"] img.avatar-img'); return i && i.getAttribute('src'); });
  assert(avatar === `${BASE}/favicon.ico`, `the token's avatar is shown: ${avatar}`);
  log("names, avatar and moderator flag come from the tokens (Mona's ?name=Fake is ignored)");
});
