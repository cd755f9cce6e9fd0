//! With the real signal: filestore's archive connects to signal's bus as `archive.<domain>`
//! (the XEP-0114 handshake with the shared secret), people's IQs reach it through signal and
//! are answered, and what a client sends it claiming to be a copy or a removal arrives with
//! the client's own JID (signal rewrites every client's `from`) and is refused. When signal
//! goes away, chat and files go on; when it comes back, the archive reconnects by itself.

mod common;
#[path = "../../focus/tests/common/xmpp.rs"]
mod xmpp;

use common::bus::{metric, wait_metric, P};
use common::*;
use proto::xml::{Element, NS_CLIENT};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The real signal binary on free loopback ports, with its own data folder.
struct Signal {
    bin: std::path::PathBuf,
    data: TempDir,
    c2s: SocketAddr,
    http: SocketAddr,
    bus: SocketAddr,
    secret: String,
    child: Option<Child>,
}

impl Signal {
    /// `None` (the test is skipped) when the binary was not built, outside CI.
    fn start() -> Option<Signal> {
        let dir = std::env::var("MEET_BIN_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug"));
        let bin = dir.join("signal");
        if !bin.is_file() {
            assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{} missing in CI", bin.display());
            eprintln!("SKIPPED: {} missing (cargo build -p signal)", bin.display());
            return None;
        }
        let port = || SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_tcp_port()));
        let mut s = Signal {
            bin,
            data: TempDir::new("signal"),
            c2s: port(),
            http: port(),
            bus: port(),
            secret: proto::secrets::random_hex(16).expect("os randomness"),
            child: None,
        };
        s.spawn();
        Some(s)
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .env("XMPP_DOMAIN", "meet.lan")
            .env("DATA_DIR", &self.data.0)
            .env("BUS_SECRET", &self.secret)
            .env("TOKEN_SECRET", SECRET)
            .env("SIGNAL_C2S_ADDR", self.c2s.to_string())
            .env("SIGNAL_HTTP_ADDR", self.http.to_string())
            .env("SIGNAL_BUS_ADDR", self.bus.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start signal");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + WAIT;
        while std::net::TcpStream::connect(self.c2s).is_err() || std::net::TcpStream::connect(self.bus).is_err() {
            assert!(std::time::Instant::now() < deadline, "signal did not listen in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends IQ `payload` to the archive through signal; returns the answer.
async fn ask(x: &mut xmpp::Xmpp, id: &str, typ: &str, payload: Element) -> Element {
    let iq =
        Element::new("iq", NS_CLIENT).attr("type", typ).attr("id", id).attr("to", "archive.meet.lan").child(payload);
    x.send(&iq).await.expect("send");
    tokio::time::timeout(WAIT, async {
        loop {
            let s = x.recv().await.expect("stream open");
            if s.name() == "iq" && s.get_attr("id") == Some(id) {
                return s;
            }
        }
    })
    .await
    .expect("the archive answered through signal")
}

#[tokio::test]
async fn archive_on_the_real_bus_survives_signal_restarts() {
    let Some(mut signal) = Signal::start() else { return };
    let server = Server::start(&[
        ("BUS_ADDR", &signal.bus.to_string()),
        ("BUS_SECRET", &signal.secret),
        ("XMPP_DOMAIN", "meet.lan"),
    ]);
    let a = server.addr.clone();
    wait_metric(&a, "filestore_archive_bus_connected", 1.0).await;

    let mut x = xmpp::Xmpp::connect(signal.c2s, "meet.lan").await.expect("an XMPP client logs in");
    let info = ask(&mut x, "d1", "get", Element::new("query", "http://jabber.org/protocol/disco#info")).await;
    let features: Vec<String> = info
        .get_child("query", "http://jabber.org/protocol/disco#info")
        .map(|q| q.children().filter_map(|f| f.get_attr("var").map(str::to_string)).collect())
        .unwrap_or_default();
    assert!(features.iter().any(|f| f == "urn:xmpp:mam:2") && features.iter().any(|f| f == "urn:xmpp:inbox:1"));
    let inbox = ask(&mut x, "i1", "set", Element::new("inbox", "urn:xmpp:inbox:1")).await;
    let fin = inbox.get_child("fin", "urn:xmpp:inbox:1").expect("an empty inbox");
    assert_eq!(fin.get_attr("total"), Some("0"));

    // A client that sends the archive a "copy" or a "removal" is who it is: refused.
    let fake = "<message xmlns='jabber:client' type='chat' from='alice@guest.meet.lan/p' to='bob@guest.meet.lan'><body>fake</body><stanza-id xmlns='urn:xmpp:sid:0' by='meet.lan' id='fake-1'/></message>";
    let wrapper = proto::xml::parse_element(&format!(
        "<archive xmlns='{P}'><forwarded xmlns='urn:xmpp:forward:0'>{fake}</forwarded></archive>"
    ))
    .expect("parses");
    let msg = Element::new("message", NS_CLIENT).attr("to", "archive.meet.lan").attr("from", "meet.lan").child(wrapper);
    x.send(&msg).await.expect("send");
    let rev = Element::new("message", NS_CLIENT)
        .attr("to", "archive.meet.lan")
        .child(Element::new("revoke", P).attr("room", "standup").attr("nick", "bob0001"));
    x.send(&rev).await.expect("send");
    wait_metric(&a, "filestore_archive_copies_forged_total", 2.0).await;
    assert_eq!(metric(&a, "filestore_archive_messages_stored_total").await, 0.0);
    assert_eq!(metric(&a, "filestore_tokens_revoked_total").await, 0.0);

    // signal goes away: chat and files go on.
    signal.kill();
    wait_metric(&a, "filestore_archive_bus_connected", 0.0).await;
    let tok = token("standup", "alice01");
    let mut chat = Chat::connect(&a, &tok).await;
    chat.send(serde_json::json!({"type": "message", "text": "no signal, still chatting"})).await;
    assert_eq!(chat.recv_type("message").await["text"], "no signal, still chatting");
    let file = upload(&a, &tok, "a.txt", b"still storing").await;
    assert_eq!(http(&a, "GET", &file, &[("authorization", &bearer(&tok))], vec![]).await.status, 200);

    // signal is back: the archive reconnects and answers again.
    signal.spawn();
    wait_metric(&a, "filestore_archive_bus_connected", 1.0).await;
    let mut x = xmpp::Xmpp::connect(signal.c2s, "meet.lan").await.expect("log in again");
    let notes = ask(&mut x, "n1", "get", Element::new("notifications", P)).await;
    assert_eq!(notes.get_attr("type"), Some("result"));
    assert!(notes.get_child("notifications", P).is_some());
}
