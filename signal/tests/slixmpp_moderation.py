"""Moderation seen from slixmpp (a real XMPP client library, not ours), driven by
slixmpp_moderation.rs.

usage: slixmpp_moderation.py HOST PORT refusals ROOM
         Anonymous client M joins ROOM first (moderator), P joins second (participant).
         P's mute, kick (XEP-0045 role none), room configuration (muc#owner form) and
         lobby-admit requests must each fail with <forbidden/>; M's mute must succeed.
       slixmpp_moderation.py HOST PORT guest-create ROOM
         (signal in AUTH_MODE=accounts) An anonymous guest's join_muc_wait to a new ROOM
         must fail with <not-authorized/> and <host-required xmlns="urn:meet-lan:room:0"/>.
Prints "OK" and exits 0 on success, exits 1 with a reason otherwise.
"""

import sys
import xml.etree.ElementTree as ET

from slixmpp.exceptions import IqError, PresenceError
from slixmpp_room import DOMAIN, run_main, start
from slixmpp_room import make_client as make_room_client

NS_ROOM = "urn:meet-lan:room:0"


def make_client():
    c = make_room_client(DOMAIN, "", "ANONYMOUS")
    c.register_plugin("xep_0004")
    return c


async def room_control(c, room, xml):
    iq = c.make_iq_set(ito=room)
    iq.xml.append(ET.fromstring(xml))
    return await iq.send(timeout=10)


async def expect_forbidden(what, call):
    try:
        await call
    except IqError as e:
        cond = e.iq["error"]["condition"]
        if cond != "forbidden":
            raise RuntimeError(f"{what}: refused with {cond}, expected forbidden")
        return
    raise RuntimeError(f"{what}: a participant's request was accepted")


async def refusals(host, port, room_name):
    room = f"{room_name}@conference.{DOMAIN}"
    m, p = make_client(), make_client()
    await start(m, host, port)
    await start(p, host, port)
    await m.plugin["xep_0045"].join_muc_wait(room, "m", timeout=15)
    await p.plugin["xep_0045"].join_muc_wait(room, "p", timeout=15)
    if m.plugin["xep_0045"].get_jid_property(room, "m", "role") != "moderator":
        raise RuntimeError("the first joiner is not moderator")
    if m.plugin["xep_0045"].get_jid_property(room, "p", "role") != "participant":
        raise RuntimeError("the second joiner is not participant")

    await expect_forbidden("mute", room_control(p, room, f"<mute xmlns='{NS_ROOM}' nick='m' media='audio'/>"))
    await expect_forbidden("kick", p.plugin["xep_0045"].set_role(room, "m", "none", reason="x"))
    await expect_forbidden("configuration", p.plugin["xep_0045"].get_room_config(room))
    await expect_forbidden("lobby admit", room_control(p, room, f"<admit xmlns='{NS_ROOM}' nick='nobody'/>"))
    await expect_forbidden("lobby on", room_control(p, room, f"<lobby xmlns='{NS_ROOM}' enabled='true'/>"))

    # the moderator's own request goes through (the refusals above are about rights)
    await room_control(m, room, f"<mute xmlns='{NS_ROOM}' nick='p' media='audio'/>")
    form = await m.plugin["xep_0045"].get_room_config(room)
    if "muc#roomconfig_roomsecret" not in form.get_fields():
        raise RuntimeError("the configuration form has no password field")
    m.disconnect()
    p.disconnect()


async def guest_create(host, port, room_name):
    room = f"{room_name}@conference.{DOMAIN}"
    g = make_client()
    await start(g, host, port)
    try:
        await g.plugin["xep_0045"].join_muc_wait(room, "guest", timeout=15)
    except PresenceError as e:
        cond = e.presence["error"]["condition"]
        app = e.presence["error"].xml.find(f"{{{NS_ROOM}}}host-required")
        if cond != "not-authorized" or app is None:
            raise RuntimeError(f"refused with {cond}, app condition {app}")
        g.disconnect()
        return
    raise RuntimeError("a guest created a room in accounts mode")


async def main():
    host, port, scenario, room = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    if scenario == "refusals":
        await refusals(host, port, room)
    elif scenario == "guest-create":
        await guest_create(host, port, room)
    else:
        raise RuntimeError(f"unknown scenario {scenario}")
    print("OK", flush=True)


if __name__ == "__main__":
    run_main(main)
