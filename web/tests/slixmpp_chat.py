"""A real XMPP client (slixmpp) chats with a person on the web page (issue 15, point 6),
driven by xmpp_client_chat.rs.

usage: slixmpp_chat.py HOST PORT USER PASSWORD PEER_NAME
  Logs in as USER@auth.meet.lan (SCRAM-SHA-1), finds PEER_NAME in its roster (signal's
  shared roster: everyone known to the server, with presence), sends "hello from slixmpp"
  to that person's bare JID and waits for "hello back". Prints "OK" and exits 0 on success,
  exits 1 with a reason otherwise.
"""

import asyncio
import sys

import slixmpp

DOMAIN = "meet.lan"


async def main():
    host, port, user, password, peer_name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    c = slixmpp.ClientXMPP(f"{user}@auth.{DOMAIN}", password, sasl_mech="SCRAM-SHA-1")
    c.enable_plaintext = True
    c.enable_starttls = False
    c.enable_direct_tls = False
    c["feature_mechanisms"].unencrypted_scram = True
    started = asyncio.get_running_loop().create_future()
    reply = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(RuntimeError("auth failed")))

    def on_message(m):
        if m["type"] == "chat" and m["body"] == "hello back" and not reply.done():
            reply.set_result(m)

    c.add_event_handler("message", on_message)
    c.connect(host=host, port=port)
    await asyncio.wait_for(started, 20)
    await c.get_roster()
    c.send_presence()
    peer = None
    for _ in range(300):
        for jid in c.client_roster:
            if c.client_roster[jid]["name"] == peer_name:
                peer = jid
        if peer:
            break
        await asyncio.sleep(0.2)
        await c.get_roster()
    if not peer:
        print(f"FAIL: {peer_name} not in the roster: {[(j, c.client_roster[j]['name']) for j in c.client_roster]}")
        sys.exit(1)
    c.send_message(mto=peer, mbody="hello from slixmpp", mtype="chat")
    m = await asyncio.wait_for(reply, 60)
    if str(m["from"].bare) != peer:
        print(f"FAIL: the answer came from {m['from']}, not {peer}")
        sys.exit(1)
    c.disconnect()
    print("OK")


asyncio.run(main())
