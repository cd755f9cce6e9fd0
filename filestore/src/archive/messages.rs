//! One-to-one messages in SQLite: stored once under their stanza-id, read pointers moved by
//! chat markers, history pages (MAM) and the inbox. Every query is scoped to the asker's own
//! conversations inside its SQL: there is no way to name another's conversation, so there is
//! nothing to leak, not even whether it exists.

use super::incoming::{ChatCopy, MamQuery, Page};
use super::jid::{conversation, BareJid};
use crate::Error;
use rusqlite::{params, Connection, OptionalExtension};

/// A stored message as pages and the inbox hand it out.
#[derive(Debug, Clone)]
pub struct Archived {
    pub seq: i64,
    pub stanza_id: String,
    pub at: i64,
    pub xml: String,
}

/// Stores `chat` (from `from` to `to`, routed at `at`). False when that stanza-id is stored
/// already: a copy seen twice changes nothing.
///
/// The sender's read pointer moves to their own message (who writes has read the
/// conversation so far, as inbox servers count it); the recipient's unread count grows.
pub fn insert(c: &mut Connection, chat: &ChatCopy, from: &BareJid, to: &BareJid, at: i64) -> Result<bool, Error> {
    let tx = c.transaction()?;
    let n = tx.execute(
        "INSERT INTO messages (stanza_id, conv, sender, recipient, client_id, at, xml) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(stanza_id) DO NOTHING",
        params![chat.stanza_id, conversation(from, to), from.as_str(), to.as_str(), chat.client_id, at, chat.xml],
    )?;
    if n == 0 {
        return Ok(false);
    }
    let seq = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO conversations (person, peer, last_seq, read_seq, unread) VALUES (?1, ?2, ?3, ?3, 0)
         ON CONFLICT(person, peer) DO UPDATE SET last_seq = ?3, read_seq = ?3, unread = 0",
        params![from.as_str(), to.as_str(), seq],
    )?;
    if from != to {
        tx.execute(
            "INSERT INTO conversations (person, peer, last_seq, read_seq, unread) VALUES (?1, ?2, ?3, 0, 1)
             ON CONFLICT(person, peer) DO UPDATE SET last_seq = ?3, unread = unread + 1",
            params![to.as_str(), from.as_str(), seq],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// `reader` has displayed message `marker` (its stanza-id, or the sender's own id as ordinary
/// clients send it) of the conversation with `peer`: the read pointer moves forward to it,
/// never back. False when nothing moved (unknown message, or already read).
pub fn displayed(c: &mut Connection, reader: &BareJid, peer: &BareJid, marker: &str) -> Result<bool, Error> {
    let conv = conversation(reader, peer);
    let by_stanza_id: Option<i64> = c
        .query_row("SELECT seq FROM messages WHERE stanza_id = ?1 AND conv = ?2", params![marker, conv], |r| r.get(0))
        .optional()?;
    let seq = match by_stanza_id {
        Some(s) => Some(s),
        None => c
            .query_row(
                "SELECT MAX(seq) FROM messages WHERE conv = ?1 AND client_id = ?2 AND sender = ?3",
                params![conv, marker, peer.as_str()],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()?
            .flatten(),
    };
    let Some(seq) = seq else { return Ok(false) };
    let tx = c.transaction()?;
    let read: Option<i64> = tx
        .query_row(
            "SELECT read_seq FROM conversations WHERE person = ?1 AND peer = ?2",
            params![reader.as_str(), peer.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    if read.is_none_or(|r| seq <= r) {
        return Ok(false);
    }
    let unread: i64 = tx.query_row(
        "SELECT COUNT(*) FROM messages WHERE conv = ?1 AND seq > ?2 AND sender = ?3",
        params![conv, seq, peer.as_str()],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE conversations SET read_seq = ?3, unread = ?4 WHERE person = ?1 AND peer = ?2",
        params![reader.as_str(), peer.as_str(), seq, unread],
    )?;
    tx.commit()?;
    Ok(true)
}

/// One page of a MAM query.
#[derive(Debug)]
pub struct MamPage {
    /// Oldest first.
    pub items: Vec<Archived>,
    /// Messages matching the query in all pages.
    pub count: u64,
    /// Position of the first item among them.
    pub first_index: u64,
    /// The page reaches the end the query pages towards (the oldest message when paging
    /// backwards, the newest otherwise).
    pub complete: bool,
}

/// Which messages a query covers: the conversation with `with`, else all of the asker's.
/// Parameter `?1` is the conversation key or the asker's JID, `?2`/`?3` the time bounds.
fn scope(q: &MamQuery) -> &'static str {
    if q.with.is_some() {
        "conv = ?1 AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at <= ?3)"
    } else {
        "(sender = ?1 OR recipient = ?1) AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at <= ?3)"
    }
}

/// A MAM page for `asker`. An RSM id that is not a message of the asker's scope is
/// [`Error::NotFound`] (XEP-0059's item-not-found), whether or not it exists elsewhere.
pub fn mam(c: &Connection, asker: &BareJid, q: &MamQuery) -> Result<MamPage, Error> {
    let key = match &q.with {
        Some(peer) => conversation(asker, peer),
        None => asker.to_string(),
    };
    let scope = scope(q);
    let anchor = |id: &str| -> Result<i64, Error> {
        c.query_row(
            &format!("SELECT seq FROM messages WHERE stanza_id = ?4 AND {scope}"),
            params![key, q.start, q.end, id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| Error::NotFound("no such message in this archive".into()))
    };
    let cols = "seq, stanza_id, at, xml";
    let (sql, anchor_seq, newest_first) = match &q.page {
        Page::Oldest => (format!("SELECT {cols} FROM messages WHERE {scope} ORDER BY seq ASC LIMIT ?4"), None, false),
        Page::Before(None) => {
            (format!("SELECT {cols} FROM messages WHERE {scope} ORDER BY seq DESC LIMIT ?4"), None, true)
        }
        Page::Before(Some(id)) => (
            format!("SELECT {cols} FROM messages WHERE {scope} AND seq < ?5 ORDER BY seq DESC LIMIT ?4"),
            Some(anchor(id)?),
            true,
        ),
        Page::After(id) => (
            format!("SELECT {cols} FROM messages WHERE {scope} AND seq > ?5 ORDER BY seq ASC LIMIT ?4"),
            Some(anchor(id)?),
            false,
        ),
    };
    let mut st = c.prepare_cached(&sql)?;
    let row = |r: &rusqlite::Row| Ok(Archived { seq: r.get(0)?, stanza_id: r.get(1)?, at: r.get(2)?, xml: r.get(3)? });
    let limit = q.max as i64;
    let mut items: Vec<Archived> = match anchor_seq {
        Some(a) => st.query_map(params![key, q.start, q.end, limit, a], row)?.collect::<Result<_, _>>()?,
        None => st.query_map(params![key, q.start, q.end, limit], row)?.collect::<Result<_, _>>()?,
    };
    if newest_first {
        items.reverse();
    }
    let count: i64 =
        c.query_row(&format!("SELECT COUNT(*) FROM messages WHERE {scope}"), params![key, q.start, q.end], |r| {
            r.get(0)
        })?;
    let first_index: i64 = match items.first() {
        Some(first) => c.query_row(
            &format!("SELECT COUNT(*) FROM messages WHERE {scope} AND seq < ?4"),
            params![key, q.start, q.end, first.seq],
            |r| r.get(0),
        )?,
        None => 0,
    };
    let (count, first_index) = (count as u64, first_index as u64);
    let complete = if items.is_empty() {
        q.max > 0 || count == 0
    } else if newest_first {
        first_index == 0
    } else {
        first_index + items.len() as u64 == count
    };
    Ok(MamPage { items, count, first_index, complete })
}

/// One conversation of the inbox.
#[derive(Debug)]
pub struct InboxEntry {
    pub peer: String,
    pub unread: u64,
    pub last: Archived,
}

#[derive(Debug)]
pub struct Inbox {
    /// Newest conversation first.
    pub entries: Vec<InboxEntry>,
    /// Conversations in all.
    pub total: u64,
    /// Conversations with unread messages.
    pub unread_conversations: u64,
    /// Unread messages in all conversations.
    pub all_unread: u64,
}

/// `person`'s conversations, newest first (at most `limit`), each with its last message and
/// unread count, and the totals over all of them.
pub fn inbox(c: &Connection, person: &BareJid, limit: usize) -> Result<Inbox, Error> {
    let mut st = c.prepare_cached(
        "SELECT c.peer, c.unread, m.seq, m.stanza_id, m.at, m.xml FROM conversations c JOIN messages m ON m.seq = c.last_seq
         WHERE c.person = ?1 ORDER BY c.last_seq DESC LIMIT ?2",
    )?;
    let entries = st
        .query_map(params![person.as_str(), limit as i64], |r| {
            Ok(InboxEntry {
                peer: r.get(0)?,
                unread: r.get::<_, i64>(1)?.max(0) as u64,
                last: Archived { seq: r.get(2)?, stanza_id: r.get(3)?, at: r.get(4)?, xml: r.get(5)? },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (total, unread_conversations, all_unread): (i64, i64, i64) = c.query_row(
        "SELECT COUNT(*), COALESCE(SUM(unread > 0), 0), COALESCE(SUM(unread), 0) FROM conversations WHERE person = ?1",
        [person.as_str()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Inbox {
        entries,
        total: total.max(0) as u64,
        unread_conversations: unread_conversations.max(0) as u64,
        all_unread: all_unread.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn open() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut c, super::super::schema::MIGRATIONS).unwrap();
        c
    }

    fn jid(s: &str) -> BareJid {
        BareJid::of(s).unwrap()
    }

    fn put(c: &mut Connection, id: &str, from: &str, to: &str) -> bool {
        let chat = ChatCopy {
            stanza_id: id.into(),
            client_id: Some(format!("o-{id}")),
            xml: format!("<message>{id}</message>"),
        };
        insert(c, &chat, &jid(from), &jid(to), 1000).unwrap()
    }

    fn q(with: Option<&str>, max: usize, page: Page) -> MamQuery {
        MamQuery { queryid: None, with: with.map(jid), start: None, end: None, max, page }
    }

    fn ids(p: &MamPage) -> Vec<&str> {
        p.items.iter().map(|a| a.stanza_id.as_str()).collect()
    }

    #[test]
    fn stored_once_and_paged_backwards() {
        let mut c = open();
        for i in 0..7 {
            let (f, t) = if i % 2 == 0 { ("a@x", "b@x") } else { ("b@x", "a@x") };
            assert!(put(&mut c, &format!("s{i}"), f, t));
        }
        assert!(!put(&mut c, "s3", "b@x", "a@x"), "a copy seen twice is stored once");
        put(&mut c, "other", "c@x", "b@x");
        let p = mam(&c, &jid("a@x"), &q(Some("b@x"), 3, Page::Before(None))).unwrap();
        assert_eq!((ids(&p), p.count, p.first_index, p.complete), (vec!["s4", "s5", "s6"], 7, 4, false));
        let p = mam(&c, &jid("a@x"), &q(Some("b@x"), 3, Page::Before(Some("s4".into())))).unwrap();
        assert_eq!((ids(&p), p.first_index, p.complete), (vec!["s1", "s2", "s3"], 1, false));
        let p = mam(&c, &jid("a@x"), &q(Some("b@x"), 3, Page::Before(Some("s1".into())))).unwrap();
        assert_eq!((ids(&p), p.first_index, p.complete), (vec!["s0"], 0, true));
        let p = mam(&c, &jid("a@x"), &q(Some("b@x"), 3, Page::Oldest)).unwrap();
        assert_eq!((ids(&p), p.complete), (vec!["s0", "s1", "s2"], false));
        let p = mam(&c, &jid("a@x"), &q(Some("b@x"), 10, Page::After("s4".into()))).unwrap();
        assert_eq!((ids(&p), p.complete), (vec!["s5", "s6"], true));
    }

    #[test]
    fn nobody_reads_another_conversation() {
        let mut c = open();
        put(&mut c, "s0", "a@x", "b@x");
        let p = mam(&c, &jid("c@x"), &q(Some("b@x"), 50, Page::Before(None))).unwrap();
        assert_eq!((p.items.len(), p.count, p.complete), (0, 0, true));
        let p = mam(&c, &jid("c@x"), &q(None, 50, Page::Before(None))).unwrap();
        assert_eq!(p.count, 0);
        assert!(matches!(
            mam(&c, &jid("c@x"), &q(Some("b@x"), 50, Page::Before(Some("s0".into())))),
            Err(Error::NotFound(_))
        ));
        let p = mam(&c, &jid("b@x"), &q(None, 50, Page::Before(None))).unwrap();
        assert_eq!(ids(&p), vec!["s0"]);
    }

    #[test]
    fn unread_counts_and_markers() {
        let mut c = open();
        put(&mut c, "s0", "a@x", "b@x");
        put(&mut c, "s1", "a@x", "b@x");
        put(&mut c, "s2", "c@x", "b@x");
        let ib = inbox(&c, &jid("b@x"), 100).unwrap();
        let got: Vec<(&str, u64)> = ib.entries.iter().map(|e| (e.peer.as_str(), e.unread)).collect();
        assert_eq!(got, vec![("c@x", 1), ("a@x", 2)]);
        assert_eq!((ib.total, ib.unread_conversations, ib.all_unread), (2, 2, 3));
        assert!(displayed(&mut c, &jid("b@x"), &jid("a@x"), "s0").unwrap());
        assert!(!displayed(&mut c, &jid("b@x"), &jid("a@x"), "s0").unwrap(), "already read");
        assert!(!displayed(&mut c, &jid("b@x"), &jid("a@x"), "s2").unwrap(), "not of this conversation");
        let ib = inbox(&c, &jid("b@x"), 100).unwrap();
        assert_eq!((ib.unread_conversations, ib.all_unread), (2, 2));
        assert!(displayed(&mut c, &jid("b@x"), &jid("a@x"), "o-s1").unwrap(), "the sender's own id works too");
        put(&mut c, "s3", "b@x", "c@x");
        let ib = inbox(&c, &jid("b@x"), 100).unwrap();
        assert_eq!((ib.unread_conversations, ib.all_unread), (0, 0), "writing reads the conversation");
        assert_eq!(inbox(&c, &jid("a@x"), 100).unwrap().all_unread, 0, "own messages are never unread");
    }
}
