// The page as a person on the LAN (signal/PEOPLE.md): one XMPP session as a recognised guest
// or an account, the shared roster with everyone's presence, one-to-one messages (sent,
// received live, history and the inbox from the archive, read markers), the notifications
// that waited, and the rooms open to join. No DOM here: home.js and calls.js draw it.
//
// Events: 'people' (the directory or someone's presence changed), 'message' (detail: a
// message of a conversation, live), 'marker' (detail: { peer, id }: the peer read up to id),
// 'notification' (detail: one that arrived live), 'propose'/'jmi' (call signalling, for
// calls.js), 'connected', 'disconnected'.

import { Xmpp, x, child, stanzaError } from './xmpp.js';
import { randomHex } from './conference.js';

export const NS_PEOPLE = 'urn:meet-lan:people:0';
export const NS_JMI = 'urn:xmpp:jingle-message:0';
const NS_ROSTER = 'jabber:iq:roster';
const NS_NICK = 'http://jabber.org/protocol/nick';
const NS_MAM = 'urn:xmpp:mam:2';
const NS_RSM = 'http://jabber.org/protocol/rsm';
const NS_DATA = 'jabber:x:data';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DELAY = 'urn:xmpp:delay';
const NS_SID = 'urn:xmpp:sid:0';
const NS_MARKERS = 'urn:xmpp:chat-markers:0';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_INBOX = 'urn:xmpp:inbox:1';
const NS_CONFERENCE = 'jabber:x:conference';
const NS_OOB = 'jabber:x:oob';
const NS_TOKEN = 'urn:meet-lan:token:0';

export function bareOf(jid) {
  return (jid || '').split('/')[0];
}

function wsUrl(config) {
  const u = new URL(config.websocket, location.href);
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.href;
}

/** A person's state from their sessions' presences: in a meeting wins over busy over available over away. */
function stateOf(resources) {
  const all = [...resources.values()];
  if (!all.length) return 'offline';
  if (all.some((r) => r.inMeeting)) return 'in-meeting';
  if (all.some((r) => r.show === 'dnd')) return 'busy';
  if (all.some((r) => !r.show || r.show === 'chat')) return 'available';
  return 'away';
}

/** A message stanza (or a MAM-forwarded one) as the page keeps it. */
function readMessage(m, stamp) {
  const body = child(m, 'body');
  const sid = child(m, 'stanza-id', NS_SID);
  const origin = child(m, 'origin-id', NS_SID);
  const oob = child(m, 'x', NS_OOB);
  const file = child(m, 'file', NS_PEOPLE);
  const delay = child(m, 'delay', NS_DELAY);
  return {
    from: bareOf(m.getAttribute('from')),
    to: bareOf(m.getAttribute('to')),
    id: sid ? sid.getAttribute('id') : null,
    originId: origin ? origin.getAttribute('id') : m.getAttribute('id'),
    body: body ? body.textContent : '',
    at: stamp || (delay ? delay.getAttribute('stamp') : null) || new Date().toISOString(),
    file: oob && child(oob, 'url') ? {
      url: child(oob, 'url').textContent.trim(),
      name: (file && file.getAttribute('name')) || (child(oob, 'desc') ? child(oob, 'desc').textContent : 'file'),
      size: file ? Number(file.getAttribute('size')) || 0 : 0,
      mime: file ? file.getAttribute('mime') || '' : '',
    } : null,
  };
}

export class PersonSession extends EventTarget {
  constructor({ config, credentials, name }) {
    super();
    this.config = config;
    this.credentials = credentials;
    this.name = name;
    this.xmpp = null;
    this.me = null; // our bare JID
    this.people = new Map(); // bare -> { bare, name, resources: Map(res -> { show, inMeeting }) }
    this.show = ''; // '' available, 'dnd' busy, 'away'
    this.inMeeting = false;
    this.queries = new Map(); // MAM queryid -> collector
    this.closed = false;
  }

  /** Connects (and reconnects with back-off until closed). */
  async start() {
    let delay = 1000;
    while (!this.closed) {
      try {
        await this.#connect();
        return;
      } catch (e) {
        console.warn('person session failed:', e.message);
        if (this.xmpp) this.xmpp.close();
        if (e.condition && e.condition.startsWith('sasl-')) throw e;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 8000);
      }
    }
  }

  async #connect() {
    const xmpp = new Xmpp(wsUrl(this.config), this.credentials.host(this.config));
    this.xmpp = xmpp;
    xmpp.addEventListener('presence', (e) => this.#onPresence(e.detail));
    xmpp.addEventListener('message', (e) => this.#onMessage(e.detail));
    xmpp.addEventListener('iq', (e) => this.#onIq(e));
    xmpp.addEventListener('disconnected', (e) => {
      if (xmpp !== this.xmpp) return;
      for (const p of this.people.values()) p.resources.clear();
      this.dispatchEvent(new Event('people'));
      this.dispatchEvent(new Event('disconnected'));
      if (!e.detail.byUs && !this.closed) setTimeout(() => this.start(), 1000);
    });
    await xmpp.connect(15000, this.credentials.mechanism());
    this.me = bareOf(xmpp.jid);
    // Our messages sent from our other pages come here too (XEP-0280).
    await xmpp.iq('set', undefined, x('enable', { xmlns: NS_CARBONS })).catch((e) => console.warn('no carbons:', e.message));
    await this.#loadRoster();
    this.sendPresence();
    this.dispatchEvent(new Event('connected'));
  }

  async #loadRoster() {
    const res = await this.xmpp.iq('get', undefined, x('query', { xmlns: NS_ROSTER }));
    const q = child(res, 'query', NS_ROSTER);
    const seen = new Set();
    for (const item of q ? q.children : []) {
      if (item.localName !== 'item') continue;
      const bare = item.getAttribute('jid');
      if (!bare || bare === this.me) continue;
      seen.add(bare);
      this.#person(bare).name = (item.getAttribute('name') || bare.split('@')[0]).slice(0, 100);
    }
    for (const bare of [...this.people.keys()]) if (!seen.has(bare)) this.people.delete(bare);
    this.dispatchEvent(new Event('people'));
  }

  #person(bare) {
    let p = this.people.get(bare);
    if (!p) {
      p = { bare, name: bare.split('@')[0], resources: new Map() };
      this.people.set(bare, p);
    }
    return p;
  }

  stateOf(bare) {
    const p = this.people.get(bare);
    return p ? stateOf(p.resources) : 'offline';
  }

  nameOf(bare) {
    const p = this.people.get(bare);
    return p ? p.name : bare.split('@')[0];
  }

  /** Our presence to everyone: our name, busy/away, and whether we are in a meeting. */
  sendPresence() {
    if (!this.xmpp || !this.xmpp.jid) return;
    const show = this.inMeeting ? 'dnd' : this.show;
    try {
      this.xmpp.send(x('presence', {}, [
        show ? x('show', {}, [show]) : null,
        x('nick', { xmlns: NS_NICK }, [this.name]),
        this.inMeeting ? x('in-meeting', { xmlns: NS_PEOPLE }) : null,
      ]));
    } catch (e) {
      console.warn('presence not sent:', e.message);
    }
  }

  setStatus(show) {
    this.show = show === 'busy' ? 'dnd' : show === 'away' ? 'away' : '';
    this.sendPresence();
  }

  setName(name) {
    this.name = name;
    this.sendPresence();
  }

  #onPresence(p) {
    const from = p.getAttribute('from') || '';
    const bare = bareOf(from);
    const domain = bare.split('@')[1];
    if (!bare.includes('@') || (domain !== this.config.guestDomain && domain !== this.config.authDomain) || bare === this.me) return;
    const res = from.slice(bare.length + 1);
    const person = this.#person(bare);
    const type = p.getAttribute('type');
    if (type === 'unavailable') {
      person.resources.delete(res);
    } else if (!type) {
      const show = child(p, 'show');
      person.resources.set(res, { show: show ? show.textContent.trim() : '', inMeeting: !!child(p, 'in-meeting', NS_PEOPLE) });
      const nick = child(p, 'nick', NS_NICK);
      if (nick && nick.textContent.trim()) person.name = nick.textContent.trim().slice(0, 100);
    } else {
      return;
    }
    this.dispatchEvent(new Event('people'));
  }

  #onIq(e) {
    const iq = e.detail;
    const q = child(iq, 'query', NS_ROSTER);
    if (!q || iq.getAttribute('type') !== 'set') return;
    const from = iq.getAttribute('from');
    if (from && from !== this.me && from !== bareOf(this.xmpp.jid).split('@')[1]) return;
    e.preventDefault();
    for (const item of q.children) {
      const bare = item.getAttribute('jid');
      if (!bare || bare === this.me) continue;
      if (item.getAttribute('subscription') === 'remove') this.people.delete(bare);
      else this.#person(bare).name = (item.getAttribute('name') || bare.split('@')[0]).slice(0, 100);
    }
    this.xmpp.replyResult(iq);
    this.dispatchEvent(new Event('people'));
  }

  #onMessage(m) {
    const from = m.getAttribute('from') || '';
    if (m.getAttribute('type') === 'error') {
      const e = stanzaError(m);
      this.dispatchEvent(new CustomEvent('message-error', { detail: { originId: m.getAttribute('id'), text: e.text || e.condition } }));
      return;
    }
    // Archive results (MAM, inbox) go to the query that asked.
    for (const ns of [NS_MAM, NS_INBOX]) {
      const r = child(m, 'result', ns);
      if (r && bareOf(from) === this.config.archive) {
        const c = this.queries.get(r.getAttribute('queryid'));
        if (c) c(r);
        return;
      }
    }
    // Our own message sent from another session of ours (XEP-0280 style).
    const sent = child(m, 'sent', NS_CARBONS);
    if (sent && bareOf(from) === this.me) {
      const fwd = child(sent, 'forwarded', NS_FORWARD);
      const inner = fwd && child(fwd, 'message');
      if (inner) this.#chat(inner);
      return;
    }
    const jmi = [...m.children].find((c) => c.namespaceURI === NS_JMI);
    if (jmi) {
      this.dispatchEvent(new CustomEvent('jmi', { detail: { kind: jmi.localName, el: jmi, from, id: jmi.getAttribute('id') } }));
      return;
    }
    const invite = child(m, 'x', NS_CONFERENCE);
    if (invite) {
      const room = (invite.getAttribute('jid') || '').split('@')[0];
      this.dispatchEvent(new CustomEvent('notification', { detail: { kind: 'invitation', from: bareOf(from), name: this.nameOf(bareOf(from)), room, reason: invite.getAttribute('reason') || '', live: true } }));
      return;
    }
    if (bareOf(from) === this.config.archive && m.getAttribute('type') === 'headline') {
      const n = child(m, 'notifications', NS_PEOPLE) || m;
      for (const c of n.children) {
        if (c.localName === 'missed-call' || c.localName === 'invitation') {
          this.dispatchEvent(new CustomEvent('notification', { detail: readNotification(c) }));
        }
      }
      return;
    }
    const marker = child(m, 'displayed', NS_MARKERS);
    if (marker) {
      this.dispatchEvent(new CustomEvent('marker', { detail: { peer: bareOf(from), id: marker.getAttribute('id') } }));
      return;
    }
    if (m.getAttribute('type') === 'chat' && child(m, 'body')) this.#chat(m);
  }

  #chat(m) {
    const msg = readMessage(m);
    const peer = msg.from === this.me ? msg.to : msg.from;
    this.dispatchEvent(new CustomEvent('message', { detail: { peer, msg } }));
  }

  // --- one-to-one messages -----------------------------------------------------------------

  /** Sends a message (text, or a file announcement) to `peer`; resolves with its origin id. */
  sendMessage(peer, body, file = null) {
    const originId = randomHex(8);
    this.xmpp.send(x('message', { to: peer, type: 'chat', id: originId }, [
      x('body', {}, [body]),
      x('origin-id', { xmlns: NS_SID, id: originId }),
      x('markable', { xmlns: NS_MARKERS }),
      file ? x('x', { xmlns: NS_OOB }, [x('url', {}, [file.url], NS_OOB), x('desc', {}, [file.name], NS_OOB)]) : null,
      file ? x('file', { xmlns: NS_PEOPLE, name: file.name, size: String(file.size), mime: file.mime || '' }) : null,
    ]));
    return originId;
  }

  /** Tells `peer` (and the archive) that we read up to the message `id`. */
  markRead(peer, id) {
    if (!id || !this.xmpp) return;
    try {
      this.xmpp.send(x('message', { to: peer, type: 'chat' }, [x('displayed', { xmlns: NS_MARKERS, id })]));
    } catch (_) { /* reconnecting */ }
  }

  /** A page of history with `peer` before message `before` (null: the newest), oldest first. */
  async history(peer, before = null, max = 50) {
    const queryid = randomHex(6);
    const items = [];
    this.queries.set(queryid, (r) => {
      const fwd = child(r, 'forwarded', NS_FORWARD);
      const inner = fwd && child(fwd, 'message');
      const delay = fwd && child(fwd, 'delay', NS_DELAY);
      if (inner) {
        const msg = readMessage(inner, delay && delay.getAttribute('stamp'));
        msg.id = r.getAttribute('id') || msg.id;
        items.push(msg);
      }
    });
    try {
      const res = await this.xmpp.iq('set', this.config.archive, x('query', { xmlns: NS_MAM, queryid }, [
        x('x', { xmlns: NS_DATA, type: 'submit' }, [
          x('field', { var: 'FORM_TYPE', type: 'hidden' }, [x('value', {}, [NS_MAM], NS_DATA)], NS_DATA),
          x('field', { var: 'with' }, [x('value', {}, [peer], NS_DATA)], NS_DATA),
        ]),
        x('set', { xmlns: NS_RSM }, [x('max', {}, [String(max)], NS_RSM), x('before', {}, before ? [before] : [], NS_RSM)]),
      ]));
      const fin = child(res, 'fin', NS_MAM);
      return { items, complete: !!fin && fin.getAttribute('complete') === 'true' };
    } finally {
      this.queries.delete(queryid);
    }
  }

  /** Recent conversations: [{ peer, unread, last }], newest first. */
  async inbox() {
    const queryid = randomHex(6);
    const rows = [];
    this.queries.set(queryid, (r) => {
      const fwd = child(r, 'forwarded', NS_FORWARD);
      const inner = fwd && child(fwd, 'message');
      if (!inner) return;
      const delay = child(fwd, 'delay', NS_DELAY);
      const last = readMessage(inner, delay && delay.getAttribute('stamp'));
      rows.push({ peer: last.from === this.me ? last.to : last.from, unread: Number(r.getAttribute('unread')) || 0, last });
    });
    try {
      await this.xmpp.iq('set', this.config.archive, x('inbox', { xmlns: NS_INBOX, queryid }));
      return rows;
    } finally {
      this.queries.delete(queryid);
    }
  }

  /** Missed calls and invitations that waited for us. */
  async notifications() {
    const res = await this.xmpp.iq('get', this.config.archive, x('notifications', { xmlns: NS_PEOPLE }));
    const n = child(res, 'notifications', NS_PEOPLE);
    return n ? [...n.children].filter((c) => c.localName === 'missed-call' || c.localName === 'invitation').map((c) => readNotification(c)) : [];
  }

  dismiss(id) {
    return this.xmpp.iq('set', this.config.archive, x('dismiss', { xmlns: NS_PEOPLE, id }));
  }

  /** Rooms in progress that anyone may join. */
  async rooms() {
    const res = await this.xmpp.iq('get', this.config.muc, x('rooms', { xmlns: NS_PEOPLE }));
    const r = child(res, 'rooms', NS_PEOPLE);
    return r ? [...r.children].filter((c) => c.localName === 'room').map((c) => ({ name: c.getAttribute('name'), people: Number(c.getAttribute('people')) || 0 })) : [];
  }

  /** A token for files in the conversation with `peer` (its `dm-…` room). */
  async conversationToken(peer) {
    const res = await this.xmpp.iq('get', this.config.muc, x('token', { xmlns: NS_TOKEN, with: peer }));
    const t = child(res, 'token', NS_TOKEN);
    if (!t) throw new Error('token result without a token');
    return t.textContent.trim();
  }

  /** Sends a call-signalling element (`propose`, `accept`, …) to `to`. */
  sendJmi(to, kind, id, children = []) {
    this.xmpp.send(x('message', { to, type: 'chat' }, [x(kind, { xmlns: NS_JMI, id }, children), x('store', { xmlns: 'urn:xmpp:hints' })]));
  }

  close() {
    this.closed = true;
    if (this.xmpp) this.xmpp.close();
  }
}

function readNotification(c) {
  const from = c.getAttribute('from') || '';
  return {
    kind: c.localName,
    id: c.getAttribute('id'),
    from,
    name: (c.getAttribute('name') || '').slice(0, 100), // else the directory's, when shown
    room: c.getAttribute('room') || '',
    at: c.getAttribute('at') || '',
    media: c.getAttribute('media') || 'video',
  };
}
