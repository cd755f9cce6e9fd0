//! The directory's file: `DATA_DIR/people.sqlite` (SQLite, WAL), one row a person: bare JID,
//! kind (account or guest), last display name, and for guests the SHA-256 of their secret
//! (never the secret). Read whole at start; written by a thread of its own, so the hub never
//! waits for the disk: it hands over each change and goes on.
//!
//! A recorded secret hash is never replaced (the SQL keeps the first one: trust on first
//! use holds even if the hub asked otherwise). Dropping the [`Store`] writes what is queued
//! and waits for it, so a clean shutdown loses nothing.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Who a person of the directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An account of `signal add-account`, `<user>@auth.<domain>`.
    Account,
    /// A recognised guest, `<guest id>@guest.<domain>`.
    Guest,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Guest => "guest",
        }
    }
}

/// One person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub jid: String,
    pub kind: Kind,
    pub name: Option<String>,
    pub secret_sha256: Option<[u8; 32]>,
}

enum Op {
    Put(Row),
    Delete(String),
}

/// The writer of `people.sqlite`.
pub struct Store {
    tx: Option<mpsc::Sender<Op>>,
    writer: Option<JoinHandle<()>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS people (
    jid TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'guest')),
    name TEXT,
    secret_sha256 BLOB,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

fn unix_now() -> i64 {
    proto::token::now_secs() as i64
}

fn db_error(e: rusqlite::Error) -> crate::Error {
    crate::Error::Directory(e.to_string())
}

impl Store {
    /// Opens (or creates) the file and returns it with every stored person.
    pub fn open(path: &Path) -> Result<(Store, Vec<Row>), crate::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let db = rusqlite::Connection::open(path).map_err(db_error)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        db.pragma_update(None, "journal_mode", "WAL").map_err(db_error)?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(db_error)?;
        Self::start(db)
    }

    /// A store that keeps nothing past the process (the stanza fuzz target, which builds a
    /// hub per input).
    pub fn in_memory() -> Result<(Store, Vec<Row>), crate::Error> {
        Self::start(rusqlite::Connection::open_in_memory().map_err(db_error)?)
    }

    fn start(db: rusqlite::Connection) -> Result<(Store, Vec<Row>), crate::Error> {
        db.execute_batch(SCHEMA).map_err(db_error)?;
        let rows = Self::load(&db).map_err(db_error)?;
        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new().name("people-store".into()).spawn(move || write_loop(db, rx))?;
        Ok((Store { tx: Some(tx), writer: Some(writer) }, rows))
    }

    fn load(db: &rusqlite::Connection) -> rusqlite::Result<Vec<Row>> {
        let mut q = db.prepare("SELECT jid, kind, name, secret_sha256 FROM people")?;
        let rows = q.query_map([], |r| {
            let kind: String = r.get(1)?;
            let secret: Option<Vec<u8>> = r.get(3)?;
            Ok(Row {
                jid: r.get(0)?,
                kind: if kind == "account" { Kind::Account } else { Kind::Guest },
                name: r.get(2)?,
                secret_sha256: secret.and_then(|s| <[u8; 32]>::try_from(s.as_slice()).ok()),
            })
        })?;
        rows.collect()
    }

    /// Records a person (new, or with a new name).
    pub fn put(&self, row: Row) {
        self.send(Op::Put(row));
    }

    pub fn delete(&self, jid: &str) {
        self.send(Op::Delete(jid.to_string()));
    }

    fn send(&self, op: Op) {
        if let Some(tx) = &self.tx {
            if tx.send(op).is_err() {
                tracing::error!("the people store's writer is gone: a directory change is not saved");
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // the writer drains the queue and ends when the channel closes
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Writes every queued change, a batch at a time in one transaction.
fn write_loop(mut db: rusqlite::Connection, rx: mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        if let Err(e) = write_batch(&mut db, &batch) {
            tracing::error!("people store: {} changes not saved: {e}", batch.len());
        }
    }
}

fn write_batch(db: &mut rusqlite::Connection, batch: &[Op]) -> rusqlite::Result<()> {
    let t = db.transaction()?;
    {
        let mut put = t.prepare_cached(
            "INSERT INTO people (jid, kind, name, secret_sha256, first_seen, last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT(jid) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen,
                 secret_sha256 = COALESCE(people.secret_sha256, excluded.secret_sha256)",
        )?;
        let mut delete = t.prepare_cached("DELETE FROM people WHERE jid = ?1")?;
        let now = unix_now();
        for op in batch {
            match op {
                Op::Put(r) => {
                    let secret = r.secret_sha256.as_ref().map(|s| s.as_slice());
                    put.execute(rusqlite::params![r.jid, r.kind.as_str(), r.name, secret, now])?;
                }
                Op::Delete(jid) => {
                    delete.execute([jid])?;
                }
            }
        }
    }
    t.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_reopening_and_a_secret_hash_is_never_replaced() {
        let dir = std::env::temp_dir().join(format!("people-store-{}", proto::secrets::random_hex(6).unwrap()));
        let path = dir.join("people.sqlite");
        let (s, rows) = Store::open(&path).unwrap();
        assert!(rows.is_empty());
        let g = |name: &str, secret: u8| Row {
            jid: "g@guest.meet.lan".into(),
            kind: Kind::Guest,
            name: Some(name.into()),
            secret_sha256: Some([secret; 32]),
        };
        s.put(g("Gina", 1));
        s.put(Row { jid: "a@auth.meet.lan".into(), kind: Kind::Account, name: None, secret_sha256: None });
        s.put(g("Gina B", 2));
        s.put(Row { jid: "x@auth.meet.lan".into(), kind: Kind::Account, name: None, secret_sha256: None });
        s.delete("x@auth.meet.lan");
        drop(s);
        let (_s, mut rows) = Store::open(&path).unwrap();
        rows.sort_by(|a, b| a.jid.cmp(&b.jid));
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].name.as_deref(), Some("Gina B"), "the last name is kept");
        assert_eq!(rows[1].secret_sha256, Some([1; 32]), "the first secret hash stays");
        assert_eq!(rows[0].kind, Kind::Account);
        let _ = std::fs::remove_dir_all(dir);
    }
}
