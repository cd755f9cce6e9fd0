//! `--target janus` (issue 13, item 4): the same meetings and the same cheap participants,
//! forwarded by Janus 1.1.2's VideoRoom plugin instead of our bridge, so the two can be put
//! side by side.
//!
//! Janus gathers no loopback candidates, so it runs in a network namespace made here
//! (`meetbench-janus`, veth 10.77.0.1 ↔ 10.77.0.2), pinned with `taskset` to the bridge's
//! cores, with a config folder of its own (VideoRoom and the WebSocket transport only,
//! ICE-lite, no STUN, sessions without timeout); /etc/janus is never read. The bench
//! installs nothing: without the `janus` binary it says which apt-get line is missing.
//!
//! Each participant is a publisher (the cheap generator's offer: Opus and three VP8
//! simulcast layers by rid, lowest first, so `rid_order: "lmh"`) and one multistream
//! subscriber to every other publisher of its meeting, answered by a receive-only cheap
//! session. Janus recognises a VP8 keyframe only by its start code, so these publishers
//! write it ([`crate::load::Setup::with_vp8_start_code`]). Janus forwards every audio
//! stream and, by default, the highest simulcast substream, as our participants ask.
//!
//! The namespace and the Janus process go when [`JanusServer`] drops, on Ctrl-C too; a
//! namespace left by a killed run is removed at the next start.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::cheap::LAYER_SIZE;
use crate::load::{self, Cmd, Generator, Setup};

/// The one line that installs what `--target janus` needs (Debian 12).
pub const APT_LINE: &str = "apt-get install -y janus";

const NETNS: &str = "meetbench-janus";
const HOST_IF: &str = "mbj0";
const NS_IF: &str = "mbj1";
/// The participants' side of the veth pair (root namespace).
pub const HOST_IP: [u8; 4] = [10, 77, 0, 1];
const JANUS_IP: [u8; 4] = [10, 77, 0, 2];
const WS_PORT: u16 = 8188;
const LIB: &str = "/usr/lib/x86_64-linux-gnu/janus";

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Kills what still runs in the namespace and removes it with its veth pair.
fn remove_netns() {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", NETNS]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            // SAFETY: kill(2) on a process inside the namespace this bench made.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    ip(&["link", "del", HOST_IF]);
    ip(&["netns", "del", NETNS]);
}

/// The Janus process in its namespace.
pub struct JanusServer {
    child: Child,
    dir: PathBuf,
}

impl JanusServer {
    /// Makes the namespace, writes the config folder and starts Janus under `taskset -c
    /// cpus`; exits the bench with the apt-get line when Janus is not installed.
    /// `event_loops`: Janus's `event_loops` (0: its default, a thread per handle).
    pub fn start(cpus: &str, event_loops: usize) -> JanusServer {
        if Command::new("janus").arg("--version").stdout(Stdio::null()).status().is_err() {
            eprintln!("bridge-bench: --target janus needs Janus 1.1.2 (Debian package janus): {APT_LINE}");
            std::process::exit(1);
        }
        remove_netns();
        let host = format!("{}/24", IpAddr::from(HOST_IP));
        let ns = format!("{}/24", IpAddr::from(JANUS_IP));
        let steps: [&[&str]; 7] = [
            &["netns", "add", NETNS],
            &["link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF, "netns", NETNS],
            &["addr", "add", &host, "dev", HOST_IF],
            &["link", "set", HOST_IF, "up"],
            &["-n", NETNS, "addr", "add", &ns, "dev", NS_IF],
            &["-n", NETNS, "link", "set", NS_IF, "up"],
            &["-n", NETNS, "link", "set", "lo", "up"],
        ];
        for s in steps {
            assert!(ip(s), "ip {} failed (the janus target needs root for a network namespace)", s.join(" "));
        }
        let dir = std::env::temp_dir().join(format!("meetbench-janus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("janus config folder");
        write_config(&dir, event_loops);
        let log = std::fs::File::create(dir.join("janus.log")).expect("janus log file");
        let child = Command::new("ip")
            .args(["netns", "exec", NETNS, "taskset", "-c", cpus, "janus", "-F"])
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("janus log file"))
            .stderr(log)
            .spawn()
            .expect("ip netns exec janus starts");
        let server = JanusServer { child, dir };
        let addr = SocketAddr::from((JANUS_IP, WS_PORT));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Janus did not listen on {addr} in 20 s (log: {})",
                server.dir.join("janus.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Janus's own pid (`ip netns exec` and `taskset` exec it in place).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for JanusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_netns();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Janus's configuration: VideoRoom and WebSockets only, the veth address, ICE-lite.
fn write_config(dir: &std::path::Path, event_loops: usize) {
    const PLUGINS: [&str; 11] = [
        "audiobridge",
        "duktape",
        "echotest",
        "lua",
        "nosip",
        "recordplay",
        "sip",
        "streaming",
        "textroom",
        "videocall",
        "voicemail",
    ];
    const TRANSPORTS: [&str; 5] = ["http", "mqtt", "nanomsg", "pfunix", "rabbitmq"];
    const EVENTS: [&str; 6] = ["gelfevh", "mqttevh", "nanomsgevh", "rabbitmqevh", "sampleevh", "wsevh"];
    let list = |names: &[&str]| names.iter().map(|n| format!("libjanus_{n}.so")).collect::<Vec<_>>().join(",");
    let janus = format!(
        "general: {{\n\tconfigs_folder = \"{dir}\"\n\tplugins_folder = \"{LIB}/plugins\"\n\ttransports_folder = \"{LIB}/transports\"\n\
         \tevents_folder = \"{LIB}/events\"\n\tloggers_folder = \"{LIB}/loggers\"\n\tdebug_level = 3\n\
         \tinterface = \"{ip}\"\n\tsession_timeout = 0\n\tevent_loops = {event_loops}\n}}\n\
         media: {{\n\trtp_port_range = \"20000-40000\"\n}}\n\
         nat: {{\n\tnice_debug = false\n\tice_lite = true\n\tice_enforce_list = \"{NS_IF}\"\n}}\n\
         plugins: {{\n\tdisable = \"{plugins}\"\n}}\n\
         transports: {{\n\tdisable = \"{transports}\"\n}}\n\
         loggers: {{\n\tdisable = \"libjanus_jsonlog.so\"\n}}\n\
         events: {{\n\tbroadcast = false\n\tdisable = \"{events}\"\n}}\n",
        dir = dir.display(),
        ip = IpAddr::from(JANUS_IP),
        plugins = list(&PLUGINS),
        transports = list(&TRANSPORTS),
        events = list(&EVENTS),
    );
    let ws = format!(
        "general: {{\n\tjson = \"plain\"\n\tws = true\n\tws_port = {WS_PORT}\n\tws_ip = \"{}\"\n\twss = false\n}}\n\
         admin: {{\n\tadmin_ws = false\n}}\n",
        IpAddr::from(JANUS_IP)
    );
    for (name, text) in [
        ("janus.jcfg", janus.as_str()),
        ("janus.transport.websockets.jcfg", ws.as_str()),
        ("janus.plugin.videoroom.jcfg", "general: {\n}\n"),
    ] {
        std::fs::write(dir.join(name), text).expect("janus config file");
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Janus's API over its WebSocket transport: one session, requests answered in order.
pub struct JanusClient {
    ws: Ws,
    session: u64,
    transaction: u64,
    /// Handles whose PeerConnection is up (`webrtcup`): a feed can be subscribed to only then.
    up: HashSet<u64>,
}

impl JanusClient {
    pub async fn connect() -> JanusClient {
        let url = format!("ws://{}:{WS_PORT}", IpAddr::from(JANUS_IP));
        let mut req = url.into_client_request().expect("janus websocket url");
        req.headers_mut().insert("Sec-WebSocket-Protocol", "janus-protocol".parse().expect("header value"));
        let (ws, _) = tokio_tungstenite::connect_async(req).await.expect("Janus's WebSocket transport accepts");
        let mut c = JanusClient { ws, session: 0, transaction: 0, up: HashSet::new() };
        let created = c.call(json!({"janus": "create"})).await.expect("Janus creates a session");
        c.session = created["data"]["id"].as_u64().expect("Janus's session id");
        c
    }

    /// Sends `msg` (with a transaction, and the session once there is one) and returns the
    /// reply to it that is not an ack; other messages (events of other handles, webrtcup,
    /// media) are read and dropped.
    async fn call(&mut self, mut msg: Value) -> Result<Value, String> {
        self.transaction += 1;
        let tx = format!("t{}", self.transaction);
        msg["transaction"] = json!(tx);
        if self.session != 0 {
            msg["session_id"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).await.map_err(|e| format!("send: {e}"))?;
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .map_err(|_| format!("no reply to {msg} in 20 s"))?;
            let Some(Ok(Message::Text(text))) = m else {
                match m {
                    Some(Ok(_)) => continue,
                    other => return Err(format!("connection: {other:?}")),
                }
            };
            let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
            self.note(&v);
            if v["transaction"].as_str() != Some(tx.as_str()) || v["janus"] == "ack" {
                continue;
            }
            if v["janus"] == "error" {
                return Err(format!("{}", v["error"]));
            }
            if let Some(e) = v["plugindata"]["data"].get("error") {
                return Err(format!("{e}"));
            }
            return Ok(v);
        }
    }

    fn note(&mut self, v: &Value) {
        if let (true, Some(h)) = (v["janus"] == "webrtcup", v["sender"].as_u64()) {
            self.up.insert(h);
        }
    }

    /// Waits until every handle of `handles` has its PeerConnection up.
    async fn wait_up(&mut self, handles: &[u64]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !handles.iter().all(|h| self.up.contains(h)) {
            let m = tokio::time::timeout_at(deadline.into(), self.ws.next()).await;
            match m {
                Ok(Some(Ok(Message::Text(text)))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&text) {
                        self.note(&v);
                    }
                }
                Ok(Some(Ok(_))) => {}
                Err(_) => return Err("publishers' PeerConnections not up in 20 s".into()),
                Ok(other) => return Err(format!("connection: {other:?}")),
            }
        }
        Ok(())
    }

    async fn attach(&mut self) -> Result<u64, String> {
        let v = self.call(json!({"janus": "attach", "plugin": "janus.plugin.videoroom"})).await?;
        v["data"]["id"].as_u64().ok_or_else(|| format!("attach: {v}"))
    }

    async fn message(&mut self, handle: u64, body: Value, jsep: Option<Value>) -> Result<Value, String> {
        let mut msg = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some(j) = jsep {
            msg["jsep"] = j;
        }
        self.call(msg).await
    }

    /// Reads and drops Janus's notifications until `until`.
    async fn idle(&mut self, until: Instant) {
        while let Ok(Some(Ok(_))) = tokio::time::timeout_at(until.into(), self.ws.next()).await {}
    }
}

/// Janus with its meetings and participants, as the ramp drives it.
pub struct JanusTarget {
    pub server: JanusServer,
    client: JanusClient,
    admin: u64,
    /// Every session: publishers and subscribers (two per person).
    participants: Vec<mpsc::Sender<Cmd>>,
    people: usize,
}

/// The substream (0 = lowest of three) a receiver with `max_height` asks for: the highest
/// whose height our bridge would assume ([`LAYER_SIZE`]) fits, as our allocator picks.
fn substream_for(max_height: i32) -> usize {
    LAYER_SIZE.iter().rposition(|&(_, h)| i32::from(h) <= max_height).unwrap_or(0)
}

impl JanusTarget {
    pub async fn start(cpus: &str, event_loops: usize) -> JanusTarget {
        let server = JanusServer::start(cpus, event_loops);
        let (pid, dir) = (server.pid() as i32, server.dir.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                // SAFETY: kill(2) and waitpid(2) on the Janus child this bench started and
                // has not reaped (its `Child` is not waited on elsewhere before exit).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
                remove_netns();
                let _ = std::fs::remove_dir_all(dir);
                std::process::exit(130);
            }
        });
        let mut client = JanusClient::connect().await;
        let admin = client.attach().await.expect("attach to janus.plugin.videoroom");
        JanusTarget { server, client, admin, participants: Vec::new(), people: 0 }
    }

    /// People in all meetings (each has two sessions with Janus).
    pub fn endpoints(&self) -> usize {
        self.people
    }

    /// Adds meeting number `m` of `size` participants: a room, every participant a
    /// publisher, then every participant a subscriber to all the others.
    pub async fn add_meeting(&mut self, m: usize, size: usize, max_height: Option<i32>) -> Result<(), String> {
        let room = 1000 + m as u64;
        let c = &mut self.client;
        let create = json!({"request": "create", "room": room, "publishers": size, "audiocodec": "opus",
            "videocodec": "vp8", "record": false, "bitrate": 0, "notify_joining": false});
        c.message(self.admin, create, None).await.map_err(|e| format!("create room {room}: {e}"))?;
        let host = IpAddr::from(HOST_IP);
        let feeds: Vec<u64> = (0..size as u64).map(|k| room * 100 + k + 1).collect();
        let mut handles = Vec::new();
        for &feed in &feeds {
            let setup = Setup::on(&format!("p{feed}"), Generator::Cheap, host)
                .await
                .with_vp8_start_code()
                .ignoring_sender_constraints();
            let h = c.attach().await?;
            handles.push(h);
            let join = json!({"request": "join", "ptype": "publisher", "room": room, "id": feed});
            c.message(h, join, None).await.map_err(|e| format!("publisher {feed} joins: {e}"))?;
            let jsep = json!({"type": "offer", "sdp": setup.offer, "trickle": false, "rid_order": "lmh"});
            let publish = json!({"request": "publish", "audio": true, "video": true, "data": true});
            let r = c.message(h, publish, Some(jsep)).await.map_err(|e| format!("publisher {feed} publishes: {e}"))?;
            let answer = r["jsep"]["sdp"].as_str().ok_or_else(|| format!("publish without answer: {r}"))?;
            self.participants.push(setup.start(answer, None, None));
        }
        c.wait_up(&handles).await?;
        for &me in &feeds {
            let h = c.attach().await?;
            let streams: Vec<Value> = feeds.iter().filter(|f| **f != me).map(|f| json!({"feed": f})).collect();
            let join = json!({"request": "join", "ptype": "subscriber", "room": room, "streams": streams});
            let r = c.message(h, join, None).await.map_err(|e| format!("subscriber {me} joins: {e}"))?;
            let offer = r["jsep"]["sdp"].as_str().ok_or_else(|| format!("subscription without offer: {r}"))?;
            let (answer, tx) = load::receive_only(host, offer).await.ok_or("str0m refused Janus's offer")?;
            let jsep = json!({"type": "answer", "sdp": answer, "trickle": false});
            c.message(h, json!({"request": "start"}), Some(jsep)).await.map_err(|e| format!("subscriber {me}: {e}"))?;
            if let Some(mh) = max_height {
                let sub = substream_for(mh);
                let mids: Vec<Value> = r["plugindata"]["data"]["streams"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .filter(|s| s["type"] == "video")
                            .map(|s| json!({"mid": s["mid"], "substream": sub}))
                            .collect()
                    })
                    .unwrap_or_default();
                c.message(h, json!({"request": "configure", "streams": mids}), None).await?;
            }
            self.participants.push(tx);
        }
        self.people += size;
        Ok(())
    }

    /// Keeps the WebSocket read until `until`.
    pub async fn pump_until(&mut self, until: Instant) {
        self.client.idle(until).await;
    }

    pub fn stop(&mut self) {
        for tx in &self.participants {
            let _ = tx.try_send(Cmd::Stop);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substream_follows_the_heights_our_bridge_assumes() {
        assert_eq!(substream_for(i32::MAX), 2);
        assert_eq!(substream_for(720), 2);
        assert_eq!(substream_for(400), 1);
        assert_eq!(substream_for(180), 0);
        assert_eq!(substream_for(90), 0);
    }
}
