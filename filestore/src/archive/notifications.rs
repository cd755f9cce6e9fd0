//! Notifications that wait (PEOPLE.md section 6): missed calls and invitations, kept per
//! person until they dismiss them, listed newest first, and pushed as a headline when they
//! happen. Each is made once per source (a call, an invitation), however often its copy comes.

use super::incoming::Media;
use super::jid::BareJid;
use super::wire::{rfc3339, NS_PEOPLE};
use crate::Error;
use proto::xml::{Element, NS_CLIENT};
use rusqlite::{params, Connection};

/// Listed per query (PEOPLE.md: ≤ 100).
pub const LIST_MAX: usize = 100;
/// Kept per person; older ones go when newer ones come (a flood cannot grow the database).
pub const KEEP_MAX: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    MissedCall { media: Media },
    Invitation { room: String, reason: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub person: String,
    pub from: String,
    pub name: String,
    pub at: i64,
    pub kind: Kind,
}

impl Notification {
    /// `<missed-call xmlns=P from name at id media/>` or `<invitation xmlns=P from name room at id [reason]/>`.
    pub fn element(&self) -> Element {
        let e = match &self.kind {
            Kind::MissedCall { media } => Element::new("missed-call", NS_PEOPLE).attr("media", media.as_str()),
            Kind::Invitation { room, reason } => {
                let e = Element::new("invitation", NS_PEOPLE).attr("room", room.as_str());
                match reason {
                    Some(r) => e.attr("reason", r.as_str()),
                    None => e,
                }
            }
        };
        e.attr("from", self.from.as_str())
            .attr("name", self.name.as_str())
            .attr("at", rfc3339(self.at))
            .attr("id", self.id.to_string())
    }

    /// The push when it happens: `<message type="headline" to="<person>"><notifications
    /// xmlns=P>…</notifications></message>` (the same shape as the list, one entry).
    pub fn headline(&self) -> Element {
        Element::new("message", NS_CLIENT)
            .attr("type", "headline")
            .attr("to", self.person.as_str())
            .child(Element::new("notifications", NS_PEOPLE).child(self.element()))
    }
}

/// Adds a notification for `person` unless one with the same `source` exists; returns it
/// when it is new.
pub fn add(
    c: &Connection,
    person: &str,
    from: &str,
    name: &str,
    at: i64,
    kind: Kind,
    source: Option<&str>,
) -> Result<Option<Notification>, Error> {
    let (media, room, reason) = match &kind {
        Kind::MissedCall { media } => (Some(media.as_str()), None, None),
        Kind::Invitation { room, reason } => (None, Some(room.as_str()), reason.as_deref()),
    };
    let kind_s = match kind {
        Kind::MissedCall { .. } => "missed-call",
        Kind::Invitation { .. } => "invitation",
    };
    let n = c.execute(
        "INSERT INTO notifications (person, kind, from_jid, from_name, at, media, room, reason, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(source) DO NOTHING",
        params![person, kind_s, from, name, at, media, room, reason, source],
    )?;
    if n == 0 {
        return Ok(None);
    }
    let id = c.last_insert_rowid();
    c.execute(
        "DELETE FROM notifications WHERE person = ?1 AND id <= (SELECT id FROM notifications WHERE person = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![person, KEEP_MAX],
    )?;
    Ok(Some(Notification { id, person: person.into(), from: from.into(), name: name.into(), at, kind }))
}

/// `person`'s notifications, newest first, at most [`LIST_MAX`].
pub fn list(c: &Connection, person: &BareJid) -> Result<Vec<Notification>, Error> {
    let mut st = c.prepare_cached(
        "SELECT id, kind, from_jid, from_name, at, media, room, reason FROM notifications WHERE person = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = st.query_map(params![person.as_str(), LIST_MAX as i64], |r| {
        let kind: String = r.get(1)?;
        let kind = if kind == "invitation" {
            Kind::Invitation { room: r.get::<_, Option<String>>(6)?.unwrap_or_default(), reason: r.get(7)? }
        } else {
            Kind::MissedCall { media: Media::parse(&r.get::<_, Option<String>>(5)?.unwrap_or_default()) }
        };
        Ok(Notification {
            id: r.get(0)?,
            person: person.to_string(),
            from: r.get(2)?,
            name: r.get(3)?,
            at: r.get(4)?,
            kind,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes `person`'s notification `id`; false when they have none of that id (another
/// person's counts as none).
pub fn dismiss(c: &Connection, person: &BareJid, id: &str) -> Result<bool, Error> {
    let Ok(id) = id.parse::<i64>() else { return Ok(false) };
    Ok(c.execute("DELETE FROM notifications WHERE id = ?1 AND person = ?2", params![id, person.as_str()])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c, super::super::schema::MIGRATIONS).unwrap();
        c
    }

    #[test]
    fn once_per_source_newest_first_dismissed_only_by_their_person() {
        let c = open();
        let bob = BareJid::of("bob@x").unwrap();
        let inv = Kind::Invitation { room: "planning".into(), reason: None };
        let a =
            add(&c, "bob@x", "alice@x", "Alice", 1, Kind::MissedCall { media: Media::Video }, Some("call-1")).unwrap();
        assert!(a.is_some());
        assert!(add(&c, "bob@x", "alice@x", "Alice", 1, Kind::MissedCall { media: Media::Video }, Some("call-1"))
            .unwrap()
            .is_none());
        let b = add(&c, "bob@x", "alice@x", "Alice", 2, inv, Some("inv-1")).unwrap().unwrap();
        let l = list(&c, &bob).unwrap();
        assert_eq!(l.iter().map(|n| n.id).collect::<Vec<_>>(), vec![b.id, a.unwrap().id]);
        assert!(l[0].element().is("invitation", NS_PEOPLE));
        let carol = BareJid::of("carol@x").unwrap();
        assert!(!dismiss(&c, &carol, &b.id.to_string()).unwrap());
        assert!(!dismiss(&c, &bob, "nonsense").unwrap());
        assert!(dismiss(&c, &bob, &b.id.to_string()).unwrap());
        assert_eq!(list(&c, &bob).unwrap().len(), 1);
    }

    #[test]
    fn a_flood_keeps_only_the_newest() {
        let c = open();
        for i in 0..(KEEP_MAX + 5) {
            let kind = Kind::Invitation { room: "r".into(), reason: None };
            add(&c, "bob@x", "alice@x", "Alice", i, kind, None).unwrap();
        }
        let n: i64 = c.query_row("SELECT COUNT(*) FROM notifications", [], |r| r.get(0)).unwrap();
        assert_eq!(n, KEEP_MAX);
        assert_eq!(list(&c, &BareJid::of("bob@x").unwrap()).unwrap().len(), LIST_MAX);
    }
}
