"""People on the LAN seen from slixmpp (a real XMPP client library, not ours), driven by
slixmpp_people.rs.

usage: slixmpp_people.py HOST PORT USER PASSWORD GUEST_ID GUEST_SECRET
  Client G logs in as the recognised guest GUEST_ID@guest.meet.lan (SASL PLAIN with the
  guest secret a page keeps) and gives its display name "Gina" in its presence. Client A
  logs in as account USER@auth.meet.lan (SCRAM-SHA-1), fetches its roster and must find G
  there by name (the shared roster: nobody added anyone), sees G online, and the two
  exchange one-to-one chat messages, each stamped by the server with a XEP-0359
  <stanza-id/>. Prints "OK" and exits 0 on success, exits 1 with a reason otherwise.
"""

import asyncio
import sys

from slixmpp_room import DOMAIN, make_client, run_main, start

NS_SID = "urn:xmpp:sid:0"


async def main():
    host, port = sys.argv[1], int(sys.argv[2])
    user, password, guest_id, secret = sys.argv[3:7]
    g = make_client(f"{guest_id}@guest.{DOMAIN}", secret, "PLAIN")
    g.register_plugin("xep_0172")
    a = make_client(f"{user}@auth.{DOMAIN}", password, "SCRAM-SHA-1")

    got = {"g_msg": asyncio.Future(), "a_msg": asyncio.Future(), "a_sees_g": asyncio.Future()}

    def on(name, want_body):
        def handler(m):
            if m["type"] == "chat" and m["body"] == want_body and not got[name].done():
                got[name].set_result(m)
        return handler

    g.add_event_handler("message", on("g_msg", "hello Gina"))
    a.add_event_handler("message", on("a_msg", "hello Alice"))

    def a_presence(p):
        if p["from"].bare == g.boundjid.bare and p["type"] == "available" and not got["a_sees_g"].done():
            got["a_sees_g"].set_result(p)

    a.add_event_handler("presence_available", a_presence)

    await start(g, host, port)
    if str(g.boundjid.bare) != f"{guest_id}@guest.{DOMAIN}":
        raise RuntimeError(f"the guest is bound as {g.boundjid}")
    g.send_presence(pnick="Gina")
    # the server has handled the presence once a later ping is answered
    if await g.plugin["xep_0199"].ping(jid=DOMAIN, timeout=10) is None:
        raise RuntimeError("no ping answer")

    await start(a, host, port)
    await a.get_roster()
    item = a.client_roster[g.boundjid.bare]
    if item["subscription"] != "both" or item["name"] != "Gina":
        raise RuntimeError(f"roster item of the guest: {item['subscription']} {item['name']!r}, roster {a.client_roster}")
    a.send_presence()
    await asyncio.wait_for(got["a_sees_g"], 10)

    a.send_message(mto=g.boundjid.bare, mbody="hello Gina", mtype="chat")
    m = await asyncio.wait_for(got["g_msg"], 10)
    if m["from"] != a.boundjid or m.xml.find(f"{{{NS_SID}}}stanza-id") is None:
        raise RuntimeError(f"message to the guest: {m}")
    g.send_message(mto=a.boundjid.bare, mbody="hello Alice", mtype="chat")
    m = await asyncio.wait_for(got["a_msg"], 10)
    if m["from"] != g.boundjid or m.xml.find(f"{{{NS_SID}}}stanza-id") is None:
        raise RuntimeError(f"message to the account: {m}")

    a.disconnect()
    g.disconnect()
    print("OK", flush=True)


if __name__ == "__main__":
    run_main(main)
