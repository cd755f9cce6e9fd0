//! Settings from the environment (see README "Settings"). Read once at start; never
//! re-read while running.

use crate::Error;
use proto::config::{env_parse, env_string};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// HS256 key shared with signal.
    pub token_secret: Vec<u8>,
    /// How long a room's files and history are kept after the room ends; `None` = forever.
    pub retention: Option<Duration>,
    pub max_file_size: u64,
    pub room_quota: u64,
    /// An unfinished upload untouched for this long is removed.
    pub upload_expiry: Duration,
    pub chat: ChatLimits,
    pub archive: ArchiveSettings,
}

/// The archive component (`archive.<domain>` on signal's bus): signal/PEOPLE.md.
#[derive(Clone)]
pub struct ArchiveSettings {
    /// `XMPP_DOMAIN`: copies are taken only from this JID (the server's own).
    pub domain: String,
    /// `BUS_ADDR`: signal's component port.
    pub bus_addr: String,
    /// `BUS_SECRET`, shared with signal.
    pub bus_secret: String,
    /// `ARCHIVE_RING_SECS`: a call proposal neither accepted nor declined this long after it
    /// was made counts as missed (the caller's page gives up after 30 s).
    pub ring: Duration,
}

impl std::fmt::Debug for ArchiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveSettings")
            .field("domain", &self.domain)
            .field("bus_addr", &self.bus_addr)
            .field("bus_secret", &"<redacted>")
            .field("ring", &self.ring)
            .finish()
    }
}

#[derive(Clone, Debug)]
pub struct ChatLimits {
    /// Largest WebSocket frame and message accepted; larger ones close that connection only.
    pub max_frame: usize,
    /// Largest chat text, in bytes of UTF-8.
    pub max_text: usize,
    /// Sustained messages per second per connection.
    pub rate_per_sec: f64,
    /// Messages a connection may send in a burst before the rate applies.
    pub burst: f64,
    /// Messages sent to a joiner as history.
    pub history: usize,
    /// Open chat connections the server accepts in all (503 beyond).
    pub max_connections: i64,
}

const GIB: u64 = 1 << 30;

fn hours(name: &str, default: f64) -> Result<f64, Error> {
    let h: f64 = env_parse(name, default)?;
    // Capped at about a century so that times in milliseconds cannot overflow.
    if !h.is_finite() || !(0.0..=1_000_000.0).contains(&h) {
        return Err(Error::BadSetting(format!("{name} must be a number of hours between 0 and 1000000")));
    }
    Ok(h)
}

impl Config {
    pub fn from_env() -> Result<Config, Error> {
        let data_dir = proto::config::data_dir();
        let addr_s = env_string("FILESTORE_ADDR", "127.0.0.1:8090");
        let addr = addr_s.parse().map_err(|e| Error::BadSetting(format!("FILESTORE_ADDR={addr_s:?}: {e}")))?;
        std::fs::create_dir_all(&data_dir)?;
        let secret =
            proto::secrets::load_or_generate(&data_dir, "token_secret", proto::config::env_secret("TOKEN_SECRET"))?;
        let retention_h = hours("RETENTION_HOURS", 24.0)?;
        let expiry_h = hours("UPLOAD_EXPIRY_HOURS", 24.0)?;
        let max_file_size = env_parse("MAX_FILE_SIZE", 4 * GIB)?;
        let room_quota = env_parse("ROOM_QUOTA", 20 * GIB)?;
        let rate_per_sec: f64 = env_parse("CHAT_RATE", 5.0)?;
        let burst: f64 = env_parse("CHAT_BURST", 20.0)?;
        if !(rate_per_sec > 0.0 && burst >= 1.0) {
            return Err(Error::BadSetting("CHAT_RATE must be > 0 and CHAT_BURST >= 1".into()));
        }
        let bus_secret =
            proto::secrets::load_or_generate(&data_dir, "bus_secret", proto::config::env_secret("BUS_SECRET"))?;
        let ring: f64 = env_parse("ARCHIVE_RING_SECS", 45.0)?;
        if !ring.is_finite() || !(1.0..=3600.0).contains(&ring) {
            return Err(Error::BadSetting("ARCHIVE_RING_SECS must be between 1 and 3600 seconds".into()));
        }
        Ok(Config {
            addr,
            data_dir,
            token_secret: secret.into_bytes(),
            retention: (retention_h > 0.0).then(|| Duration::from_secs_f64(retention_h * 3600.0)),
            max_file_size,
            room_quota,
            upload_expiry: Duration::from_secs_f64(expiry_h * 3600.0),
            chat: ChatLimits {
                max_frame: env_parse("CHAT_MAX_FRAME", 64 * 1024)?,
                max_text: 8 * 1024,
                rate_per_sec,
                burst,
                history: 500,
                max_connections: env_parse("CHAT_MAX_CONNECTIONS", 4096)?,
            },
            archive: ArchiveSettings {
                domain: proto::config::xmpp_domain().to_ascii_lowercase(),
                bus_addr: env_string("BUS_ADDR", "127.0.0.1:5347"),
                bus_secret,
                ring: Duration::from_secs_f64(ring),
            },
        })
    }

    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.files_dir().join("partial")
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("filestore.sqlite3")
    }

    /// The archive's own database: conversations, read pointers, calls, notifications.
    pub fn archive_db_path(&self) -> PathBuf {
        self.data_dir.join("archive.sqlite3")
    }
}
