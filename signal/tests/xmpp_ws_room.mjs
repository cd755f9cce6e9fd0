// Interop with @xmpp/client (npm) over RFC 7395 WebSocket, driven by xmpp_client_interop.rs.
// usage: node --experimental-websocket xmpp_ws_room.mjs WS_URL ROOM
// Two anonymous clients join ROOM, see each other, exchange a groupchat and a private
// message. Prints "OK" on success; exits 1 with a reason otherwise.
import { client, xml } from "@xmpp/client";

const [url, roomName] = process.argv.slice(2);
const room = `${roomName}@conference.meet.lan`;
const fail = (why) => { console.error(`FAIL: ${why}`); process.exit(1); };
setTimeout(() => fail("timeout"), 30000).unref();

function waitFor(c, pred) {
  return new Promise((resolve) => {
    const h = (st) => { if (pred(st)) { c.removeListener("stanza", h); resolve(st); } };
    c.on("stanza", h);
  });
}

async function connect() {
  const c = client({ service: url, domain: "meet.lan" });
  c.on("error", (e) => fail(`client error: ${e}`));
  await c.start();
  return c;
}

async function join(c, nick) {
  const self = waitFor(c, (s) => s.is("presence") && s.attrs.from === `${room}/${nick}`);
  const subject = waitFor(c, (s) => s.is("message") && s.getChild("subject") !== undefined);
  await c.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" })));
  const p = await self;
  const codes = p.getChild("x", "http://jabber.org/protocol/muc#user").getChildren("status").map((s) => s.attrs.code);
  if (!codes.includes("110")) fail(`no 110 in self-presence: ${p}`);
  await subject;
}

const a = await connect();
const b = await connect();
if (!String(a.jid).endsWith("@meet.lan/" + a.jid.resource)) fail(`odd jid ${a.jid}`);
await join(a, "alice");
const aSeesB = waitFor(a, (s) => s.is("presence") && s.attrs.from === `${room}/bob`);
await join(b, "bob");
await aSeesB;

const aGets = waitFor(a, (s) => s.is("message") && s.attrs.type === "groupchat" && s.getChildText("body") === "hi all");
await b.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, "hi all")));
const g = await aGets;
if (g.attrs.from !== `${room}/bob`) fail(`groupchat from ${g.attrs.from}`);

const bGets = waitFor(b, (s) => s.is("message") && s.attrs.type === "chat" && s.getChildText("body") === "psst");
await a.send(xml("message", { to: `${room}/bob`, type: "chat" }, xml("body", {}, "psst")));
const pm = await bGets;
if (pm.attrs.from !== `${room}/alice`) fail(`private message from ${pm.attrs.from}`);

await a.stop();
await b.stop();
console.log("OK");
process.exit(0);
