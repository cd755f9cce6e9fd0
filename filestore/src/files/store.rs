//! Upload and file records in SQLite, and the blobs they name in `DATA_DIR/files/`.
//!
//! Blobs are named by their SHA-256 and shared by every file row with that hash (dedup); a
//! blob is removed when its last row goes. Linking a finished upload to its blob and
//! committing its row happen on the database thread, so a concurrent removal of the same
//! blob cannot slip between them. Never deletes a blob that a row still names.

use crate::db::{now_ms, Db};
use crate::ids::FileId;
use crate::Error;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct UploadRow {
    pub id: String,
    pub room: String,
    pub uploader_nick: String,
    pub uploader_name: String,
    pub name: String,
    pub metadata: String,
    pub length: u64,
    pub offset: u64,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A finished file as clients see it (also the `file` of a chat file message).
#[derive(Debug, Clone, Serialize)]
pub struct FileRow {
    pub id: String,
    #[serde(skip)]
    pub room: String,
    pub uploader: String,
    pub uploader_name: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub mime: String,
    pub created_at: i64,
    pub completed_at: i64,
    /// Where room members download it (with their token).
    pub url: String,
}

pub enum Lookup {
    Upload(UploadRow),
    File(FileRow),
}

/// Where files live on disk.
#[derive(Clone, Debug)]
pub struct Paths {
    pub files: PathBuf,
    pub partial: PathBuf,
}

impl Paths {
    pub fn blob(&self, sha256: &str) -> PathBuf {
        self.files.join(sha256)
    }
    pub fn partial(&self, id: &str) -> PathBuf {
        self.partial.join(id)
    }
}

fn upload_row(r: &Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        id: r.get(0)?,
        room: r.get(1)?,
        uploader_nick: r.get(2)?,
        uploader_name: r.get(3)?,
        name: r.get(4)?,
        metadata: r.get(5)?,
        length: r.get::<_, i64>(6)? as u64,
        offset: r.get::<_, i64>(7)? as u64,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
    })
}

const UPLOAD_COLS: &str =
    "id, room, uploader_nick, uploader_name, name, metadata, length, offset, created_at, expires_at";
const FILE_COLS: &str = "id, room, uploader_nick, uploader_name, name, size, sha256, mime, created_at, completed_at";

pub fn file_row(r: &Row<'_>) -> rusqlite::Result<FileRow> {
    let id: String = r.get(0)?;
    Ok(FileRow {
        url: format!("/files/{id}"),
        id,
        room: r.get(1)?,
        uploader: r.get(2)?,
        uploader_name: r.get(3)?,
        name: r.get(4)?,
        size: r.get::<_, i64>(5)? as u64,
        sha256: r.get(6)?,
        mime: r.get(7)?,
        created_at: r.get(8)?,
        completed_at: r.get(9)?,
    })
}

pub fn get_file(c: &Connection, id: &str) -> Result<Option<FileRow>, Error> {
    Ok(c.query_row(&format!("SELECT {FILE_COLS} FROM files WHERE id = ?1"), [id], file_row).optional()?)
}

/// Bytes a room holds or has reserved: finished files plus the declared length of
/// unfinished uploads (an upload in progress counts in full, so two parallel uploads
/// cannot overrun the quota together).
fn room_usage(c: &Connection, room: &str) -> Result<u64, Error> {
    let files: i64 = c.query_row("SELECT COALESCE(SUM(size), 0) FROM files WHERE room = ?1", [room], |r| r.get(0))?;
    let uploads: i64 =
        c.query_row("SELECT COALESCE(SUM(length), 0) FROM uploads WHERE room = ?1", [room], |r| r.get(0))?;
    Ok((files + uploads) as u64)
}

/// Records a new upload if the room's quota allows it.
pub async fn create_upload(db: &Db, row: UploadRow, quota: u64) -> Result<(), Error> {
    db.call(move |c| {
        let tx = c.transaction()?;
        let used = room_usage(&tx, &row.room)?;
        if used.saturating_add(row.length) > quota {
            return Err(Error::TooLarge(format!(
                "room quota exceeded: {used} of {quota} bytes in use, upload needs {}",
                row.length
            )));
        }
        tx.execute(
            &format!("INSERT INTO uploads ({UPLOAD_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                row.id,
                row.room,
                row.uploader_nick,
                row.uploader_name,
                row.name,
                row.metadata,
                row.length as i64,
                row.offset as i64,
                row.created_at,
                row.expires_at
            ],
        )?;
        // A room nobody is chatting in counts as ended at its latest upload (retention
        // starts from there); a room with chat connections (ended_at NULL) is left as is.
        tx.execute(
            "INSERT INTO rooms (room, ended_at) VALUES (?1, ?2) ON CONFLICT(room) DO UPDATE SET ended_at = ?2 WHERE ended_at IS NOT NULL",
            params![row.room, now_ms()],
        )?;
        tx.commit()?;
        Ok(())
    })
    .await
}

pub async fn lookup(db: &Db, id: &FileId) -> Result<Option<Lookup>, Error> {
    let id = id.as_str().to_string();
    db.call(move |c| {
        if let Some(u) =
            c.query_row(&format!("SELECT {UPLOAD_COLS} FROM uploads WHERE id = ?1"), [&id], upload_row).optional()?
        {
            return Ok(Some(Lookup::Upload(u)));
        }
        Ok(get_file(c, &id)?.map(Lookup::File))
    })
    .await
}

/// Commits an offset whose bytes are already fsynced, and pushes the expiry forward.
pub async fn set_offset(db: &Db, id: &str, offset: u64, expires_at: i64) -> Result<(), Error> {
    let id = id.to_string();
    db.call(move |c| {
        c.execute(
            "UPDATE uploads SET offset = ?2, expires_at = ?3 WHERE id = ?1",
            params![id, offset as i64, expires_at],
        )?;
        Ok(())
    })
    .await
}

/// Turns a complete, fsynced partial file into a stored file: hard-links it to its blob
/// (or finds identical content already stored), commits the file row and drops the upload
/// row in one transaction, then removes the partial name.
pub async fn finish(
    db: &Db,
    paths: Paths,
    up: UploadRow,
    sha256: String,
    mime: String,
) -> Result<(FileRow, bool), Error> {
    db.call(move |c| {
        let partial = paths.partial(&up.id);
        let blob = paths.blob(&sha256);
        let deduplicated = match std::fs::hard_link(&partial, &blob) {
            Ok(()) => {
                sync_dir(&paths.files)?;
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => true,
            Err(e) => return Err(e.into()),
        };
        let now = now_ms();
        let tx = c.transaction()?;
        tx.execute(
            &format!("INSERT INTO files ({FILE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
            params![
                up.id,
                up.room,
                up.uploader_nick,
                up.uploader_name,
                up.name,
                up.length as i64,
                sha256,
                mime,
                up.created_at,
                now
            ],
        )?;
        tx.execute("DELETE FROM uploads WHERE id = ?1", [&up.id])?;
        tx.commit()?;
        let _ = std::fs::remove_file(&partial);
        let row = get_file(c, &up.id)?.ok_or_else(|| Error::NotFound("file vanished after commit".into()))?;
        Ok((row, deduplicated))
    })
    .await
}

/// Removes an unfinished upload and its partial data.
pub async fn remove_upload(db: &Db, paths: Paths, id: String) -> Result<(), Error> {
    db.call(move |c| {
        c.execute("DELETE FROM uploads WHERE id = ?1", [&id])?;
        remove_quietly(&paths.partial(&id));
        Ok(())
    })
    .await
}

/// Removes a finished file; its blob goes too when no other file row names it.
pub async fn remove_file(db: &Db, paths: Paths, id: String) -> Result<(), Error> {
    db.call(move |c| {
        let Some(f) = get_file(c, &id)? else { return Ok(()) };
        c.execute("DELETE FROM files WHERE id = ?1", [&id])?;
        remove_unreferenced_blob(c, &paths, &f.sha256)?;
        Ok(())
    })
    .await
}

pub fn remove_unreferenced_blob(c: &Connection, paths: &Paths, sha256: &str) -> Result<(), Error> {
    let refs: i64 = c.query_row("SELECT COUNT(*) FROM files WHERE sha256 = ?1", [sha256], |r| r.get(0))?;
    if refs == 0 {
        remove_quietly(&paths.blob(sha256));
    }
    Ok(())
}

pub async fn list_files(db: &Db, room: String) -> Result<Vec<FileRow>, Error> {
    db.call(move |c| {
        let mut st = c.prepare(&format!("SELECT {FILE_COLS} FROM files WHERE room = ?1 ORDER BY completed_at"))?;
        let rows = st.query_map([room], file_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
    .await
}

pub fn remove_quietly(p: &Path) {
    if let Err(e) = std::fs::remove_file(p) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(path = %p.display(), error = %e, "could not remove file");
        }
    }
}

/// fsync a directory so a new name in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
