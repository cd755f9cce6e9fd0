// Shared helpers of the browser scenarios: Debian's Chromium driven by playwright-core with
// the flags of FIELD_NOTES.md (fake camera and microphone, loopback ICE, no background
// networking), pages joined with ?name=..&autojoin=1, and probes that read the page the
// way a person would see it (a remote <video data-participant> whose decoded frames grow).

import path from 'node:path';
import fs from 'node:fs';
import { createHash } from 'node:crypto';

const modules = process.env.MEET_NODE_MODULES;
if (!modules) throw new Error('MEET_NODE_MODULES is not set');
const { chromium } = await import(path.join(modules, 'playwright-core', 'index.mjs'));

export const BASE = process.env.BASE_URL;
export const ARTIFACTS = process.env.ARTIFACTS_DIR || 'artifacts';
if (!BASE) throw new Error('BASE_URL is not set');

export function log(...args) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...args);
}

/**
 * One headless Chromium (playwright gives each launch an empty profile). `grantMedia: false`
 * answers camera and microphone prompts with "no" (a machine without them).
 */
export async function launch({ grantMedia = true } = {}) {
  const args = [
    '--headless=new', '--no-sandbox', '--disable-gpu',
    '--use-fake-device-for-media-stream', ...(grantMedia ? ['--use-fake-ui-for-media-stream'] : []),
    '--allow-loopback-in-peer-connection',
    '--autoplay-policy=no-user-gesture-required',
    '--ignore-certificate-errors', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run', '--auto-select-desktop-capture-source=Entire screen',
  ];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
    ignoreDefaultArgs: ['--mute-audio'],
    timeout: 60000,
  });
  return browser;
}

/** A new participant page: its own context (storage), console mirrored to our stdout. */
export async function join(browser, room, name, { autojoin = true, viewport = { width: 960, height: 540 }, setup = null } = {}) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  // `setup(context)` runs before the page loads (e.g. to route its WebSocket).
  if (setup) await setup(context);
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => {
    if (['error', 'warning', 'info', 'log'].includes(m.type())) log(`(${name}) ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => { page.errors.push(String(e)); log(`(${name}) PAGE ERROR: ${e}`); });
  const q = new URLSearchParams({ name, ...(autojoin ? { autojoin: '1' } : {}) });
  await page.goto(`${BASE}/${room}?${q}`, { waitUntil: 'load' });
  page.displayName = name;
  return page;
}

/** Remote videos on `page`: their data-participant and decoded frame counts. */
/**
 * Everyone in `names` joins a fresh room `<prefix>-<time>`, in order; `options` as for `join`.
 * With `inRoomOrder: true` each page is in the room before the next one loads (the first is
 * then surely the room's first person, its moderator).
 */
export async function joinAll(browser, prefix, names, options = {}) {
  const room = `${prefix}-${Date.now().toString(36)}`;
  const pages = {};
  for (const n of names) {
    pages[n] = await join(browser, room, n, options);
    if (options.inRoomOrder) await waitJoined(pages[n]);
  }
  return { room, pages };
}

/** Waits until `page` has joined its room. */
export function waitJoined(page, timeoutMs = 60000) {
  return waitFor(`${page.displayName} to be in the room`, () => page.evaluate(() => !!(window.meet && window.meet.conference.joinedOnce)), timeoutMs);
}

export function remoteVideos(page) {
  return page.evaluate(() => [...document.querySelectorAll('video[data-participant]')].map((v) => ({
    participant: v.dataset.participant,
    width: v.videoWidth,
    height: v.videoHeight,
    frames: v.getVideoPlaybackQuality().totalVideoFrames,
    time: v.currentTime,
    tile: v.closest('.tile') ? { ...v.closest('.tile').dataset } : null,
  })));
}

export async function waitFor(what, fn, timeoutMs = 60000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last && last.message ? last.message : last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Waits until `page` shows exactly the remote participants `names`, each with a video whose
 * decoded frame count grows between two looks (a frozen video keeps its count).
 */
export async function waitPlaying(page, names, timeoutMs = 90000) {
  const want = [...names].sort();
  return waitFor(`${page.displayName} to play ${want.join(', ')}`, async () => {
    const a = await remoteVideos(page);
    if (JSON.stringify(a.map((v) => v.participant).sort()) !== JSON.stringify(want)) return false;
    if (a.some((v) => v.width === 0)) return false;
    await new Promise((r) => setTimeout(r, 700));
    const b = await remoteVideos(page);
    for (const v of b) {
      const before = a.find((x) => x.participant === v.participant);
      if (!before || v.width === 0 || !(v.frames > before.frames || (v.frames > 0 && v.frames < before.frames))) return false;
    }
    return b;
  }, timeoutMs);
}

export async function screenshot(page, file) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const p = path.join(ARTIFACTS, file);
  await page.screenshot({ path: p });
  log(`screenshot ${p}`);
}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** Runs `main`, prints PASS/FAIL, exits non-zero on failure; closes what it registered. */
export async function scenario(name, main) {
  const closers = [];
  const t0 = Date.now();
  let code = 0;
  try {
    await main((c) => closers.push(c));
    log(`PASS ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    log(`FAIL ${name}: ${e.stack || e}`);
    code = 1;
  }
  for (const c of closers.reverse()) {
    try { await c(); } catch (_) { /* closing anyway */ }
  }
  process.exit(code);
}

/** Opens the side panel's chat on `page` and waits until it is connected. */
export async function openChat(page) {
  await page.click('#btn-side');
  await page.click('.side-tabs button[data-tab="chat"]');
  await waitFor(`${page.displayName}'s chat to connect`, () => page.evaluate(() => !document.querySelector('#chat-form').hidden), 30000);
}

/** `page`'s chat log, oldest first (each message's text or file's name), once it holds `n` items. */
export function chatHistory(page, n) {
  return waitFor(`${page.displayName} to see ${n} chat items`, () => page.evaluate((n) => {
    const items = [...document.querySelectorAll('#chat-log .chat-msg')].map((m) => m.querySelector('.text, .file-name')?.textContent);
    return items.length >= n && items;
  }, n), 30000);
}

/** Clicks the download link of the file card `name` in `page`'s chat; the saved bytes. */
export async function downloadFile(page, name) {
  const download = page.waitForEvent('download');
  await page.evaluate((n) => [...document.querySelectorAll('#chat-log .file')]
    .find((f) => f.querySelector('.file-name').textContent === n).querySelector('.download').click(), name);
  return fs.readFileSync(await (await download).path());
}

export const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** What chat.mjs sends, so that a later run (chat_kept.mjs) can check the server kept it. */
export const CHAT_SAMPLE = {
  text: 'hello <b>bold</b> & <script>alert(1)</script>',
  fileName: 'notes <1>.bin',
  bytes: () => Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 7) % 251)),
  dropped: { name: 'dropped.txt', text: 'dropped bytes' },
};

// --- rooms an organisation can trust (signal/ROOMS.md): the page hooks of ARCHITECTURE.md ---

/** Waits until `page` shows an element carrying `data-state="<state>"`; returns its text. */
export async function waitState(page, state, timeoutMs = 30000) {
  const loc = page.locator(`[data-state="${state}"]`).first();
  await loc.waitFor({ state: 'visible', timeout: timeoutMs });
  return loc.innerText();
}

/** The role `page` shows for `name` in its people panel ('moderator', 'participant', or null). */
export function roleOf(page, name) {
  return page.evaluate((n) => {
    const e = [...document.querySelectorAll('[data-panel="people"] [data-person]')].find((x) => x.dataset.person === n);
    return e ? e.dataset.role : null;
  }, name);
}

/** Waits until `page` lists exactly these roles: { name: role }. */
export function waitRoles(page, want, timeoutMs = 30000) {
  return waitFor(`${page.displayName} to list ${JSON.stringify(want)}`, async () => {
    for (const [n, r] of Object.entries(want)) if ((await roleOf(page, n)) !== r) return false;
    return true;
  }, timeoutMs);
}

/** Opens the people panel and clicks `action` in `name`'s entry (a per-person action). */
export async function personAction(page, name, action) {
  await page.click('[data-action="open-people"]');
  await page.click(`[data-panel="people"] [data-person="${name}"] button[data-action="${action}"]`);
}

/** Opens the people panel and clicks a room-wide moderator action. */
export async function roomAction(page, action) {
  await page.click('[data-action="open-people"]');
  await page.click(`button[data-action="${action}"]`);
}

/** A page attribute on the root (`data-self-audio`, `data-room-locked`, `data-lobby`…). */
export function rootAttr(page, name) {
  return page.evaluate((a) => document.documentElement.getAttribute(a), name);
}

export function waitRootAttr(page, name, value, timeoutMs = 20000) {
  return waitFor(`${page.displayName} to carry ${name}=${value}`, async () => (await rootAttr(page, name)) === value, timeoutMs);
}

/** Audio packets `page` has received from `name` so far (its bridge or P2P receiver). */
export function audioPacketsFrom(page, name) {
  return page.evaluate(async (n) => {
    const part = [...window.meet.conference.participants.values()].find((p) => p.name === n);
    const stream = part && part.shown;
    const track = stream && stream.getAudioTracks()[0];
    if (!track) return null;
    const recv = stream.session.pc.getReceivers().find((r) => r.track === track);
    if (!recv) return null;
    let packets = 0;
    (await recv.getStats()).forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'audio') packets = r.packetsReceived; });
    return packets;
  }, name);
}

/** True when `page` receives `name`'s audio: the packet count grows within a second and a half. */
export async function hears(page, name) {
  const a = await audioPacketsFrom(page, name);
  await new Promise((r) => setTimeout(r, 1500));
  const b = await audioPacketsFrom(page, name);
  return a !== null && b !== null && b > a;
}

/** Calls a moderator action of the page's own conference API, bypassing the buttons (as a
 * tampered page would); resolves 'accepted' or the stanza error's condition. */
export function tryAction(page, method, ...args) {
  return page.evaluate(async ([m, a]) => {
    const conf = window.meet.conference;
    const nickOf = (name) => (name === conf.displayName ? conf.nick : ([...conf.participants.values()].find((p) => p.name === name) || {}).nick || name);
    try {
      await conf[m](...a.map((x) => (typeof x === 'object' && x && x.person ? nickOf(x.person) : x)));
      return 'accepted';
    } catch (e) {
      return e.condition || e.message;
    }
  }, [method, args]);
}

// --- people on the LAN (signal/PEOPLE.md): the home page's hooks ---------------------------

/** A person's home page `/?name=<name>` in its own context (its own guest key). */
export async function home(browser, name, { context = null } = {}) {
  const ctx = context || await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 720 } });
  const page = await ctx.newPage();
  page.errors = [];
  page.displayName = name;
  page.on('console', (m) => {
    if (['error', 'warning', 'info', 'log'].includes(m.type())) log(`(${name}) ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => { page.errors.push(String(e)); log(`(${name}) PAGE ERROR: ${e}`); });
  await page.goto(`${BASE}/?${new URLSearchParams({ name })}`, { waitUntil: 'load' });
  return page;
}

/**
 * A person whose browser profile lives in `dir`, so that the same guest key (the same
 * person) comes back in a later run: a persistent Chromium context.
 */
export async function persistentHome(dir, name) {
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 720 },
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required', '--ignore-certificate-errors',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    ignoreDefaultArgs: ['--mute-audio'],
    timeout: 60000,
  });
  const page = await home(null, name, { context });
  page.closeAll = () => context.close();
  return page;
}

/** The presence `page` shows for `name` on its home page, or null when not listed. */
export function presenceOf(page, name) {
  return page.evaluate((n) => {
    const e = [...document.querySelectorAll('#people [data-person]')].find((x) => x.dataset.person === n);
    return e ? e.dataset.presence : null;
  }, name);
}

export function waitPresence(page, name, state, timeoutMs = 30000) {
  return waitFor(`${page.displayName} to see ${name} ${state}`, async () => (await presenceOf(page, name)) === state, timeoutMs);
}

/** The texts of the messages `page` shows in its conversation with `name`, oldest first. */
export function conversationTexts(page, name) {
  return page.evaluate((n) => {
    const c = [...document.querySelectorAll('[data-conversation]')].find((x) => x.dataset.conversation === n);
    return c ? [...c.querySelectorAll('[data-message]')].map((m) => (m.querySelector('.text') || m.querySelector('.file-name') || m).textContent) : null;
  }, name);
}

export function unreadOf(page, name) {
  return page.evaluate((n) => {
    const c = [...document.querySelectorAll('[data-conversation]')].find((x) => x.dataset.conversation === n);
    return c ? Number(c.dataset.unread) : null;
  }, name);
}

/** Opens the conversation with `name` from its entry in the people list and sends `text`. */
export async function sendTo(page, name, text) {
  if (!(await page.locator(`[data-conversation="${name}"] textarea[data-field="message"]`).isVisible())) {
    await page.click(`#people [data-person="${name}"] button[data-action="message"]`);
  }
  await page.fill(`[data-conversation="${name}"] textarea[data-field="message"]`, text);
  await page.click(`[data-conversation="${name}"] button[data-action="send"]`);
}

export function callState(page) {
  return page.evaluate(() => { const e = document.querySelector('[data-call-state]'); return e ? e.dataset.callState : null; });
}

export function waitCallState(page, state, timeoutMs = 30000) {
  return waitFor(`${page.displayName} to show call state ${state}`, async () => (await callState(page)) === state, timeoutMs);
}
