// The page's entry: reads /config.json, routes between home (`/`: people, calls,
// conversations), prejoin and the conference, and wires the toolbar.
// `/<room>?name=<display name>&autojoin=1` skips prejoin (ARCHITECTURE.md, "The browser
// page"); `/<room>?jwt=<token>` joins with a token from another application
// (signal/ROOMS.md, section 6); `/?name=<display name>` names a guest on the home page.
// Unless signed in or holding a token, a page is this browser's recognised guest
// (signal/PEOPLE.md): the same person on every visit.

import { LocalMedia } from './media.js';
import { Conference, preconnect } from './conference.js';
import { Ui, el } from './ui.js';
import { ChatPanel } from './chat.js';
import { setIceServers } from './ice.js';
import { Account, RecognisedGuest, TokenHolder } from './auth.js';
import { Gate } from './join.js';
import { PeoplePanel } from './people.js';
import { PersonSession } from './person.js';
import { Calls } from './calls.js';
import { Home } from './home.js';
import { InvitePicker } from './invite.js';

const $ = (sel) => document.querySelector(sel);
const ROOM_RE = /^[a-z0-9_-][a-z0-9_.-]{0,63}$/;

async function main() {
  const config = await (await fetch('/config.json', { cache: 'no-store' })).json();
  setIceServers(config.iceServers);
  const path = decodeURIComponent(location.pathname.slice(1));
  if (!path) return showHome(config);
  const room = path.toLowerCase();
  if (!ROOM_RE.test(room)) return showHome(config, 'That room name is not valid.');
  const params = new URLSearchParams(location.search);
  const media = new LocalMedia();
  let credentials = new RecognisedGuest();
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

/**
 * Home: open a room by name, and, as this browser's person, everyone on the server, calls,
 * conversations, rooms open to join and what waited for us.
 */
async function showHome(config, error) {
  $('#home').hidden = false;
  if (error) $('#home').appendChild(el('p', { class: 'error', text: error }));
  $('#home-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const room = $('#home-room').value.trim().toLowerCase();
    if (ROOM_RE.test(room)) location.assign(`/${encodeURIComponent(room)}`);
  });
  const params = new URLSearchParams(location.search);
  let name = (params.get('name') || localStorage.getItem('meet.displayName') || '').trim().slice(0, 100);
  if (!name) name = await askName();
  localStorage.setItem('meet.displayName', name);
  $('#me').hidden = false;
  for (const s of document.querySelectorAll('.home-people, .home-conversations')) s.hidden = false;
  $('#my-name').value = name;

  const session = new PersonSession({ config, credentials: new RecognisedGuest(), name });
  let home = null;
  const calls = new Calls({ session, root: $('#call-overlay'), startCall: (call) => startCall(config, session, calls, call, () => home) });
  home = new Home({ root: $('#home'), session, calls, openRoom: (room) => location.assign(`/${encodeURIComponent(room)}`) });
  window.meet = { session, calls, home }; // for people debugging in the console (and tests)
  $('#my-name').addEventListener('change', () => {
    const v = $('#my-name').value.trim().slice(0, 100);
    if (!v) return;
    localStorage.setItem('meet.displayName', v);
    session.setName(v);
  });
  $('#my-status').addEventListener('change', () => session.setStatus($('#my-status').value));
  if ('Notification' in window && Notification.permission === 'default') {
    const b = $('#enable-notifications');
    b.hidden = false;
    b.addEventListener('click', async () => {
      await Notification.requestPermission().catch(() => {});
      b.hidden = true;
    });
  }
  addEventListener('popstate', () => { if (!location.pathname.slice(1) && calls.active) calls.end(); });
  try {
    await session.start();
  } catch (e) {
    $('#home').appendChild(el('p', { class: 'error', text: `Cannot sign in as this browser's guest: ${e.message}` }));
  }
}

/** The guest's name, asked once on the home page (then kept in this browser). */
function askName() {
  return new Promise((resolve) => {
    $('#name-form').hidden = false;
    $('#name-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('#name-input').value.trim().slice(0, 100);
      if (!v) return;
      $('#name-form').hidden = true;
      resolve(v);
    });
  });
}

/** A call was accepted: its private room, in this page, joined with the call's password. */
async function startCall(config, session, calls, call, home) {
  const media = new LocalMedia();
  await media.open();
  if (call.media === 'audio') media.setVideoMuted(true);
  history.pushState(null, '', `/${call.room}`);
  const title = `Call with ${call.peerName}`;
  const conf = startConference(config, call.room, session.name, media, session.credentials, {
    password: call.password,
    call,
    title,
    onLeave: () => calls.end(),
  });
  // A call is over when everyone else has left it.
  let someone = false;
  conf.ui.addEventListener('participants', () => {
    if (conf.participants.size > 0) someone = true;
    else if (someone && calls.active && calls.active.conf === conf) calls.end(`${call.peerName} left; the call ended.`);
  });
  conf.addEventListener('outcome', () => { if (calls.active && calls.active.conf === conf) calls.end(); });
  conf.addEventListener('left', () => {
    media.close();
    if (conf.outcome) return; // the gate shows why
    $('#conference').hidden = true;
    $('#home').hidden = false;
    history.pushState(null, '', '/');
    document.title = 'meet-lan';
    const h = home();
    if (h) h.refresh();
  });
  return conf;
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
    startConference(config, room, name, media, credentials, { preconnected: pre });
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

/** What the toolbar acts on: the conference of the moment (a page may hold several in turn). */
const current = { conf: null, ui: null, media: null, onLeave: null };
let chatPanel = null;

function startConference(config, room, name, media, credentials, { preconnected = null, password = null, call = null, title = null, onLeave = null } = {}) {
  $('#home').hidden = true;
  $('#left').hidden = true;
  $('#conference').hidden = false;
  $('#room-title').textContent = title || room;
  document.title = `${title || room} · meet-lan`;
  const ui = new Ui($('#conference'));
  ui.setLocal(name, media.stream);
  const gate = new Gate({ root: $('#gate'), conference: $('#conference') });
  const conf = new Conference({ config, room, displayName: name, media, ui, credentials, gate, preconnected });
  conf.password = password;
  conf.call = call;
  window.meet = { ...(window.meet || {}), conference: conf, ui, media }; // for people debugging in the console
  ui.addEventListener('layout', () => conf.layoutChanged());
  ui.updateLocal({ audioMuted: media.audioMuted, videoMuted: media.videoMuted });
  const first = !current.conf;
  Object.assign(current, { conf, ui, media, onLeave });
  if (first) {
    bindToolbar();
    addEventListener('pagehide', () => { if (current.conf) current.conf.leave(); });
  }
  media.addEventListener('change', refreshToolbar);
  refreshToolbar();
  if (!chatPanel) chatPanel = new ChatPanel({ root: $('#side') });
  chatPanel.attach(conf);
  new PeoplePanel({ conference: conf, media, panel: $('#panel-people'), knocks: $('#knocks'), notices: $('#notices') });
  conf.addEventListener('outcome', (e) => {
    media.close();
    gate.outcome(e.detail);
  });
  conf.join();
  return conf;
}

function refreshToolbar() {
  const { conf, media } = current;
  if (!conf) return;
  const setPressed = (btn, on, onText, offText) => {
    btn.setAttribute('aria-pressed', String(on));
    btn.textContent = on ? onText : offText;
  };
  setPressed($('#btn-mic'), media.audioMuted, 'Unmute', 'Mute');
  setPressed($('#btn-cam'), media.videoMuted, 'Start camera', 'Stop camera');
  setPressed($('#btn-screen'), media.sharing, 'Stop sharing', 'Share screen');
  setPressed($('#btn-hand'), conf.hand, 'Lower hand', 'Raise hand');
  $('#btn-invite').textContent = conf.call ? 'Add person' : 'Invite';
}

/** Binds the toolbar once; every handler acts on `current`. */
function bindToolbar() {
  // Unmuting after a moderator's mute tells signal first (conference.unmuteSelf).
  const toggle = (kind) => {
    const { conf, ui, media } = current;
    const muted = kind === 'audio' ? media.audioMuted : media.videoMuted;
    if (!muted) return kind === 'audio' ? media.setAudioMuted(true) : media.setVideoMuted(true);
    conf.unmuteSelf(kind).catch((e) => {
      ui.status(`Could not unmute: ${e.message}`);
      setTimeout(() => ui.status(''), 4000);
    });
  };
  $('#btn-mic').addEventListener('click', () => toggle('audio'));
  $('#btn-cam').addEventListener('click', () => toggle('video'));
  $('#btn-screen').addEventListener('click', async () => {
    const { ui, media } = current;
    try {
      if (media.sharing) await media.stopScreenShare();
      else await media.startScreenShare();
    } catch (e) {
      ui.status(`Screen sharing failed: ${e.message}`);
      setTimeout(() => ui.status(''), 4000);
    }
  });
  $('#btn-hand').addEventListener('click', () => { current.conf.setHand(!current.conf.hand); refreshToolbar(); });
  for (const b of document.querySelectorAll('.btn-reaction')) {
    b.addEventListener('click', () => current.conf.sendReaction(b.dataset.emoji));
  }
  $('#btn-view').addEventListener('click', () => {
    const speaker = current.ui.view !== 'speaker';
    current.ui.setView(speaker ? 'speaker' : 'tile');
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
  const picker = new InvitePicker({ root: $('#invite-picker'), current });
  $('#btn-invite').addEventListener('click', () => picker.open());
  $('#btn-leave').addEventListener('click', () => {
    if (current.onLeave) {
      current.onLeave();
      return;
    }
    current.conf.leave();
    current.media.close();
    $('#conference').hidden = true;
    $('#left').hidden = false;
    $('#btn-rejoin').addEventListener('click', () => location.reload(), { once: true });
  });
}

main().catch((e) => {
  console.error('page failed to start:', e);
  document.body.appendChild(el('p', { class: 'error', text: `The page failed to start: ${e.message}` }));
});
