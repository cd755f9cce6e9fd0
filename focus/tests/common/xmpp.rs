//! A minimal XMPP client for tests (RFC 6120 over plain TCP on loopback): SASL ANONYMOUS,
//! resource binding, then stanzas in and out as `proto::xml::Element`s.

#![allow(dead_code)]

use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser, NS_CLIENT};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const NS_SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";

pub struct Xmpp {
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    parser: StreamParser,
    pub jid: String,
    pub domain: String,
}

impl Xmpp {
    pub async fn connect(addr: SocketAddr, domain: &str) -> Result<Xmpp, String> {
        let sock = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        sock.set_nodelay(true).map_err(|e| e.to_string())?;
        let (read, write) = sock.into_split();
        let parser = StreamParser::new(ParserLimits { max_stanza_bytes: 4 * 1024 * 1024, ..Default::default() });
        let mut x = Xmpp { read, write, parser, jid: String::new(), domain: domain.to_string() };
        let features = x.open().await?;
        let mechs: Vec<String> = features
            .get_child("mechanisms", NS_SASL)
            .map(|m| m.children().map(|c| c.text_content()).collect())
            .unwrap_or_default();
        if !mechs.iter().any(|m| m == "ANONYMOUS") {
            return Err(format!("no SASL ANONYMOUS offered: {features:?}"));
        }
        x.send(&Element::new("auth", NS_SASL).attr("mechanism", "ANONYMOUS")).await?;
        let r = x.next_stanza().await?;
        if r.name() != "success" {
            return Err(format!("SASL ANONYMOUS failed: {}", r.to_stanza_string()));
        }
        let features = x.open().await?;
        if features.get_child("bind", NS_BIND).is_none() {
            return Err("no resource binding offered".into());
        }
        let bind =
            Element::new("iq", NS_CLIENT).attr("type", "set").attr("id", "bind1").child(Element::new("bind", NS_BIND));
        x.send(&bind).await?;
        let r = x.next_stanza().await?;
        let jid = r.get_child("bind", NS_BIND).and_then(|b| b.get_child("jid", NS_BIND)).map(|j| j.text_content());
        x.jid = jid.ok_or_else(|| format!("bind failed: {}", r.to_stanza_string()))?;
        Ok(x)
    }

    async fn open(&mut self) -> Result<Element, String> {
        // A restarted stream is a new document for the parser.
        self.parser.reset();
        let header = format!(
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{}' version='1.0'>",
            self.domain
        );
        self.write.write_all(header.as_bytes()).await.map_err(|e| e.to_string())?;
        loop {
            match self.next_event().await? {
                StreamEvent::Open(_) => continue,
                StreamEvent::Stanza(e) if e.name() == "features" => return Ok(e),
                StreamEvent::Stanza(e) => return Err(format!("expected features, got {}", e.to_stanza_string())),
                _ => return Err("stream closed while opening".into()),
            }
        }
    }

    async fn next_event(&mut self) -> Result<StreamEvent, String> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            if let Some(ev) = self.parser.poll_event().map_err(|e| e.to_string())? {
                return Ok(ev);
            }
            let n = self.read.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            self.parser.handle_bytes(&buf[..n]);
        }
    }

    async fn next_stanza(&mut self) -> Result<Element, String> {
        loop {
            match self.next_event().await? {
                StreamEvent::Stanza(e) => return Ok(e),
                StreamEvent::Open(_) => continue,
                _ => return Err("stream closed".into()),
            }
        }
    }

    /// The next stanza (cancel-safe: bytes read are kept in the parser).
    pub async fn recv(&mut self) -> Result<Element, String> {
        self.next_stanza().await
    }

    pub async fn send(&mut self, e: &Element) -> Result<(), String> {
        self.write.write_all(e.to_stanza_string().as_bytes()).await.map_err(|e| e.to_string())
    }

    pub async fn close(&mut self) {
        let _ = self.write.write_all(b"</stream:stream>").await;
        let _ = self.write.shutdown().await;
    }
}
