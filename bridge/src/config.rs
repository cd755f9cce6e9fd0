//! The bridge's settings, read once from the environment (see the workspace README and
//! `../shared/ARCHITECTURE.md` for names and defaults). Reading settings never opens a
//! socket; the bridge id is persisted in `DATA_DIR` so a restarted bridge keeps its JID.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use proto::config::{env_parse, env_string};

use crate::Error;

#[derive(Debug, Clone)]
pub struct Config {
    /// UDP address of the media socket (`BRIDGE_MEDIA_ADDR`, default `0.0.0.0:10000`).
    pub media_addr: SocketAddr,
    /// `/health`, `/stats`, `/metrics` (`BRIDGE_HTTP_ADDR`, default `127.0.0.1:8080`).
    pub http_addr: SocketAddr,
    /// The bus (`BUS_ADDR`, default `127.0.0.1:5347`).
    pub bus_addr: String,
    /// Component name: the bridge's JID is `<bridge_id>.<domain>` (`BRIDGE_ID`).
    pub bridge_id: String,
    pub domain: String,
    pub data_dir: PathBuf,
    /// `ADVERTISE_IPS`: addresses put in candidates instead of the auto-detected ones.
    pub advertise_ips: Vec<IpAddr>,
    /// Shared secret of the bus (`BUS_SECRET` or generated into `DATA_DIR`).
    pub bus_secret: String,
    /// How long a draining bridge waits for focus to move its conferences
    /// (`BRIDGE_DRAIN_SECS`, default 10).
    pub drain_timeout: Duration,
    /// Whether to connect to the bus at all (`BRIDGE_BUS`, default true). Off only for
    /// benchmarks and tests that drive the core directly.
    pub bus_enabled: bool,
    /// Send-side bandwidth estimation and pacing (`BRIDGE_BWE`, default true).
    pub bwe: bool,
    /// Forward only the audio of this many loudest speakers (`BRIDGE_LOUDEST_AUDIO`, see
    /// [`loudest_audio`]; 0: everyone's) in conferences of more than `loudest_above`
    /// endpoints.
    pub loudest_audio: usize,
    pub loudest_above: usize,
    /// Media threads, each owning its endpoints (`BRIDGE_MEDIA_THREADS`, default: the cores
    /// this process may use).
    pub media_threads: usize,
    /// `BRIDGE_THREAD_SLACK`: how many endpoints a thread of a conference may have above the
    /// least loaded thread before the conference's next endpoint goes elsewhere (default 8).
    pub thread_slack: usize,
}

impl Config {
    pub fn from_env() -> Result<Config, Error> {
        let data_dir = proto::config::data_dir();
        let media_addr = env_parse("BRIDGE_MEDIA_ADDR", SocketAddr::from(([0, 0, 0, 0], 10000)))?;
        let http_addr = env_parse("BRIDGE_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let bus_addr = env_string("BUS_ADDR", "127.0.0.1:5347");
        let domain = proto::config::xmpp_domain();
        let advertise_ips = parse_ips(&env_string("ADVERTISE_IPS", ""))?;
        let bridge_id = match proto::config::env_secret("BRIDGE_ID") {
            Some(id) => validate_id(id.trim())?,
            None => persisted_id(&data_dir)?,
        };
        let bus_secret =
            proto::secrets::load_or_generate(&data_dir, "bus_secret", proto::config::env_secret("BUS_SECRET"))?;
        let drain_secs: u64 = env_parse("BRIDGE_DRAIN_SECS", 10)?;
        let bus_enabled: bool = env_parse("BRIDGE_BUS", true)?;
        let bwe: bool = env_parse("BRIDGE_BWE", true)?;
        let (loudest_audio, loudest_above) = loudest_audio(std::env::var("BRIDGE_LOUDEST_AUDIO").ok().as_deref())?;
        let media_threads = media_threads(std::env::var("BRIDGE_MEDIA_THREADS").ok().as_deref())?;
        let thread_slack: usize = env_parse("BRIDGE_THREAD_SLACK", 8)?;
        Ok(Config {
            media_addr,
            http_addr,
            bus_addr,
            bridge_id,
            domain,
            data_dir,
            advertise_ips,
            bus_secret,
            drain_timeout: Duration::from_secs(drain_secs),
            bus_enabled,
            bwe,
            loudest_audio,
            loudest_above,
            media_threads,
            thread_slack,
        })
    }

    /// `<bridge_id>.<domain>`.
    pub fn jid(&self) -> String {
        format!("{}.{}", self.bridge_id, self.domain)
    }
}

/// `ADVERTISE_IPS`: a comma list of IP addresses.
pub fn parse_ips(s: &str) -> Result<Vec<IpAddr>, Error> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().map_err(|_| Error::BadSetting(format!("ADVERTISE_IPS: {p:?} is not an IP address"))))
        .collect()
}

/// Loudest-only audio routing when nothing is set: the 3 loudest senders (and the dominant
/// speaker) in conferences of more than 20 endpoints.
pub const LOUDEST_AUDIO_DEFAULT: (usize, usize) = (3, 20);

/// `BRIDGE_LOUDEST_AUDIO`: `(k, above)`, forward only the `k` loudest senders' audio in
/// conferences of more than `above` endpoints. Unset or empty: [`LOUDEST_AUDIO_DEFAULT`];
/// `0`: everyone's audio always; a number `k`: the `k` loudest in every conference.
pub fn loudest_audio(value: Option<&str>) -> Result<(usize, usize), Error> {
    match value.map(str::trim) {
        None | Some("") => Ok(LOUDEST_AUDIO_DEFAULT),
        Some(v) => match v.parse::<usize>() {
            Ok(k) => Ok((k, 0)),
            Err(_) => Err(Error::BadSetting(format!(
                "BRIDGE_LOUDEST_AUDIO={v:?}: a whole number (0: everyone's audio), or empty for the default"
            ))),
        },
    }
}

/// `BRIDGE_MEDIA_THREADS`: a whole number of at least 1, or `auto` for the number of cores
/// this process may use (`available_parallelism`, which follows `taskset` and cgroup
/// quotas). Unset or empty: `auto` (README.md, "Media threads", says why).
pub fn media_threads(value: Option<&str>) -> Result<usize, Error> {
    match value.map(str::trim) {
        None | Some("") | Some("auto") => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(Error::BadSetting(format!(
                "BRIDGE_MEDIA_THREADS={v:?}: the number of media threads must be a whole number of at least 1, or auto"
            ))),
        },
    }
}

fn validate_id(id: &str) -> Result<String, Error> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(Error::BadSetting(format!("BRIDGE_ID {id:?}: letters, digits, '-' and '_' only, at most 64")))
    }
}

/// `jvb-<8 hex>`, generated once and kept in `DATA_DIR/bridge_id`.
fn persisted_id(data_dir: &std::path::Path) -> Result<String, Error> {
    let path = data_dir.join("bridge_id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if let Ok(id) = validate_id(s.trim()) {
            return Ok(id);
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let id = format!("jvb-{}", proto::secrets::random_hex(4)?);
    std::fs::write(&path, &id)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertise_ips_are_validated() {
        assert_eq!(parse_ips(" 10.0.0.2, ::1 ").unwrap().len(), 2);
        assert!(parse_ips("").unwrap().is_empty());
        assert!(parse_ips("10.0.0.300").is_err());
        assert!(validate_id("jvb-1").is_ok());
        assert!(validate_id("a.b").is_err());
    }

    #[test]
    fn loudest_audio_defaults_to_three_above_twenty_and_a_number_means_always() {
        assert_eq!(loudest_audio(None).unwrap(), (3, 20));
        assert_eq!(loudest_audio(Some(" ")).unwrap(), (3, 20));
        assert_eq!(loudest_audio(Some("0")).unwrap(), (0, 0));
        assert_eq!(loudest_audio(Some("5")).unwrap(), (5, 0));
        let e = loudest_audio(Some("loud")).expect_err("refused").to_string();
        assert!(e.contains("BRIDGE_LOUDEST_AUDIO"), "{e}");
    }

    #[test]
    fn media_threads_are_a_positive_number_or_auto_by_default() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(media_threads(None).unwrap(), cores);
        assert_eq!(media_threads(Some("")).unwrap(), cores);
        assert_eq!(media_threads(Some("auto")).unwrap(), cores);
        assert_eq!(media_threads(Some(" 3 ")).unwrap(), 3);
        for bad in ["0", "-1", "two", "1.5", "0x2"] {
            let e = media_threads(Some(bad)).expect_err(bad).to_string();
            assert!(e.contains("BRIDGE_MEDIA_THREADS") && e.contains("at least 1"), "{e}");
        }
    }
}
