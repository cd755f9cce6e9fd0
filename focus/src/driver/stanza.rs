//! Stanzas ↔ core inputs and outputs: the only place that knows the XML shape of the
//! conference request, session IQs, Colibri IQs and the presences focus reads.
//!
//! Anything unreadable becomes either an input that says so (the core decides whose fault
//! it is) or an immediate IQ error; it never panics and never reaches the core as a guess.

use crate::core::Description;
use crate::core::{
    Addr, BridgeId, BridgePresence, Condition, ForcedMute, Input, Jingle, OccupantPresence, Output, Reply, ResultBody,
    StanzaError,
};
use proto::bus::{iq_error, ErrorCondition, NS_STANZAS};
use proto::colibri::{BridgeStats, ColibriEvent, ColibriResponse};
use proto::ns;
use proto::session::{Action, SdpType, Transport};
use proto::xml::{Element, NS_CLIENT};
use proto::{EndpointId, RoomName};

/// XEP-0045 namespaces and our presence extensions (CLIENT_FLOW step 3).
pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";
pub const NS_MEDIA: &str = "urn:meet-lan:media:0";

/// The addresses focus deals with, derived from the XMPP domain.
#[derive(Debug, Clone)]
pub struct Jids {
    pub domain: String,
    /// `focus.<domain>`.
    pub me: String,
    /// `conference.<domain>`.
    pub muc: String,
    /// `bridges@internal.<domain>`.
    pub bridges_room: String,
}

impl Jids {
    pub fn new(domain: &str) -> Jids {
        Jids {
            domain: domain.to_string(),
            me: format!("focus.{domain}"),
            muc: format!("conference.{domain}"),
            bridges_room: format!("bridges@internal.{domain}"),
        }
    }

    pub fn occupant(&self, room: &RoomName, nick: &str) -> String {
        format!("{room}@{}/{nick}", self.muc)
    }

    pub fn bridge(&self, b: &BridgeId) -> String {
        format!("{b}.{}", self.domain)
    }

    pub fn addr(&self, a: &Addr) -> String {
        match a {
            Addr::Jid(j) => j.clone(),
            Addr::Occupant(room, nick) => self.occupant(room, nick.as_str()),
            Addr::Bridge(b) => self.bridge(b),
        }
    }

    /// Reads `from` as one of the addresses the core knows.
    pub fn parse_addr(&self, from: &str) -> Addr {
        let (local, domain, resource) = split_jid(from);
        if let (Some(local), Some(res)) = (local, resource) {
            if domain.eq_ignore_ascii_case(&self.muc) {
                if let (Ok(room), Ok(ep)) = (RoomName::new(local), EndpointId::new(res)) {
                    return Addr::Occupant(room, ep);
                }
            }
        }
        if local.is_none() && resource.is_none() {
            if let Some(label) = domain.strip_suffix(&self.domain).and_then(|d| d.strip_suffix('.')) {
                if let Ok(b) = BridgeId::new(label) {
                    return Addr::Bridge(b);
                }
            }
        }
        Addr::Jid(from.to_string())
    }
}

/// `local@domain/resource` → its three parts (resource may contain `/` and `@`).
pub fn split_jid(jid: &str) -> (Option<&str>, &str, Option<&str>) {
    let (bare, resource) = match jid.split_once('/') {
        Some((b, r)) => (b, Some(r)),
        None => (jid, None),
    };
    match bare.split_once('@') {
        Some((l, d)) => (Some(l), d, resource),
        None => (None, bare, resource),
    }
}

/// What one incoming stanza means.
#[derive(Debug)]
pub enum Incoming {
    Input(Input),
    /// Answer this at once (the stanza was not for the core).
    Answer(Element),
    /// Presence of focus itself in the bridges room, messages, and the like.
    Ignore,
}

pub fn incoming(j: &Jids, el: &Element) -> Incoming {
    match el.name() {
        "iq" => incoming_iq(j, el),
        "presence" => incoming_presence(j, el),
        _ => Incoming::Ignore,
    }
}

fn incoming_iq(j: &Jids, el: &Element) -> Incoming {
    let from = el.get_attr("from").unwrap_or_default();
    let id = el.get_attr("id").unwrap_or_default().to_string();
    match el.get_attr("type") {
        Some("result") => {
            let body = match el.first_child() {
                None => ResultBody::Empty,
                Some(c) if c.is("jingle", ns::JINGLE) => match parse_jingle(c) {
                    Ok(jg) => ResultBody::Jingle(jg),
                    Err(e) => ResultBody::Unparsable(e),
                },
                Some(c) if c.is("colibri", ns::COLIBRI) => {
                    match serde_json::from_str::<ColibriResponse>(&c.text_content()) {
                        Ok(r) => ResultBody::Colibri(r),
                        Err(e) => ResultBody::Unparsable(format!("colibri JSON: {e}")),
                    }
                }
                Some(c) => ResultBody::Unparsable(format!("unexpected <{} xmlns={:?}>", c.name(), c.ns())),
            };
            Incoming::Input(Input::IqResult { id, from: j.parse_addr(from), body })
        }
        Some("error") => {
            let (condition, text) =
                proto::bus::stanza_error(el).unwrap_or_else(|| ("undefined-condition".into(), None));
            let error = StanzaError { condition: Condition::parse(&condition), text: text.unwrap_or(condition) };
            Incoming::Input(Input::IqError { id, from: j.parse_addr(from), error })
        }
        Some("set") | Some("get") => {
            if id.is_empty() || from.is_empty() {
                return Incoming::Ignore;
            }
            let Some(q) = el.first_child() else {
                return Incoming::Answer(iq_error(el, ErrorCondition::BadRequest, Some("empty IQ")));
            };
            if q.is("conference", ns::FOCUS) {
                let room = q.get_attr("room").unwrap_or_default().to_string();
                return Incoming::Input(Input::ConferenceRequest { from: from.to_string(), id, room });
            }
            if q.is("jingle", ns::JINGLE) {
                let (local, domain, resource) = split_jid(from);
                let room = local.filter(|_| domain.eq_ignore_ascii_case(&j.muc)).and_then(|l| RoomName::new(l).ok());
                return match (room, resource) {
                    (Some(room), Some(nick)) => {
                        Incoming::Input(Input::SessionIq { room, nick: nick.to_string(), id, jingle: parse_jingle(q) })
                    }
                    _ => Incoming::Answer(iq_error(
                        el,
                        ErrorCondition::ItemNotFound,
                        Some("session IQs come from room occupants"),
                    )),
                };
            }
            if q.is("colibri", ns::COLIBRI) {
                return match j.parse_addr(from) {
                    Addr::Bridge(bridge) => {
                        let event = serde_json::from_str::<ColibriEvent>(&q.text_content())
                            .map_err(|e| format!("colibri JSON: {e}"));
                        Incoming::Input(Input::BridgeEvent { bridge, id, event })
                    }
                    _ => Incoming::Answer(iq_error(
                        el,
                        ErrorCondition::Forbidden,
                        Some("colibri events come from bridges"),
                    )),
                };
            }
            if q.is("ping", "urn:xmpp:ping") {
                return Incoming::Answer(proto::bus::iq_result(el, None));
            }
            Incoming::Answer(iq_error(el, ErrorCondition::ServiceUnavailable, None))
        }
        _ => Incoming::Ignore,
    }
}

fn incoming_presence(j: &Jids, el: &Element) -> Incoming {
    let from = el.get_attr("from").unwrap_or_default();
    let (local, domain, resource) = split_jid(from);
    let (Some(local), Some(nick)) = (local, resource) else { return Incoming::Ignore };
    let ty = el.get_attr("type");
    let bare = format!("{local}@{domain}");
    if bare.eq_ignore_ascii_case(&j.bridges_room) {
        if nick == crate::core::FOCUS_NICK {
            return Incoming::Ignore;
        }
        let presence = match ty {
            Some("unavailable") => BridgePresence::Unavailable,
            Some(_) => return Incoming::Ignore,
            None => BridgePresence::Available(parse_stats(el)),
        };
        return Incoming::Input(Input::Bridge { bridge: nick.to_string(), presence });
    }
    if !domain.eq_ignore_ascii_case(&j.muc) {
        return Incoming::Ignore;
    }
    let Ok(room) = RoomName::new(local) else { return Incoming::Ignore };
    match ty {
        Some("error") if nick == crate::core::FOCUS_NICK => {
            let error = proto::bus::stanza_error(el).map(|(c, t)| t.unwrap_or(c)).unwrap_or_else(|| "refused".into());
            Incoming::Input(Input::JoinFailed { room, error })
        }
        Some("unavailable") => {
            Incoming::Input(Input::Occupant { room, nick: nick.to_string(), presence: OccupantPresence::default() })
        }
        None => {
            let flag = |name: &str| el.get_child(name, NS_MEDIA).is_some_and(|c| c.text_content().trim() == "true");
            let forced = el.get_child("muted", ns::ROOM).map(|m| ForcedMute {
                audio: m.get_attr("audio") == Some("true"),
                video: m.get_attr("video") == Some("true"),
            });
            let presence = OccupantPresence {
                available: true,
                display_name: el.get_child("nick", NS_NICK).map(|n| n.text_content()).unwrap_or_default(),
                audio_muted: flag("audiomuted"),
                video_muted: flag("videomuted"),
                forced: forced.unwrap_or_default(),
            };
            Incoming::Input(Input::Occupant { room, nick: nick.to_string(), presence })
        }
        Some(_) => Incoming::Ignore,
    }
}

fn parse_stats(el: &Element) -> Result<BridgeStats, String> {
    let s = el.get_child("stats", ns::BRIDGE_STATS).ok_or_else(|| "no <stats/> in bridge presence".to_string())?;
    serde_json::from_str(&s.text_content()).map_err(|e| format!("bridge stats JSON: {e}"))
}

/// Reads a `<jingle/>` element (`proto::session`).
pub fn parse_jingle(e: &Element) -> Result<Jingle, String> {
    let action: Action = e
        .get_attr("action")
        .ok_or("jingle without action")?
        .parse()
        .map_err(|e: proto::session::UnknownValue| e.to_string())?;
    let sid = e.get_attr("sid").filter(|s| !s.is_empty() && s.len() <= 128).ok_or("jingle without a usable sid")?;
    let mut j = Jingle::new(action, sid);
    if let Some(t) = e.get_attr("transport") {
        j.transport = Some(t.parse::<Transport>().map_err(|e| e.to_string())?);
    }
    j.peer = e.get_attr("peer").map(str::to_string);
    j.initiator = match e.get_attr("initiator") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(format!("initiator must be true or false, not {other:?}")),
    };
    j.reason = e.get_attr("reason").map(str::to_string);
    if let Some(d) = e.get_child("description", ns::SDP) {
        let kind: SdpType = d
            .get_attr("type")
            .ok_or("description without type")?
            .parse()
            .map_err(|e: proto::session::UnknownValue| e.to_string())?;
        // Plain or `encoding="deflate"` (proto::sdp_encoding); bad or oversized compressed
        // SDP is this participant's bad-request, never a large allocation.
        let sdp =
            proto::sdp_encoding::decode(d.get_attr("encoding"), &d.text_content(), proto::sdp_encoding::MAX_SDP_BYTES)
                .map_err(|e| e.to_string())?;
        j.description = Some(Description { kind, sdp });
    }
    Ok(j)
}

pub fn jingle_element(j: &Jingle) -> Element {
    let mut e = Element::new("jingle", ns::JINGLE).attr("action", j.action.as_str()).attr("sid", &j.sid);
    if let Some(t) = j.transport {
        e.set_attr("transport", t.as_str());
    }
    if let Some(p) = &j.peer {
        e.set_attr("peer", p);
    }
    if let Some(i) = j.initiator {
        e.set_attr("initiator", if i { "true" } else { "false" });
    }
    if let Some(r) = &j.reason {
        e.set_attr("reason", r);
    }
    if let Some(d) = &j.description {
        // Always compressed towards participants: plain SDP of a large conference passes
        // signal's 64 KiB client stanza limit (proto::session).
        e.append_child(
            Element::new("description", ns::SDP)
                .attr("type", d.kind.as_str())
                .attr("encoding", proto::sdp_encoding::DEFLATE)
                .text(proto::sdp_encoding::encode_deflate(&d.sdp)),
        );
    }
    e
}

/// The stanza for one core output (`Notify` is not a stanza: `None`).
pub fn outgoing(j: &Jids, o: &Output) -> Option<Element> {
    let iq = |ty: &str, id: &str, to: &str| {
        Element::new("iq", NS_CLIENT).attr("type", ty).attr("id", id).attr("to", to).attr("from", &j.me)
    };
    Some(match o {
        Output::JoinRoom(room) => Element::new("presence", NS_CLIENT)
            .attr("to", j.occupant(room, crate::core::FOCUS_NICK))
            .attr("from", &j.me)
            .child(Element::new("x", NS_MUC)),
        Output::LeaveRoom(room) => Element::new("presence", NS_CLIENT)
            .attr("to", j.occupant(room, crate::core::FOCUS_NICK))
            .attr("from", &j.me)
            .attr("type", "unavailable"),
        Output::SessionIq { id, room, nick, jingle } => {
            iq("set", id, &j.occupant(room, nick.as_str())).child(jingle_element(jingle))
        }
        Output::Colibri { id, bridge, request } => {
            let json = serde_json::to_string(request).expect("Colibri requests are plain data and always serialize");
            iq("set", id, &j.bridge(bridge)).child(Element::new("colibri", ns::COLIBRI).text(json))
        }
        Output::Reply { to, id, body } => match body {
            Ok(reply) => {
                let e = iq("result", id, &j.addr(to));
                match reply {
                    Reply::Empty => e,
                    Reply::ConferenceReady { room } => e.child(
                        Element::new("conference", ns::FOCUS)
                            .attr("ready", "true")
                            .attr("focusjid", &j.me)
                            .attr("room", format!("{room}@{}", j.muc)),
                    ),
                    Reply::Jingle(jg) => e.child(jingle_element(jg)),
                }
            }
            Err(err) => iq("error", id, &j.addr(to)).child(error_element(err)),
        },
        Output::Notify(_) => return None,
    })
}

fn error_element(err: &StanzaError) -> Element {
    let mut e = Element::new("error", NS_CLIENT)
        .attr("type", err.condition.error_type())
        .child(Element::new(err.condition.as_str(), NS_STANZAS));
    if !err.text.is_empty() {
        e.append_child(Element::new("text", NS_STANZAS).text(&err.text));
    }
    e
}

/// Presence joining `bridges@internal.<domain>` as `focus`, to see the bridges.
pub fn join_bridges_room(j: &Jids) -> Element {
    Element::new("presence", NS_CLIENT)
        .attr("to", format!("{}/{}", j.bridges_room, crate::core::FOCUS_NICK))
        .attr("from", &j.me)
        .child(Element::new("x", NS_MUC))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        proto::xml::parse_element(xml).expect("test XML is well-formed")
    }

    #[test]
    fn conference_request_and_session_iqs_become_inputs() {
        let j = Jids::new("meet.lan");
        let el = parse("<iq xmlns='jabber:client' type='set' id='1' from='a@meet.lan/x' to='focus.meet.lan'><conference xmlns='http://jitsi.org/protocol/focus' room='r1@conference.meet.lan' machine-uid='m'/></iq>");
        assert!(
            matches!(incoming(&j, &el), Incoming::Input(Input::ConferenceRequest { room, .. }) if room == "r1@conference.meet.lan")
        );
        let el = parse("<iq xmlns='jabber:client' type='set' id='2' from='r1@conference.meet.lan/abcd1234'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s1'><description xmlns='urn:meet-lan:sdp:0' type='offer'>v=0&#13;\nm=audio 9 RTP/AVP 0&#13;\n</description></jingle></iq>");
        match incoming(&j, &el) {
            Incoming::Input(Input::SessionIq { room, nick, jingle: Ok(jg), .. }) => {
                assert_eq!((room.as_str(), nick.as_str()), ("r1", "abcd1234"));
                assert_eq!(jg.sdp(SdpType::Offer).unwrap(), "v=0\r\nm=audio 9 RTP/AVP 0\r\n");
            }
            other => panic!("{other:?}"),
        }
        let el = parse("<iq xmlns='jabber:client' type='set' id='3' from='r1@conference.meet.lan/abcd1234'><jingle xmlns='urn:xmpp:jingle:1' action='dance' sid='s1'/></iq>");
        assert!(matches!(incoming(&j, &el), Incoming::Input(Input::SessionIq { jingle: Err(_), .. })));
    }

    #[test]
    fn presences_and_bridge_answers_become_inputs() {
        let j = Jids::new("meet.lan");
        let el = parse("<presence xmlns='jabber:client' from='r1@conference.meet.lan/abcd1234'><nick xmlns='http://jabber.org/protocol/nick'>Ann</nick><audiomuted xmlns='urn:meet-lan:media:0'>true</audiomuted></presence>");
        match incoming(&j, &el) {
            Incoming::Input(Input::Occupant { presence, .. }) => {
                assert!(presence.available && presence.audio_muted && !presence.video_muted);
                assert_eq!(presence.display_name, "Ann");
                assert!(!presence.forced.any());
            }
            other => panic!("{other:?}"),
        }
        // signal's statement of a moderator's mute (signal/ROOMS.md, section 3)
        let el = parse("<presence xmlns='jabber:client' from='r1@conference.meet.lan/abcd1234'><muted xmlns='urn:meet-lan:room:0' audio='true' video='false' by='mod1'/></presence>");
        match incoming(&j, &el) {
            Incoming::Input(Input::Occupant { presence, .. }) => {
                assert_eq!(presence.forced, ForcedMute { audio: true, video: false });
            }
            other => panic!("{other:?}"),
        }
        let el = parse("<presence xmlns='jabber:client' from='bridges@internal.meet.lan/jvb-1'><stats xmlns='urn:meet-lan:bridge-stats:0'>{\"stress\":0.5,\"conferences\":1,\"endpoints\":2,\"packet_rate_in\":0,\"packet_rate_out\":0,\"bitrate_in_kbps\":0,\"bitrate_out_kbps\":0,\"draining\":false,\"version\":\"x\"}</stats></presence>");
        assert!(
            matches!(incoming(&j, &el), Incoming::Input(Input::Bridge { presence: BridgePresence::Available(Ok(s)), .. }) if s.stress == 0.5)
        );
        let el = parse("<iq xmlns='jabber:client' type='result' id='f1' from='jvb-1.meet.lan'><colibri xmlns='urn:meet-lan:colibri:0'>not json</colibri></iq>");
        assert!(matches!(
            incoming(&j, &el),
            Incoming::Input(Input::IqResult { from: Addr::Bridge(_), body: ResultBody::Unparsable(_), .. })
        ));
        let el = parse("<iq xmlns='jabber:client' type='error' id='f2' from='jvb-1.meet.lan'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>draining</text></error></iq>");
        assert!(
            matches!(incoming(&j, &el), Incoming::Input(Input::IqError { error, .. }) if error.condition == Condition::ServiceUnavailable && error.text == "draining")
        );
    }

    #[test]
    fn outputs_round_trip_through_the_parser() {
        let j = Jids::new("meet.lan");
        let jg = Jingle::new(Action::SourceAdd, "s9").with_sdp(SdpType::Offer, "v=0\r\nm=video 9 RTP/AVP 96\r\n");
        let o = Output::SessionIq {
            id: "f7".into(),
            room: RoomName::new("r1").unwrap(),
            nick: EndpointId::new("abcd1234").unwrap(),
            jingle: jg.clone(),
        };
        let el = outgoing(&j, &o).unwrap();
        assert_eq!(el.get_attr("to"), Some("r1@conference.meet.lan/abcd1234"));
        let back = parse(&el.to_stanza_string());
        assert_eq!(parse_jingle(back.first_child().unwrap()).unwrap(), jg);
        let d = back.first_child().unwrap().get_child("description", ns::SDP).unwrap();
        assert_eq!(d.get_attr("encoding"), Some("deflate"), "offers to participants are always compressed");
        assert!(!d.text_content().contains("m=video"));
    }

    fn session_accept_with(description: &str) -> Element {
        parse(&format!("<iq xmlns='jabber:client' type='set' id='2' from='r1@conference.meet.lan/abcd1234'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s1'>{description}</jingle></iq>"))
    }

    #[test]
    fn compressed_descriptions_are_decoded_and_bad_ones_are_bad_requests() {
        let j = Jids::new("meet.lan");
        let sdp = "v=0\r\nm=audio 9 RTP/AVP 0\r\n";
        let el = session_accept_with(&format!(
            "<description xmlns='urn:meet-lan:sdp:0' type='offer' encoding='deflate'>{}</description>",
            proto::sdp_encoding::encode_deflate(sdp)
        ));
        assert!(
            matches!(incoming(&j, &el), Incoming::Input(Input::SessionIq { jingle: Ok(jg), .. }) if jg.sdp(SdpType::Offer) == Ok(sdp))
        );
        // A bomb: 64 MiB of zeros, ~64 KB compressed.
        let bomb = {
            use std::io::Write;
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&vec![0u8; 64 << 20]).expect("writing into a Vec");
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                enc.finish().expect("finishing into a Vec"),
            )
        };
        for bad in ["not base64!", "AAAA", bomb.as_str()] {
            let el = session_accept_with(&format!(
                "<description xmlns='urn:meet-lan:sdp:0' type='offer' encoding='deflate'>{bad}</description>"
            ));
            assert!(
                matches!(incoming(&j, &el), Incoming::Input(Input::SessionIq { jingle: Err(_), .. })),
                "{}",
                &bad[..bad.len().min(20)]
            );
        }
        let el = session_accept_with(
            "<description xmlns='urn:meet-lan:sdp:0' type='offer' encoding='brotli'>x</description>",
        );
        assert!(
            matches!(incoming(&j, &el), Incoming::Input(Input::SessionIq { jingle: Err(e), .. }) if e.contains("brotli"))
        );
    }
}
