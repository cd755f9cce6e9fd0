// The page's entry: reads /config.json, routes between home (no room), prejoin and the
// conference, and wires the toolbar. `/<room>?name=<display name>&autojoin=1` skips
// prejoin (ARCHITECTURE.md, "The browser page"); `/<room>?jwt=<token>` joins with a token
// from another application (signal/ROOMS.md, section 6).

import { LocalMedia } from './media.js';
import { Conference, preconnect } from './conference.js';
import { Ui, el } from './ui.js';
import { ChatPanel } from './chat.js';
import { setIceServers } from './ice.js';
import { Account, Guest, TokenHolder } from './auth.js';
import { Gate } from './join.js';
import { PeoplePanel } from './people.js';

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
  let credentials = new Guest();
  const jwt = params.get('jwt');
  if (jwt) {
    credentials = new TokenHolder(jwt);
    // The token stays in memory only, not in the address bar or the history.
    params.delete('jwt');
    history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
  } else if (config.authMode === 'token') {
    return new Gate({ root: $('#gate'), conference: $('#conference') }).outcome({
      state: 'token-refused',
      text: 'This server admits people with a link from your organisation\'s application: open the meeting from there.',
    });
  }
  const presetName = (credentials.name || params.get('name') || localStorage.getItem('meet.displayName') || '').slice(0, 100);
  if (params.get('autojoin') === '1' && presetName) {
    await media.open();
    return startConference(config, room, presetName, media, credentials);
  }
  await showPrejoin(config, room, presetName, media, credentials);
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

async function showPrejoin(config, room, presetName, media, credentials) {
  $('#prejoin').hidden = false;
  let pre = preconnect(config, credentials);
  pre.catch((e) => console.warn('preconnect failed (the join connects anew):', e.message));
  $('#prejoin-title').textContent = `Join “${room}”`;
  $('#display-name').value = presetName;
  if (credentials.kind === 'token') $('#display-name').readOnly = true; // the token names us
  if (config.authMode === 'accounts' && credentials.kind === 'guest') {
    bindSignIn(config, (account, connected) => {
      credentials = account;
      pre.then((x) => x.close(), () => {});
      pre = Promise.resolve(connected);
      if (!$('#display-name').value.trim()) $('#display-name').value = account.username;
    });
  }
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
    startConference(config, room, name, media, credentials, pre);
  }, { once: true });
}

/**
 * Sign-in on the prejoin screen (`AUTH_MODE=accounts`): SCRAM-SHA-1 over the page's own
 * WebSocket to auth.<domain>. On success `done(account, connection)`: the join uses that
 * connection. The password field is emptied either way; nothing is stored.
 */
function bindSignIn(config, done) {
  $('#sign-in').hidden = false;
  const status = $('#sign-in-status');
  const say = (state, text) => {
    status.hidden = false;
    status.dataset.state = state;
    status.className = state === 'sign-in-refused' ? 'error' : 'hint';
    status.textContent = text;
  };
  $('#sign-in-button').addEventListener('click', async () => {
    const user = $('#sign-in-user').value.trim();
    const password = $('#sign-in-password').value;
    $('#sign-in-password').value = '';
    if (!user || !password) return say('sign-in-refused', 'Type your account name and password.');
    const button = $('#sign-in-button');
    button.disabled = true;
    say('signing-in', 'Signing in…');
    const account = new Account(user, password);
    try {
      const xmpp = await preconnect(config, account);
      say('signed-in', `Signed in as ${account.username}.`);
      $('#sign-in-fields').hidden = true;
      done(account, xmpp);
    } catch (e) {
      say('sign-in-refused', e.condition === 'sasl-not-authorized' ? 'Wrong account name or password.' : `Sign-in failed: ${e.message}`);
      button.disabled = false;
    }
  });
}

function startConference(config, room, name, media, credentials, preconnected = null) {
  $('#conference').hidden = false;
  $('#room-title').textContent = room;
  document.title = `${room} · meet-lan`;
  const ui = new Ui($('#conference'));
  ui.setLocal(name, media.stream);
  const gate = new Gate({ root: $('#gate'), conference: $('#conference') });
  const conf = new Conference({ config, room, displayName: name, media, ui, credentials, gate, preconnected });
  window.meet = { conference: conf, ui, media }; // for people debugging in the console
  ui.addEventListener('layout', () => conf.layoutChanged());
  ui.updateLocal({ audioMuted: media.audioMuted, videoMuted: media.videoMuted });
  bindToolbar(conf, ui, media);
  new ChatPanel({ conference: conf, root: $('#side') });
  new PeoplePanel({ conference: conf, media, panel: $('#panel-people'), knocks: $('#knocks'), notices: $('#notices') });
  conf.addEventListener('outcome', (e) => {
    media.close();
    gate.outcome(e.detail);
  });
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
  // Unmuting after a moderator's mute tells signal first (conference.unmuteSelf).
  const toggle = (kind, muted) => {
    if (!muted) return kind === 'audio' ? media.setAudioMuted(true) : media.setVideoMuted(true);
    conf.unmuteSelf(kind).catch((e) => {
      ui.status(`Could not unmute: ${e.message}`);
      setTimeout(() => ui.status(''), 4000);
    });
  };
  $('#btn-mic').addEventListener('click', () => toggle('audio', media.audioMuted));
  $('#btn-cam').addEventListener('click', () => toggle('video', media.videoMuted));
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
  const showPanel = (name) => {
    for (const p of document.querySelectorAll('#side .panel')) p.hidden = p.id !== `panel-${name}`;
  };
  for (const tab of document.querySelectorAll('.side-tabs button')) {
    tab.addEventListener('click', () => showPanel(tab.dataset.tab));
  }
  $('#btn-people').addEventListener('click', () => {
    $('#side').hidden = false;
    $('#btn-side').setAttribute('aria-pressed', 'true');
    showPanel('people');
  });
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
