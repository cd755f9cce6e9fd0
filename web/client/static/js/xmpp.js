// XMPP over WebSocket (RFC 7395), just what the page needs: open, SASL (auth.js), bind,
// IQ request/response with ids and timeouts, presence and message dispatch.
// Stanzas are built as DOM elements and serialized, so text is always escaped; received
// frames are parsed with DOMParser and never inserted into the page.

import { b64encode, b64decode } from './auth.js';

const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_CLIENT = 'jabber:client';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const xmlDoc = document.implementation.createDocument(null, null, null);
const serializer = new XMLSerializer();

/**
 * Builds an element: x('iq', {type: 'set', xmlns: NS}, [child, 'text']).
 * `xmlns` sets the element's namespace; children are elements or strings (text nodes).
 */
export function x(name, attrs = {}, children = [], parentNs = NS_CLIENT) {
  const ns = attrs.xmlns ?? parentNs;
  const el = xmlDoc.createElementNS(ns, name);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'xmlns' || v === undefined || v === null) continue;
    el.setAttribute(k, String(v));
  }
  for (const c of [].concat(children)) {
    if (c === undefined || c === null) continue;
    if (typeof c === 'string') el.appendChild(xmlDoc.createTextNode(c));
    else el.appendChild(c);
  }
  return el;
}

/** First child element with this local name (and namespace, if given). */
export function child(el, name, ns) {
  if (!el) return null;
  for (const c of el.children) {
    if (c.localName === name && (!ns || c.namespaceURI === ns)) return c;
  }
  return null;
}

export class XmppError extends Error {
  constructor(condition, text, stanza, app = null) {
    super(text ? `${condition}: ${text}` : condition);
    this.condition = condition;
    this.text = text || '';
    this.stanza = stanza;
    /** The application-specific condition (an element of another namespace in <error/>). */
    this.app = app;
  }
}

/** The error of an IQ, presence or message of type error. */
export function stanzaError(stanza) {
  const err = child(stanza, 'error');
  let condition = 'undefined-condition';
  let text = '';
  let app = null;
  if (err) {
    for (const c of err.children) {
      if (c.namespaceURI === NS_STANZAS) {
        if (c.localName === 'text') text = c.textContent;
        else condition = c.localName;
      } else if (!app) {
        app = c;
      }
    }
  }
  return new XmppError(condition, text, stanza, app);
}

let idCounter = 0;
const nextId = () => `m${Date.now().toString(36)}${(idCounter++).toString(36)}`;

/**
 * One XMPP session over one WebSocket. Events (EventTarget): 'iq' (detail: stanza; IQ get/set
 * addressed to us: the listener must reply), 'presence', 'message', 'disconnected'.
 */
export class Xmpp extends EventTarget {
  constructor(url, domain) {
    super();
    this.url = url;
    this.domain = domain;
    this.jid = null;
    this.ws = null;
    this.pending = new Map();
    this.waiters = [];
    this.closedByUs = false;
  }

  /**
   * Opens the stream, authenticates with `mechanism` (auth.js; SASL ANONYMOUS when none is
   * given) and binds. A refused authentication rejects with an XmppError whose condition is
   * `sasl-<condition>` (e.g. `sasl-not-authorized`) and whose text is the server's reason.
   */
  async connect(timeoutMs = 15000, mechanism = null) {
    const ws = new WebSocket(this.url, 'xmpp');
    this.ws = ws;
    ws.onmessage = (ev) => this.#onFrame(ev.data);
    ws.onclose = () => this.#onClose();
    await withTimeout(new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('WebSocket failed'));
    }), timeoutMs, 'WebSocket open');
    ws.onerror = null;
    const mech = mechanism || { name: 'ANONYMOUS', initial: async () => new Uint8Array(0) };
    let features = await this.#openStream(timeoutMs);
    const mechs = child(features, 'mechanisms', NS_SASL);
    const names = mechs ? [...mechs.children].map((m) => m.textContent.trim()) : [];
    if (!names.includes(mech.name)) throw new XmppError('sasl-invalid-mechanism', `the server does not offer ${mech.name} here`);
    const initial = await mech.initial();
    this.send(x('auth', { xmlns: NS_SASL, mechanism: mech.name }, [initial.length ? b64encode(initial) : '=']));
    for (;;) {
      const el = await this.#waitFor((e) => e.namespaceURI === NS_SASL && ['challenge', 'success', 'failure'].includes(e.localName), timeoutMs, 'SASL');
      const data = el.textContent.trim();
      const bytes = data && data !== '=' ? b64decode(data) : new Uint8Array(0);
      if (el.localName === 'challenge') {
        if (!mech.challenge) throw new Error(`${mech.name}: unexpected challenge`);
        const answer = await mech.challenge(bytes);
        this.send(x('response', { xmlns: NS_SASL }, [answer.length ? b64encode(answer) : '=']));
      } else if (el.localName === 'success') {
        if (mech.success) await mech.success(bytes);
        break;
      } else {
        const cond = [...el.children].find((c) => c.localName !== 'text');
        const text = [...el.children].find((c) => c.localName === 'text');
        throw new XmppError(`sasl-${cond ? cond.localName : 'failure'}`, text ? text.textContent : '', el);
      }
    }
    features = await this.#openStream(timeoutMs);
    if (!child(features, 'bind', NS_BIND)) throw new Error('server offers no resource binding');
    const res = await this.iq('set', undefined, x('bind', { xmlns: NS_BIND }), timeoutMs);
    const jid = child(child(res, 'bind', NS_BIND), 'jid');
    if (!jid) throw new Error('bind result without jid');
    this.jid = jid.textContent.trim();
    return this.jid;
  }

  async #openStream(timeoutMs) {
    const open = x('open', { xmlns: NS_FRAMING, to: this.domain, version: '1.0' });
    const got = this.#waitFor((el) => el.localName === 'features', timeoutMs, 'stream features');
    this.send(open);
    return got;
  }

  #waitFor(pred, timeoutMs, what) {
    return withTimeout(new Promise((resolve) => this.waiters.push({ pred, resolve })), timeoutMs, what);
  }

  send(el) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new Error('not connected');
    this.ws.send(serializer.serializeToString(el));
  }

  /** Sends an IQ and resolves with the result stanza; rejects with XmppError on type=error. */
  iq(type, to, payload, timeoutMs = 20000) {
    const id = nextId();
    const stanza = x('iq', { type, to, id }, [payload]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new XmppError('timeout', `no answer to IQ within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send(stanza);
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e);
      }
    });
  }

  /** Replies to an incoming IQ with a result (optionally carrying a payload). */
  replyResult(iq, payload) {
    this.send(x('iq', { type: 'result', to: iq.getAttribute('from'), id: iq.getAttribute('id') }, [payload]));
  }

  replyError(iq, condition, type = 'cancel', text) {
    this.send(x('iq', { type: 'error', to: iq.getAttribute('from'), id: iq.getAttribute('id') }, [
      x('error', { type }, [
        x(condition, { xmlns: NS_STANZAS }),
        text ? x('text', { xmlns: NS_STANZAS }, [text]) : null,
      ]),
    ]));
  }

  close() {
    this.closedByUs = true;
    const ws = this.ws;
    if (!ws) return;
    try {
      if (ws.readyState === WebSocket.OPEN) ws.send(serializer.serializeToString(x('close', { xmlns: NS_FRAMING })));
    } catch (_) { /* closing anyway */ }
    try { ws.close(1000); } catch (_) { /* already closed */ }
  }

  #onFrame(data) {
    if (typeof data !== 'string') return;
    const doc = new DOMParser().parseFromString(data, 'text/xml');
    const el = doc.documentElement;
    if (!el || el.getElementsByTagName('parsererror').length) {
      console.warn('xmpp: unparsable frame ignored');
      return;
    }
    if (el.localName === 'close' && el.namespaceURI === NS_FRAMING) {
      this.ws.close(1000);
      return;
    }
    const w = this.waiters.findIndex((w) => w.pred(el));
    if (w >= 0) {
      const [waiter] = this.waiters.splice(w, 1);
      waiter.resolve(el);
      return;
    }
    switch (el.localName) {
      case 'iq': {
        const type = el.getAttribute('type');
        const id = el.getAttribute('id');
        if ((type === 'result' || type === 'error') && this.pending.has(id)) {
          const p = this.pending.get(id);
          this.pending.delete(id);
          clearTimeout(p.timer);
          if (type === 'result') p.resolve(el);
          else p.reject(stanzaError(el));
        } else if (type === 'get' || type === 'set') {
          const handled = !this.dispatchEvent(new CustomEvent('iq', { detail: el, cancelable: true }));
          if (!handled) this.replyError(el, 'service-unavailable');
        }
        break;
      }
      case 'presence':
        this.dispatchEvent(new CustomEvent('presence', { detail: el }));
        break;
      case 'message':
        this.dispatchEvent(new CustomEvent('message', { detail: el }));
        break;
      default:
        break;
    }
  }

  #onClose() {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new XmppError('disconnected', 'connection closed'));
    }
    this.pending.clear();
    this.dispatchEvent(new CustomEvent('disconnected', { detail: { byUs: this.closedByUs } }));
  }
}

export function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]);
}
