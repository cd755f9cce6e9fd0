//! Test harness: starts the real `filestore` binary on a free loopback port with a temp
//! `DATA_DIR`, mints room tokens with the same secret, and speaks HTTP (hyper) and
//! WebSocket (tokio-tungstenite) to it.
#![allow(dead_code)]

pub mod bus;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use proto::token::Claims;
use proto::{EndpointId, RoomName};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

pub const SECRET: &str = "filestore-test-secret-0123456789abcdef";
pub const WAIT: Duration = Duration::from_secs(20);

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir()
            .join(format!("filestore-{tag}-{}", proto::secrets::random_hex(6).expect("os randomness")));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Server {
    pub addr: String,
    pub data: TempDir,
    child: Option<Child>,
    env: Vec<(String, String)>,
    /// A tmpfs of this size (tmpfs syntax) mounted at this folder, for a full disk.
    small_disk: Option<(String, PathBuf)>,
}

fn free_port() -> u16 {
    proto::testkit::free_tcp_port()
}

impl Server {
    pub fn start(env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            addr: format!("127.0.0.1:{}", free_port()),
            data: TempDir::new("data"),
            child: None,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            small_disk: None,
        };
        s.spawn();
        s
    }

    /// Starts the server with its files (not its database) on a disk of `size` (tmpfs
    /// syntax: "1m"), mounted in a mount namespace of its own, so filling it touches
    /// nothing else on the machine.
    pub fn start_on_small_disk(size: &str, env: &[(&str, &str)]) -> Server {
        Server::start_with_disk_at(size, |s| s.files_dir(), env)
    }

    /// Like [`Server::start_on_small_disk`] with the whole DATA_DIR (database included) on it.
    pub fn start_with_small_data_dir(size: &str, env: &[(&str, &str)]) -> Server {
        Server::start_with_disk_at(size, |s| s.data.0.clone(), env)
    }

    fn start_with_disk_at(size: &str, at: impl Fn(&Server) -> PathBuf, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            addr: format!("127.0.0.1:{}", free_port()),
            data: TempDir::new("data"),
            child: None,
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            small_disk: None,
        };
        let dir = at(&s);
        std::fs::create_dir_all(&dir).expect("disk folder");
        s.small_disk = Some((size.to_string(), dir));
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let bin = env!("CARGO_BIN_EXE_filestore");
        let mut cmd = match &self.small_disk {
            None => Command::new(bin),
            Some((size, dir)) => {
                let mut c = Command::new("unshare");
                c.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
                    .arg(r#"mount -t tmpfs -o "size=$1" tmpfs "$2" && exec "$3""#)
                    .arg("sh")
                    .arg(size)
                    .arg(dir)
                    .arg(bin);
                c
            }
        };
        cmd.env("FILESTORE_ADDR", &self.addr)
            .env("DATA_DIR", &self.data.0)
            .env("TOKEN_SECRET", SECRET)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start filestore");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut told = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var("FILESTORE_TEST_LOG").is_ok() {
                    eprintln!("[filestore] {line}");
                }
                if !told && line.contains("filestore listening") {
                    told = true;
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(WAIT).expect("filestore did not start listening in time");
        self.child = Some(child);
    }

    /// SIGKILL, then start again on the same port and data.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `script` (sh) inside the server's mount namespace, where its small disk is
    /// mounted (what an admin on that machine would do); returns whether it succeeded.
    pub fn sh_on_its_disk(&self, script: &str) -> bool {
        let pid = self.child.as_ref().expect("running").id().to_string();
        Command::new("nsenter")
            .args(["-t", &pid, "-U", "-m", "--preserve-credentials", "sh", "-c", script])
            .status()
            .expect("nsenter runs")
            .success()
    }

    /// The server's process id (for its memory and open files over a soak).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn files_dir(&self) -> PathBuf {
        self.data.0.join("files")
    }

    /// Names in DATA_DIR/files (blobs) and DATA_DIR/files/partial.
    pub fn stored(&self) -> (Vec<String>, Vec<String>) {
        let list = |p: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(p)
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter(|e| e.path().is_file())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .collect()
                })
                .unwrap_or_default();
            v.sort();
            v
        };
        (list(&self.files_dir()), list(&self.files_dir().join("partial")))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn token_with(room: &str, nick: &str, name: &str, ttl: u64, secret: &str) -> String {
    let claims = Claims::new(
        format!("{nick}@meet.lan/x"),
        RoomName::new(room).expect("test room name"),
        EndpointId::new(nick).expect("test nick"),
        name.into(),
        ttl,
    );
    proto::token::issue(secret.as_bytes(), &claims).expect("sign")
}

pub fn token(room: &str, nick: &str) -> String {
    token_with(room, nick, &format!("Name {nick}"), 600, SECRET)
}

pub fn expired_token(room: &str, nick: &str) -> String {
    let mut c = Claims::new(
        format!("{nick}@meet.lan/x"),
        RoomName::new(room).expect("room"),
        EndpointId::new(nick).expect("nick"),
        "Old".into(),
        60,
    );
    c.iat -= 600;
    c.exp = proto::token::now_secs() - 5;
    proto::token::issue(SECRET.as_bytes(), &c).expect("sign")
}

pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection.
pub async fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder().method(method).uri(path).header("host", addr);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).expect("request");
    let resp = tokio::time::timeout(WAIT, send.send_request(req)).await.expect("response in time").expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
    Resp { status, headers, body }
}

pub fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// POST /files/ with tus headers; returns the response.
pub async fn create_upload(addr: &str, tok: &str, length: u64, filename: &str) -> Resp {
    use base64::Engine;
    let meta = format!("filename {}", base64::engine::general_purpose::STANDARD.encode(filename));
    let auth = bearer(tok);
    let len = length.to_string();
    http(
        addr,
        "POST",
        "/files/",
        &[("authorization", &auth), ("tus-resumable", "1.0.0"), ("upload-length", &len), ("upload-metadata", &meta)],
        vec![],
    )
    .await
}

pub async fn patch(addr: &str, tok: &str, location: &str, offset: u64, body: Vec<u8>, checksum: Option<&str>) -> Resp {
    let auth = bearer(tok);
    let off = offset.to_string();
    let mut h = vec![
        ("authorization", auth.as_str()),
        ("tus-resumable", "1.0.0"),
        ("upload-offset", off.as_str()),
        ("content-type", "application/offset+octet-stream"),
    ];
    if let Some(c) = checksum {
        h.push(("upload-checksum", c));
    }
    http(addr, "PATCH", location, &h, body).await
}

/// Uploads `data` in one PATCH and returns the file's location.
pub async fn upload(addr: &str, tok: &str, name: &str, data: &[u8]) -> String {
    let r = create_upload(addr, tok, data.len() as u64, name).await;
    assert_eq!(r.status, 201, "create: {}", r.text());
    let loc = r.header("location").expect("location").to_string();
    let p = patch(addr, tok, &loc, 0, data.to_vec(), None).await;
    assert_eq!(p.status, 204, "patch: {}", p.text());
    loc
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// GET a file streamed, returning (status, bytes, sha256).
pub async fn download_hash(addr: &str, path: &str, tok: &str) -> (u16, u64, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let req = Request::builder()
        .method("GET")
        .uri(path)
        .header("host", addr)
        .header("authorization", bearer(tok))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = send.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("body frame");
        if let Some(d) = frame.data_ref() {
            n += d.len() as u64;
            h.update(d);
        }
    }
    (status, n, hex::encode(h.finalize()))
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

pub struct Chat {
    pub ws: Ws,
    pub welcome: Value,
}

impl Chat {
    pub async fn connect(addr: &str, tok: &str) -> Chat {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/chat?token={tok}")).await.expect("ws connect");
        let mut welcome = next_json(&mut ws).await.expect("welcome");
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        // History follows in `history` frames; collect them into welcome["history"].
        let mut history = Vec::new();
        loop {
            let h = next_json(&mut ws).await.expect("history frame");
            assert_eq!(h["type"], "history", "{h}");
            history.extend(h["messages"].as_array().expect("messages").iter().cloned());
            if h["done"] == true {
                break;
            }
        }
        welcome["history"] = Value::Array(history);
        Chat { ws, welcome }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::Text(v.to_string().into())).await.expect("ws send");
    }

    /// The next JSON message, or None if the connection closed or nothing came in time.
    pub async fn recv(&mut self) -> Option<Value> {
        next_json(&mut self.ws).await
    }

    /// Skips messages until one of type `ty` arrives.
    pub async fn recv_type(&mut self, ty: &str) -> Value {
        loop {
            let v = self.recv().await.unwrap_or_else(|| panic!("no {ty} message arrived"));
            if v["type"] == ty {
                return v;
            }
        }
    }

    /// Waits `d` and returns everything that arrived (of any type) meanwhile.
    pub async fn drain_for(&mut self, d: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Text(t) = m {
                if let Ok(v) = serde_json::from_str(t.as_str()) {
                    out.push(v);
                }
            }
        }
        out
    }
}

async fn next_json(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}
