//! Test support: starts the real `meet` (or `web`) binary on free loopback ports with a
//! temporary DATA_DIR, talks HTTPS to it with the certificate it generated as the only
//! trust anchor, and runs the browser scenarios under `tests/browser/` with Node.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("web/ sits in the workspace").to_path_buf()
}

/// A binary of the workspace: `$MEET_BIN_DIR/<name>` (run-tests.sh builds them all).
pub fn bin(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MEET_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    match name {
        "meet" => PathBuf::from(env!("CARGO_BIN_EXE_meet")),
        "web" => PathBuf::from(env!("CARGO_BIN_EXE_web")),
        other => workspace_root().join("target/debug").join(other),
    }
}

pub use proto::testkit::{free_tcp_port as free_tcp, free_udp_port as free_udp};

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "meet-web-{tag}-{}-{}",
        std::process::id(),
        proto::secrets::random_hex(4).expect("OS randomness")
    ));
    std::fs::create_dir_all(&d).expect("creating a temp dir");
    d
}

/// A running system: the child process and where it listens.
pub struct System {
    pub child: Child,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    pub env: Vec<(String, String)>,
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
    /// The binary that runs (`meet`, `web`, …), for a restart.
    pub name: String,
    /// Whether dropping this removes `data_dir` (a restarted system hands it on).
    owns_data: bool,
}

impl System {
    /// `meet` with every component on free ports.
    pub fn meet(extra_env: &[(&str, &str)]) -> System {
        let ports = [
            ("SIGNAL_C2S_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("SIGNAL_HTTP_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("SIGNAL_BUS_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("BRIDGE_MEDIA_ADDR", format!("127.0.0.1:{}", free_udp())),
            ("BRIDGE_HTTP_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("FOCUS_HTTP_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("FILESTORE_ADDR", format!("127.0.0.1:{}", free_tcp())),
            ("ADVERTISE_IPS", "127.0.0.1".to_string()),
        ];
        let mut env: Vec<(String, String)> = ports.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        env.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        System::start("meet", env)
    }

    /// Starts binary `name` with `env` plus free web ports and a temp DATA_DIR (unless given).
    pub fn start(name: &str, mut env: Vec<(String, String)>) -> System {
        let has = |env: &Vec<(String, String)>, k: &str| env.iter().any(|(n, _)| n == k);
        if !has(&env, "DATA_DIR") {
            env.push(("DATA_DIR".into(), temp_dir(name).display().to_string()));
        }
        if !has(&env, "WEB_HTTPS_ADDR") {
            env.push(("WEB_HTTPS_ADDR".into(), format!("127.0.0.1:{}", free_tcp())));
        }
        if !has(&env, "WEB_HTTP_ADDR") {
            env.push(("WEB_HTTP_ADDR".into(), format!("127.0.0.1:{}", free_tcp())));
        }
        if !has(&env, "RUST_LOG") {
            env.push(("RUST_LOG".into(), std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())));
        }
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).expect("set above");
        let https: SocketAddr = get("WEB_HTTPS_ADDR").parse().expect("tests pass socket addresses");
        let http: SocketAddr = get("WEB_HTTP_ADDR").parse().expect("tests pass socket addresses");
        let data_dir = PathBuf::from(get("DATA_DIR"));
        let path = bin(name);
        let mut cmd = Command::new(&path);
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = Arc::clone(&log);
            let tag = name.to_string();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("[{tag}] {line}");
                    log.lock().expect("log lock is never poisoned: pushers do not panic").push(line);
                }
            });
        }
        System { child, https, http, data_dir, env, log, name: name.to_string(), owns_data: true }
    }

    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https.port())
    }

    pub fn env(&self, k: &str) -> Option<String> {
        self.env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    /// Waits until `GET /health` answers over HTTPS (the certificate exists by then).
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the system exited early: {status}");
            }
            if self.data_dir.join("tls/cert.pem").exists() {
                if let Ok(r) =
                    https_request(self, "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await
                {
                    if r.status == 200 {
                        return;
                    }
                }
            }
            assert!(Instant::now() < deadline, "the system did not become ready in 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the system did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the binary (SIGTERM, clean exit required) and starts it again with the same
    /// settings, ports and DATA_DIR: everything it stored must still be there.
    pub async fn restart(&mut self) {
        assert!(self.stop().success(), "{} exits cleanly on SIGTERM", self.name);
        let mut next = System::start(&self.name, self.env.clone());
        std::mem::swap(self, &mut next);
        next.owns_data = false; // the stopped one; its DATA_DIR lives on in `self`
        self.wait_ready().await;
    }

    pub fn logs_contain(&self, needle: &str) -> bool {
        self.log.lock().expect("log lock is never poisoned").iter().any(|l| l.contains(needle))
    }
}

impl Drop for System {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if self.owns_data {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// A TLS client that trusts only the system's generated certificate.
pub fn tls_connector(sys: &System) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(sys.data_dir.join("tls/cert.pem"))
        .expect("the generated certificate exists")
    {
        roots.add(c.expect("the generated certificate parses")).expect("the generated certificate is a usable anchor");
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

pub async fn tls_stream(
    sys: &System,
    server_name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(sys.https).await?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).map_err(std::io::Error::other)?;
    tls_connector(sys).connect(name, tcp).await
}

pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `raw` (a full HTTP/1.1 request, exactly as written) over TLS and reads the answer
/// until the server closes (send `Connection: close`).
pub async fn https_request(sys: &System, raw: &str) -> std::io::Result<RawResponse> {
    let mut s = tls_stream(sys, "127.0.0.1").await?;
    s.write_all(raw.as_bytes()).await?;
    read_response(&mut s).await
}

pub async fn http_request(addr: SocketAddr, raw: &str) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect(addr).await?;
    s.write_all(raw.as_bytes()).await?;
    read_response(&mut s).await
}

async fn read_response<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> std::io::Result<RawResponse> {
    let mut buf = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    match r {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(std::io::Error::other("response timed out")),
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {:?}", String::from_utf8_lossy(&buf))))?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status =
        head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| std::io::Error::other("no status"))?;
    let mut body = buf[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok(RawResponse { status, head, body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < i + 2 + n {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[(i + 4 + n).min(b.len())..];
    }
    out
}

pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

/// Where Node finds playwright-core, or None (then the browser test is skipped, except in
/// CI, where a missing client is a failure).
pub fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var("MEET_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("tests/node/node_modules"));
    let ok = dir.join("playwright-core").exists() && Path::new(&chromium()).exists();
    if ok {
        return Some(dir);
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("CI=true but playwright-core ({}) or Chromium ({}) is missing", dir.display(), chromium());
    }
    eprintln!("SKIPPED: playwright-core or Chromium missing (run ./run-tests.sh to install them)");
    None
}

pub fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

pub fn artifacts_dir() -> PathBuf {
    workspace_root().join("artifacts")
}

/// Runs `web/tests/browser/<script>` against `base_url`; panics (with the output shown
/// live on stderr) unless it exits 0.
pub fn run_browser_scenario(script: &str, base_url: &str, modules: &Path, extra_env: &[(&str, &str)]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script);
    let mut cmd = Command::new("node");
    cmd.arg(&path)
        .env("MEET_NODE_MODULES", modules)
        .env("BASE_URL", base_url)
        .env("ARTIFACTS_DIR", artifacts_dir())
        .env("CHROMIUM", chromium())
        .envs(extra_env.iter().copied())
        .stdin(Stdio::null());
    let status = cmd.status().unwrap_or_else(|e| panic!("running node {}: {e}", path.display()));
    assert!(status.success(), "browser scenario {script} failed ({status}); see its output above");
}
