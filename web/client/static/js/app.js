// The page's entry: reads /config.json, routes between home (no room), prejoin and the
// conference, and wires the toolbar. `/<room>?name=<display name>&autojoin=1` skips
// prejoin (ARCHITECTURE.md, "The browser page").

import { LocalMedia } from './media.js';
import { Conference, preconnect } from './conference.js';
import { Ui, el } from './ui.js';
import { ChatPanel } from './chat.js';
import { setIceServers } from './ice.js';

const $ = (sel) => document.querySelector(sel);
const ROOM_RE = /^[a-z0-9_-][a-z0-9_.-]{0,63}$/;

async function main() {
  const config = await (await fetch('/config.json', { cache: 'no-store' })).json();
  setIceServers(config.iceServers);
  const path = decodeURIComponent(location.pathname.slice(1));
  if (!path) return showHome();
  const room = path.toLowerCase();
  if (!ROOM_RE.test(room)) return showHome('That room name is not valid.');
  const params = new URLSearchParams(location.search);
  const media = new LocalMedia();
  const presetName = (params.get('name') || localStorage.getItem('meet.displayName') || '').slice(0, 100);
  if (params.get('autojoin') === '1' && presetName) {
    await media.open();
    return startConference(config, room, presetName, media);
  }
  await showPrejoin(config, room, presetName, media);
}

function showHome(error) {
  $('#home').hidden = false;
  if (error) $('#home').appendChild(el('p', { class: 'error', text: error }));
  $('#home-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const room = $('#home-room').value.trim().toLowerCase();
    if (ROOM_RE.test(room)) location.assign(`/${encodeURIComponent(room)}`);
  });
}

async function showPrejoin(config, room, presetName, media) {
  $('#prejoin').hidden = false;
  const pre = preconnect(config);
  pre.catch((e) => console.warn('preconnect failed (the join connects anew):', e.message));
  $('#prejoin-title').textContent = `Join “${room}”`;
  $('#display-name').value = presetName;
  window.meetPrejoin = { media }; // for people debugging in the console
  await media.open();
  $('#preview').srcObject = media.stream;
  const fill = async () => {
    const d = await media.devices();
    for (const [sel, list, current] of [['#camera-select', d.video, media.cameraTrack], ['#mic-select', d.audio, media.audioTrack]]) {
      const s = $(sel);
      s.replaceChildren(...list.map((dev, i) => el('option', { value: dev.deviceId, text: dev.label || `Device ${i + 1}` })));
      const id = current && current.getSettings().deviceId;
      if (id) s.value = id;
    }
  };
  await fill();
  $('#camera-select').addEventListener('change', async (e) => { await media.useDevice('video', e.target.value); $('#preview').srcObject = media.stream; });
  $('#mic-select').addEventListener('change', (e) => media.useDevice('audio', e.target.value));
  $('#prejoin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('#display-name').value.trim();
    if (!name) return;
    localStorage.setItem('meet.displayName', name);
    media.setAudioMuted($('#prejoin-mic').checked);
    media.setVideoMuted($('#prejoin-cam').checked);
    $('#prejoin').hidden = true;
    startConference(config, room, name, media, pre);
  }, { once: true });
}

function startConference(config, room, name, media, preconnected = null) {
  $('#conference').hidden = false;
  $('#room-title').textContent = room;
  document.title = `${room} · meet-lan`;
  const ui = new Ui($('#conference'));
  ui.setLocal(name, media.stream);
  const conf = new Conference({ config, room, displayName: name, media, ui, preconnected });
  window.meet = { conference: conf, ui, media }; // for people debugging in the console
  ui.addEventListener('layout', () => conf.layoutChanged());
  ui.updateLocal({ audioMuted: media.audioMuted, videoMuted: media.videoMuted });
  bindToolbar(conf, ui, media);
  new ChatPanel({ conference: conf, root: $('#side') });
  addEventListener('pagehide', () => conf.leave());
  conf.join();
}

function bindToolbar(conf, ui, media) {
  const setPressed = (btn, on, onText, offText) => {
    btn.setAttribute('aria-pressed', String(on));
    btn.textContent = on ? onText : offText;
  };
  const refresh = () => {
    setPressed($('#btn-mic'), media.audioMuted, 'Unmute', 'Mute');
    setPressed($('#btn-cam'), media.videoMuted, 'Start camera', 'Stop camera');
    setPressed($('#btn-screen'), media.sharing, 'Stop sharing', 'Share screen');
    setPressed($('#btn-hand'), conf.hand, 'Lower hand', 'Raise hand');
  };
  media.addEventListener('change', refresh);
  refresh();
  $('#btn-mic').addEventListener('click', () => media.setAudioMuted(!media.audioMuted));
  $('#btn-cam').addEventListener('click', () => media.setVideoMuted(!media.videoMuted));
  $('#btn-screen').addEventListener('click', async () => {
    try {
      if (media.sharing) await media.stopScreenShare();
      else await media.startScreenShare();
    } catch (e) {
      ui.status(`Screen sharing failed: ${e.message}`);
      setTimeout(() => ui.status(''), 4000);
    }
  });
  $('#btn-hand').addEventListener('click', () => { conf.setHand(!conf.hand); refresh(); });
  for (const b of document.querySelectorAll('.btn-reaction')) {
    b.addEventListener('click', () => conf.sendReaction(b.dataset.emoji));
  }
  $('#btn-view').addEventListener('click', () => {
    const speaker = ui.view !== 'speaker';
    ui.setView(speaker ? 'speaker' : 'tile');
    $('#btn-view').textContent = speaker ? 'Tile view' : 'Speaker view';
  });
  $('#btn-side').addEventListener('click', () => {
    const side = $('#side');
    side.hidden = !side.hidden;
    $('#btn-side').setAttribute('aria-pressed', String(!side.hidden));
  });
  for (const tab of document.querySelectorAll('.side-tabs button')) {
    tab.addEventListener('click', () => {
      for (const p of document.querySelectorAll('#side .panel')) p.hidden = p.id !== `panel-${tab.dataset.panel}`;
    });
  }
  $('#btn-leave').addEventListener('click', () => {
    conf.leave();
    media.close();
    $('#conference').hidden = true;
    $('#left').hidden = false;
    $('#btn-rejoin').addEventListener('click', () => location.reload(), { once: true });
  });
}

main().catch((e) => {
  console.error('page failed to start:', e);
  document.body.appendChild(el('p', { class: 'error', text: `The page failed to start: ${e.message}` }));
});
