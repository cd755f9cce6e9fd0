// What stands between a person and the room, and why they are not (or no longer) in it:
// the password prompt, the lobby, waiting for a host, and the outcome screens (removed, the
// meeting ended, denied, a refused token or sign-in). One screen at a time, carrying the
// page hook `data-state="<state>"` (ARCHITECTURE.md); a screen exists only while its state
// holds. The conference view is hidden meanwhile: a page here receives no media.

import { el } from './ui.js';

const TEXT = {
  'password-required': ['This meeting has a password', 'Type the password the organiser gave you.'],
  'password-refused': ['That password is not right', 'Try again.'],
  'lobby-waiting': ['Waiting to be let in', 'A moderator has been told you are here.'],
  'waiting-for-host': ['Waiting for the host', 'The meeting starts when a signed-in person opens it. This page joins by itself then.'],
  'lobby-denied': ['You were not let in', 'A moderator declined your request to join.'],
  removed: ['You were removed from the meeting', ''],
  'meeting-ended': ['The meeting has ended', ''],
  'token-refused': ['This link cannot open the meeting', ''],
  'sign-in-refused': ['Sign-in failed', ''],
};

export class Gate {
  constructor({ root, conference }) {
    this.root = root; // <main id="gate">
    this.conferenceView = conference; // the conference view, hidden while a screen shows
    this.state = null;
  }

  /** Back to the conference (joined). */
  clear() {
    this.state = null;
    this.root.replaceChildren();
    this.root.hidden = true;
    this.conferenceView.hidden = false;
  }

  /**
   * Shows `state`; with `password: true` the screen has the room password field, and the
   * promise resolves with what the person typed (else it never resolves).
   */
  show(state, { text = '', password = false, wait = 0 } = {}) {
    this.state = state;
    this.conferenceView.hidden = true;
    this.root.hidden = false;
    const [title, hint] = TEXT[state] || [state, ''];
    const screen = el('section', { class: 'gate-screen', 'data-state': state }, [
      el('h1', { text: title }),
      el('p', { class: 'hint', text: hint }),
      text ? el('p', { class: 'reason', text }) : null,
    ]);
    this.root.replaceChildren(screen);
    if (!password) return new Promise(() => {});
    return new Promise((resolve) => {
      const input = el('input', { 'data-field': 'room-password', type: 'password', autocomplete: 'off', maxlength: '128', required: true });
      const submit = el('button', { type: 'submit', 'data-action': 'submit-password', text: state === 'lobby-waiting' ? 'Join with the password' : 'Join' });
      const form = el('form', { class: 'gate-form' }, [
        el('label', { text: state === 'lobby-waiting' ? 'Know the room password? You can go straight in:' : 'Room password' }),
        input,
        submit,
      ]);
      if (wait > 0) {
        // Too many wrong passwords from this address: signal says how long to wait.
        submit.disabled = true;
        const note = el('p', { class: 'error', 'data-retry-after': String(wait), text: `Too many wrong passwords: wait ${wait} s.` });
        form.appendChild(note);
        setTimeout(() => { submit.disabled = false; note.remove(); }, wait * 1000);
      }
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        const v = input.value;
        if (!v || submit.disabled) return;
        submit.disabled = true;
        resolve(v);
      });
      screen.appendChild(form);
      input.focus();
    });
  }

  /** The room password prompt (`password-required`, or `password-refused` after a wrong one). */
  askPassword(state, opts = {}) {
    return this.show(state, { ...opts, password: true });
  }

  /**
   * A final screen: the page stays here until the person chooses to go. "Join again" loads
   * the room anew (a removed person is refused again until a moderator allows them back).
   */
  outcome({ state, text }) {
    this.show(state, { text });
    const screen = this.root.querySelector('.gate-screen');
    if (state !== 'token-refused') {
      screen.appendChild(el('button', { type: 'button', 'data-action': 'rejoin', text: 'Join again', onclick: () => location.reload() }));
    }
    screen.appendChild(el('button', { type: 'button', 'data-action': 'back-home', text: 'Back to the start', onclick: () => location.assign('/') }));
  }
}
