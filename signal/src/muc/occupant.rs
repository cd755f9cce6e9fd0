//! One occupant of a room: its nick, real JID, role and affiliation, who it is (a person's
//! session, or a component), the mute flags moderators set, and the presence others see
//! (serialized once per change, reused for every recipient and every later joiner).

use crate::auth::Session;
use crate::conn::ConnId;
use proto::ns::ROOM as NS_ROOM;
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

/// What distinguishes a person from a component (focus, bridges) in a room.
#[derive(Debug)]
pub struct Person {
    pub session: Arc<Session>,
    /// The key a removal is recorded under (account, token subject, or the guest's browser
    /// key; never sent to anyone).
    pub removal_key: String,
    /// May open rooms and be elected (`Policy::is_host` for this room, at join).
    pub host: bool,
}

impl Person {
    /// May the election make this person moderator? Hosts, unless their token says never.
    pub fn electable(&self) -> bool {
        self.host && self.session.identity.token().and_then(|t| t.moderator) != Some(false)
    }
}

/// Media a moderator muted; only the person clears a flag (`<unmute/>`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MuteFlags {
    pub audio: bool,
    pub video: bool,
    /// Nick of the moderator who set the latest flag.
    pub by: String,
}

impl MuteFlags {
    pub fn any(&self) -> bool {
        self.audio || self.video
    }
}

/// `audio` or `video`, the `media` attribute of mute requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Audio,
    Video,
}

impl Media {
    pub fn parse(s: Option<&str>) -> Option<Media> {
        match s {
            Some("audio") => Some(Media::Audio),
            Some("video") => Some(Media::Video),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Media::Audio => "audio",
            Media::Video => "video",
        }
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
    /// `None` for components, which are never elected, muted, kicked or counted as people.
    pub person: Option<Person>,
    /// Join order within the room: the longest-present host is re-elected first.
    pub seq: u64,
    pub muted: MuteFlags,
    /// The presence others see, cached.
    pub presence: Arc<Prepared>,
}

impl Occupant {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        nick: String,
        room_jid: Arc<str>,
        real: Arc<str>,
        conn: ConnId,
        affiliation: Affiliation,
        role: Role,
        payload: Vec<Element>,
        person: Option<Person>,
        seq: u64,
    ) -> Self {
        let mut o = Occupant {
            nick,
            room_jid,
            real,
            conn,
            affiliation,
            role,
            payload,
            person,
            seq,
            muted: MuteFlags::default(),
            presence: Arc::new(Element::new("presence", NS_CLIENT).prepare()),
        };
        o.refresh();
        o
    }

    /// Rebuilds the cached presence after a change of payload, role or affiliation.
    pub fn refresh(&mut self) {
        self.presence = Arc::new(self.presence_element(None, &[]).prepare());
    }

    pub fn is_person(&self) -> bool {
        self.person.is_some()
    }

    pub fn is_moderator(&self) -> bool {
        self.role == Role::Moderator
    }

    /// Moderator and owner (as Jitsi: owners may configure the room), or back to participant.
    pub fn set_moderator(&mut self, yes: bool) {
        (self.role, self.affiliation) =
            if yes { (Role::Moderator, Affiliation::Owner) } else { (Role::Participant, Affiliation::None) };
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
            if self.muted.any() {
                p.append_child(
                    Element::new("muted", NS_ROOM)
                        .attr("audio", if self.muted.audio { "true" } else { "false" })
                        .attr("video", if self.muted.video { "true" } else { "false" })
                        .attr("by", self.muted.by.as_str()),
                );
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
