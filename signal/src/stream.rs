//! Writing to a stream: raw stream-level XML, addressed stanzas from the hub (batched into
//! one write or one WebSocket frame each), stream errors and the closing tag, over TCP or
//! RFC 7395 WebSocket framing. It must never write a stanza before the stream is open.

use crate::conn::Outbound;
use crate::metrics::Metrics;
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

pub const NS_STREAM_ERRORS: &str = "urn:ietf:params:xml:ns:xmpp-streams";

enum Sink {
    Tcp(OwnedWriteHalf),
    Ws(SplitSink<WebSocket, Message>),
}

pub struct StreamWriter {
    sink: Sink,
    buf: String,
    closed: bool,
}

impl StreamWriter {
    pub fn tcp(w: OwnedWriteHalf) -> Self {
        StreamWriter { sink: Sink::Tcp(w), buf: String::new(), closed: false }
    }

    pub fn ws(w: SplitSink<WebSocket, Message>) -> Self {
        StreamWriter { sink: Sink::Ws(w), buf: String::new(), closed: false }
    }

    pub fn is_ws(&self) -> bool {
        matches!(self.sink, Sink::Ws(_))
    }

    /// Writes stream-level XML as it is (one frame on WebSocket).
    pub async fn write_raw(&mut self, xml: &str) -> Result<(), crate::Error> {
        match &mut self.sink {
            Sink::Tcp(w) => w.write_all(xml.as_bytes()).await?,
            Sink::Ws(w) => {
                w.send(Message::Text(xml.to_string().into())).await.map_err(|e| crate::Error::Ws(e.to_string()))?
            }
        }
        Ok(())
    }

    /// Queues one addressed stanza; [`StreamWriter::flush`] sends what is queued.
    pub async fn push(&mut self, to: &str, body: &proto::xml::Prepared) -> Result<(), crate::Error> {
        match &mut self.sink {
            Sink::Tcp(_) => {
                body.write_to(&mut self.buf, Some(to), false);
                if self.buf.len() > 64 * 1024 {
                    self.flush().await?;
                }
            }
            Sink::Ws(w) => {
                let mut s = String::with_capacity(body.len() + to.len() + 32);
                body.write_to(&mut s, Some(to), true);
                w.feed(Message::Text(s.into())).await.map_err(|e| crate::Error::Ws(e.to_string()))?;
            }
        }
        Ok(())
    }

    pub async fn flush(&mut self) -> Result<(), crate::Error> {
        match &mut self.sink {
            Sink::Tcp(w) => {
                if !self.buf.is_empty() {
                    w.write_all(self.buf.as_bytes()).await?;
                    self.buf.clear();
                    // A burst (a big room's presences) must not pin its buffer for good.
                    if self.buf.capacity() > 32 * 1024 {
                        self.buf.shrink_to(4 * 1024);
                    }
                }
            }
            Sink::Ws(w) => w.flush().await.map_err(|e| crate::Error::Ws(e.to_string()))?,
        }
        Ok(())
    }

    /// Asks a silent client to prove it is alive: an XEP-0199 ping on TCP (every XMPP client
    /// answers IQs), a ping frame on WebSocket (the browser answers by itself).
    pub async fn keepalive(&mut self, domain: &str, n: u64) -> Result<(), crate::Error> {
        self.flush().await?;
        match &mut self.sink {
            Sink::Tcp(w) => {
                let iq = format!(
                    "<iq type='get' id='keepalive-{n}' from='{}'><ping xmlns='urn:xmpp:ping'/></iq>",
                    proto::xml::escape(domain)
                );
                w.write_all(iq.as_bytes()).await?;
            }
            Sink::Ws(w) => {
                w.send(Message::Ping(Vec::new().into())).await.map_err(|e| crate::Error::Ws(e.to_string()))?
            }
        }
        Ok(())
    }

    /// Ends the stream with a stream error when `e` is one (else just closes), best effort.
    pub async fn fail(&mut self, e: &crate::Error, metrics: &Metrics) {
        if let crate::Error::Stream(cond, text) = e {
            Metrics::inc(&metrics.stream_errors);
            let mut x = format!(
                "<stream:error xmlns:stream='http://etherx.jabber.org/streams'><{cond} xmlns='{NS_STREAM_ERRORS}'/>"
            );
            if !text.is_empty() {
                x.push_str(&format!("<text xmlns='{NS_STREAM_ERRORS}'>{}</text>", proto::xml::escape(text)));
            }
            x.push_str("</stream:error>");
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
                let _ = self.flush().await;
                let _ = self.write_raw(&x).await;
            })
            .await;
        }
        self.close().await;
    }

    /// `</stream:stream>` (or `<close/>` on WebSocket), then shuts the transport down.
    pub async fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            let _ = self.flush().await;
            match &mut self.sink {
                Sink::Tcp(w) => {
                    let _ = w.write_all(b"</stream:stream>").await;
                    let _ = w.shutdown().await;
                }
                Sink::Ws(w) => {
                    let _ = w.send(Message::Text("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>".into())).await;
                    let _ = w.close().await;
                }
            }
        })
        .await;
    }
}

/// Writes `first` and whatever else is already queued in `outbox`, then flushes once.
pub async fn write_outbound(
    w: &mut StreamWriter,
    first: Outbound,
    outbox: &mut mpsc::Receiver<Outbound>,
) -> Result<(), crate::Error> {
    let mut next = Some(first);
    let mut n = 0;
    while let Some(Outbound::Stanza { to, body }) = next.take() {
        w.push(&to, &body).await?;
        n += 1;
        if n >= 512 {
            break;
        }
        next = outbox.try_recv().ok();
    }
    w.flush().await
}
