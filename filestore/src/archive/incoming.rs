//! What arrives on the bus, sorted and checked before anything is stored or answered:
//! copies and revocations from the server JID (PEOPLE.md sections 4-7),
//! forged ones from anybody else, and people's queries. Pure: stanza in, typed value out;
//! no I/O, no clock beyond the `now` it is given.

use super::jid::BareJid;
use super::wire::*;
use proto::xml::{Element, NS_CLIENT};
use proto::{EndpointId, RoomName};

/// Largest forwarded message the archive stores (signal's client limit is 64 KiB).
pub const MAX_STORED_XML: usize = 64 * 1024;
/// Largest `max` of a MAM page (PEOPLE.md).
pub const MAX_PAGE: usize = 100;
/// `max` when the query gives none.
pub const DEFAULT_PAGE: usize = 50;

#[derive(Debug)]
pub enum Incoming {
    /// A copy of a one-to-one stanza that signal routed.
    Copy(Box<RoutedCopy>),
    /// A moderator removed `nick` from `room`.
    Revoke { room: RoomName, nick: EndpointId },
    /// A copy or a revocation from anyone but the server JID: refused, counted.
    Forged { from: String },
    /// From the server JID, but not a copy the archive can use (missing ids, bad JIDs).
    Invalid(String),
    /// An IQ `get`/`set`: exactly one answer goes back.
    Request(Request),
    /// Presences, results, errors, other messages: nothing to do.
    Ignore,
}

#[derive(Debug)]
pub struct RoutedCopy {
    /// The sender's full JID as signal stamped it.
    pub from_full: String,
    pub from: BareJid,
    pub to: BareJid,
    /// The sender's display name (the copy's `name`, else the message's XEP-0172 nick, else
    /// the JID's local part).
    pub name: String,
    /// Whether signal delivered the stanza to a session of its recipient (`None`: not said).
    pub delivered: Option<bool>,
    /// When signal routed it (its `<delay/>`), else when it arrived here; ms since the epoch.
    pub at: i64,
    pub chat: Option<ChatCopy>,
    /// XEP-0333 `<displayed id/>`: the sender has read up to that message.
    pub displayed: Option<String>,
    pub call: Option<CallEvent>,
    pub invitation: Option<Invitation>,
}

/// A message with a body, stored under its stanza-id.
#[derive(Debug)]
pub struct ChatCopy {
    pub stanza_id: String,
    /// The sender's own id (XEP-0359 origin-id, else the message's `id`), which markers from
    /// ordinary XMPP clients refer to.
    pub client_id: Option<String>,
    /// The message as routed, in `jabber:client`.
    pub xml: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio,
    Video,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Audio => "audio",
            Media::Video => "video",
        }
    }

    pub fn parse(s: &str) -> Media {
        if s == "video" {
            Media::Video
        } else {
            Media::Audio
        }
    }
}

/// XEP-0353 Jingle Message Initiation, as seen in copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    Propose { id: String, media: Media, room: Option<RoomName> },
    Accept { id: String },
    Proceed { id: String },
    Reject { id: String, busy: bool },
    Retract { id: String },
}

/// An XEP-0249 invitation.
#[derive(Debug)]
pub struct Invitation {
    pub room: RoomName,
    pub reason: Option<String>,
    /// What makes a second copy of the same invitation recognisable (stanza-id, else the
    /// sender's full JID and message id); `None`: every copy counts.
    pub key: Option<String>,
}

#[derive(Debug)]
pub struct Request {
    pub iq: Element,
    /// The asker, as signal stamped it; `None` when it is not a person (a component).
    pub asker: Option<BareJid>,
    pub query: Query,
}

#[derive(Debug)]
pub enum Query {
    /// About the asker's own archive: needs a person as the asker.
    Personal(Personal),
    /// IQ get of the MAM query form (XEP-0313 §5).
    MamForm,
    DiscoInfo,
    Ping,
    /// A query the archive knows, asked wrongly.
    Bad(String),
    Unsupported,
}

#[derive(Debug)]
pub enum Personal {
    Mam(MamQuery),
    Inbox { queryid: Option<String> },
    Notifications,
    Dismiss { id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MamQuery {
    pub queryid: Option<String>,
    /// The peer; `None`: all of the asker's conversations (what ordinary XMPP clients sync).
    pub with: Option<BareJid>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub max: usize,
    pub page: Page,
}

/// Where a MAM page lies (XEP-0059).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// No `before`/`after`: the oldest messages first (XEP-0313).
    Oldest,
    /// `<before/>` (`None`: the newest page) or `<before>id</before>`: the page just older.
    Before(Option<String>),
    /// `<after>id</after>`: the page just newer.
    After(String),
}

/// Sorts one stanza from the bus. `domain` is the server JID, the only sender of copies.
pub fn classify(el: Element, domain: &str, now_ms: i64) -> Incoming {
    match el.name() {
        "iq" if matches!(el.get_attr("type"), Some("get" | "set")) => Incoming::Request(request(el)),
        "message" if el.get_attr("type") != Some("error") => message(&el, domain, now_ms),
        _ => Incoming::Ignore,
    }
}

fn message(el: &Element, domain: &str, now_ms: i64) -> Incoming {
    let wrapper = el.get_child("archive", NS_PEOPLE);
    let revoke = el.get_child("revoke", NS_PEOPLE);
    if wrapper.is_none() && revoke.is_none() {
        return Incoming::Ignore;
    }
    let from = el.get_attr("from").unwrap_or_default();
    if !from.eq_ignore_ascii_case(domain) {
        return Incoming::Forged { from: from.chars().take(200).collect() };
    }
    if let Some(r) = revoke {
        let room = r.get_attr("room").and_then(|v| RoomName::normalize(v).ok());
        let nick = r.get_attr("nick").and_then(|v| EndpointId::new(v).ok());
        return match (room, nick) {
            (Some(room), Some(nick)) => Incoming::Revoke { room, nick },
            _ => Incoming::Invalid("revoke without a valid room and nick".into()),
        };
    }
    match wrapper.map(|w| copy(w, domain, now_ms)) {
        Some(Ok(c)) => Incoming::Copy(Box::new(c)),
        Some(Err(why)) => Incoming::Invalid(why),
        None => Incoming::Ignore,
    }
}

fn copy(wrapper: &Element, domain: &str, now_ms: i64) -> Result<RoutedCopy, String> {
    let fwd = wrapper.get_child("forwarded", NS_FORWARD).ok_or("copy without <forwarded/>")?;
    let msg = fwd.get_child("message", NS_CLIENT).ok_or("copy without a forwarded jabber:client <message/>")?;
    let from_full = msg.get_attr("from").ok_or("forwarded message without from")?;
    let from = BareJid::of(from_full).ok_or("forwarded message not from a person")?;
    let to = msg.get_attr("to").and_then(BareJid::of).ok_or("forwarded message not to a person")?;
    let name = wrapper
        .get_attr("name")
        .and_then(clean_name)
        .or_else(|| msg.get_child("nick", NS_NICK).and_then(|n| clean_name(&n.text_content())))
        .unwrap_or_else(|| from.local().to_string());
    let delivered = wrapper.get_attr("delivered").map(|v| v == "true" || v == "1");
    let at = [msg.get_child("delay", NS_DELAY), fwd.get_child("delay", NS_DELAY)]
        .into_iter()
        .flatten()
        .find_map(|d| d.get_attr("stamp").and_then(parse_rfc3339))
        .unwrap_or(now_ms);
    let stanza_id = msg
        .children()
        .find(|c| c.is("stanza-id", NS_SID) && c.get_attr("by").is_some_and(|b| b.eq_ignore_ascii_case(domain)))
        .and_then(|c| id_attr(c, "id"))
        .map(str::to_string);
    let chat = match own_child(msg, "body") {
        Some(_) => {
            let stanza_id = stanza_id.clone().ok_or("message without the server's <stanza-id/>")?;
            let client_id = msg
                .get_child("origin-id", NS_SID)
                .and_then(|o| id_attr(o, "id"))
                .or_else(|| id_attr(msg, "id"))
                .map(str::to_string);
            let mut xml = String::new();
            msg.write_to(&mut xml, "");
            if xml.len() > MAX_STORED_XML {
                return Err(format!("forwarded message larger than {MAX_STORED_XML} bytes"));
            }
            Some(ChatCopy { stanza_id, client_id, xml })
        }
        None => None,
    };
    let displayed = msg.get_child("displayed", NS_MARKERS).and_then(|d| id_attr(d, "id")).map(str::to_string);
    let call = msg.children().filter(|c| c.ns() == NS_JMI).find_map(call_event);
    let invitation = msg.get_child("x", NS_CONFERENCE).and_then(|x| {
        let jid = x.get_attr("jid")?;
        let (local, service) = jid.split_once('@')?;
        if !service.eq_ignore_ascii_case(&format!("conference.{domain}")) {
            return None;
        }
        let key = stanza_id.clone().or_else(|| id_attr(msg, "id").map(|id| format!("{from_full}/{id}")));
        Some(Invitation {
            room: RoomName::normalize(local).ok()?,
            reason: x.get_attr("reason").and_then(clean_reason),
            key,
        })
    });
    Ok(RoutedCopy {
        from_full: from_full.to_string(),
        from,
        to,
        name,
        delivered,
        at,
        chat,
        displayed,
        call,
        invitation,
    })
}

/// An invitation's reason as shown: like a name, but up to 500 characters.
fn clean_reason(s: &str) -> Option<String> {
    let kept: String = s.chars().filter(|c| !c.is_control()).take(500).collect();
    let t = kept.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn call_event(e: &Element) -> Option<CallEvent> {
    let id = id_attr(e, "id")?.to_string();
    Some(match e.name() {
        "propose" => {
            let video = e.children().any(|d| d.is("description", NS_RTP) && d.get_attr("media") == Some("video"));
            let room = e
                .get_child("call", NS_PEOPLE)
                .and_then(|c| c.get_attr("room"))
                .and_then(|r| RoomName::normalize(r).ok());
            CallEvent::Propose { id, media: if video { Media::Video } else { Media::Audio }, room }
        }
        "accept" => CallEvent::Accept { id },
        "proceed" => CallEvent::Proceed { id },
        "reject" => {
            let busy = e.get_child("reason", NS_JINGLE).is_some_and(|r| r.get_child("busy", NS_JINGLE).is_some());
            CallEvent::Reject { id, busy }
        }
        "retract" => CallEvent::Retract { id },
        _ => return None,
    })
}

fn request(iq: Element) -> Request {
    let asker = iq.get_attr("from").and_then(BareJid::of);
    let set = iq.get_attr("type") == Some("set");
    let query = match iq.first_child() {
        Some(q) if q.is("query", NS_MAM) && set => match mam_query(q) {
            Ok(m) => Query::Personal(Personal::Mam(m)),
            Err(why) => Query::Bad(why),
        },
        Some(q) if q.is("query", NS_MAM) => Query::MamForm,
        Some(q) if q.is("inbox", NS_INBOX) => {
            Query::Personal(Personal::Inbox { queryid: id_attr(q, "queryid").map(str::to_string) })
        }
        Some(q) if q.is("notifications", NS_PEOPLE) && !set => Query::Personal(Personal::Notifications),
        Some(q) if q.is("dismiss", NS_PEOPLE) && set => match id_attr(q, "id") {
            Some(id) => Query::Personal(Personal::Dismiss { id: id.to_string() }),
            None => Query::Bad("dismiss needs the notification's id".into()),
        },
        Some(q) if q.is("query", NS_DISCO_INFO) && !set && q.get_attr("node").is_none() => Query::DiscoInfo,
        Some(q) if q.is("ping", NS_PING) && !set => Query::Ping,
        _ => Query::Unsupported,
    };
    Request { iq, asker, query }
}

fn mam_query(q: &Element) -> Result<MamQuery, String> {
    let mut out = MamQuery { queryid: None, with: None, start: None, end: None, max: DEFAULT_PAGE, page: Page::Oldest };
    if q.get_attr("queryid").is_some() {
        out.queryid = Some(id_attr(q, "queryid").ok_or("queryid is empty or too long")?.to_string());
    }
    if let Some(form) = q.get_child("x", NS_DATA) {
        for field in form.children().filter(|f| f.name() == "field") {
            let value = field.get_child("value", NS_DATA).map(|v| v.text_content()).unwrap_or_default();
            let value = value.trim();
            match field.get_attr("var").unwrap_or_default() {
                "FORM_TYPE" if value == NS_MAM => {}
                "FORM_TYPE" => return Err(format!("FORM_TYPE must be {NS_MAM}")),
                "with" => out.with = Some(BareJid::of(value).ok_or("with must be the bare JID of a person")?),
                "start" => out.start = Some(parse_rfc3339(value).ok_or("start must be an XMPP date-time")?),
                "end" => out.end = Some(parse_rfc3339(value).ok_or("end must be an XMPP date-time")?),
                other => {
                    return Err(format!(
                        "unsupported field {:?} (with, start, end)",
                        other.chars().take(40).collect::<String>()
                    ))
                }
            }
        }
    }
    if let Some(set) = q.get_child("set", NS_RSM) {
        if let Some(m) = set.get_child("max", NS_RSM) {
            let n: usize = m.text_content().trim().parse().map_err(|_| "max must be a number")?;
            out.max = n.min(MAX_PAGE);
        }
        let before = set.get_child("before", NS_RSM).map(|b| b.text_content().trim().to_string());
        let after =
            set.get_child("after", NS_RSM).map(|a| a.text_content().trim().to_string()).filter(|a| !a.is_empty());
        out.page = match (before, after) {
            (Some(_), Some(_)) => return Err("give before or after, not both".into()),
            (Some(b), None) if b.is_empty() => Page::Before(None),
            (Some(b), None) => Page::Before(Some(b)),
            (None, Some(a)) => Page::After(a),
            (None, None) => Page::Oldest,
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::xml::parse_element;

    const NOW: i64 = 1_765_000_000_000;

    fn parse(s: &str) -> Incoming {
        classify(parse_element(s).expect("test stanza parses"), "meet.lan", NOW)
    }

    fn copy_of(inner: &str, attrs: &str) -> String {
        format!(
            "<message xmlns='jabber:client' from='meet.lan' to='archive.meet.lan'><archive xmlns='urn:meet-lan:people:0' {attrs}><forwarded xmlns='urn:xmpp:forward:0'>{inner}</forwarded></archive></message>"
        )
    }

    const CHAT: &str = "<message xmlns='jabber:client' type='chat' from='Alice@guest.meet.lan/p1' to='bob@guest.meet.lan' id='m1'><body>hi</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/><stanza-id xmlns='urn:xmpp:sid:0' by='meet.lan' id='s1'/><delay xmlns='urn:xmpp:delay' stamp='2026-12-06T03:13:18Z'/></message>";

    #[test]
    fn a_chat_copy_from_the_server_is_understood() {
        let Incoming::Copy(c) = parse(&copy_of(CHAT, "name='Alice A' delivered='false'")) else { panic!("not a copy") };
        assert_eq!(
            (c.from.as_str(), c.to.as_str(), c.name.as_str()),
            ("alice@guest.meet.lan", "bob@guest.meet.lan", "Alice A")
        );
        assert_eq!(c.delivered, Some(false));
        assert_eq!(c.at, 1_796_526_798_000);
        let chat = c.chat.expect("chat");
        assert_eq!((chat.stanza_id.as_str(), chat.client_id.as_deref()), ("s1", Some("o1")));
        let again = parse_element(&chat.xml).unwrap();
        assert!(again.is("message", NS_CLIENT), "{}", chat.xml);
        assert_eq!(own_child(&again, "body").map(|b| b.text_content()), Some("hi".into()));
    }

    #[test]
    fn copies_from_anyone_else_are_forged() {
        let forged = copy_of(CHAT, "").replace("from='meet.lan'", "from='alice@guest.meet.lan/p1'");
        assert!(matches!(parse(&forged), Incoming::Forged { .. }));
        let component = copy_of(CHAT, "").replace("from='meet.lan'", "from='evil.meet.lan'");
        assert!(matches!(parse(&component), Incoming::Forged { .. }));
        let revoke =
            "<message from='focus.meet.lan'><revoke xmlns='urn:meet-lan:people:0' room='a' nick='b'/></message>";
        assert!(matches!(parse(revoke), Incoming::Forged { .. }));
    }

    #[test]
    fn a_message_without_the_servers_stanza_id_is_invalid() {
        let other = CHAT.replace("by='meet.lan'", "by='alice@guest.meet.lan'");
        assert!(matches!(parse(&copy_of(&other, "")), Incoming::Invalid(_)));
    }

    #[test]
    fn calls_markers_and_invitations() {
        let propose = "<message xmlns='jabber:client' from='a@x/1' to='b@x'><propose xmlns='urn:xmpp:jingle-message:0' id='c1'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/><call xmlns='urn:meet-lan:people:0' room='call-abc' password='p'/></propose></message>";
        let Incoming::Copy(c) = parse(&copy_of(propose, "")) else { panic!() };
        assert_eq!(
            c.call,
            Some(CallEvent::Propose { id: "c1".into(), media: Media::Video, room: RoomName::new("call-abc").ok() })
        );
        assert_eq!(c.name, "a");
        let busy = "<message xmlns='jabber:client' from='b@x/1' to='a@x'><reject xmlns='urn:xmpp:jingle-message:0' id='c1'><reason xmlns='urn:xmpp:jingle:1'><busy/></reason></reject></message>";
        let Incoming::Copy(c) = parse(&copy_of(busy, "")) else { panic!() };
        assert_eq!(c.call, Some(CallEvent::Reject { id: "c1".into(), busy: true }));
        let marker = "<message xmlns='jabber:client' from='b@x/1' to='a@x'><displayed xmlns='urn:xmpp:chat-markers:0' id='s1'/></message>";
        let Incoming::Copy(c) = parse(&copy_of(marker, "")) else { panic!() };
        assert_eq!(c.displayed.as_deref(), Some("s1"));
        assert!(c.chat.is_none());
        let invite = "<message xmlns='jabber:client' from='a@x/1' to='b@x' id='i1'><x xmlns='jabber:x:conference' jid='Planning@conference.meet.lan' reason='join us'/></message>";
        let Incoming::Copy(c) = parse(&copy_of(invite, "")) else { panic!() };
        let inv = c.invitation.expect("invitation");
        assert_eq!(
            (inv.room.as_str(), inv.reason.as_deref(), inv.key.as_deref()),
            ("planning", Some("join us"), Some("a@x/1/i1"))
        );
        let elsewhere = invite.replace("conference.meet.lan", "conference.other.lan");
        let Incoming::Copy(c) = parse(&copy_of(&elsewhere, "")) else { panic!() };
        assert!(c.invitation.is_none());
    }

    #[test]
    fn revocations_need_a_room_and_a_nick() {
        let ok =
            "<message from='meet.lan'><revoke xmlns='urn:meet-lan:people:0' room='Standup' nick='ab12'/></message>";
        assert!(
            matches!(parse(ok), Incoming::Revoke { room, nick } if room.as_str() == "standup" && nick.as_str() == "ab12")
        );
        let bad = "<message from='meet.lan'><revoke xmlns='urn:meet-lan:people:0' room='../x' nick='ab12'/></message>";
        assert!(matches!(parse(bad), Incoming::Invalid(_)));
    }

    fn mam(body: &str) -> Query {
        let iq = format!("<iq xmlns='jabber:client' type='set' id='q' from='alice@guest.meet.lan/p' to='archive.meet.lan'><query xmlns='urn:xmpp:mam:2' queryid='f1'>{body}</query></iq>");
        match parse(&iq) {
            Incoming::Request(r) => {
                assert_eq!(r.asker.as_ref().map(|a| a.as_str()), Some("alice@guest.meet.lan"));
                r.query
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mam_queries() {
        let form = "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>Bob@guest.meet.lan</value></field></x>";
        let Query::Personal(Personal::Mam(q)) =
            mam(&format!("{form}<set xmlns='http://jabber.org/protocol/rsm'><max>500</max><before/></set>"))
        else {
            panic!()
        };
        assert_eq!(q.with.as_ref().map(|w| w.as_str()), Some("bob@guest.meet.lan"));
        assert_eq!((q.max, q.page, q.queryid.as_deref()), (MAX_PAGE, Page::Before(None), Some("f1")));
        let Query::Personal(Personal::Mam(q)) =
            mam("<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><before>s9</before></set>")
        else {
            panic!()
        };
        assert_eq!((q.max, q.page, q.with), (10, Page::Before(Some("s9".into())), None));
        let Query::Personal(Personal::Mam(q)) = mam("") else { panic!() };
        assert_eq!((q.max, q.page), (DEFAULT_PAGE, Page::Oldest));
        assert!(matches!(mam("<set xmlns='http://jabber.org/protocol/rsm'><max>lots</max></set>"), Query::Bad(_)));
        assert!(matches!(
            mam("<x xmlns='jabber:x:data'><field var='fulltext'><value>x</value></field></x>"),
            Query::Bad(_)
        ));
        assert!(matches!(
            mam("<x xmlns='jabber:x:data'><field var='with'><value>meet.lan</value></field></x>"),
            Query::Bad(_)
        ));
    }

    #[test]
    fn components_are_not_askers() {
        let iq = "<iq type='get' id='1' from='focus.meet.lan' to='archive.meet.lan'><notifications xmlns='urn:meet-lan:people:0'/></iq>";
        let Incoming::Request(r) = parse(iq) else { panic!() };
        assert!(r.asker.is_none());
        assert!(matches!(r.query, Query::Personal(Personal::Notifications)));
    }
}
