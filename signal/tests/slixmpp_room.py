"""Interop with slixmpp (a real XMPP client library, not ours), driven by slixmpp_interop.rs.

usage: slixmpp_room.py HOST PORT ROOM MECH [USER PASSWORD]
  Client A logs in anonymously; client B logs in anonymously (MECH=ANONYMOUS) or as
  USER@auth.meet.lan with PASSWORD over MECH (PLAIN or SCRAM-SHA-1). Both join ROOM with
  join_muc_wait (which needs the empty <subject/>), see each other, exchange a groupchat and
  a private message. Prints "OK" and exits 0 on success, exits 1 with a reason otherwise.
"""

import asyncio
import sys

import slixmpp

DOMAIN = "meet.lan"


def make_client(jid, password, mech):
    c = slixmpp.ClientXMPP(jid, password, sasl_mech=mech)
    c.enable_plaintext = True
    c.enable_starttls = False
    c.enable_direct_tls = False
    c.register_plugin("xep_0030")
    c.register_plugin("xep_0045")
    c.register_plugin("xep_0199")
    c["feature_mechanisms"].unencrypted_plain = True
    c["feature_mechanisms"].unencrypted_scram = True
    return c


async def start(c, host, port):
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(RuntimeError("auth failed")))
    c.connect(host=host, port=port)
    await asyncio.wait_for(started, 20)


async def main():
    host, port, room_name, mech = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    room = f"{room_name}@conference.{DOMAIN}"
    a = make_client(DOMAIN, "", "ANONYMOUS")
    if mech == "ANONYMOUS":
        b = make_client(DOMAIN, "", "ANONYMOUS")
    else:
        b = make_client(f"{sys.argv[5]}@auth.{DOMAIN}", sys.argv[6], mech)

    got = {"a_group": asyncio.Future(), "b_group": asyncio.Future(), "b_private": asyncio.Future(), "a_sees_b": asyncio.Future()}

    def a_msg(m):
        if m["type"] == "groupchat" and m["body"] == "hello from b" and not got["a_group"].done():
            got["a_group"].set_result(m)

    def b_msg(m):
        if m["type"] == "groupchat" and m["body"] == "hello from b" and not got["b_group"].done():
            got["b_group"].set_result(m)
        if m["type"] == "chat" and m["body"] == "psst" and not got["b_private"].done():
            got["b_private"].set_result(m)

    def a_online(p):
        if p["muc"]["nick"] == "bob" and not got["a_sees_b"].done():
            got["a_sees_b"].set_result(p)

    a.add_event_handler("message", a_msg)
    b.add_event_handler("message", b_msg)
    a.add_event_handler(f"muc::{room}::got_online", a_online)

    await start(a, host, port)
    await start(b, host, port)
    if mech != "ANONYMOUS" and str(b.boundjid.bare) != f"{sys.argv[5]}@auth.{DOMAIN}":
        raise RuntimeError(f"bound as {b.boundjid}")

    # join_muc_wait returns only after the subject: a server without it would hang here
    await a.plugin["xep_0045"].join_muc_wait(room, "alice", timeout=15)
    _, _, occupants, _ = await b.plugin["xep_0045"].join_muc_wait(room, "bob", timeout=15)
    nicks = {p["muc"]["nick"] for p in occupants}
    if "alice" not in nicks:
        raise RuntimeError(f"bob does not see alice: {nicks}")
    await asyncio.wait_for(got["a_sees_b"], 10)

    b.send_message(mto=room, mbody="hello from b", mtype="groupchat")
    m = await asyncio.wait_for(got["a_group"], 10)
    if str(m["from"]) != f"{room}/bob":
        raise RuntimeError(f"groupchat from {m['from']}")
    await asyncio.wait_for(got["b_group"], 10)

    a.send_message(mto=f"{room}/bob", mbody="psst", mtype="chat")
    m = await asyncio.wait_for(got["b_private"], 10)
    if str(m["from"]) != f"{room}/alice":
        raise RuntimeError(f"private message from {m['from']}")

    rtt = await a.plugin["xep_0199"].ping(jid=DOMAIN, timeout=10)
    if rtt is None:
        raise RuntimeError("no ping answer")

    a.disconnect()
    b.disconnect()
    print("OK", flush=True)


def run_main(main):
    """Runs `main` for at most a minute; any failure exits 1 with a reason on stderr."""
    try:
        asyncio.run(asyncio.wait_for(main(), 60))
    except BaseException as e:  # report any failure as a reason on stderr
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)


if __name__ == "__main__":
    run_main(main)
