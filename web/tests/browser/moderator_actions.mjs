// Moderator actions (issue 14, point 2): mute one person (the media stops at the bridge even
// when the page ignores the mute), ask to unmute (the person decides), mute everyone but me,
// remove (the person sees why and is refused again after a reload until allowed back), end
// the meeting for everyone. A non-moderator's requests are refused.
import {
  launch, joinAll, scenario, assert, waitFor, waitPlaying, waitState, waitRootAttr, rootAttr, personAction, roomAction,
  hears, tryAction, log,
} from './lib.mjs';

await scenario('moderator-actions', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Alice', 'Bob', 'Carol'];
  const { pages } = await joinAll(browser, 'modact', names, { inRoomOrder: true });
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  await waitFor('Alice to be moderator', () => pages.Alice.evaluate(() => window.meet.conference.isModerator), 20000);
  // Carol's page ignores mutes (a tampered or broken page): only the bridge can stop her.
  await pages.Carol.evaluate(() => { window.meet.media.setAudioMuted = () => {}; });
  await waitFor('Alice to hear Bob and Carol', async () => (await hears(pages.Alice, 'Bob')) && (await hears(pages.Alice, 'Carol')), 30000);

  // A non-moderator cannot mute anyone.
  assert((await tryAction(pages.Bob, 'mute', { person: 'Alice' }, 'audio')) === 'forbidden', "Bob's mute is refused");
  assert((await rootAttr(pages.Alice, 'data-self-audio')) === 'on', 'Alice stays unmuted');

  await personAction(pages.Alice, 'Carol', 'mute-audio');
  await waitFor("Carol's audio to stop at the bridge", async () => !(await hears(pages.Alice, 'Carol')) && !(await hears(pages.Bob, 'Carol')), 20000);
  assert((await rootAttr(pages.Carol, 'data-self-audio')) === 'on', 'Carol ignored the mute in her page');
  assert(await hears(pages.Alice, 'Bob'), 'Bob is still heard');
  log("Carol's audio stops at the bridge although her page kept sending");

  await personAction(pages.Alice, 'Bob', 'mute-audio');
  await waitRootAttr(pages.Bob, 'data-self-audio', 'off');
  await waitFor("Bob's audio to stop", async () => !(await hears(pages.Alice, 'Bob')), 20000);
  await personAction(pages.Alice, 'Bob', 'ask-to-unmute');
  await waitState(pages.Bob, 'asked-to-unmute');
  assert((await rootAttr(pages.Bob, 'data-self-audio')) === 'off', 'asking does not unmute: Bob decides');
  await pages.Bob.click('[data-state="asked-to-unmute"] button[data-action="unmute"]');
  await waitRootAttr(pages.Bob, 'data-self-audio', 'on');
  await waitFor('Alice to hear Bob again', () => hears(pages.Alice, 'Bob'), 20000);
  log('Bob was muted, asked to unmute, and unmuted himself');

  await personAction(pages.Alice, 'Bob', 'mute-video');
  await waitRootAttr(pages.Bob, 'data-self-video', 'off');
  await pages.Bob.click('#btn-cam');
  await waitRootAttr(pages.Bob, 'data-self-video', 'on');
  await waitPlaying(pages.Alice, ['Bob', 'Carol'], 30000);
  log("Bob's camera was stopped by Alice and started again by Bob");

  await roomAction(pages.Alice, 'mute-everyone');
  await waitRootAttr(pages.Bob, 'data-self-audio', 'off');
  assert((await rootAttr(pages.Alice, 'data-self-audio')) === 'on', 'mute everyone leaves the moderator who asked');
  await waitFor('nobody but Alice to be heard', async () => !(await hears(pages.Carol, 'Bob')) && (await hears(pages.Bob, 'Alice')), 20000);
  log('everyone but Alice is muted');

  // Remove Carol: she sees why, and a reload is refused again until Alice allows her back.
  await personAction(pages.Alice, 'Carol', 'kick');
  const why = await waitState(pages.Carol, 'removed');
  assert(/Alice/.test(why), `Carol is told who removed her: ${why}`);
  await waitFor('Alice to see Carol gone', () => pages.Alice.evaluate(() => !document.querySelector('video[data-participant="Carol"]')), 20000);
  await pages.Carol.reload();
  await waitState(pages.Carol, 'removed');
  const media = await pages.Carol.evaluate(() => window.meet && window.meet.conference.debugState());
  assert(!media || !media.bridge, `a removed page receives no media: ${JSON.stringify(media)}`);
  await pages.Alice.click('[data-action="open-people"]');
  await pages.Alice.click('[data-removed="Carol"] button[data-action="allow-back"]');
  await waitFor('the removed list to empty', () => pages.Alice.evaluate(() => !document.querySelector('[data-removed="Carol"]')), 20000);
  await pages.Carol.reload();
  await waitPlaying(pages.Carol, ['Alice', 'Bob'], 90000);
  log('Carol was removed, refused after a reload, allowed back and rejoined');

  await roomAction(pages.Alice, 'end-meeting');
  for (const n of names) await waitState(pages[n], 'meeting-ended');
  log('Alice ended the meeting for everyone');
});
