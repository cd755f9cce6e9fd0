//! People on the LAN (`signal/PEOPLE.md`): the directory of accounts and recognised guests,
//! their sessions and presence, the shared roster, and the one-to-one stanzas between them
//! (messages, read markers, invitations, calls), each stamped and copied to the archive
//! (`archive.<domain>`, a bus component of filestore) from the server's own JID.
//!
//! One concept a file: [`directory`] (who is known, saved by [`store`]), [`roster`] (the
//! shared roster and subscriptions), [`presence`] (fan-out), [`chat`] (one-to-one routing,
//! the archive copy, carbons), [`calls`] (XEP-0353 limits), [`stamp`] (stanza ids and
//! times). Sans-IO like the rooms: the hub hands in stanzas, time and the archive's
//! connection; [`Delivery`]s come out. A session here is always a person's: anonymous guests
//! and token sessions are not people of the directory and never get this far. It must never
//! take a sender's word for who they are (the hub's `from` is the truth), and a refused
//! stanza changes nothing.

pub mod calls;
pub mod chat;
pub mod directory;
pub mod presence;
pub mod roster;
pub mod stamp;
pub mod store;

use crate::auth::Identity;
use crate::conn::{ConnId, Delivery};
use crate::jid::Jid;
use crate::ratelimit::Window;
use crate::stanza::{self, Refusal};
use directory::{Directory, GuestRecord};
use proto::xml::{Element, Prepared};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wrong guest secrets one source address may send within [`GUEST_WINDOW`].
pub const WRONG_GUEST_SECRETS: usize = 5;
pub const GUEST_WINDOW: Duration = Duration::from_secs(60);

/// Why a guest's login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestRefusal {
    /// The id is not the secret's, or not the secret recorded for it.
    Wrong,
    /// Too many wrong secrets from this address: seconds to wait.
    TooMany(u64),
}

/// One bound session of a person.
#[derive(Debug)]
pub struct PersonSession {
    pub conn: ConnId,
    pub full: Arc<str>,
    pub bare: Arc<str>,
    /// The last available presence it sent (`None`: not available yet, or unavailable).
    pub presence: Option<Arc<Prepared>>,
    /// It asked for the roster, so it gets roster pushes (RFC 6121 "interested resource").
    pub roster: bool,
    /// It gets `<sent/>` copies of what its person sends from other sessions (on unless it
    /// disabled XEP-0280 carbons).
    pub carbons: bool,
}

/// What the hub knows that a one-to-one stanza's routing needs.
pub struct Ctx<'a> {
    pub now: Instant,
    /// The archive's connection, when it is on the bus.
    pub archive: Option<ConnId>,
    /// Is the person (bare JID) in the room (local name) right now?
    pub in_room: &'a dyn Fn(&str, &str) -> bool,
}

pub struct People {
    /// The server's own JID (`<domain>`): the archive takes copies from it only.
    server: Arc<str>,
    auth_domain: String,
    guest_domain: String,
    conference_domain: String,
    archive_jid: Arc<str>,
    directory: Directory,
    sessions: HashMap<ConnId, PersonSession>,
    /// Every connection here is a key of `sessions`: both change together in `handle_bind` and
    /// `handle_gone`.
    by_person: HashMap<Arc<str>, Vec<ConnId>>,
    wrong_secrets: Window<IpAddr>,
    limits: chat::Limits,
    calls: calls::OpenCalls,
    stamper: stamp::Stamper,
    token_secret: Vec<u8>,
    next_push: u64,
    /// People with at least one available session (`signal_people_online`).
    online: usize,
    /// One-to-one stanzas routed so far (`signal_people_messages_total`).
    pub routed: u64,
}

impl People {
    /// The people of `domain`, their directory read from `data_dir`; `accounts` are the user
    /// names of `accounts.json`.
    pub fn open(
        domain: &str,
        data_dir: &Path,
        accounts: &[String],
        token_secret: Vec<u8>,
    ) -> Result<People, crate::Error> {
        let directory = Directory::open(data_dir, &format!("auth.{domain}"), accounts)?;
        Ok(Self::with_directory(domain, directory, token_secret))
    }

    /// The people of `domain` with a directory that lives only in memory: for the stanza fuzz
    /// target, which builds a hub per input.
    pub fn in_memory(domain: &str, token_secret: Vec<u8>) -> Result<People, crate::Error> {
        let directory = Directory::in_memory(&format!("auth.{domain}"), &[])?;
        Ok(Self::with_directory(domain, directory, token_secret))
    }

    fn with_directory(domain: &str, directory: Directory, token_secret: Vec<u8>) -> People {
        let auth_domain = format!("auth.{domain}");
        People {
            server: domain.into(),
            auth_domain,
            guest_domain: format!("guest.{domain}"),
            conference_domain: format!("conference.{domain}"),
            archive_jid: format!("archive.{domain}").into(),
            directory,
            sessions: HashMap::new(),
            by_person: HashMap::new(),
            wrong_secrets: Window::new(GUEST_WINDOW),
            limits: chat::Limits::default(),
            calls: calls::OpenCalls::default(),
            stamper: stamp::Stamper::new(),
            token_secret,
            next_push: 0,
            online: 0,
            routed: 0,
        }
    }

    /// `guest.<domain>`, where recognised guests live.
    pub fn guest_domain(&self) -> &str {
        &self.guest_domain
    }

    /// `archive.<domain>`, the archive component's JID.
    pub fn archive_jid(&self) -> &Arc<str> {
        &self.archive_jid
    }

    /// The server's own JID, which the archive takes copies and revocations from.
    pub fn server_jid(&self) -> &Arc<str> {
        &self.server
    }

    /// People's domains: accounts and recognised guests.
    pub fn is_person_domain(&self, d: &str) -> bool {
        d == self.auth_domain || d == self.guest_domain
    }

    pub fn is_person_session(&self, conn: ConnId) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// People in the directory (`signal_people`).
    pub fn known(&self) -> usize {
        self.directory.len()
    }

    /// People with at least one available session (`signal_people_online`).
    pub fn online(&self) -> usize {
        self.online
    }

    /// Does the person have an available session (`but` aside)?
    fn is_available(&self, bare: &str, but: ConnId) -> bool {
        self.sessions_of(bare).iter().any(|c| *c != but && self.sessions.get(c).is_some_and(|s| s.presence.is_some()))
    }

    /// The sessions of a person (bare JID).
    fn sessions_of(&self, bare: &str) -> &[ConnId] {
        self.by_person.get(bare).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A guest's SASL PLAIN on `guest.<domain>`: the id must be the first 16 bytes of the
    /// secret's SHA-256 (32 lower-case hex), and the secret the one recorded at the id's first
    /// login. Wrong ones are counted per source address; past [`WRONG_GUEST_SECRETS`] within
    /// a minute that address is refused outright until the minute is over.
    pub fn check_guest(
        &mut self,
        id: &str,
        secret_sha256: [u8; 32],
        source: IpAddr,
        now: Instant,
        out: &mut Vec<Delivery>,
    ) -> Result<(), GuestRefusal> {
        if let Some(secs) = self.wrong_secrets.blocked(&source, WRONG_GUEST_SECRETS, now) {
            return Err(GuestRefusal::TooMany(secs));
        }
        let jid = format!("{id}@{}", self.guest_domain);
        let record = match id == hex::encode(&secret_sha256[..16]) {
            true => self.directory.guest_login(&jid, secret_sha256),
            false => GuestRecord::Differs,
        };
        match record {
            GuestRecord::Matches => Ok(()),
            GuestRecord::New => {
                self.push_item(&jid, out);
                Ok(())
            }
            GuestRecord::Differs => {
                self.wrong_secrets.record(source, WRONG_GUEST_SECRETS, now);
                Err(GuestRefusal::Wrong)
            }
        }
    }

    /// A client bound `full`: a person's session joins (an account not yet in the directory
    /// joins it, and everyone hears of them). Others are no people of the directory.
    pub fn handle_bind(&mut self, conn: ConnId, full: &Jid, identity: &Identity, out: &mut Vec<Delivery>) {
        let Some(bare) = identity.person() else { return };
        if matches!(identity, Identity::Account(_)) && self.directory.add_account(bare) {
            self.push_item(bare, out);
        }
        let bare: Arc<str> = match self.directory.get(bare) {
            Some(e) => e.jid.clone(),
            None => {
                tracing::warn!(%bare, "a person's session without a directory entry");
                return;
            }
        };
        let s = PersonSession {
            conn,
            full: full.to_string().into(),
            bare: bare.clone(),
            presence: None,
            roster: false,
            carbons: true,
        };
        self.sessions.insert(conn, s);
        self.by_person.entry(bare).or_default().push(conn);
    }

    /// The connection ended: an available session becomes unavailable for everyone.
    pub fn handle_gone(&mut self, conn: ConnId, out: &mut Vec<Delivery>) {
        self.go_unavailable(conn, out);
        let Some(s) = self.sessions.remove(&conn) else { return };
        if let Some(conns) = self.by_person.get_mut(&s.bare) {
            conns.retain(|c| *c != conn);
            if conns.is_empty() {
                self.by_person.remove(&s.bare);
            }
        }
    }

    /// Time passes: limit windows and stale call proposals are forgotten.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.wrong_secrets.prune(now);
        self.limits.prune(now);
        self.calls.handle_timeout(now);
    }

    /// `<token xmlns="urn:meet-lan:token:0" with="<peer bare JID>"/>`: a room token for the
    /// conversation's own room (`dm-…`), for its two people only (PEOPLE.md section 4).
    pub fn conversation_token(&self, conn: ConnId, q: &Element) -> Result<String, Refusal> {
        let me = self
            .sessions
            .get(&conn)
            .ok_or_else(|| Refusal::new(stanza::FORBIDDEN, "only people of this server have conversations"))?;
        let with = q.get_attr("with").and_then(|w| Jid::parse(w).ok()).map(|j| j.bare().to_string());
        let peer = with.ok_or_else(|| Refusal::new(stanza::BAD_REQUEST, "with must be a person's JID"))?;
        if !self.directory.contains(&peer) {
            return Err(Refusal::new(stanza::ITEM_NOT_FOUND, "no such person"));
        }
        if peer == *me.bare {
            return Err(Refusal::new(stanza::BAD_REQUEST, "a conversation is with another person"));
        }
        let room = proto::RoomName::new(conversation_room(&me.bare, &peer))
            .map_err(|_| Refusal::new(stanza::SERVICE_UNAVAILABLE, "no room name"))?;
        let nick = proto::EndpointId::new(hex::encode(&Sha256::digest(me.bare.as_bytes())[..8]))
            .map_err(|_| Refusal::new(stanza::SERVICE_UNAVAILABLE, "no nick"))?;
        let name = self.directory.get(&me.bare).map(|e| e.shown_name().to_string()).unwrap_or_default();
        let claims = proto::token::Claims::new(me.full.to_string(), room, nick, name, proto::token::DEFAULT_TTL_SECS);
        proto::token::issue(&self.token_secret, &claims)
            .map_err(|_| Refusal::new(stanza::SERVICE_UNAVAILABLE, "could not sign the token"))
    }

    /// A message from a component (the archive's notifications) to a person's bare JID: to
    /// every session they have; dropped when they have none (the archive keeps it).
    pub fn deliver_from_component(&self, to: &Jid, msg: &Element, out: &mut Vec<Delivery>) {
        let bare = to.bare().to_string();
        let body = Arc::new(msg.prepare());
        self.deliver_to_sessions(self.sessions_of(&bare), None, &body, out);
    }

    /// One prepared stanza to each of `conns` but `except`.
    fn deliver_to_sessions(
        &self,
        conns: &[ConnId],
        except: Option<ConnId>,
        body: &Arc<Prepared>,
        out: &mut Vec<Delivery>,
    ) {
        for c in conns.iter().filter(|c| Some(**c) != except) {
            if let Some(s) = self.sessions.get(c) {
                out.push(Delivery { conn: *c, to: s.full.clone(), body: body.clone() });
            }
        }
    }
}

/// The room of the conversation between two people: `dm-` and the first 24 hex digits of
/// the SHA-256 of their bare JIDs, sorted, joined by a space.
pub fn conversation_room(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{x} {y}").as_bytes());
    format!("dm-{}", &hex::encode(digest)[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_has_one_room_whoever_asks() {
        let r = conversation_room("a@auth.meet.lan", "0123@guest.meet.lan");
        assert_eq!(r, conversation_room("0123@guest.meet.lan", "a@auth.meet.lan"));
        assert_eq!(r.len(), 27);
        assert!(proto::RoomName::new(r).is_ok());
    }
}
