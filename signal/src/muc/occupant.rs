//! One occupant of a room: its nick, real JID, role and affiliation, and the presence others
//! see (serialized once per change, reused for every recipient and every later joiner).

use crate::conn::ConnId;
use proto::xml::{Element, Prepared, NS_CLIENT};
use std::sync::Arc;

pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affiliation {
    Owner,
    Admin,
    Member,
    None,
}

impl Affiliation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "member" => Self::Member,
            "none" => Self::None,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Moderator,
    Participant,
    Visitor,
    None,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Moderator => "moderator",
            Self::Participant => "participant",
            Self::Visitor => "visitor",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "moderator" => Self::Moderator,
            "participant" => Self::Participant,
            "visitor" => Self::Visitor,
            "none" => Self::None,
            _ => return None,
        })
    }
}

#[derive(Debug)]
pub struct Occupant {
    pub nick: String,
    /// The occupant's room JID as a string (`room@conference.meet.lan/nick`).
    pub room_jid: Arc<str>,
    /// The real JID (full JID of a client, or a component's JID).
    pub real: Arc<str>,
    pub conn: ConnId,
    pub affiliation: Affiliation,
    pub role: Role,
    /// The client's presence children (without the `<x xmlns=muc>` join element).
    pub payload: Vec<Element>,
    /// The presence others see, cached.
    pub presence: Arc<Prepared>,
}

impl Occupant {
    pub fn new(
        nick: String,
        room_jid: Arc<str>,
        real: Arc<str>,
        conn: ConnId,
        affiliation: Affiliation,
        role: Role,
        payload: Vec<Element>,
    ) -> Self {
        let mut o = Occupant {
            nick,
            room_jid,
            real,
            conn,
            affiliation,
            role,
            payload,
            presence: Arc::new(Element::new("presence", NS_CLIENT).prepare()),
        };
        o.refresh();
        o
    }

    /// Rebuilds the cached presence after a change of payload, role or affiliation.
    pub fn refresh(&mut self) {
        self.presence = Arc::new(self.presence_element(None, &[]).prepare());
    }

    /// The display name from `<nick xmlns="http://jabber.org/protocol/nick">`, if any.
    pub fn display_name(&self) -> Option<String> {
        self.payload.iter().find(|e| e.is("nick", NS_NICK)).map(|e| e.text_content())
    }

    /// This occupant's presence: `ty` (`None` = available), with status `codes` added.
    pub fn presence_element(&self, ty: Option<&str>, codes: &[&str]) -> Element {
        let mut p = Element::new("presence", NS_CLIENT).attr("from", &*self.room_jid);
        if let Some(t) = ty {
            p.set_attr("type", t);
        }
        if ty.is_none() {
            for c in &self.payload {
                p.append_child(c.clone());
            }
        }
        let role = if ty == Some("unavailable") { Role::None } else { self.role };
        let mut x = Element::new("x", NS_MUC_USER).child(
            Element::new("item", NS_MUC_USER)
                .attr("affiliation", self.affiliation.as_str())
                .attr("role", role.as_str())
                .attr("jid", &*self.real),
        );
        for c in codes {
            x.append_child(Element::new("status", NS_MUC_USER).attr("code", *c));
        }
        p.append_child(x);
        p
    }
}
