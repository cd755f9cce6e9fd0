// Faults during a meeting (browser_faults.rs kills and restarts each component on request):
// three pages meet; for signal, focus, filestore and web in turn, the component is killed
// with SIGKILL and, a few seconds later, started again. During each outage every page keeps
// playing the others' video (media needs only the bridge); after each restart the chat
// works again by itself, every message sent before is still there (none lost), files still
// go through, and no page was reloaded. Recovery times are logged ("recovered in").
import fs from 'node:fs';
import { launch, join, scenario, assert, waitFor, waitPlaying, log, remoteVideos, screenshot } from './lib.mjs';

const control = process.env.CONTROL_DIR;
const NAMES = ['Ana', 'Ben', 'Cat'];

const chatTexts = (p) => p.evaluate(() => [...document.querySelectorAll('#chat-log .chat-msg[data-kind="text"] .text')].map((e) => e.textContent));
const fileNames = (p) => p.evaluate(() => [...document.querySelectorAll('#chat-log .file .file-name')].map((e) => e.textContent));
const chatUp = (p) => p.evaluate(() => !document.querySelector('#chat-form').hidden);

async function ask(step, done) {
  fs.writeFileSync(`${control}/${step}`, '');
  await waitFor(`the test to do ${step}`, () => fs.existsSync(`${control}/${done}`), 120000, 50);
}

await scenario('faults', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const room = `faults-${Date.now().toString(36)}`;
  const pages = [];
  for (const n of NAMES) pages.push(await join(browser, room, n));
  const others = (p) => NAMES.filter((n) => n !== p.displayName);
  for (const p of pages) await waitPlaying(p, others(p), 120000);
  for (const p of pages) {
    await p.evaluate(() => { window.__loaded = true; });
    await p.click('#btn-side');
    await p.click('.side-tabs button[data-tab="chat"]');
    await waitFor(`${p.displayName}'s chat to connect`, () => chatUp(p), 30000);
  }
  const sent = [];
  const files = [];
  const say = async (p, text) => {
    await waitFor(`${p.displayName}'s chat to be usable`, () => chatUp(p), 60000);
    await p.fill('#chat-input', text);
    await p.press('#chat-input', 'Enter');
    sent.push(text);
  };
  const everyoneHasAll = async (what, timeoutMs = 60000) => {
    for (const p of pages) {
      await waitFor(`${p.displayName} to have ${what}`, async () => {
        const [t, f] = await Promise.all([chatTexts(p), fileNames(p)]);
        return sent.every((s) => t.includes(s)) && files.every((n) => f.includes(n));
      }, timeoutMs);
    }
  };
  await say(pages[0], 'hello before any fault');
  await everyoneHasAll('the first message');

  const recovery = {};
  for (const [i, component] of ['signal', 'focus', 'filestore', 'web'].entries()) {
    const speaker = pages[i % 3];
    await say(speaker, `sent before ${component} was killed`);
    await everyoneHasAll(`the message before ${component} was killed`);
    await ask(`kill-${component}`, `${component}-killed`);
    // The outage: media keeps flowing between all three (it needs only the bridge).
    for (const p of pages) {
      try {
        await waitPlaying(p, others(p), 15000);
      } catch (e) {
        log(`${p.displayName} during the ${component} outage: ${JSON.stringify(await remoteVideos(p))}`);
        await screenshot(p, `faults-${component}-${p.displayName}.png`);
        throw e;
      }
    }
    log(`media kept flowing with ${component} down`);
    await new Promise((r) => setTimeout(r, 2000));
    await ask(`restart-${component}`, `${component}-restarted`);
    const t0 = Date.now();
    // Chat comes back by itself on every page, with nothing lost.
    for (const p of pages) await waitFor(`${p.displayName}'s chat to come back after ${component}`, () => chatUp(p), 60000);
    recovery[component] = (Date.now() - t0) / 1000;
    await say(pages[(i + 1) % 3], `sent after ${component} restarted`);
    await everyoneHasAll(`every message after ${component} restarted`);
    if (component === 'filestore') {
      const name = `after-${component}.txt`;
      await pages[2].setInputFiles('#file-input', { name, mimeType: 'text/plain', buffer: Buffer.from(`file after ${component}`) });
      files.push(name);
      await everyoneHasAll('the file sent after filestore restarted');
    }
    // Settled before the next fault: everyone plays everyone, and still does a moment later
    // (a rejoin renegotiates for a second or two after the first frames).
    for (const p of pages) await waitPlaying(p, others(p), 120000);
    await new Promise((r) => setTimeout(r, 4000));
    for (const p of pages) await waitPlaying(p, others(p), 120000);
    for (const p of pages) assert(await p.evaluate(() => window.__loaded === true), `${p.displayName} was reloaded`);
    log(`recovered in ${recovery[component].toFixed(1)} s (chat on every page) after ${component} restarted`);
  }
  log(`recovery times (s): ${JSON.stringify(recovery)}`);
});
