//! GET /files/<id>: a finished file, to members of its room only. Served from its blob as
//! an attachment (never rendered by the browser), with ranges and ETag = SHA-256. Also
//! GET /files/: the room's file list.

use super::store;
use crate::ids::FileId;
use crate::metrics::{add, inc};
use crate::state::AppState;
use crate::Error;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Types a browser may safely be told; anything else is sent as octet-stream.
fn served_type(mime: &str) -> &str {
    let safe = mime.starts_with("image/") && mime != "image/svg+xml"
        || mime.starts_with("audio/")
        || mime.starts_with("video/")
        || matches!(mime, "application/pdf" | "application/zip" | "application/gzip");
    if safe {
        mime
    } else {
        "application/octet-stream"
    }
}

/// Parses a single `bytes=` range against `size`: `Ok(None)` means serve the whole file.
pub fn parse_range(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, Error> {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None); // several ranges: the whole file is a valid answer
    }
    let unsat = || Error::RangeNotSatisfiable(format!("range not satisfiable for {size} bytes"));
    let (a, b) = spec.split_once('-').ok_or_else(unsat)?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| unsat())?;
        if n == 0 || size == 0 {
            return Err(unsat());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().map_err(|_| unsat())?;
        let end: u64 = if b.is_empty() { size.saturating_sub(1) } else { b.parse().map_err(|_| unsat())? };
        if start >= size || end < start {
            return Err(unsat());
        }
        (start, end.min(size - 1))
    };
    Ok(Some(range))
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let id = FileId::parse(&id)?;
    let id_s = id.to_string();
    let file = st
        .db
        .call(move |c| store::get_file(c, &id_s))
        .await?
        .ok_or_else(|| Error::NotFound("no such file (unfinished uploads cannot be downloaded)".into()))?;
    st.check_room(&claims, &file.room)?;
    let etag = format!("\"{}\"", file.sha256);
    let mut resp_headers = HeaderMap::new();
    let mut put = |k: header::HeaderName, v: &str| {
        if let Ok(v) = HeaderValue::from_str(v) {
            resp_headers.insert(k, v);
        }
    };
    put(header::ETAG, &etag);
    put(header::CONTENT_TYPE, served_type(&file.mime));
    put(header::CONTENT_DISPOSITION, &super::name::content_disposition(&file.name));
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(header::ACCEPT_RANGES, "bytes");
    put(header::CACHE_CONTROL, "private, no-cache");
    put(header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok((StatusCode::NOT_MODIFIED, resp_headers).into_response());
    }
    // If-Range with another validator means the client's partial copy is stale: send all.
    let if_range_ok = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()).is_none_or(|v| v.trim() == etag);
    let range_h = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).filter(|_| if_range_ok);
    let range = match parse_range(range_h, file.size) {
        Ok(r) => r,
        Err(e) => {
            let mut r = e.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", file.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let mut f = tokio::fs::File::open(st.paths.blob(&file.sha256)).await?;
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, file.size),
        Some((a, b)) => {
            let cr = format!("bytes {a}-{b}/{}", file.size);
            if let Ok(v) = HeaderValue::from_str(&cr) {
                resp_headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    if start > 0 {
        f.seek(std::io::SeekFrom::Start(start)).await?;
    }
    resp_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    inc(&st.metrics.downloads);
    add(&st.metrics.download_bytes, len);
    let stream = tokio_util::io::ReaderStream::with_capacity(f.take(len), 256 * 1024);
    Ok((status, resp_headers, Body::from_stream(stream)).into_response())
}

/// GET /files/: the finished files of the token's room, oldest first.
pub async fn list(State(st): State<AppState>, RawQuery(q): RawQuery, headers: HeaderMap) -> Result<Response, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let files = store::list_files(&st.db, claims.room.to_string()).await?;
    Ok(Json(files).into_response())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(Some("bytes=90-"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=50-500"), 100).unwrap(), Some((50, 99)));
        assert!(parse_range(Some("bytes=100-"), 100).is_err());
        assert!(parse_range(Some("bytes=9-1"), 100).is_err());
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100).unwrap(), None);
        assert_eq!(parse_range(None, 100).unwrap(), None);
    }
}
