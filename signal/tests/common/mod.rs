//! Starting the real `signal` binary on free loopback ports with a temp DATA_DIR, and small
//! raw-XMPP helpers for the tests.
#![allow(dead_code)]

use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const DOMAIN: &str = "meet.lan";
pub const BUS_SECRET: &str = "focussecret";
pub const TOKEN_SECRET: &str = "tokensecret";

pub struct Signal {
    pub child: Child,
    pub c2s: SocketAddr,
    pub http: SocketAddr,
    pub bus: SocketAddr,
    pub data_dir: PathBuf,
}

impl Drop for Signal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], proto::testkit::free_tcp_port()))
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("signal-test-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Signal {
    pub fn start() -> Signal {
        Self::start_with(&[])
    }

    pub fn start_with(env: &[(&str, &str)]) -> Signal {
        Self::start_in(temp_dir("data"), env)
    }

    pub fn start_in(data_dir: PathBuf, env: &[(&str, &str)]) -> Signal {
        // A free port can be taken by another test between our probe and signal's bind: then
        // signal exits at once, and we try again with new ports.
        for _ in 0..5 {
            let (c2s, http, bus) = (free_addr(), free_addr(), free_addr());
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_signal"));
            cmd.env("SIGNAL_C2S_ADDR", c2s.to_string())
                .env("SIGNAL_HTTP_ADDR", http.to_string())
                .env("SIGNAL_BUS_ADDR", bus.to_string())
                .env("DATA_DIR", &data_dir)
                .env("XMPP_DOMAIN", DOMAIN)
                .env("BUS_SECRET", BUS_SECRET)
                .env("TOKEN_SECRET", TOKEN_SECRET)
                .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
                .stdin(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("the signal binary starts");
            let mut s = Signal { child, c2s, http, bus, data_dir: data_dir.clone() };
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut exited = false;
            'wait: for addr in [s.bus, s.c2s, s.http] {
                while std::net::TcpStream::connect(addr).is_err() {
                    if let Ok(Some(_)) = s.child.try_wait() {
                        exited = true;
                        break 'wait;
                    }
                    assert!(Instant::now() < deadline, "signal did not listen on {addr} in time");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            if !exited {
                // the probes may have reached another process on a stolen port: ours must live
                std::thread::sleep(Duration::from_millis(50));
                exited = matches!(s.child.try_wait(), Ok(Some(_)));
            }
            if !exited {
                return s;
            }
            // keep the data dir for the next attempt
            s.data_dir = temp_dir("discard");
        }
        panic!("signal could not bind free ports five times in a row");
    }
}

impl Signal {
    /// Stops signal with SIGTERM (a clean shutdown) and waits until it has exited.
    pub fn stop(&mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
        let t = Instant::now();
        while self.child.try_wait().expect("signal's status").is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "signal did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops signal cleanly and starts it again on the same DATA_DIR with `env`.
    pub fn restart(mut self, env: &[(&str, &str)]) -> Signal {
        self.stop();
        let data = std::mem::replace(&mut self.data_dir, temp_dir("discard"));
        drop(self);
        Signal::start_in(data, env)
    }
}

/// A raw XML stream over TCP, for tests that need to see exactly what signal sends.
pub struct RawStream {
    pub sock: TcpStream,
    pub parser: StreamParser,
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

impl RawStream {
    pub async fn connect(addr: SocketAddr, component: bool) -> RawStream {
        let sock = TcpStream::connect(addr).await.expect("connect to signal");
        let parser = StreamParser::new(ParserLimits {
            component_as_client: component,
            max_stanza_bytes: 1 << 22,
            ..Default::default()
        });
        RawStream { sock, parser }
    }

    pub async fn send(&mut self, s: &str) {
        self.sock.write_all(s.as_bytes()).await.expect("write to signal");
    }

    /// The next stream event; `None` when the connection ended.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        let mut buf = [0u8; 8192];
        let fut = async {
            loop {
                match self.parser.poll_event() {
                    Ok(Some(ev)) => return Some(ev),
                    Ok(None) => {}
                    Err(e) => panic!("signal sent bad XML: {e}"),
                }
                let n = self.sock.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                self.parser.handle_bytes(&buf[..n]);
            }
        };
        tokio::time::timeout(TIMEOUT, fut).await.expect("signal answered in time")
    }

    pub async fn stanza(&mut self) -> Element {
        loop {
            match self.next().await {
                Some(StreamEvent::Stanza(s)) => return s,
                Some(StreamEvent::Open(_)) => continue,
                other => panic!("expected a stanza, got {other:?}"),
            }
        }
    }

    /// Reads until the stream ends; returns the stream error condition, if one came.
    pub async fn stream_error(&mut self) -> Option<String> {
        loop {
            match self.next().await {
                Some(StreamEvent::Stanza(s)) if s.is("error", proto::xml::NS_STREAM) => {
                    return s.children().next().map(|c| c.name().to_string());
                }
                Some(StreamEvent::Close) | None => return None,
                _ => continue,
            }
        }
    }
}

pub fn el(xml: &str) -> Element {
    proto::xml::parse_element(xml).expect("test XML is well-formed")
}

pub const HEADER_TO_DOMAIN: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='meet.lan' version='1.0'>";

pub fn header_to(host: &str) -> String {
    format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{host}' version='1.0'>")
}

pub const NS_MUC: &str = "http://jabber.org/protocol/muc";
pub const NS_MUC_USER: &str = "http://jabber.org/protocol/muc#user";
pub const NS_ROOM: &str = "urn:meet-lan:room:0";

/// A client stream after anonymous login and binding.
pub struct Client {
    pub s: RawStream,
    pub jid: String,
    /// Stanzas read past while waiting for an IQ answer ([`Client::iq`]); `until` looks
    /// here first, so a broadcast that came before the answer is not lost.
    pub pending: std::collections::VecDeque<Element>,
}

impl Client {
    /// Connects, authenticates with SASL ANONYMOUS and binds a resource.
    pub async fn anonymous(signal: &Signal) -> Client {
        let mut s = RawStream::connect(signal.c2s, false).await;
        s.send(HEADER_TO_DOMAIN).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
        let f = s.stanza().await;
        assert_eq!(f.name(), "features");
        s.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>").await;
        let ok = s.stanza().await;
        assert_eq!(ok.name(), "success", "{ok}");
        Self::restart_and_bind(s, "meet.lan").await
    }

    pub async fn restart_and_bind(mut s: RawStream, host: &str) -> Client {
        s.parser.reset();
        s.send(&header_to(host)).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no restarted stream header") };
        let f = s.stanza().await;
        assert!(f.get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind").is_some(), "{f}");
        s.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>test</resource></bind></iq>").await;
        let r = s.stanza().await;
        assert_eq!(r.get_attr("type"), Some("result"), "{r}");
        let jid = r
            .get_child("bind", "urn:ietf:params:xml:ns:xmpp-bind")
            .unwrap()
            .get_child("jid", "urn:ietf:params:xml:ns:xmpp-bind")
            .unwrap()
            .text_content();
        Client { s, jid, pending: Default::default() }
    }

    pub async fn send(&mut self, x: &str) {
        self.s.send(x).await;
    }

    pub async fn send_el(&mut self, e: &Element) {
        self.s.send(&e.to_stanza_string()).await;
    }

    /// The next stanza for which `f` holds (others are skipped).
    pub async fn until(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        self.next_matching(f, false).await
    }

    /// Like [`Client::until`], but what does not match is kept for later.
    pub async fn until_keeping(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        self.next_matching(f, true).await
    }

    async fn next_matching(&mut self, f: impl Fn(&Element) -> bool, keep: bool) -> Element {
        if let Some(i) = self.pending.iter().position(&f) {
            return self.pending.remove(i).expect("position is in range");
        }
        loop {
            let s = self.s.stanza().await;
            if f(&s) {
                return s;
            }
            if keep {
                self.pending.push_back(s);
            }
        }
    }

    /// Joins `room` as `nick` and returns (self-presence, subject message), checking order:
    /// others' presences, then self-presence (110), then the subject.
    pub async fn join(&mut self, room: &str, nick: &str) -> (Element, Vec<Element>) {
        self.send(&format!("<presence to='{room}@conference.meet.lan/{nick}'><x xmlns='{NS_MUC}'/><nick xmlns='http://jabber.org/protocol/nick'>Name {nick}</nick></presence>")).await;
        let mut others = Vec::new();
        let me = format!("{room}@conference.meet.lan/{nick}");
        loop {
            let p = self.s.stanza().await;
            assert_eq!(p.name(), "presence", "expected presences before the subject: {p}");
            assert_ne!(p.get_attr("type"), Some("error"), "join refused: {p}");
            if p.get_attr("from") == Some(me.as_str()) {
                let state = self.s.stanza().await;
                assert!(state.get_child("room-state", NS_ROOM).is_some(), "room state after self-presence: {state}");
                assert!(status_codes(&state).contains(&"104".to_string()), "{state}");
                let subject = self.s.stanza().await;
                assert!(
                    subject.get_child("subject", proto::xml::NS_CLIENT).is_some(),
                    "subject after the room state: {subject}"
                );
                return (p, others);
            }
            others.push(p);
        }
    }
}

pub fn status_codes(p: &Element) -> Vec<String> {
    p.get_child("x", NS_MUC_USER)
        .map(|x| {
            x.children()
                .filter(|c| c.name() == "status")
                .filter_map(|c| c.get_attr("code"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn error_condition(s: &Element) -> Option<String> {
    proto::bus::stanza_error(s).map(|(c, _)| c)
}

/// Proves the server still serves `c` (a ping round trip).
pub async fn still_served(c: &mut Client, id: &str) {
    c.send(&format!("<iq type='get' id='{id}' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>")).await;
    let r = c.until(|s| s.get_attr("id") == Some(id)).await;
    assert_eq!(r.get_attr("type"), Some("result"));
}

impl RawStream {
    pub async fn sock_write(&mut self, b: &[u8]) {
        self.sock.write_all(b).await.expect("write to signal");
    }
}

/// `signal add-account <user>` with the password on stdin, in `signal`'s DATA_DIR.
pub fn add_account(signal: &Signal, user: &str, password: &str) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_signal"))
        .args(["add-account", user])
        .env("DATA_DIR", &signal.data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("signal add-account runs");
    writeln!(child.stdin.take().expect("piped stdin"), "{password}").expect("write the password");
    assert!(child.wait().expect("add-account ends").success());
}

/// `signal remove-account <user>` in `signal`'s DATA_DIR.
pub fn remove_account(signal: &Signal, user: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_signal"))
        .args(["remove-account", user])
        .env("DATA_DIR", &signal.data_dir)
        .stdin(Stdio::null())
        .status()
        .expect("signal remove-account runs");
    assert!(status.success());
}

/// The SASL outcome of a token login: `Ok(client)` or `Err(failure text)`.
pub type TokenLogin = Result<Client, String>;

impl Client {
    /// Connects to `auth.meet.lan` and logs in with SASL PLAIN.
    pub async fn account(signal: &Signal, user: &str, password: &str) -> Client {
        match Self::plain(signal, "auth.meet.lan", user, password).await {
            Ok(c) => c,
            Err(f) => panic!("account login refused: {f}"),
        }
    }

    /// SASL PLAIN on `host`: the bound client, or the `<failure/>`.
    pub async fn plain(signal: &Signal, host: &str, user: &str, password: &str) -> Result<Client, Element> {
        use base64::Engine;
        let mut s = RawStream::connect(signal.c2s, false).await;
        s.send(&header_to(host)).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
        let f = s.stanza().await;
        assert!(f.to_string().contains(">PLAIN<"), "PLAIN offered on {host}: {f}");
        let msg = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        s.send(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>")).await;
        let r = s.stanza().await;
        if r.name() != "success" {
            assert_eq!(r.name(), "failure", "{r}");
            return Err(r);
        }
        Ok(Self::restart_and_bind(s, host).await)
    }

    /// Connects to `meet.lan` and logs in with SASL OAUTHBEARER carrying `jwt`.
    pub async fn token(signal: &Signal, jwt: &str) -> TokenLogin {
        use base64::Engine;
        let mut s = RawStream::connect(signal.c2s, false).await;
        s.send(HEADER_TO_DOMAIN).await;
        let Some(StreamEvent::Open(_)) = s.next().await else { panic!("no stream header") };
        let f = s.stanza().await;
        assert!(f.to_string().contains("OAUTHBEARER"), "OAUTHBEARER offered: {f}");
        let msg = base64::engine::general_purpose::STANDARD.encode(format!("n,,\x01auth=Bearer {jwt}\x01\x01"));
        s.send(&format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='OAUTHBEARER'>{msg}</auth>")).await;
        let r = s.stanza().await;
        match r.name() {
            "success" => Ok(Self::restart_and_bind(s, "meet.lan").await),
            "challenge" => {
                // RFC 7628 §3.2.3: the client answers the error challenge with %x01
                s.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AQ==</response>").await;
                let f = s.stanza().await;
                assert_eq!(f.name(), "failure", "{f}");
                assert!(f.get_child("not-authorized", "urn:ietf:params:xml:ns:xmpp-sasl").is_some(), "{f}");
                Err(f
                    .get_child("text", "urn:ietf:params:xml:ns:xmpp-sasl")
                    .map(|t| t.text_content())
                    .unwrap_or_default())
            }
            "failure" => Err(r
                .get_child("text", "urn:ietf:params:xml:ns:xmpp-sasl")
                .map(|t| t.text_content())
                .unwrap_or_default()),
            _ => panic!("unexpected SASL answer {r}"),
        }
    }

    /// Sends an IQ (with `id`) and returns its answer.
    pub async fn iq(&mut self, id: &str, iq: &str) -> Element {
        self.send(iq).await;
        loop {
            let s = self.s.stanza().await;
            if s.name() == "iq" && s.get_attr("id") == Some(id) {
                return s;
            }
            self.pending.push_back(s);
        }
    }

    /// An IQ set of our room controls (`urn:meet-lan:room:0`) to `room`; returns the answer.
    pub async fn control(&mut self, room: &str, id: &str, payload: &str) -> Element {
        self.iq(id, &format!("<iq type='set' id='{id}' to='{room}@conference.meet.lan'>{payload}</iq>")).await
    }

    /// A muc#admin item set to `room`; returns the answer.
    pub async fn admin(&mut self, room: &str, id: &str, item: &str) -> Element {
        self.iq(
            id,
            &format!("<iq type='set' id='{id}' to='{room}@conference.meet.lan'><query xmlns='http://jabber.org/protocol/muc#admin'>{item}</query></iq>"),
        )
        .await
    }

    /// Sends a join presence with `x_children` inside the MUC `<x/>` and returns the first
    /// presence from `room/nick` (the self-presence, or the error). The room state and the
    /// subject that follow a successful join are read too.
    pub async fn try_join(&mut self, room: &str, nick: &str, x_children: &str) -> Element {
        self.send(&format!("<presence to='{room}@conference.meet.lan/{nick}'><x xmlns='{NS_MUC}'>{x_children}</x><nick xmlns='http://jabber.org/protocol/nick'>Name {nick}</nick></presence>")).await;
        let me = format!("{room}@conference.meet.lan/{nick}");
        let p = self.until(|s| s.name() == "presence" && s.get_attr("from") == Some(me.as_str())).await;
        if p.get_attr("type") != Some("error") {
            self.until(|s| s.get_child("subject", proto::xml::NS_CLIENT).is_some()).await;
        }
        p
    }

    /// The next message carrying an element of our room namespace named `name`.
    pub async fn room_message(&mut self, name: &str) -> Element {
        self.until(|s| s.name() == "message" && s.get_child(name, NS_ROOM).is_some()).await
    }

    /// The next presence from `room/nick` (not the errors).
    pub async fn presence_of(&mut self, room: &str, nick: &str) -> Element {
        let from = format!("{room}@conference.meet.lan/{nick}");
        self.until(|s| {
            s.name() == "presence" && s.get_attr("from") == Some(from.as_str()) && s.get_attr("type") != Some("error")
        })
        .await
    }
}

/// The role in a MUC presence's `<item/>`.
pub fn role_of(p: &Element) -> Option<String> {
    p.get_child("x", NS_MUC_USER)?.get_child("item", NS_MUC_USER)?.get_attr("role").map(str::to_string)
}

/// The affiliation in a MUC presence's `<item/>`.
pub fn affiliation_of(p: &Element) -> Option<String> {
    p.get_child("x", NS_MUC_USER)?.get_child("item", NS_MUC_USER)?.get_attr("affiliation").map(str::to_string)
}

/// The element of our namespace inside a stanza error (`host-required`, `removed`, …).
pub fn room_error(s: &Element) -> Option<String> {
    s.get_child("error", proto::xml::NS_CLIENT)?.children().find(|c| c.ns() == NS_ROOM).map(|c| c.name().to_string())
}

/// Asserts `s` is an error with `cond` and our `app` element (when given).
pub fn assert_refused(s: &Element, cond: &str, app: Option<&str>) {
    assert_eq!(s.get_attr("type"), Some("error"), "{s}");
    assert_eq!(error_condition(s).as_deref(), Some(cond), "{s}");
    assert_eq!(room_error(s).as_deref(), app, "{s}");
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

/// Token tests' key material and minting, as another application would do it.
pub mod jwt {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    pub const APP_ID: &str = "intranet";
    pub const SECRET: &str = "intranet-shared-secret";
    pub const RS256_PRIVATE: &str = include_str!("../keys/rs256-private.pem");
    pub const RS256_PUBLIC: &str = include_str!("../keys/rs256-public.pem");
    pub const OTHER_RS256_PRIVATE: &str = include_str!("../keys/other-rs256-private.pem");
    pub const ES256_PRIVATE: &str = include_str!("../keys/es256-private.pem");
    pub const ES256_PUBLIC: &str = include_str!("../keys/es256-public.pem");

    /// Claims as Jitsi documents them, for `room`, valid for an hour.
    pub fn claims(room: &str, name: &str, moderator: Option<bool>) -> serde_json::Value {
        let mut user = serde_json::json!({ "id": format!("id-{name}"), "name": name, "avatar": format!("https://intranet.example/a/{}.png", name.replace(' ', "-")) });
        if let Some(m) = moderator {
            user["moderator"] = serde_json::json!(m);
        }
        serde_json::json!({ "iss": APP_ID, "aud": "jitsi", "sub": "meet.lan", "room": room,
                            "exp": super::unix_now() + 3600, "context": { "user": user } })
    }

    pub fn hs256(claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(SECRET.as_bytes()))
            .expect("HS256 signs")
    }

    pub fn rs256(claims: &serde_json::Value, private_pem: &str) -> String {
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("test RSA key");
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("RS256 signs")
    }

    pub fn es256(claims: &serde_json::Value) -> String {
        let key = EncodingKey::from_ec_pem(ES256_PRIVATE.as_bytes()).expect("test EC key");
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).expect("ES256 signs")
    }

    /// Settings for a signal in `token` mode with the HS256 secret.
    pub fn token_mode_env() -> Vec<(&'static str, &'static str)> {
        vec![("AUTH_MODE", "token"), ("JWT_APP_ID", APP_ID), ("JWT_APP_SECRET", SECRET)]
    }
}

/// A bus component of the tests: it receives what is routed to its domain. As focus
/// ([`FakeFocus`]) it joins rooms as occupant `focus`, as the real one does; as the archive
/// ([`BusComponent::archive`]) it records the copies signal hands it.
pub struct BusComponent {
    pub tx: proto::bus::BusSender,
    pub rx: proto::bus::BusReceiver,
}

pub type FakeFocus = BusComponent;

impl BusComponent {
    /// Focus, on `focus.meet.lan`.
    pub async fn connect(signal: &Signal) -> BusComponent {
        Self::connect_as(signal, "focus.meet.lan").await
    }

    /// The archive, on `archive.meet.lan`.
    pub async fn archive(signal: &Signal) -> BusComponent {
        Self::connect_as(signal, "archive.meet.lan").await
    }

    pub async fn connect_as(signal: &Signal, domain: &str) -> BusComponent {
        let (tx, rx) = proto::bus::connect(&signal.bus.to_string(), domain, BUS_SECRET)
            .await
            .expect("component connects to the bus");
        BusComponent { tx, rx }
    }

    /// The next stanza for which `f` holds; `None` when nothing matching came in `wait`.
    pub async fn next_within(&mut self, wait: Duration, f: impl Fn(&Element) -> bool) -> Option<Element> {
        tokio::time::timeout(wait, async {
            loop {
                let s = self.rx.recv().await.expect("bus connection stays up");
                if f(&s) {
                    return s;
                }
            }
        })
        .await
        .ok()
    }

    pub async fn next(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        self.next_within(TIMEOUT, f).await.expect("expected stanza arrived at focus in time")
    }

    /// Joins `room` as `focus` (owner and moderator of every room) and reads its subject.
    pub async fn join(&mut self, room: &str) -> Element {
        let p = Element::new("presence", proto::xml::NS_CLIENT)
            .attr("to", format!("{room}@conference.meet.lan/focus"))
            .child(Element::new("x", NS_MUC));
        self.tx.send(p).expect("bus open");
        let me = format!("{room}@conference.meet.lan/focus");
        let p = self.next(|s| s.name() == "presence" && s.get_attr("from") == Some(me.as_str())).await;
        self.next(|s| s.get_child("subject", proto::xml::NS_CLIENT).is_some()).await;
        p
    }
}

/// The conference request a page sends focus before joining.
pub fn conference_request(id: &str, room: &str) -> String {
    format!("<iq type='set' id='{id}' to='focus.meet.lan'><conference xmlns='http://jitsi.org/protocol/focus' room='{room}@conference.meet.lan'/></iq>")
}

/// A client stream over WebSocket (RFC 7395) with an `X-Forwarded-For` header, as `web`
/// forwards browsers.
pub struct WsClient {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    pub jid: String,
}

impl WsClient {
    /// Logs in anonymously through `/xmpp-websocket`, seen as coming from `forwarded_for`.
    pub async fn anonymous(signal: &Signal, forwarded_for: &str) -> WsClient {
        let auth = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>";
        match Self::login(signal, forwarded_for, "meet.lan", auth).await {
            Ok(c) => c,
            Err(f) => panic!("anonymous login refused: {f}"),
        }
    }

    /// A recognised guest's login through `/xmpp-websocket` (as pages do), seen as coming
    /// from `forwarded_for`: the client, or the SASL `<failure/>`.
    pub async fn guest(signal: &Signal, forwarded_for: &str, id: &str, secret: &str) -> Result<WsClient, Element> {
        use base64::Engine;
        let msg = base64::engine::general_purpose::STANDARD.encode(format!("\0{id}\0{secret}"));
        let auth = format!("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{msg}</auth>");
        Self::login(signal, forwarded_for, "guest.meet.lan", &auth).await
    }

    async fn login(signal: &Signal, forwarded_for: &str, host: &str, auth: &str) -> Result<WsClient, Element> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://{}/xmpp-websocket", signal.http).into_client_request().expect("ws URL");
        req.headers_mut().insert("Sec-WebSocket-Protocol", "xmpp".parse().expect("header value"));
        req.headers_mut().insert("X-Forwarded-For", forwarded_for.parse().expect("header value"));
        let (ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket upgrade");
        let mut c = WsClient { ws, jid: String::new() };
        let open = format!("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='{host}' version='1.0'/>");
        c.send(&open).await;
        c.until(|e| e.name() == "features").await;
        c.send(auth).await;
        let r = c.recv().await;
        if r.name() != "success" {
            return Err(r);
        }
        c.send(&open).await;
        c.until(|e| e.name() == "features").await;
        c.send("<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
            .await;
        let r = c.until(|e| e.name() == "iq").await;
        c.jid = r.to_string();
        Ok(c)
    }

    pub async fn send(&mut self, x: &str) {
        use futures_util::SinkExt;
        self.ws.send(tokio_tungstenite::tungstenite::Message::Text(x.into())).await.expect("websocket send");
    }

    pub async fn recv(&mut self) -> Element {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let fut = async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => return proto::xml::parse_element(&t).expect("one element a frame"),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => panic!("websocket closed"),
                    Some(Ok(_)) => continue,
                }
            }
        };
        tokio::time::timeout(TIMEOUT, fut).await.expect("websocket answer in time")
    }

    pub async fn until(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        loop {
            let e = self.recv().await;
            if f(&e) {
                return e;
            }
        }
    }

    /// Sends a join presence (namespaced, as RFC 7395 frames are) and returns the first
    /// presence from `room/nick`.
    pub async fn try_join(&mut self, room: &str, nick: &str, x_children: &str) -> Element {
        self.send(&format!("<presence xmlns='jabber:client' to='{room}@conference.meet.lan/{nick}'><x xmlns='{NS_MUC}'>{x_children}</x></presence>")).await;
        let me = format!("{room}@conference.meet.lan/{nick}");
        self.until(|s| s.name() == "presence" && s.get_attr("from") == Some(me.as_str())).await
    }
}

/// A plain HTTP GET to signal's HTTP port: (status, whole response).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect to signal's HTTP port");
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("send");
    let mut body = String::new();
    s.read_to_string(&mut body).await.expect("read the response");
    let code = body.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, body)
}

/// The value of metric `name` in a Prometheus text.
pub fn metric_value(text: &str, name: &str) -> i64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing in {text}"))
}

/// The Python of the test venv (`$MEET_PYTHON`, else `../.venv`), for interop tests with
/// slixmpp. Under `CI=true` a missing one fails the test; elsewhere the test is skipped.
pub fn meet_python() -> Option<String> {
    let p = std::env::var("MEET_PYTHON").ok().filter(|p| !p.is_empty()).or_else(|| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        std::path::Path::new(venv).exists().then(|| venv.to_string())
    });
    if p.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "MEET_PYTHON is required under CI=true");
        eprintln!("skipping: MEET_PYTHON not set and no .venv");
    }
    p
}

/// Runs `tests/<script>` with `args` under the venv's Python; it must print `OK`.
pub fn run_python_test(py: &str, script: &str, args: &[&str]) {
    let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(py).arg(&path).args(args).output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stdout.contains("OK"), "{script} {args:?} failed:\n{stdout}\n{stderr}");
}

impl Client {
    /// Proves nothing but the ping answer reaches this client meanwhile: no presence (the
    /// room did not change for it).
    pub async fn no_presence_until_ping(&mut self, id: &str) {
        self.send(&format!("<iq type='get' id='{id}' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>")).await;
        loop {
            let s = self.s.stanza().await;
            assert_ne!(s.name(), "presence", "nothing should have changed for this client: {s}");
            if s.get_attr("id") == Some(id) {
                return;
            }
        }
    }
}

/// A recognised guest's secret as a page makes it: 32 random bytes, base64url.
pub fn guest_secret() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("os randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The guest id of a secret: the first 16 bytes of its SHA-256, in hex.
pub fn guest_id(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(secret.as_bytes())[..16])
}

pub const NS_PEOPLE: &str = "urn:meet-lan:people:0";
pub const NS_ROSTER: &str = "jabber:iq:roster";
pub const NS_NICK: &str = "http://jabber.org/protocol/nick";

/// What a SASL attempt ended with: the client, or the failure's condition and text.
pub type Login = Result<Client, (String, String)>;

impl Client {
    /// Logs in on `guest.meet.lan` with SASL PLAIN as guest `id` with `secret`.
    pub async fn guest_login(signal: &Signal, id: &str, secret: &str) -> Login {
        Self::plain(signal, "guest.meet.lan", id, secret).await.map_err(|r| {
            let cond = r.children().next().map(|c| c.name().to_string()).unwrap_or_default();
            let text =
                r.get_child("text", "urn:ietf:params:xml:ns:xmpp-sasl").map(|t| t.text_content()).unwrap_or_default();
            (cond, text)
        })
    }

    /// A recognised guest with this secret, logged in.
    pub async fn guest(signal: &Signal, secret: &str) -> Client {
        match Self::guest_login(signal, &guest_id(secret), secret).await {
            Ok(c) => c,
            Err(e) => panic!("guest login refused: {e:?}"),
        }
    }

    /// This session's bare JID.
    pub fn bare(&self) -> String {
        self.jid.split('/').next().unwrap_or(&self.jid).to_string()
    }

    /// Sends an available presence with display name `name` (and `extra` children).
    pub async fn available(&mut self, name: &str, extra: &str) {
        self.send(&format!("<presence><nick xmlns='{NS_NICK}'>{name}</nick>{extra}</presence>")).await;
    }

    /// The roster: (jid, name) of each item, in order.
    pub async fn roster(&mut self, id: &str) -> Vec<(String, Option<String>)> {
        let r = self.iq(id, &format!("<iq type='get' id='{id}'><query xmlns='{NS_ROSTER}'/></iq>")).await;
        assert_eq!(r.get_attr("type"), Some("result"), "{r}");
        let q = r.get_child("query", NS_ROSTER).expect("a roster query in the result");
        q.children()
            .map(|i| {
                assert_eq!(i.get_attr("subscription"), Some("both"), "{i}");
                (i.get_attr("jid").unwrap_or("").to_string(), i.get_attr("name").map(str::to_string))
            })
            .collect()
    }

    /// One presence from each of `froms` (full JIDs), in that order, whatever order they
    /// come in; other stanzas read meanwhile are kept for later.
    pub async fn presences_from(&mut self, froms: &[&str]) -> Vec<Element> {
        let mut got: Vec<Option<Element>> = vec![None; froms.len()];
        let mut pending = std::mem::take(&mut self.pending);
        while got.iter().any(Option::is_none) {
            let s = match pending.pop_front() {
                Some(s) => s,
                None => self.s.stanza().await,
            };
            let slot = froms.iter().position(|f| s.name() == "presence" && s.get_attr("from") == Some(*f));
            match slot {
                Some(i) if got[i].is_none() => got[i] = Some(s),
                _ => self.pending.push_back(s),
            }
        }
        self.pending.extend(pending);
        got.into_iter().flatten().collect()
    }

    /// Sends an available presence and waits until signal has handled it (a ping round trip).
    pub async fn available_now(&mut self, name: &str, extra: &str) {
        self.available(name, extra).await;
        self.send("<iq type='get' id='avail' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>").await;
        self.until_keeping(|s| s.get_attr("id") == Some("avail")).await;
    }

    /// Sends a message with `id` and returns the error answer to it (or, when none comes
    /// before the ping that follows, the ping's answer: then no error came).
    pub async fn message_answer(&mut self, id: &str, msg: &str) -> Element {
        self.send(msg).await;
        self.send("<iq type='get' id='after-message' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>").await;
        let r = self.until_keeping(|s| s.get_attr("id") == Some(id) || s.get_attr("id") == Some("after-message")).await;
        if r.get_attr("id") == Some(id) {
            self.until_keeping(|s| s.get_attr("id") == Some("after-message")).await;
        }
        r
    }

    /// The next presence from `from` (a full JID).
    pub async fn presence_from(&mut self, from: &str) -> Element {
        self.until(|s| s.name() == "presence" && s.get_attr("from") == Some(from)).await
    }

    /// The next message for which `f` holds.
    pub async fn message(&mut self, f: impl Fn(&Element) -> bool) -> Element {
        self.until(|s| s.name() == "message" && f(s)).await
    }

    /// Proves nothing but the ping answer reaches this client meanwhile: no message.
    pub async fn no_message_until_ping(&mut self, id: &str) {
        self.send(&format!("<iq type='get' id='{id}' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>")).await;
        loop {
            let s = self.s.stanza().await;
            assert_ne!(s.name(), "message", "no message should have come: {s}");
            if s.get_attr("id") == Some(id) {
                return;
            }
        }
    }
}

impl BusComponent {
    /// The next archive copy (`<archive xmlns=P>` from the server's JID): (the copy, the
    /// forwarded stanza).
    pub async fn copy(&mut self) -> (Element, Element) {
        let m = self.next(|s| s.name() == "message" && s.get_child("archive", NS_PEOPLE).is_some()).await;
        assert_eq!(m.get_attr("from"), Some("meet.lan"), "copies come from the server's JID: {m}");
        let inner = m
            .get_child("archive", NS_PEOPLE)
            .and_then(|a| a.get_child("forwarded", "urn:xmpp:forward:0"))
            .and_then(|f| f.first_child())
            .cloned()
            .expect("a forwarded stanza in the copy");
        (m, inner)
    }

    /// Asserts no archive copy arrives within `wait`.
    pub async fn no_copy_within(&mut self, wait: Duration) {
        let got = self.next_within(wait, |s| s.get_child("archive", NS_PEOPLE).is_some()).await;
        assert!(got.is_none(), "no copy expected, got {got:?}");
    }
}

/// The `<stanza-id/>` signal put on a stanza.
pub fn stanza_id(s: &Element) -> Option<String> {
    s.get_child("stanza-id", "urn:xmpp:sid:0").and_then(|e| e.get_attr("id")).map(str::to_string)
}
