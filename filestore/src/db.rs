//! The SQLite databases (WAL) and the one thread that owns each connection. Everyone else
//! sends it closures and awaits their results, so a connection is never shared or locked.
//! Nothing here knows HTTP, WebSockets or XMPP.
//!
//! A schema is a list of migrations: the database's `user_version` says how many have run;
//! the missing ones run in order at open, each in its own transaction with the version bump.
//! A migration once released is never edited: a change to the schema is a new entry.

use crate::Error;
use rusqlite::Connection;
use std::path::Path;
use tokio::sync::{mpsc, oneshot};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the database thread. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    tx: mpsc::UnboundedSender<Job>,
}

/// The chat and files database (`filestore.sqlite3`). The first migration is the schema from
/// before migrations existed (hence `IF NOT EXISTS`: databases of that time have its tables
/// and `user_version` 0).
pub const FILESTORE_MIGRATIONS: &[&str] = &[r#"
CREATE TABLE IF NOT EXISTS rooms (
    room TEXT PRIMARY KEY,
    -- ms since epoch when the last chat connection left; NULL while someone is connected
    ended_at INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL,
    from_nick TEXT NOT NULL,
    from_name TEXT NOT NULL,
    to_nick TEXT,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    file_id TEXT,
    created_at INTEGER NOT NULL,
    edited_at INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_room ON messages(room, id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    uploader_nick TEXT NOT NULL,
    uploader_name TEXT NOT NULL,
    name TEXT NOT NULL,
    metadata TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_room ON uploads(room);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    room TEXT NOT NULL,
    uploader_nick TEXT NOT NULL,
    uploader_name TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    completed_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_room ON files(room);
CREATE INDEX IF NOT EXISTS files_sha ON files(sha256);
"#];

impl Db {
    /// Opens (or creates) the database, brings its schema up to `migrations` and starts its
    /// thread (named `thread`).
    pub fn open(path: &Path, migrations: &'static [&'static str], thread: &str) -> Result<Db, Error> {
        let mut conn = Connection::open(path)?;
        // WAL: readers never block the writer, and a commit survives a process kill.
        // synchronous=NORMAL: commits are durable across process crashes (SIGKILL); file data
        // is fsynced by us before any metadata commit that refers to it.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&mut conn, migrations).map_err(|e| match e {
            Error::BadSetting(m) => Error::BadSetting(format!("{}: {m}", path.display())),
            e => e,
        })?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::BadSetting(format!("SQLite refused WAL mode (got {mode})")));
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new().name(thread.into()).spawn(move || {
            while let Some(job) = rx.blocking_recv() {
                job(&mut conn);
            }
        })?;
        Ok(Db { tx })
    }

    /// Queues `f` without waiting; jobs run in the order they were queued.
    pub fn submit<F>(&self, f: F)
    where
        F: FnOnce(&mut Connection) -> Result<(), Error> + Send + 'static,
    {
        let _ = self.tx.send(Box::new(move |c| {
            if let Err(e) = f(c) {
                tracing::error!(error = %e, "database job failed");
            }
        }));
    }

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, Error> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel();
        self.tx
            .send(Box::new(move |c| {
                let _ = otx.send(f(c));
            }))
            .map_err(|_| Error::DbGone)?;
        orx.await.map_err(|_| Error::DbGone)?
    }
}

/// Runs the migrations `conn` has not seen yet.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), Error> {
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let done = usize::try_from(done).unwrap_or(usize::MAX);
    if done > migrations.len() {
        return Err(Error::BadSetting(format!(
            "the database has schema version {done}, newer than this filestore's {}: use a newer filestore",
            migrations.len()
        )));
    }
    for (i, m) in migrations.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(m)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// Milliseconds since the epoch, the unit of every time column.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
