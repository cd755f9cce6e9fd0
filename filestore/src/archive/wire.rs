//! The XMPP vocabulary the archive speaks (signal/PEOPLE.md): namespaces, times as XMPP
//! writes them (RFC 3339, XEP-0082), display names as the archive keeps them, and the small
//! readers shared by the incoming and outgoing sides.

use proto::xml::Element;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use proto::ns::PEOPLE as NS_PEOPLE;
pub const NS_MAM: &str = "urn:xmpp:mam:2";
pub const NS_RSM: &str = "http://jabber.org/protocol/rsm";
pub const NS_FORWARD: &str = "urn:xmpp:forward:0";
pub const NS_DELAY: &str = "urn:xmpp:delay";
pub const NS_SID: &str = "urn:xmpp:sid:0";
pub const NS_MARKERS: &str = "urn:xmpp:chat-markers:0";
pub const NS_INBOX: &str = "urn:xmpp:inbox:1";
pub const NS_JMI: &str = "urn:xmpp:jingle-message:0";
pub const NS_JINGLE: &str = "urn:xmpp:jingle:1";
pub const NS_RTP: &str = "urn:xmpp:jingle:apps:rtp:1";
pub const NS_CONFERENCE: &str = "jabber:x:conference";
pub const NS_DATA: &str = "jabber:x:data";
pub const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
pub const NS_PING: &str = "urn:xmpp:ping";
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";

/// Longest display name kept (PEOPLE.md: ≤ 100 characters).
pub const MAX_NAME_CHARS: usize = 100;
/// Longest id (call id, marker id, query id, stanza id) the archive accepts.
pub const MAX_ID_BYTES: usize = 256;

/// `ms` since the epoch as an XMPP date-time (UTC, milliseconds).
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// An XMPP date-time as ms since the epoch; `None` when it is not RFC 3339.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// A display name as stored and shown: control and bidi-override characters dropped, trimmed,
/// at most [`MAX_NAME_CHARS`]; `None` when nothing is left.
pub fn clean_name(s: &str) -> Option<String> {
    let kept: String = s
        .chars()
        .filter(|c| !c.is_control() && !crate::files::name::is_bidi_control(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    let t = kept.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// An id attribute the archive can key by: present, non-empty, at most [`MAX_ID_BYTES`].
pub fn id_attr<'a>(e: &'a Element, name: &str) -> Option<&'a str> {
    e.get_attr(name).filter(|v| !v.is_empty() && v.len() <= MAX_ID_BYTES)
}

/// The first child `name` in the same namespace as `e` (children of a forwarded message
/// inherit its namespace).
pub fn own_child<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    e.children().find(|c| c.name() == name && c.ns() == e.ns())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_in_milliseconds() {
        let ms = 1_765_000_000_123;
        let s = rfc3339(ms);
        assert!(s.ends_with('Z'), "{s}");
        assert_eq!(parse_rfc3339(&s), Some(ms));
        assert_eq!(parse_rfc3339("2026-12-06T04:13:18+01:00"), Some(1_796_526_798_000));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn names_are_cleaned_and_capped() {
        assert_eq!(clean_name("  Alice\u{202e}\n "), Some("Alice".into()));
        assert_eq!(clean_name(" \u{7} "), None);
        assert_eq!(clean_name(&"x".repeat(500)).map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
    }
}
