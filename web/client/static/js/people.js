// The people panel and what moderators do there (signal/ROOMS.md): everyone in the room with
// their role and media state; for moderators, per-person actions (mute, ask to unmute, make
// moderator, remove), room-wide ones (mute everyone, lobby, password, end the meeting), the
// lobby's knocks and the removed list. It only shows what signal allows: the buttons appear
// for moderators, and signal refuses the requests of anyone else.
//
// Outside tests drive it through the `data-` hooks of ARCHITECTURE.md ("Page hooks"). Every
// name is set as text, never as HTML.

import { el } from './ui.js';

export class PeoplePanel {
  constructor({ conference, media, panel, knocks, notices }) {
    this.conf = conference;
    this.media = media;
    this.panel = panel;
    this.list = panel.querySelector('#participant-list');
    this.tools = panel.querySelector('#moderator-tools');
    this.removedBox = panel.querySelector('#removed-list');
    this.knocksBox = knocks;
    this.notices = notices;
    this.count = document.querySelector('#participant-count');
    const render = () => this.render();
    conference.addEventListener('room', render);
    conference.addEventListener('joined', render);
    conference.ui.addEventListener('list', render);
    media.addEventListener('change', render);
    conference.addEventListener('ask-unmute', (e) => this.#askedToUnmute(e.detail));
    this.render();
  }

  /** Runs a moderator action; a refusal is shown (signal says why). */
  async #act(what, fn) {
    try {
      await fn();
    } catch (e) {
      this.notice(`${what}: ${e.text || e.message}`);
    }
  }

  notice(text) {
    const n = el('div', { class: 'notice', role: 'status', text });
    this.notices.appendChild(n);
    setTimeout(() => n.remove(), 6000);
  }

  render() {
    const conf = this.conf;
    const mod = conf.isModerator;
    const root = document.documentElement;
    root.dataset.selfAudio = this.media.audioMuted || !this.media.audioTrack ? 'off' : 'on';
    root.dataset.selfVideo = this.media.videoMuted || !this.media.currentVideoTrack() ? 'off' : 'on';
    root.dataset.roomLocked = String(conf.roomState.locked);
    root.dataset.lobby = conf.roomState.lobby ? 'on' : 'off';
    root.dataset.selfRole = conf.self.role;

    const people = [{
      self: true,
      nick: conf.nick,
      name: conf.displayName,
      role: conf.self.role,
      audioMuted: this.media.audioMuted,
      videoMuted: this.media.videoMuted,
      hand: conf.hand,
      forced: conf.self.forced,
      avatar: conf.self.avatar,
    }, ...conf.participants.values()];
    this.list.replaceChildren(...people.map((p) => this.#entry(p, mod)));
    if (this.count) this.count.textContent = String(people.length);
    this.#renderTools(mod);
    this.#renderRemoved(mod);
    this.#renderKnocks(mod);
  }

  #entry(p, mod) {
    const role = p.role === 'moderator' ? 'moderator' : 'participant';
    const states = `${p.hand ? '✋ ' : ''}${p.audioMuted ? '🔇' : '🎤'}${p.videoMuted ? ' 🚫📷' : ' 📷'}`;
    const li = el('li', {
      'data-person': p.name,
      'data-role': role,
      'data-nick': p.self ? 'local' : p.nick,
      'data-hand-raised': String(!!p.hand),
      'data-forced-audio': String(!!(p.forced && p.forced.audio)),
    }, [
      p.avatar ? el('img', { class: 'avatar-img', src: p.avatar, alt: '', referrerpolicy: 'no-referrer' }) : null,
      el('span', { class: 'who', text: p.self ? `${p.name} (you)` : p.name }),
      role === 'moderator' ? el('span', { class: 'role', title: 'Moderator', text: '★' }) : null,
      el('span', { class: 'states', text: states }),
    ]);
    if (mod && !p.self) {
      const b = (action, text, fn) => el('button', { type: 'button', 'data-action': action, text, onclick: () => this.#act(text, fn) });
      li.appendChild(el('span', { class: 'person-actions' }, [
        b('mute-audio', 'Mute', () => this.conf.mute(p.nick, 'audio')),
        b('mute-video', 'Stop video', () => this.conf.mute(p.nick, 'video')),
        b('ask-to-unmute', 'Ask to unmute', () => this.conf.askToUnmute(p.nick, 'audio')),
        role === 'moderator' ? null : b('make-moderator', 'Make moderator', () => this.conf.makeModerator(p.nick)),
        b('kick', 'Remove', () => this.conf.kick(p.nick)),
      ]));
    }
    return li;
  }

  #renderTools(mod) {
    this.tools.hidden = !mod;
    if (!mod) {
      this.tools.replaceChildren();
      return;
    }
    if (this.tools.dataset.built === 'true') {
      this.tools.querySelector('[data-action="lobby-on"]').hidden = this.conf.roomState.lobby;
      this.tools.querySelector('[data-action="lobby-off"]').hidden = !this.conf.roomState.lobby;
      this.tools.querySelector('[data-action="remove-password"]').hidden = !this.conf.roomState.locked;
      return;
    }
    const b = (action, text, fn, cls) => el('button', { type: 'button', class: cls, 'data-action': action, text, onclick: () => this.#act(text, fn) });
    const pw = el('input', { 'data-field': 'new-room-password', type: 'text', maxlength: '64', autocomplete: 'off', placeholder: 'New room password' });
    this.tools.replaceChildren(
      el('h3', { text: 'Moderator' }),
      el('div', { class: 'tool-row' }, [
        b('mute-everyone', 'Mute everyone', () => this.conf.muteAll('audio')),
        b('lobby-on', 'Turn the lobby on', () => this.conf.setLobby(true)),
        b('lobby-off', 'Turn the lobby off', () => this.conf.setLobby(false)),
      ]),
      el('div', { class: 'tool-row' }, [
        pw,
        b('set-password', 'Set password', async () => {
          const v = pw.value.trim();
          if (!v) throw new Error('type a password first');
          await this.conf.setPassword(v);
          pw.value = '';
          this.notice('The room now needs a password.');
        }),
        b('remove-password', 'Remove password', async () => {
          await this.conf.setPassword(null);
          this.notice('The room password was removed.');
        }),
      ]),
      el('div', { class: 'tool-row' }, [b('end-meeting', 'End meeting for everyone', () => this.conf.endMeeting(), 'danger')]),
    );
    this.tools.dataset.built = 'true';
    this.#renderTools(mod);
  }

  #renderRemoved(mod) {
    const list = mod ? this.conf.removed : [];
    this.removedBox.hidden = !list.length;
    this.removedBox.replaceChildren(...(list.length ? [el('h3', { text: 'Removed' })] : []), ...list.map((r) => el('div', {
      class: 'removed', 'data-removed': r.name,
    }, [
      el('span', { class: 'who', text: r.name }),
      el('button', { type: 'button', 'data-action': 'allow-back', text: 'Allow back', onclick: () => this.#act('Allow back', () => this.conf.allowBack(r.id)) }),
    ])));
  }

  /** Knocks are shown where a moderator sees them at once, not only in the panel. */
  #renderKnocks(mod) {
    const knocks = mod ? [...this.conf.knocks] : [];
    this.knocksBox.hidden = !knocks.length;
    this.knocksBox.replaceChildren(...knocks.map(([nick, name]) => el('div', { class: 'knock', 'data-knock': name }, [
      el('span', { text: `${name} wants to join` }),
      el('button', { type: 'button', 'data-action': 'admit', text: 'Admit', onclick: () => this.#act('Admit', () => this.conf.admit(nick)) }),
      el('button', { type: 'button', 'data-action': 'deny', class: 'danger', text: 'Deny', onclick: () => this.#act('Deny', () => this.conf.deny(nick)) }),
    ])));
  }

  /** A moderator asks us to unmute: we decide (signal never unmutes anyone). */
  #askedToUnmute({ media, by }) {
    const old = this.notices.querySelector('[data-state="asked-to-unmute"]');
    if (old) old.remove();
    const what = media === 'video' ? 'start your camera' : 'unmute';
    const box = el('div', { class: 'notice ask', 'data-state': 'asked-to-unmute', 'data-media': media }, [
      el('span', { text: `${by || 'A moderator'} asks you to ${what}.` }),
      el('button', { type: 'button', 'data-action': 'unmute', text: media === 'video' ? 'Start camera' : 'Unmute', onclick: () => {
        box.remove();
        this.#act('Unmute', () => this.conf.unmuteSelf(media));
      } }),
      el('button', { type: 'button', 'data-action': 'stay-muted', text: 'Stay muted', onclick: () => box.remove() }),
    ]);
    this.notices.appendChild(box);
  }
}
