// The page itself: prejoin with a camera preview and device lists; markup in a display
// name stays text; a bad room path gets no page; only the static set is served.
import { launch, join, scenario, assert, waitFor, log, screenshot, BASE } from './lib.mjs';

await scenario('page_loads', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());

  const page = await join(browser, 'prejoin-room', 'Ada', { autojoin: false });
  await waitFor('the camera preview', () => page.evaluate(() => {
    const v = document.querySelector('#preview');
    return !document.querySelector('#prejoin').hidden && v.videoWidth > 0;
  }), 30000);
  const devices = await page.evaluate(() => ({
    cams: document.querySelectorAll('#camera-select option').length,
    mics: document.querySelectorAll('#mic-select option').length,
    name: document.querySelector('#display-name').value,
  }));
  log('devices', JSON.stringify(devices));
  assert(devices.cams >= 1 && devices.mics >= 1, 'camera and microphone lists are filled');
  assert(devices.name === 'Ada', 'the name from the URL is prefilled');
  await screenshot(page, 'prejoin.png');

  // Device choice: picking another microphone switches the track the page will send.
  const mics = await page.evaluate(() => [...document.querySelectorAll('#mic-select option')].map((o) => o.value));
  assert(mics.length > 1, "Chromium's fake devices offer several microphones");
  {
    const before = await page.evaluate(() => window.meetPrejoin?.media.audioTrack.getSettings().deviceId);
    const target = mics.find((m) => m !== before && m !== 'default' && m !== 'communications') || mics.find((m) => m !== before);
    await page.selectOption('#mic-select', target);
    await waitFor('the microphone to switch', () => page.evaluate((t) => window.meetPrejoin.media.audioTrack.getSettings().deviceId === t, target), 10000);
    log('microphone switched to', target);
  }

  // Markup as a display name: joined, it must appear as text and never become an element.
  const evil = '<img src=x onerror="window.pwned=1"><b>Bob</b>';
  await page.fill('#display-name', evil);
  await page.click('#join-button');
  await waitFor('the conference view', () => page.evaluate(() => !document.querySelector('#conference').hidden), 10000);
  const local = await page.evaluate(() => ({
    label: document.querySelector('.tile.local .name').textContent,
    imgs: document.querySelectorAll('#conference img').length,
    bolds: document.querySelectorAll('#conference b').length,
    pwned: window.pwned === 1,
  }));
  log('local tile', JSON.stringify(local));
  assert(local.label.includes(evil), 'the display name is shown literally');
  assert(local.imgs === 0 && local.bolds === 0 && !local.pwned, 'no element was created from the name');

  // Alone in the room, nobody watches: the bridge says so and the page stops encoding.
  const paused = await waitFor('the lone page to pause its video encodings', () => page.evaluate(() => {
    const b = window.meet.conference.bridge;
    const enc = b && b.videoSender && b.videoSender.getParameters().encodings;
    return enc && enc.length === 3 && enc.every((e) => e.active === false) && enc.map((e) => e.rid);
  }), 20000);
  log('lone participant paused encodings', JSON.stringify(paused));

  // A room path with markup gets a plain error, not the page, and is not reflected.
  const res = await page.request.get(`${BASE}/%3Cscript%3Ealert(1)%3C%2Fscript%3E`);
  assert(res.status() === 400, `bad room name answered ${res.status()}`);
  const body = await res.text();
  assert(!body.includes('<script>'), 'the bad room name is not reflected');
  assert(assertNoErrors(page), 'no uncaught page errors');
});

function assertNoErrors(page) {
  if (page.errors.length) log('page errors:', page.errors.join('\n'));
  return page.errors.length === 0;
}
