//! Retention: a room "ends" when its last chat connection closes (and, after a restart, at
//! start-up for every room, since no connection survives one). `RETENTION_HOURS` after it
//! ended — unless someone joined again — its history, files and unfinished uploads are
//! removed; blobs go when no file of any room names them. Unfinished uploads not written to
//! for `UPLOAD_EXPIRY_HOURS` are removed in any case. Never touches a room with a connection,
//! nor a conversation's room (`dm-…`, signal/PEOPLE.md section 4): the files of a one-to-one
//! conversation are kept as long as its messages, which the archive keeps.

use crate::db::now_ms;
use crate::files::store::{remove_quietly, remove_unreferenced_blob};
use crate::metrics::add;
use crate::state::AppState;
use crate::Error;
use rusqlite::params;
use std::time::Duration;

/// Marks every room as ended now: at start-up nobody is connected.
pub async fn mark_all_ended(st: &AppState) -> Result<(), Error> {
    st.db
        .call(|c| {
            c.execute("UPDATE rooms SET ended_at = ?1 WHERE ended_at IS NULL", [now_ms()])?;
            Ok(())
        })
        .await
}

/// Removes partial files that no upload row names (left by a crash after completion).
pub async fn remove_orphan_partials(st: &AppState) -> Result<(), Error> {
    let dir = st.paths.partial.clone();
    let names: Vec<String> =
        std::fs::read_dir(&dir)?.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
    let paths = st.paths.clone();
    st.db
        .call(move |c| {
            for n in names {
                let known: i64 = c.query_row("SELECT COUNT(*) FROM uploads WHERE id = ?1", [&n], |r| r.get(0))?;
                if known == 0 {
                    remove_quietly(&paths.partial(&n));
                }
            }
            Ok(())
        })
        .await
}

/// One pass: expired uploads, then rooms past retention. Returns (uploads, rooms) removed.
pub async fn sweep(st: &AppState) -> Result<(u64, u64), Error> {
    let retention_ms = st.config.retention.map(|d| d.as_millis() as i64);
    let paths = st.paths.clone();
    let (uploads, rooms) = st
        .db
        .call(move |c| {
            let now = now_ms();
            let expired: Vec<String> = {
                let mut s = c.prepare("SELECT id FROM uploads WHERE expires_at <= ?1")?;
                let v = s.query_map([now], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                v
            };
            for id in &expired {
                c.execute("DELETE FROM uploads WHERE id = ?1", [id])?;
                remove_quietly(&paths.partial(id));
            }
            let mut rooms_removed = 0u64;
            if let Some(keep) = retention_ms {
                let rooms: Vec<String> = {
                    let mut s = c.prepare(
                        "SELECT room FROM rooms WHERE ended_at IS NOT NULL AND ended_at + ?1 <= ?2 AND room NOT LIKE 'dm-%'",
                    )?;
                    let v = s.query_map(params![keep, now], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                    v
                };
                for room in rooms {
                    let tx = c.transaction()?;
                    let shas: Vec<String> = {
                        let mut s = tx.prepare("SELECT DISTINCT sha256 FROM files WHERE room = ?1")?;
                        let v = s.query_map([&room], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                        v
                    };
                    let partials: Vec<String> = {
                        let mut s = tx.prepare("SELECT id FROM uploads WHERE room = ?1")?;
                        let v = s.query_map([&room], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
                        v
                    };
                    tx.execute("DELETE FROM messages WHERE room = ?1", [&room])?;
                    tx.execute("DELETE FROM files WHERE room = ?1", [&room])?;
                    tx.execute("DELETE FROM uploads WHERE room = ?1", [&room])?;
                    tx.execute("DELETE FROM rooms WHERE room = ?1", [&room])?;
                    tx.commit()?;
                    for id in partials {
                        remove_quietly(&paths.partial(&id));
                    }
                    for sha in shas {
                        remove_unreferenced_blob(c, &paths, &sha)?;
                    }
                    tracing::info!(room, "retention: removed the room's history and files");
                    rooms_removed += 1;
                }
            }
            Ok((expired.len() as u64, rooms_removed))
        })
        .await?;
    add(&st.metrics.uploads_expired, uploads);
    add(&st.metrics.retention_rooms_removed, rooms);
    Ok((uploads, rooms))
}

/// How often to sweep: often enough for short test settings, at most once a minute.
pub fn interval(st: &AppState) -> Duration {
    let shortest = [st.config.retention, Some(st.config.upload_expiry)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Duration::from_secs(3600));
    (shortest / 10).clamp(Duration::from_millis(200), Duration::from_secs(60))
}

pub async fn run(st: AppState) {
    let mut tick = tokio::time::interval(interval(&st));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if let Err(e) = sweep(&st).await {
                    tracing::error!(error = %e, "retention sweep failed");
                }
            }
            _ = st.shutdown.cancelled() => return,
        }
    }
}
