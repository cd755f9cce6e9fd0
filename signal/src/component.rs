//! The bus listener: XEP-0114 component connections (focus, bridges) on `SIGNAL_BUS_ADDR`.
//!
//! Listener → one task per connection: stream header (the `to` names the component's
//! domain), our header with a fresh stream id, the `<handshake/>` proof (lowercase hex SHA-1
//! of stream id + `BUS_SECRET`, compared in constant time), registration with the hub, then
//! stanzas both ways. A wrong secret gets `not-authorized` and the connection is closed; no
//! stanza is routed before the handshake succeeds.

use crate::auth::constant_time_eq;
use crate::conn::{ConnId, Outbound, OUTBOX_CAPACITY};
use crate::hub::{HubMsg, PeerKind};
use crate::jid::{domain_within, Jid};
use crate::metrics::Metrics;
use crate::ratelimit::{Budget, RateLimit};
use crate::stream::{write_outbound, StreamWriter};
use crate::Shared;
use proto::xml::{ParserLimits, StreamEvent, StreamParser, NS_STREAM};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Components (bridges, focus) are trusted peers with much traffic: a generous budget, still
/// bounded so a runaway component cannot starve the hub.
const COMPONENT_BUDGET: Budget =
    Budget { stanzas_per_sec: 5000.0, stanza_burst: 20000.0, bytes_per_sec: 50e6, byte_burst: 100e6 };

pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    crate::serve_connections(
        listener,
        shared,
        shutdown,
        "bus",
        |m| &m.component_connections,
        |sock, peer, shared, shutdown| async move {
            if let Err(e) = handle(sock, shared, shutdown).await {
                tracing::info!(%peer, "component connection ended: {e}");
            }
        },
    )
    .await
}

/// True when `given` (the `<handshake/>` text) proves `secret` for stream `stream_id`.
fn handshake_ok(stream_id: &str, secret: &str, given: &str) -> bool {
    let want = proto::bus::handshake_digest(stream_id, secret);
    constant_time_eq(want.as_bytes(), given.trim().to_ascii_lowercase().as_bytes())
}

async fn handle(sock: TcpStream, shared: Arc<Shared>, shutdown: CancellationToken) -> Result<(), crate::Error> {
    sock.set_nodelay(true)?;
    let (mut rd, wr) = sock.into_split();
    let mut w = StreamWriter::tcp(wr);
    let mut parser = StreamParser::new(ParserLimits {
        component_as_client: true,
        // The component limit, not the client one (`SIGNAL_MAX_COMPONENT_STANZA`). The parser's
        // limits cannot change mid-stream, so it also holds before the handshake; an
        // unauthenticated peer still has only HANDSHAKE_TIMEOUT and the connection cap.
        max_stanza_bytes: shared.config.max_component_stanza_bytes,
        ..Default::default()
    });
    let mut buf = vec![0u8; 16 * 1024];
    let stream_id = proto::secrets::random_hex(16)?;
    let mut domain: Option<Jid> = None;

    // 1. header and handshake, with a deadline
    let negotiated = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            while let Some(ev) = parser.poll_event()? {
                match (ev, &domain) {
                    (StreamEvent::Open(h), None) => {
                        let to = h.get_attr("to").map(Jid::parse);
                        let header = |from: &str| {
                            format!(
                                "<?xml version='1.0'?><stream:stream xmlns:stream='{NS_STREAM}' xmlns='jabber:component:accept' id='{stream_id}' from='{}'>",
                                proto::xml::escape(from)
                            )
                        };
                        match to {
                            Some(Ok(j)) if j.local().is_none() && j.resource().is_none() && domain_within(j.domain(), &shared.config.domain) && j.domain() != shared.config.domain => {
                                w.write_raw(&header(j.domain())).await?;
                                domain = Some(j);
                            }
                            _ => {
                                w.write_raw(&header(&shared.config.domain)).await?;
                                return Err(crate::Error::Stream("host-unknown", "components must name a subdomain of the XMPP domain".into()));
                            }
                        }
                    }
                    (StreamEvent::Stanza(s), Some(_)) if s.name() == "handshake" => {
                        if !handshake_ok(&stream_id, &shared.config.bus_secret, &s.text_content()) {
                            Metrics::inc(&shared.metrics.auth_failures);
                            return Err(crate::Error::Stream("not-authorized", "wrong handshake".into()));
                        }
                        return Ok(());
                    }
                    _ => return Err(crate::Error::Stream("not-authorized", "handshake expected".into())),
                }
            }
            let n = rd.read(&mut buf).await?;
            if n == 0 {
                return Err(crate::Error::Closed);
            }
            parser.handle_bytes(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| Err(crate::Error::Stream("connection-timeout", "no handshake in time".into())));
    if let Err(e) = negotiated {
        w.fail(&e, &shared.metrics).await;
        return Err(e);
    }
    let jid = domain.expect("the handshake succeeds only after the header named the domain");

    // 2. register with the hub
    let conn = shared.next_conn();
    let (tx, mut outbox) = mpsc::channel(OUTBOX_CAPACITY);
    let kill = CancellationToken::new();
    let (reply_tx, reply_rx) = oneshot::channel();
    let reg = HubMsg::Register {
        conn,
        kind: PeerKind::Component,
        session: None,
        jid: jid.clone(),
        outbox: tx,
        kill: kill.clone(),
        reply: reply_tx,
    };
    if shared.hub.send(reg).await.is_err() {
        return Err(crate::Error::Closed);
    }
    match reply_rx.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            let e = crate::Error::Stream("conflict", e.to_string());
            w.fail(&e, &shared.metrics).await;
            return Err(e);
        }
        Err(_) => return Err(crate::Error::Closed),
    }
    tracing::info!(component = %jid, "component connected");
    let r = async {
        w.write_raw("<handshake/>").await?;
        pump(conn, &mut rd, &mut w, &mut parser, &mut outbox, &shared, &kill, &shutdown).await
    }
    .await;
    let _ = shared.hub.send(HubMsg::Gone { conn }).await;
    match &r {
        Err(e) => w.fail(e, &shared.metrics).await,
        Ok(()) => w.close().await,
    }
    tracing::info!(component = %jid, "component disconnected");
    r
}

/// Stanzas in and out until the stream ends.
#[allow(clippy::too_many_arguments)]
async fn pump(
    conn: ConnId,
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    w: &mut StreamWriter,
    parser: &mut StreamParser,
    outbox: &mut mpsc::Receiver<Outbound>,
    shared: &Shared,
    kill: &CancellationToken,
    shutdown: &CancellationToken,
) -> Result<(), crate::Error> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut limit = RateLimit::new(COMPONENT_BUDGET, Instant::now());
    loop {
        tokio::select! {
            n = rd.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Err(crate::Error::Closed);
                }
                if !limit.handle_bytes(Instant::now(), n) {
                    return Err(crate::Error::Stream("policy-violation", "too much data".into()));
                }
                parser.handle_bytes(&buf[..n]);
                // Bad XML or an oversized stanza: a stream error naming it, as for clients.
                while let Some(ev) = parser.poll_event().map_err(|e| crate::Error::stream_from_xml(&e))? {
                    match ev {
                        StreamEvent::Stanza(s) => {
                            if !limit.handle_stanza(Instant::now()) {
                                return Err(crate::Error::Stream("policy-violation", "too many stanzas".into()));
                            }
                            if shared.hub.send(HubMsg::Stanza { conn, stanza: s }).await.is_err() {
                                return Err(crate::Error::Closed);
                            }
                        }
                        StreamEvent::Close => return Ok(()),
                        StreamEvent::Open(_) => return Err(crate::Error::Stream("not-well-formed", "second stream header".into())),
                    }
                }
            }
            item = outbox.recv() => {
                let Some(item) = item else {
                    // the hub is gone: at shutdown that is the reason to give
                    return Err(if shutdown.is_cancelled() { shutdown_error() } else { crate::Error::Closed });
                };
                write_outbound(w, item, outbox).await?;
            }
            _ = kill.cancelled() => return Err(crate::Error::Stream("policy-violation", "too slow to read".into())),
            _ = shutdown.cancelled() => return Err(shutdown_error()),
        }
    }
}

fn shutdown_error() -> crate::Error {
    crate::Error::Stream("system-shutdown", "signal is stopping".into())
}

#[cfg(test)]
mod tests {
    use super::handshake_ok;

    #[test]
    fn accepts_the_issue_test_vector_and_nothing_else() {
        let id = "720841fc-90c5-4773-8e01-b9e0f68aa07e";
        assert!(handshake_ok(id, "focussecret", "3c6218a3ed50cc8673707d3881675b0bf77158bd"));
        assert!(handshake_ok(id, "focussecret", " 3C6218A3ED50CC8673707D3881675B0BF77158BD\n"));
        assert!(!handshake_ok(id, "othersecret", "3c6218a3ed50cc8673707d3881675b0bf77158bd"));
        assert!(!handshake_ok("another-id", "focussecret", "3c6218a3ed50cc8673707d3881675b0bf77158bd"));
        assert!(!handshake_ok(id, "focussecret", ""));
    }
}
