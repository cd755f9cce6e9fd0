//! Focus settings from the environment (see `focus/README.md` for the list). Reading the
//! bus secret may create it in `DATA_DIR`; nothing else here touches the disk.

use crate::Error;
use proto::config::{env_parse, env_secret, env_string};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone)]
pub struct Config {
    /// `XMPP_DOMAIN`: focus is `focus.<domain>`, rooms are on `conference.<domain>`.
    pub domain: String,
    pub data_dir: PathBuf,
    /// `BUS_ADDR`: signal's component port.
    pub bus_addr: String,
    pub bus_secret: String,
    /// `FOCUS_HTTP_ADDR`: `/health`, `/stats`, `/metrics`.
    pub http_addr: SocketAddr,
    /// `WEBHOOK_URL`: optional `http://` URL that receives server notifications.
    pub webhook_url: Option<String>,
    /// `WEBHOOK_SECRET` (or generated into `DATA_DIR/secrets/webhook_secret`): HMAC key.
    pub webhook_secret: String,
    /// `P2P_ENABLED`: two participants talk peer to peer.
    pub p2p_enabled: bool,
    /// `P2P_DELAY_MS`: how long a room must stay at two before P2P starts.
    pub p2p_delay: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("domain", &self.domain)
            .field("bus_addr", &self.bus_addr)
            .field("http_addr", &self.http_addr)
            .field("webhook_url", &self.webhook_url)
            .field("p2p_enabled", &self.p2p_enabled)
            .field("p2p_delay", &self.p2p_delay)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn from_env() -> Result<Config, Error> {
        let data_dir = proto::config::data_dir();
        let bus_secret = proto::secrets::load_or_generate(&data_dir, "bus_secret", env_secret("BUS_SECRET"))
            .map_err(Error::Secret)?;
        let webhook_secret =
            proto::secrets::load_or_generate(&data_dir, "webhook_secret", env_secret("WEBHOOK_SECRET"))
                .map_err(Error::Secret)?;
        let webhook_url = std::env::var("WEBHOOK_URL").ok().filter(|v| !v.trim().is_empty());
        if let Some(u) = &webhook_url {
            crate::driver::webhook::check_url(u).map_err(|e| Error::BadSetting(format!("WEBHOOK_URL={u:?}: {e}")))?;
        }
        let domain = proto::config::xmpp_domain();
        if domain.is_empty() || domain.contains(['@', '/', ' ']) {
            return Err(Error::BadSetting(format!("XMPP_DOMAIN={domain:?} is not a domain")));
        }
        Ok(Config {
            domain,
            data_dir,
            bus_addr: env_string("BUS_ADDR", "127.0.0.1:5347"),
            bus_secret,
            http_addr: env_parse("FOCUS_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 8888)))?,
            webhook_url,
            webhook_secret,
            p2p_enabled: env_parse("P2P_ENABLED", true)?,
            p2p_delay: Duration::from_millis(env_parse("P2P_DELAY_MS", 3000u64)?),
        })
    }
}
