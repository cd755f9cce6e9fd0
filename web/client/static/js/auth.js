// Who the page is to signal (signal/ROOMS.md, section 1; signal/PEOPLE.md, section 1): a
// recognised guest (SASL PLAIN with this browser's guest key), a person signed in with an
// account (SCRAM-SHA-1 on auth.<domain>), or the holder of a token from another application
// (OAUTHBEARER, RFC 7628). A mechanism is one exchange: `initial()`
// gives the first message, `challenge(bytes)` answers the server, `success(bytes)` checks
// the server's final word.
//
// No password is ever stored: the page keeps it only until the first successful sign-in,
// then keeps SCRAM's ClientKey and ServerKey (in memory, for reconnecting), and forgets the
// password itself. A reload asks again.

const enc = new TextEncoder();
const dec = new TextDecoder();

export function b64encode(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

export function b64decode(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

async function hmac(key, data) {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-1' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, typeof data === 'string' ? enc.encode(data) : data));
}

async function sha1(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-1', data));
}

/** RFC 5802 SaltedPassword: PBKDF2 with HMAC-SHA-1, 20 bytes. */
async function saltedPassword(password, salt, iterations) {
  const k = await crypto.subtle.importKey('raw', enc.encode(password.normalize('NFKC')), 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-1', salt, iterations }, k, 160));
}

function xor(a, b) {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function randomNonce() {
  const a = new Uint8Array(18);
  crypto.getRandomValues(a);
  return b64encode(a).replace(/[+/=]/g, 'x');
}

/**
 * A recognised guest (signal/PEOPLE.md, section 1): the same browser is the same person on
 * every visit. The secret is made once and kept in this browser's storage (it is the guest's
 * only credential, like a device key; an account password is never stored); the guest id is
 * the first 16 bytes of its SHA-256. SASL PLAIN on `guest.<domain>`, over the page's TLS.
 */
export class RecognisedGuest {
  constructor() {
    this.kind = 'guest';
    let secret = localStorage.getItem('meet.guestSecret');
    if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) {
      const a = new Uint8Array(32);
      crypto.getRandomValues(a);
      secret = b64encode(a).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      localStorage.setItem('meet.guestSecret', secret);
    }
    this.secret = secret;
  }

  host(config) {
    return config.guestDomain;
  }

  async id() {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(this.secret)));
    return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }

  mechanism() {
    return { name: 'PLAIN', initial: async () => enc.encode(`\0${await this.id()}\0${this.secret}`) };
  }
}

/** An anonymous guest: SASL ANONYMOUS on the main domain (not a person of the directory). */
export class Guest {
  constructor() {
    this.kind = 'guest';
  }

  host(config) {
    return config.domain;
  }

  mechanism() {
    return { name: 'ANONYMOUS', initial: async () => new Uint8Array(0) };
  }
}

/**
 * An account of `signal add-account`: SCRAM-SHA-1 on `auth.<domain>`. After the first
 * successful exchange only the derived keys remain (for the salt and iteration count the
 * server gave); the password is dropped.
 */
export class Account {
  constructor(username, password) {
    this.kind = 'account';
    this.username = username.trim().toLowerCase();
    this.password = password;
    this.keys = null; // { salt, iterations, clientKey, serverKey } once signed in
  }

  host(config) {
    return config.authDomain;
  }

  mechanism() {
    const user = this.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    const cnonce = randomNonce();
    const bare = `n=${user},r=${cnonce}`;
    let expectedServerSignature = null;
    return {
      name: 'SCRAM-SHA-1',
      initial: async () => enc.encode(`n,,${bare}`),
      challenge: async (bytes) => {
        const serverFirst = dec.decode(bytes);
        const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
        if (!attrs.r || !attrs.r.startsWith(cnonce) || !attrs.s || !attrs.i) throw new Error('SCRAM: the server answered nonsense');
        const iterations = Number(attrs.i);
        if (!Number.isInteger(iterations) || iterations < 4096) throw new Error('SCRAM: too few iterations');
        let k = this.keys;
        if (!k || k.salt !== attrs.s || k.iterations !== iterations) {
          if (this.password === null) throw new Error('SCRAM: the account changed; sign in again');
          const salted = await saltedPassword(this.password, b64decode(attrs.s), iterations);
          k = { salt: attrs.s, iterations, clientKey: await hmac(salted, 'Client Key'), serverKey: await hmac(salted, 'Server Key') };
        }
        this.pendingKeys = k;
        const withoutProof = `c=biws,r=${attrs.r}`;
        const authMessage = `${bare},${serverFirst},${withoutProof}`;
        const storedKey = await sha1(k.clientKey);
        const proof = xor(k.clientKey, await hmac(storedKey, authMessage));
        expectedServerSignature = b64encode(await hmac(k.serverKey, authMessage));
        return enc.encode(`${withoutProof},p=${b64encode(proof)}`);
      },
      success: async (bytes) => {
        const v = dec.decode(bytes).split(',').find((a) => a.startsWith('v='));
        if (!v || v.slice(2) !== expectedServerSignature) throw new Error('SCRAM: the server did not prove it knows the account');
        this.keys = this.pendingKeys;
        this.pendingKeys = null;
        this.password = null; // from here on only the derived keys are kept, in memory
      },
    };
  }
}

/** A JWT from another application (signal/ROOMS.md, section 6), as SASL OAUTHBEARER. */
export class TokenHolder {
  constructor(jwt) {
    this.kind = 'token';
    this.jwt = jwt;
    this.claims = readClaims(jwt);
  }

  host(config) {
    return config.domain;
  }

  /** The token's display name (signal enforces it; the page only shows it). */
  get name() {
    const u = this.claims && this.claims.context && this.claims.context.user;
    return u && typeof u.name === 'string' ? u.name.slice(0, 100) : '';
  }

  mechanism() {
    return {
      name: 'OAUTHBEARER',
      initial: async () => enc.encode(`n,,\x01auth=Bearer ${this.jwt}\x01\x01`),
      // RFC 7628 §3.2.2: an error comes as a challenge with JSON, answered with one 0x01;
      // the failure that follows says why.
      challenge: async () => new Uint8Array([1]),
      success: async () => {},
    };
  }
}

/** The payload of a JWT, for display only (never trusted: signal checks the token). */
function readClaims(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(dec.decode(b64decode(part + '='.repeat((4 - (part.length % 4)) % 4))));
  } catch (_) {
    return null;
  }
}
