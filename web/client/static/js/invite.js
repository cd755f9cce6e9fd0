// Inviting someone from a meeting: the people of this server (the shared roster) in a
// picker. In a room, an invitation (XEP-0249: "Alice invites you to 'planning'", kept for
// them if they are away); in a call, a ring (XEP-0353, through the home page's calls). The
// entries carry `data-invite="<display name>"` with `button[data-action="invite-person"]`.

import { el } from './ui.js';

export class InvitePicker {
  constructor({ root, current }) {
    this.root = root;
    this.current = current;
  }

  async open() {
    const conf = this.current.conf;
    if (!conf || !conf.xmpp) return;
    let people;
    try {
      people = await conf.roster();
    } catch (e) {
      conf.ui.status(`Cannot list people: ${e.message}`);
      setTimeout(() => conf.ui.status(''), 4000);
      return;
    }
    const calls = window.meet && window.meet.calls;
    const inCall = !!(conf.call && calls && calls.active);
    const close = () => { this.root.hidden = true; this.root.replaceChildren(); };
    const search = el('input', { type: 'search', 'data-field': 'invite-search', placeholder: 'Search people', autocomplete: 'off' });
    const list = el('ul', { class: 'invite-list' });
    const render = () => {
      const q = search.value.trim().toLowerCase();
      list.replaceChildren(...people.filter((p) => !q || p.name.toLowerCase().includes(q)).map((p) => el('li', { 'data-invite': p.name }, [
        el('span', { class: 'who', text: p.name }),
        el('button', { type: 'button', 'data-action': 'invite-person', text: inCall ? 'Call' : 'Invite', onclick: (e) => {
          if (inCall) calls.add(p.bare);
          else conf.invite(p.bare);
          e.target.disabled = true;
          e.target.textContent = inCall ? 'Ringing…' : 'Invited';
        } }),
      ])));
    };
    search.addEventListener('input', render);
    render();
    this.root.replaceChildren(el('div', { class: 'picker' }, [
      el('h3', { text: inCall ? 'Add someone to the call' : `Invite someone to “${conf.room}”` }),
      search,
      list,
      el('button', { type: 'button', 'data-action': 'close-invite', text: 'Close', onclick: close }),
    ]));
    this.root.hidden = false;
    search.focus();
  }
}
