//! Building the error answers signal sends back for stanzas it refuses, and the few stanza
//! facts routing needs. It must never answer an error with an error (no loops).

use proto::bus::NS_STANZAS;
use proto::xml::{Element, NS_CLIENT};

const NS_MUC: &str = "http://jabber.org/protocol/muc";

/// A stanza error condition (RFC 6120 §8.3.3) with its error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub name: &'static str,
    pub kind: &'static str,
    /// The legacy numeric code some clients still read (XEP-0086), when there is one.
    pub code: Option<&'static str>,
}

pub const BAD_REQUEST: Cond = Cond { name: "bad-request", kind: "modify", code: Some("400") };
pub const CONFLICT: Cond = Cond { name: "conflict", kind: "cancel", code: Some("409") };
pub const FORBIDDEN: Cond = Cond { name: "forbidden", kind: "auth", code: Some("403") };
pub const ITEM_NOT_FOUND: Cond = Cond { name: "item-not-found", kind: "cancel", code: Some("404") };
pub const JID_MALFORMED: Cond = Cond { name: "jid-malformed", kind: "modify", code: Some("400") };
pub const NOT_ACCEPTABLE: Cond = Cond { name: "not-acceptable", kind: "modify", code: Some("406") };
pub const NOT_ALLOWED: Cond = Cond { name: "not-allowed", kind: "cancel", code: Some("405") };
pub const NOT_AUTHORIZED: Cond = Cond { name: "not-authorized", kind: "auth", code: Some("401") };
pub const REMOTE_SERVER_NOT_FOUND: Cond = Cond { name: "remote-server-not-found", kind: "cancel", code: Some("404") };
pub const SERVICE_UNAVAILABLE: Cond = Cond { name: "service-unavailable", kind: "cancel", code: Some("503") };
pub const RESOURCE_CONSTRAINT: Cond = Cond { name: "resource-constraint", kind: "wait", code: Some("500") };
pub const FEATURE_NOT_IMPLEMENTED: Cond = Cond { name: "feature-not-implemented", kind: "cancel", code: Some("501") };
pub const POLICY_VIOLATION: Cond = Cond { name: "policy-violation", kind: "modify", code: None };
pub const REGISTRATION_REQUIRED: Cond = Cond { name: "registration-required", kind: "auth", code: Some("407") };
pub const RECIPIENT_UNAVAILABLE: Cond = Cond { name: "recipient-unavailable", kind: "wait", code: Some("404") };

/// Stanza kinds; anything else at the top level of a stream is not a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Message,
    Presence,
    Iq,
}

pub fn kind(stanza: &Element) -> Option<Kind> {
    if stanza.ns() != NS_CLIENT {
        return None;
    }
    match stanza.name() {
        "message" => Some(Kind::Message),
        "presence" => Some(Kind::Presence),
        "iq" => Some(Kind::Iq),
        _ => None,
    }
}

/// True for an IQ `get` or `set` (a request that must be answered).
pub fn is_iq_request(stanza: &Element) -> bool {
    stanza.name() == "iq" && matches!(stanza.get_attr("type"), Some("get" | "set"))
}

pub fn error_child(cond: Cond, text: Option<&str>) -> Element {
    let mut e = Element::new("error", NS_CLIENT).attr("type", cond.kind);
    if let Some(code) = cond.code {
        e.set_attr("code", code);
    }
    e.append_child(Element::new(cond.name, NS_STANZAS));
    if let Some(t) = text {
        e.append_child(Element::new("text", NS_STANZAS).text(t));
    }
    e
}

/// The error answer to `stanza` (addresses swapped, same id and name), or `None` when the
/// stanza must not be answered (it is itself an error, or an IQ result).
pub fn error_reply(stanza: &Element, cond: Cond, text: Option<&str>) -> Option<Element> {
    let ty = stanza.get_attr("type");
    if ty == Some("error") || (stanza.name() == "iq" && ty == Some("result")) {
        return None;
    }
    if !matches!(stanza.name(), "iq" | "message" | "presence") {
        return None;
    }
    let mut e = Element::new(stanza.name(), NS_CLIENT).attr("type", "error");
    if let Some(id) = stanza.get_attr("id") {
        e.set_attr("id", id);
    }
    if let Some(from) = stanza.get_attr("from") {
        e.set_attr("to", from);
    }
    if let Some(to) = stanza.get_attr("to") {
        e.set_attr("from", to);
    }
    // XEP-0045 §7.2: a refused join echoes the MUC <x/> (clients match errors to joins by it)
    if stanza.name() == "presence" && stanza.get_child("x", NS_MUC).is_some() {
        e.append_child(Element::new("x", NS_MUC));
    }
    e.append_child(error_child(cond, text));
    Some(e)
}

/// A refusal: the condition, a text for people, and an element of our namespace saying
/// which rule refused (`<host-required xmlns="urn:meet-lan:room:0"/>`), for pages.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub cond: Cond,
    pub text: String,
    pub app: Option<Box<Element>>,
}

impl Refusal {
    pub fn new(cond: Cond, text: impl Into<String>) -> Refusal {
        Refusal { cond, text: text.into(), app: None }
    }

    /// Adds `<name xmlns="urn:meet-lan:room:0"/>`.
    pub fn room(self, name: &str) -> Refusal {
        self.with(Element::new(name, proto::ns::ROOM))
    }

    pub fn with(mut self, app: Element) -> Refusal {
        self.app = Some(Box::new(app));
        self
    }

    /// The error answer to `stanza` (see [`error_reply`]).
    pub fn reply_to(&self, stanza: &Element) -> Option<Element> {
        let mut e = error_reply(stanza, self.cond, Some(&self.text))?;
        if let (Some(app), Some(err)) = (&self.app, e.get_child_mut("error", NS_CLIENT)) {
            err.append_child((**app).clone());
        }
        Some(e)
    }
}

/// An empty IQ result for `request`.
pub fn iq_result(request: &Element) -> Element {
    proto::bus::iq_result(request, None)
}
