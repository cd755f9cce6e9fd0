// Signs in as USER@auth.<DOMAIN> with PASSWORD over the XMPP WebSocket (RFC 7395) through
// web, as a person with an account would. Prints "OK <jid>", or exits 1 with the reason (a
// wrong password is refused with SASL not-authorized).
// usage: node --experimental-websocket xmpp_login.mjs WSS_URL DOMAIN USER PASSWORD
// The caller passes web's certificate in NODE_EXTRA_CA_CERTS, so TLS is really verified.
import path from 'node:path';

const { client } = await import(path.join(process.env.MEET_NODE_MODULES, '@xmpp', 'client', 'index.js'));
const [service, domain, username, password] = process.argv.slice(2);
const fail = (why) => { console.error(`FAIL: ${why}`); process.exit(1); };
setTimeout(() => fail('timeout'), 20000).unref();

const c = client({ service, domain: `auth.${domain}`, username, password });
c.on('error', (e) => fail(e.condition || e.message || String(e)));
try {
  const jid = await c.start();
  console.log(`OK ${jid}`);
  await c.stop();
  process.exit(0);
} catch (e) {
  fail(e.condition || e.message || String(e));
}
