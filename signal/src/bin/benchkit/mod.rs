//! What signal's benchmarks share: starting the release `signal` beside the bench binary on
//! free loopback ports with a temp data folder, reading a server process's CPU time and
//! memory, opening an authenticated client stream, and the order statistics of a sample. It
//! must never touch anything beyond loopback and its temp folders.

#![allow(dead_code)]

use proto::xml::{Element, ParserLimits, StreamEvent, StreamParser};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

pub const DOMAIN: &str = "meet.lan";

pub type BoxErr = Box<dyn std::error::Error + Send + Sync>;

/// A server process the bench started; stopped and its folder removed when dropped.
pub struct Server {
    pub name: &'static str,
    pub child: Child,
    /// Its client port.
    pub addr: SocketAddr,
    pub dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn free_port() -> u16 {
    proto::testkit::free_tcp_port()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("signal-bench-{tag}-{}", proto::secrets::random_hex(4).unwrap_or_default()));
    let _ = std::fs::create_dir_all(&d);
    d
}

pub fn wait_listening(addr: SocketAddr) -> Result<(), BoxErr> {
    let t = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        if t.elapsed() > Duration::from_secs(20) {
            return Err(format!("nothing listens on {addr}").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Starts the `signal` that sits beside the bench binary (the same build).
pub fn start_signal() -> Result<Server, BoxErr> {
    let exe = std::env::current_exe()?.with_file_name("signal");
    let dir = temp_dir("signal");
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse()?;
    let child = Command::new(&exe)
        .env("SIGNAL_C2S_ADDR", addr.to_string())
        .env("SIGNAL_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("SIGNAL_BUS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("DATA_DIR", &dir)
        .env("XMPP_DOMAIN", DOMAIN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let s = Server { name: "signal", child, addr, dir };
    wait_listening(addr)?;
    Ok(s)
}

/// CPU time (user + system) of `pid` so far, in ms (clock ticks of 10 ms).
pub fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(2).filter_map(|v| v.parse().ok()).collect();
    f.iter().sum::<u64>() as f64 * 10.0
}

pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub async fn read_stanza(rd: &mut OwnedReadHalf, p: &mut StreamParser, buf: &mut [u8]) -> Result<Element, BoxErr> {
    loop {
        match p.poll_event()? {
            Some(StreamEvent::Stanza(s)) => return Ok(s),
            Some(StreamEvent::Open(_)) => continue,
            Some(StreamEvent::Close) => return Err("stream closed".into()),
            None => {}
        }
        let n = rd.read(buf).await?;
        if n == 0 {
            return Err("connection closed".into());
        }
        p.handle_bytes(&buf[..n]);
    }
}

/// A client stream after SASL (`auth`: the `<auth/>` element to send) and resource binding.
pub struct Session {
    pub rd: OwnedReadHalf,
    pub w: OwnedWriteHalf,
    pub parser: StreamParser,
    pub buf: Vec<u8>,
    pub jid: String,
}

pub async fn open_session(addr: SocketAddr, host: &str, auth: &str) -> Result<Session, BoxErr> {
    let sock = TcpStream::connect(addr).await?;
    sock.set_nodelay(true)?;
    let (mut rd, mut w) = sock.into_split();
    let mut p = StreamParser::new(ParserLimits { max_stanza_bytes: 1 << 20, ..Default::default() });
    let mut buf = vec![0u8; 64 * 1024];
    let header = format!("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='{host}' version='1.0'>");
    w.write_all(header.as_bytes()).await?;
    let _features = read_stanza(&mut rd, &mut p, &mut buf).await?;
    w.write_all(auth.as_bytes()).await?;
    let ok = read_stanza(&mut rd, &mut p, &mut buf).await?;
    if ok.name() != "success" {
        return Err(format!("auth: {ok}").into());
    }
    p.reset();
    w.write_all(header.as_bytes()).await?;
    let _features = read_stanza(&mut rd, &mut p, &mut buf).await?;
    w.write_all(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>").await?;
    let r = read_stanza(&mut rd, &mut p, &mut buf).await?;
    if r.get_attr("type") != Some("result") {
        return Err(format!("bind: {r}").into());
    }
    let jid = r
        .children()
        .next()
        .and_then(|b| b.children().next())
        .map(|j| j.text_content())
        .ok_or("bind result without a JID")?;
    w.write_all(b"<iq type='set' id='s'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>").await?;
    Ok(Session { rd, w, parser: p, buf, jid })
}

/// The value at quantile `q` (0..=1) of `v` (sorted here), nearest rank.
pub fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        return 0.0;
    }
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}
