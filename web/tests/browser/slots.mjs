// The slot pool seen by Chromium: Alice's page gets one receiving video m-line per video it
// is forwarded, and when what she watches changes, the bridge moves a slot to another
// participant instead of renegotiating; the page follows the bridge's SourcesMap and shows
// the moved track in the right tile. Alice hides Carol's tile (Carol's video stops, her slot
// goes idle); Dave joins and his video comes on that slot, shown in Dave's tile, with no
// m-line added; Carol shown again needs a third slot.
import { launch, join, joinAll, scenario, assert, waitFor, waitPlaying, log } from './lib.mjs';

// What Alice's page shows of `name`: the mid of the bridge slot its video track is on, who
// the slot map says that slot carries, and frames decoded on it.
const videoOf = (page, name) => page.evaluate(async (n) => {
  const c = window.meet.conference;
  const part = [...c.participants.values()].find((p) => p.name === n);
  const b = c.bridge;
  const stream = part && part.streams && part.streams.bridge;
  const track = stream && stream.getVideoTracks()[0];
  if (!b || !track) return null;
  const tr = b.pc.getTransceivers().find((t) => t.receiver.track === track);
  if (!tr) return null;
  let frames = 0;
  (await tr.receiver.getStats()).forEach((r) => { if (r.type === 'inbound-rtp') frames = r.framesDecoded || 0; });
  return { nick: part.nick, mid: tr.mid, owner: b.slotOwners.get(tr.mid), frames };
}, name);

// Receiving video m-lines of Alice's bridge session.
const videoSlots = (page) => page.evaluate(() => window.meet.conference.bridge.pc.getTransceivers()
  .filter((t) => t.receiver.track.kind === 'video' && !t.stopped && ['recvonly', 'sendrecv'].includes(t.currentDirection)).length);

// Hides (or shows) a participant's tile on the page, as a layout with fewer tiles would.
const setVisible = (page, name, visible) => page.evaluate(([n, v]) => {
  const c = window.meet.conference;
  const part = [...c.participants.values()].find((p) => p.name === n);
  c.ui.tiles.get(part.nick).tile.style.display = v ? '' : 'none';
  c.layoutChanged();
}, [name, visible]);

const flowing = async (page, name) => {
  const a = await videoOf(page, name);
  await new Promise((r) => setTimeout(r, 1000));
  const b = await videoOf(page, name);
  return !!(a && b && b.frames > a.frames && b.mid === a.mid) && b;
};

await scenario('slots', async (onClose) => {
  const browser = await launch();
  onClose(() => browser.close());
  const names = ['Alice', 'Bob', 'Carol'];
  const { room, pages } = await joinAll(browser, 'slots', names);
  for (const n of names) await waitPlaying(pages[n], names.filter((x) => x !== n), 120000);
  const alice = pages.Alice;
  const sid = () => alice.evaluate(() => window.meet.conference.bridge && window.meet.conference.bridge.sid);
  const session = await sid();
  assert((await videoSlots(alice)) === 2, 'two video slots for two others');
  const carolBefore = await videoOf(alice, 'Carol');

  await setVisible(alice, 'Carol', false);
  await waitFor('the bridge to tell Alice that Carol\'s slot is idle', () => alice.evaluate(
    (mid) => window.meet.conference.bridge.slotOwners.get(mid) === null, carolBefore.mid), 20000);
  assert(!(await flowing(alice, 'Carol')), 'no video of Carol while her tile is hidden');

  // Dave joins: Alice's idle slot carries him, no m-line is added for him.
  pages.Dave = await join(browser, room, 'Dave');
  const dave = await waitFor('Dave\'s video on Alice\'s page', () => flowing(alice, 'Dave'), 90000);
  log('Dave on Alice\'s page', JSON.stringify(dave), 'Carol was on', carolBefore.mid);
  assert(dave.mid === carolBefore.mid, `Dave came on Carol's former slot (${dave.mid} vs ${carolBefore.mid})`);
  assert(dave.owner === dave.nick, 'the map names Dave on that slot');
  assert((await videoSlots(alice)) === 2, 'the slot moved; no m-line was added');

  // Carol shown again: no slot is free, so one is added, and Alice sees all three.
  await setVisible(alice, 'Carol', true);
  await waitPlaying(alice, ['Bob', 'Carol', 'Dave'], 60000);
  assert((await videoSlots(alice)) === 3, 'a third slot for the third video');
  for (const n of ['Bob', 'Carol', 'Dave']) {
    const v = await videoOf(alice, n);
    assert(v && v.owner === v.nick, `${n}'s track is on the slot the map names for ${n}: ${JSON.stringify(v)}`);
  }
  assert((await sid()) === session, 'all of it in Alice\'s first bridge session (no rejoin)');
  for (const n of Object.keys(pages)) assert(!pages[n].errors.length, `${n}: no page errors`);
});
