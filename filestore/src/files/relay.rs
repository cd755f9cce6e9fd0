//! The streamed relay for a peer-to-peer transfer whose direct path failed:
//! the sender `PUT`s the file to `/files/relay/<id>`, the receiver `GET`s it from the same
//! URL, and the bytes pass through a small bounded channel (back-pressure both ways). The
//! transfer is opened over `/chat` (`relay-open`), which fixes who sends and who receives.
//! Nothing is written to disk and no more than a few chunks are ever held.

use crate::ids::RelayId;
use crate::metrics::add;
use crate::state::AppState;
use crate::Error;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;

/// How long the sender waits for the receiver to take the next chunk.
const STALL: Duration = Duration::from_secs(60);

/// PUT /files/relay/<id>: the sender's side.
pub async fn put(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let id = RelayId::parse(&id)?;
    let (tx, size) = st.hub.relay_sender(id, claims).await?;
    let mut stream = body.into_data_stream();
    let mut sent = 0u64;
    while let Some(frame) = stream.next().await {
        let data = frame.map_err(|_| {
            let _ = tx.try_send(Err(()));
            Error::BadRequest("sender went away".into())
        })?;
        sent += data.len() as u64;
        if sent > size {
            let _ = tx.try_send(Err(()));
            return Err(Error::TooLarge(format!("more than the announced {size} bytes")));
        }
        add(&st.metrics.relay_bytes, data.len() as u64);
        match tokio::time::timeout(STALL, tx.send(Ok(data))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(Error::Gone("the receiver went away".into())),
            Err(_) => return Err(Error::Timeout("the receiver stalled".into())),
        }
    }
    if sent != size {
        let _ = tx.send(Err(())).await;
        return Err(Error::BadRequest(format!("sent {sent} of the announced {size} bytes")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// GET /files/relay/<id>: the receiver's side, streamed as an attachment.
pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let claims = st.auth(&headers, q.as_deref())?;
    let id = RelayId::parse(&id)?;
    let (rx, size, name) = st.hub.relay_receiver(id, claims).await?;
    let stream = tokio_stream_from(rx);
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&super::name::content_disposition(&name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((StatusCode::OK, h, Body::from_stream(stream)).into_response())
}

/// A relay chunk, or `Err(())` when the sender failed: the receiver's response is then
/// cut short, so its browser reports a failed download instead of a wrong file.
pub type RelayChunk = Result<Bytes, ()>;

fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<RelayChunk>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Some(Ok(b)) => Some((Ok(b), rx)),
            Some(Err(())) => Some((Err(std::io::Error::other("sender failed")), rx)),
            None => None,
        }
    })
}
