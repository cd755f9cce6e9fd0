// Markup from other people is shown as text, never made into elements: three pages in one
// room, two of them named with markup, send chat text, a private message and a file whose
// name is markup. Each page records any call of the payloads' function and every
// Content-Security-Policy violation (an inline handler that the CSP blocked still means the
// client turned text into HTML); both must stay empty, no element made from a payload may
// exist, and the payloads must be visible as text (so the test saw what it checks).
import { launch, join, scenario, assert, waitFor, log, screenshot } from './lib.mjs';

const NAME_A = '<img src=x onerror=__x("name-a")>';
const NAME_B = '<svg onload=__x("name-b")><b>Bo</b>';
const TEXT = '<img src=x onerror=__x("chat")> & <script>__x("script")</script> <a href="javascript:__x(1)">l</a>';
const PRIVATE = '<iframe srcdoc="<script>parent.__x(2)</script>"></iframe> only for Cy';
const FILE = '<img src=x onerror=__x("file")>.txt';

/** Installed before any page script: the trap and the CSP violation log. */
function trap() {
  window.__hits = [];
  window.__x = (what) => window.__hits.push(String(what));
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`));
}

async function openChat(p) {
  await p.click('#btn-side');
  await p.click('.side-tabs button[data-tab="chat"]');
  await waitFor(`${p.displayName}'s chat to connect`, () => p.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
}

async function findings(p) {
  return p.evaluate(() => ({
    hits: window.__hits,
    csp: window.__csp,
    made: [...document.querySelectorAll('img[src="x"], svg[onload], iframe, a[href^="javascript:"], script:not([src]), [onerror], [onload]')]
      .map((e) => e.outerHTML.slice(0, 80)),
    text: document.body.textContent,
  }));
}

await scenario('xss', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `xss-${Date.now().toString(36)}`;
  const setup = (context) => context.addInitScript(trap);
  const a = await join(browser, room, NAME_A, { setup });
  const b = await join(browser, room, NAME_B, { setup });
  const c = await join(browser, room, 'Cy', { setup });
  const pages = [a, b, c];
  for (const p of pages) await openChat(p);

  await a.fill('#chat-input', TEXT);
  await a.press('#chat-input', 'Enter');
  // Bo writes privately to Cy.
  const cyNick = await waitFor('Bo to list Cy', () => b.evaluate(() => [...document.querySelectorAll('#chat-to option')].find((o) => o.textContent === 'Cy')?.value), 30000);
  await b.selectOption('#chat-to', cyNick);
  await b.fill('#chat-input', PRIVATE);
  await b.press('#chat-input', 'Enter');
  await c.setInputFiles('#file-input', { name: FILE, mimeType: 'text/plain', buffer: Buffer.from('<script>__x("content")</script>') });

  // Everything arrives, as text: Cy sees all three, with both names.
  await waitFor('Cy to show every payload as text', () => c.evaluate(({ NAME_A, NAME_B, TEXT, PRIVATE, FILE }) => {
    const t = document.body.textContent;
    return [NAME_A, NAME_B, TEXT, PRIVATE, FILE].every((s) => t.includes(s));
  }, { NAME_A, NAME_B, TEXT, PRIVATE, FILE }), 60000);
  await waitFor('Ada to show the file name and Bo\'s name as text', () => a.evaluate(({ NAME_B, FILE }) => {
    const t = document.body.textContent;
    return t.includes(FILE) && t.includes(NAME_B);
  }, { NAME_B, FILE }), 60000);
  // Remote tiles carry the names too (and as data, not markup).
  await waitFor('Cy to have tiles named with the payloads', () => c.evaluate(({ NAME_A, NAME_B }) => {
    const names = [...document.querySelectorAll('video[data-participant]')].map((v) => v.dataset.participant);
    return names.includes(NAME_A) && names.includes(NAME_B);
  }, { NAME_A, NAME_B }), 60000);
  await new Promise((r) => setTimeout(r, 1500));
  for (const p of pages) {
    const f = await findings(p);
    log(`${p.displayName}: hits ${JSON.stringify(f.hits)}, csp ${JSON.stringify(f.csp)}, made ${JSON.stringify(f.made)}`);
    assert(f.hits.length === 0, `${p.displayName}: a payload ran: ${f.hits}`);
    assert(f.csp.length === 0, `${p.displayName}: the page tried inline code (text became HTML): ${f.csp}`);
    assert(f.made.length === 0, `${p.displayName}: elements made from payloads: ${f.made}`);
    assert(p.errors.length === 0, `${p.displayName}: no uncaught page errors: ${p.errors}`);
  }
  assert(!(await findings(a)).text.includes('only for Cy'), 'the private message stayed private');
  await screenshot(c, 'xss-Cy.png');
});
