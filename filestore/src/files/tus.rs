//! The tus 1.0 request handlers. Each checks the token, then the tus headers, then the
//! upload's room, and only then touches disk or database; a refused request stores nothing.

use super::store::{self, Lookup, UploadRow};
use super::upload::{self, Checksum, Chunk, HashProgress, Outcome, UploadGuard};
use super::{name, TUS_CHECKSUMS, TUS_EXTENSIONS, TUS_VERSION};
use crate::db::now_ms;
use crate::ids::FileId;
use crate::metrics::{add, inc};
use crate::state::AppState;
use crate::Error;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::time::{Duration, UNIX_EPOCH};

const OFFSET_STREAM: &str = "application/offset+octet-stream";

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn check_resumable(h: &HeaderMap) -> Result<(), Error> {
    match header(h, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(Error::Precondition("Tus-Resumable: 1.0.0 required".into())),
    }
}

fn num(h: &HeaderMap, name: &str) -> Result<Option<u64>, Error> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| Error::BadRequest(format!("{name} must be a non-negative integer"))),
    }
}

fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

pub struct TusResponse {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
}

impl IntoResponse for TusResponse {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        let h = r.headers_mut();
        h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(HeaderName::from_static(k), v);
            }
        }
        r
    }
}

/// The tus headers of a creation request (POST), checked before anything is stored.
pub struct Creation {
    pub length: u64,
    /// Echoed on HEAD as received (ASCII).
    pub raw_metadata: String,
    /// The file name from `Upload-Metadata`, checked by [`name::check`] (`file` when none).
    pub file_name: String,
    /// creation-with-upload: the request body is the first chunk.
    pub with_body: bool,
    pub checksum: Option<Checksum>,
}

/// Reads and checks a creation request's headers; sans-IO, so `fuzz/filestore_tus_headers`
/// drives it with arbitrary headers.
pub fn creation(headers: &HeaderMap, max_file_size: u64) -> Result<Creation, Error> {
    check_resumable(headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(Error::BadRequest("creation-defer-length is not supported: send Upload-Length".into()));
    }
    let length = num(headers, "upload-length")?.ok_or_else(|| Error::BadRequest("Upload-Length required".into()))?;
    if length > max_file_size {
        return Err(Error::TooLarge(format!("file of {length} bytes exceeds the limit of {max_file_size} bytes")));
    }
    if headers.contains_key("upload-metadata") && header(headers, "upload-metadata").is_none() {
        return Err(Error::BadRequest("Upload-Metadata is not ASCII".into()));
    }
    let raw_metadata = header(headers, "upload-metadata").unwrap_or("").to_string();
    let meta = super::metadata::parse(Some(&raw_metadata))?;
    let file_name = name::check(meta.filename.as_deref().unwrap_or("file"))?;
    let with_body = header(headers, "content-type").is_some_and(|c| c.starts_with(OFFSET_STREAM));
    let checksum = header(headers, "upload-checksum").map(Checksum::parse).transpose()?;
    if with_body {
        if let Some(n) = num(headers, "content-length")? {
            if n > length {
                return Err(Error::TooLarge("request body is longer than Upload-Length".into()));
            }
        }
    }
    Ok(Creation { length, raw_metadata, file_name, with_body, checksum })
}

/// The tus headers of an append request (PATCH).
pub struct Append {
    pub offset: u64,
    pub checksum: Option<Checksum>,
    pub content_length: Option<u64>,
}

/// Reads and checks a PATCH request's headers (sans-IO, fuzzed like [`creation`]).
pub fn append(headers: &HeaderMap) -> Result<Append, Error> {
    check_resumable(headers)?;
    if !header(headers, "content-type").is_some_and(|c| c.starts_with(OFFSET_STREAM)) {
        return Err(Error::UnsupportedMediaType(format!("Content-Type must be {OFFSET_STREAM}")));
    }
    let offset = num(headers, "upload-offset")?.ok_or_else(|| Error::BadRequest("Upload-Offset required".into()))?;
    let checksum = header(headers, "upload-checksum").map(Checksum::parse).transpose()?;
    let content_length = num(headers, "content-length")?;
    Ok(Append { offset, checksum, content_length })
}

/// OPTIONS: what this server speaks (the token is still required, like everywhere).
pub async fn options(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<TusResponse, Error> {
    st.auth(&headers, q.as_deref())?;
    Ok(TusResponse {
        status: StatusCode::NO_CONTENT,
        headers: vec![
            ("tus-version", TUS_VERSION.into()),
            ("tus-extension", TUS_EXTENSIONS.into()),
            ("tus-max-size", st.config.max_file_size.to_string()),
            ("tus-checksum-algorithm", TUS_CHECKSUMS.into()),
        ],
    })
}

/// POST /files/: creation (and creation-with-upload when a body comes along).
pub async fn create(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<TusResponse, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let Creation { length, raw_metadata: raw_meta, file_name, with_body, checksum } =
        creation(&headers, st.config.max_file_size)?;

    let id = FileId::generate()?;
    let now = now_ms();
    let row = UploadRow {
        id: id.to_string(),
        room: claims.room.to_string(),
        uploader_nick: claims.nick.to_string(),
        uploader_name: crate::auth::display_name(&claims.name),
        name: file_name,
        metadata: raw_meta,
        length,
        offset: 0,
        created_at: now,
        expires_at: now + st.config.upload_expiry.as_millis() as i64,
    };
    let partial = st.paths.partial(id.as_str());
    let partial_dir = st.paths.partial.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::File::create(&partial)?.sync_all()?;
        store::sync_dir(&partial_dir)
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))??;
    if let Err(e) = store::create_upload(&st.db, row.clone(), st.config.room_quota).await {
        store::remove_quietly(&st.paths.partial(id.as_str()));
        return Err(e);
    }
    inc(&st.metrics.uploads_created);

    let mut headers_out = vec![("location", format!("/files/{id}")), ("upload-expires", http_date(row.expires_at))];
    let lock = st.uploads.get(id.as_str());
    let guard = lock.lock_owned().await;
    let offset = if length == 0 {
        complete(&st, row, HashProgress { offset: 0, sha256: Default::default() }, guard).await?;
        0
    } else if with_body {
        match write(&st, &row, checksum, body, guard).await {
            Ok(o) => o,
            Err(e) => {
                // The upload exists; tell the client where, along with the error.
                let mut r = e.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("/files/{id}")) {
                    r.headers_mut().insert("location", v);
                }
                return Ok(TusResponse { status: r.status(), headers: vec![("location", format!("/files/{id}"))] });
            }
        }
    } else {
        0
    };
    headers_out.push(("upload-offset", offset.to_string()));
    Ok(TusResponse { status: StatusCode::CREATED, headers: headers_out })
}

/// HEAD /files/<id>: the stored offset, from which a client resumes.
pub async fn head(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<TusResponse, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    check_resumable(&headers)?;
    let id = FileId::parse(&id)?;
    let mut out = vec![("cache-control", "no-store".to_string())];
    match store::lookup(&st.db, &id).await? {
        None => return Err(Error::NotFound("no such upload".into())),
        Some(Lookup::Upload(u)) => {
            st.check_room(&claims, &u.room)?;
            if u.expires_at <= now_ms() {
                return Err(Error::Gone("upload expired".into()));
            }
            out.push(("upload-offset", u.offset.to_string()));
            out.push(("upload-length", u.length.to_string()));
            out.push(("upload-expires", http_date(u.expires_at)));
            if !u.metadata.is_empty() {
                out.push(("upload-metadata", u.metadata));
            }
        }
        Some(Lookup::File(f)) => {
            st.check_room(&claims, &f.room)?;
            out.push(("upload-offset", f.size.to_string()));
            out.push(("upload-length", f.size.to_string()));
        }
    }
    Ok(TusResponse { status: StatusCode::OK, headers: out })
}

/// PATCH /files/<id>: appends the body at `Upload-Offset`.
pub async fn patch(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<TusResponse, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let Append { offset, checksum, content_length } = append(&headers)?;
    let id = FileId::parse(&id)?;
    let row = match store::lookup(&st.db, &id).await? {
        None => return Err(Error::NotFound("no such upload".into())),
        Some(Lookup::File(f)) => {
            st.check_room(&claims, &f.room)?;
            return Err(Error::Conflict(format!("upload is complete at offset {}", f.size)));
        }
        Some(Lookup::Upload(u)) => u,
    };
    st.check_room(&claims, &row.room)?;
    if row.expires_at <= now_ms() {
        return Err(Error::Gone("upload expired".into()));
    }
    let lock = st.uploads.get(id.as_str());
    let guard = tokio::time::timeout(Duration::from_secs(20), lock.lock_owned())
        .await
        .map_err(|_| Error::Locked("another request is writing this upload".into()))?;
    // Re-read under the lock: the request that held it may have moved the offset.
    let row = match store::lookup(&st.db, &id).await? {
        Some(Lookup::Upload(u)) => u,
        Some(Lookup::File(f)) => return Err(Error::Conflict(format!("upload is complete at offset {}", f.size))),
        None => return Err(Error::NotFound("no such upload".into())),
    };
    if offset != row.offset {
        return Err(Error::Conflict(format!("Upload-Offset {offset} does not match the stored offset {}", row.offset)));
    }
    if let Some(n) = content_length {
        if offset.saturating_add(n) > row.length {
            return Err(Error::TooLarge(format!(
                "body of {n} bytes at offset {offset} goes past Upload-Length {}",
                row.length
            )));
        }
    }
    let new_offset = write(&st, &row, checksum, body, guard).await?;
    let expires = now_ms() + st.config.upload_expiry.as_millis() as i64;
    let mut out = vec![("upload-offset", new_offset.to_string())];
    if new_offset < row.length {
        out.push(("upload-expires", http_date(expires)));
    }
    Ok(TusResponse { status: StatusCode::NO_CONTENT, headers: out })
}

/// Writes one body at the upload's offset, commits the new offset, and completes the upload
/// when it is whole. Returns the new offset.
async fn write(
    st: &AppState,
    row: &UploadRow,
    checksum: Option<Checksum>,
    body: Body,
    mut guard: UploadGuard,
) -> Result<u64, Error> {
    let expiry = st.config.upload_expiry.as_millis() as i64;
    let chunk = Chunk {
        path: st.paths.partial(&row.id),
        start: row.offset,
        length: row.length,
        checksum,
        progress: guard.take(),
    };
    let db = st.db.clone();
    let id = row.id.clone();
    let outcome = upload::write_chunk(chunk, body, |off| {
        let db = db.clone();
        let id = id.clone();
        async move { store::set_offset(&db, &id, off, now_ms() + expiry).await }
    })
    .await;
    let progress = match outcome {
        Err(e) => {
            if matches!(e, Error::ChecksumMismatch) {
                inc(&st.metrics.checksum_mismatches);
            }
            return Err(e);
        }
        Ok(Outcome::Interrupted(p)) => {
            add(&st.metrics.upload_bytes, p.offset - row.offset);
            store::set_offset(&st.db, &row.id, p.offset, now_ms() + expiry).await?;
            *guard = Some(p);
            return Err(Error::BadRequest("request body ended early; resume from the stored offset".into()));
        }
        Ok(Outcome::Stored(p)) => p,
    };
    add(&st.metrics.upload_bytes, progress.offset - row.offset);
    store::set_offset(&st.db, &row.id, progress.offset, now_ms() + expiry).await?;
    let new_offset = progress.offset;
    if new_offset == row.length {
        let mut done = row.clone();
        done.offset = new_offset;
        complete(st, done, progress, guard).await?;
    } else {
        *guard = Some(progress);
    }
    Ok(new_offset)
}

/// Completes a whole upload: stores it by hash and records the file.
pub async fn complete(st: &AppState, row: UploadRow, progress: HashProgress, _guard: UploadGuard) -> Result<(), Error> {
    use sha2::Digest;
    let sha256 = hex::encode(progress.sha256.finalize());
    let partial = st.paths.partial(&row.id);
    let mime = tokio::task::spawn_blocking(move || upload::sniff(&partial))
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
    let id = row.id.clone();
    let (file, dedup) = store::finish(&st.db, st.paths.clone(), row, sha256, mime).await?;
    st.uploads.forget(&id);
    inc(&st.metrics.uploads_completed);
    if dedup {
        inc(&st.metrics.uploads_deduplicated);
    }
    tracing::info!(file = %file.id, room = %file.room, size = file.size, sha256 = %file.sha256, dedup, "upload complete");
    Ok(())
}

/// DELETE /files/<id>: termination. Only the uploader may remove an upload or a file.
pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<TusResponse, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    check_resumable(&headers)?;
    let id = FileId::parse(&id)?;
    let (room, uploader, finished) = match store::lookup(&st.db, &id).await? {
        None => return Err(Error::NotFound("no such upload".into())),
        Some(Lookup::Upload(u)) => (u.room, u.uploader_nick, false),
        Some(Lookup::File(f)) => (f.room, f.uploader, true),
    };
    st.check_room(&claims, &room)?;
    if uploader != claims.nick.as_str() {
        return Err(Error::Forbidden("only the uploader may delete this".into()));
    }
    let lock = st.uploads.get(id.as_str());
    let _guard = tokio::time::timeout(Duration::from_secs(20), lock.lock_owned())
        .await
        .map_err(|_| Error::Locked("another request is writing this upload".into()))?;
    if finished {
        store::remove_file(&st.db, st.paths.clone(), id.to_string()).await?;
    } else {
        store::remove_upload(&st.db, st.paths.clone(), id.to_string()).await?;
    }
    st.uploads.forget(id.as_str());
    Ok(TusResponse { status: StatusCode::NO_CONTENT, headers: vec![] })
}

/// The upload whose stored offset already equals its length (a crash between the last
/// offset commit and the file commit) is completed at start-up.
pub async fn recover(st: &AppState) -> Result<(), Error> {
    let ids: Vec<String> = st
        .db
        .call(|c| {
            let mut s = c.prepare("SELECT id FROM uploads WHERE offset = length")?;
            let ids = s.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await?;
    let mut rows = Vec::new();
    for id in ids.iter().filter_map(|id| FileId::parse(id).ok()) {
        if let Some(Lookup::Upload(u)) = store::lookup(&st.db, &id).await? {
            rows.push(u);
        }
    }
    for row in rows {
        let lock = st.uploads.get(&row.id);
        let guard = lock.lock_owned().await;
        let partial = st.paths.partial(&row.id);
        let len = row.length;
        let progress = tokio::task::spawn_blocking(move || -> Result<HashProgress, Error> {
            use sha2::Digest;
            use std::io::Read;
            let mut f = std::fs::File::open(&partial)?;
            let mut h = sha2::Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                let n = (left as usize).min(buf.len());
                f.read_exact(&mut buf[..n])?;
                h.update(&buf[..n]);
                left -= n as u64;
            }
            Ok(HashProgress { offset: len, sha256: h })
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?;
        match progress {
            Ok(p) => complete(st, row, p, guard).await?,
            Err(e) => tracing::warn!(upload = %row.id, error = %e, "could not recover a finished upload"),
        }
    }
    Ok(())
}
