//! signal: the XMPP-compatible room server and the internal bus of meet-lan (Prosody's role
//! in Jitsi).
//!
//! - `SIGNAL_C2S_ADDR` (5222): RFC 6120 client streams over TCP ([`c2s`]).
//! - `SIGNAL_HTTP_ADDR` (5280): RFC 7395 WebSocket, `/health`, `/metrics` ([`http`]).
//! - `SIGNAL_BUS_ADDR` (5347): XEP-0114 components, focus and bridges ([`component`]).
//! - The hub ([`hub`]) owns all routing state in one task; rooms live in [`muc`].
//!
//! signal must never let one connection disturb another: every input is bounded (stanza
//! size, rate, outbox length) and a misbehaving peer gets a stream error, alone.

pub mod accounts;
pub mod auth;
pub mod c2s;
pub mod component;
pub mod conn;
pub mod http;
pub mod hub;
pub mod jid;
pub mod metrics;
pub mod muc;
pub mod people;
pub mod ratelimit;
pub mod sasl;
pub mod stanza;
pub mod stream;

use conn::ConnId;
use hub::{Hub, HubMsg};
use metrics::Metrics;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Config(#[from] proto::config::ConfigError),
    #[error("XML: {0}")]
    Xml(#[from] proto::xml::XmlError),
    /// A stream error to send: RFC 6120 condition and a text.
    #[error("stream error {0}: {1}")]
    Stream(&'static str, String),
    #[error("connection closed")]
    Closed,
    #[error("websocket: {0}")]
    Ws(String),
    #[error("accounts: {0}")]
    Accounts(String),
    #[error("directory of people: {0}")]
    Directory(String),
}

impl Error {
    /// Parser errors become the stream error the RFC names for them.
    pub fn stream_from_xml(e: &proto::xml::XmlError) -> Error {
        Error::Stream(e.condition(), e.to_string())
    }
}

/// Settings from the environment (see ARCHITECTURE.md).
#[derive(Debug, Clone)]
pub struct Config {
    pub domain: String,
    pub data_dir: PathBuf,
    pub c2s_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub bus_addr: SocketAddr,
    pub bus_secret: String,
    pub token_secret: String,
    /// Largest stanza a client may send (`SIGNAL_MAX_STANZA`, default 64 KiB).
    pub max_stanza_bytes: usize,
    /// Largest stanza a bus component may send (`SIGNAL_MAX_COMPONENT_STANZA`, default
    /// 1 MiB): components are authenticated by the bus secret and carry Colibri JSON with
    /// whole uncompressed SDP (about 2.4 KB per participant of a conference).
    pub max_component_stanza_bytes: usize,
    /// Client budget: sustained stanzas/s (`SIGNAL_C2S_RATE`, default 200) and burst
    /// (`SIGNAL_C2S_BURST`, default 1000).
    pub c2s_rate: f64,
    pub c2s_burst: f64,
    /// A bound client silent this long is pinged, and dropped when it stays silent for half
    /// as long again (`SIGNAL_IDLE_SECS`, default 60).
    pub idle_secs: u64,
    /// Open connections at most, all transports together (`SIGNAL_MAX_CONNECTIONS`, 20000).
    pub max_connections: usize,
    /// Who may open rooms (`AUTH_MODE`: open, accounts, token).
    pub auth_mode: auth::AuthMode,
    /// Token sign-in (`JWT_APP_ID` with `JWT_APP_SECRET` or `JWT_PUBLIC_KEY`).
    pub jwt: Option<auth::jwt::JwtSettings>,
    /// Seconds a removed person stays out of the room (`SIGNAL_REMOVAL_SECS`, 600).
    pub removal_secs: u64,
}

fn config_error(name: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::Config(proto::config::ConfigError { name: name.into(), value: value.into(), reason: reason.into() })
}

/// The JWT settings, or `None` without `JWT_APP_ID`; refuses half-done or double keys.
fn jwt_from_env(mode: auth::AuthMode) -> Result<Option<auth::jwt::JwtSettings>, Error> {
    use auth::jwt::{JwtSettings, KeySetting};
    use proto::config::env_secret;
    let list = |name: &str, default: &str| -> Vec<String> {
        proto::config::env_string(name, default)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let (app_id, secret, public) =
        (env_secret("JWT_APP_ID"), env_secret("JWT_APP_SECRET"), env_secret("JWT_PUBLIC_KEY"));
    let Some(app_id) = app_id else {
        if secret.is_some() || public.is_some() {
            return Err(config_error("JWT_APP_ID", "", "JWT_APP_SECRET or JWT_PUBLIC_KEY is set: set JWT_APP_ID too"));
        }
        if mode == auth::AuthMode::Token {
            return Err(config_error("JWT_APP_ID", "", "AUTH_MODE=token needs JWT_APP_ID"));
        }
        return Ok(None);
    };
    let key = match (secret, public) {
        (Some(s), None) => KeySetting::Secret(s),
        (None, Some(p)) if p.contains("-----BEGIN") => KeySetting::PublicKeyPem(p),
        (None, Some(path)) => KeySetting::PublicKeyPem(std::fs::read_to_string(path.trim()).map_err(|e| {
            config_error("JWT_PUBLIC_KEY", &path, format!("neither PEM text nor a readable file: {e}"))
        })?),
        (Some(_), Some(_)) => {
            return Err(config_error("JWT_APP_SECRET", "<set>", "set JWT_APP_SECRET or JWT_PUBLIC_KEY, not both"))
        }
        (None, None) => {
            return Err(config_error("JWT_APP_SECRET", "", "JWT_APP_ID needs JWT_APP_SECRET (HS256) or JWT_PUBLIC_KEY"))
        }
    };
    let issuers = list("JWT_ACCEPTED_ISSUERS", &app_id);
    let audiences = list("JWT_ACCEPTED_AUDIENCES", "jitsi");
    Ok(Some(JwtSettings { app_id, key, issuers, audiences }))
}

impl Config {
    pub fn from_env() -> Result<Config, Error> {
        use proto::config::{env_parse, env_secret};
        let data_dir = proto::config::data_dir();
        let bus_secret = proto::secrets::load_or_generate(&data_dir, "bus_secret", env_secret("BUS_SECRET"))?;
        let token_secret = proto::secrets::load_or_generate(&data_dir, "token_secret", env_secret("TOKEN_SECRET"))?;
        let auth_mode = env_parse("AUTH_MODE", auth::AuthMode::Open)?;
        let jwt = jwt_from_env(auth_mode)?;
        let domain = proto::config::xmpp_domain().to_ascii_lowercase();
        if let Some(j) = &jwt {
            // a key that cannot verify anything is refused at start, not at the first token
            auth::jwt::Verifier::new(j, &domain).map_err(|e| config_error("JWT_PUBLIC_KEY", "<key>", e))?;
        }
        Ok(Config {
            domain,
            data_dir,
            c2s_addr: env_parse("SIGNAL_C2S_ADDR", SocketAddr::from(([127, 0, 0, 1], 5222)))?,
            http_addr: env_parse("SIGNAL_HTTP_ADDR", SocketAddr::from(([127, 0, 0, 1], 5280)))?,
            bus_addr: env_parse("SIGNAL_BUS_ADDR", SocketAddr::from(([127, 0, 0, 1], 5347)))?,
            bus_secret,
            token_secret,
            max_stanza_bytes: env_parse("SIGNAL_MAX_STANZA", 64 * 1024)?,
            max_component_stanza_bytes: env_parse("SIGNAL_MAX_COMPONENT_STANZA", 1024 * 1024)?,
            c2s_rate: env_parse("SIGNAL_C2S_RATE", 200.0)?,
            c2s_burst: env_parse("SIGNAL_C2S_BURST", 1000.0)?,
            idle_secs: env_parse("SIGNAL_IDLE_SECS", 60)?,
            max_connections: env_parse("SIGNAL_MAX_CONNECTIONS", 20_000)?,
            auth_mode,
            jwt,
            removal_secs: env_parse("SIGNAL_REMOVAL_SECS", 600)?,
        })
    }

    /// The sign-in rules these settings describe.
    pub fn auth(&self) -> Result<auth::Auth, Error> {
        let verifier = match &self.jwt {
            Some(j) => Some(
                auth::jwt::Verifier::new(j, &self.domain).map_err(|e| config_error("JWT_PUBLIC_KEY", "<key>", e))?,
            ),
            None => None,
        };
        let policy = auth::Policy { mode: self.auth_mode, removal: std::time::Duration::from_secs(self.removal_secs) };
        Ok(auth::Auth { policy, verifier })
    }
}

/// What every connection task needs: settings, the hub's inbox, metrics, id allocation.
pub struct Shared {
    pub config: Config,
    pub hub: mpsc::Sender<HubMsg>,
    pub metrics: Arc<Metrics>,
    /// Sign-in: `AUTH_MODE`, the token verifier.
    pub auth: Arc<auth::Auth>,
    next_conn: AtomicU64,
    /// One permit per open connection (all transports): past `SIGNAL_MAX_CONNECTIONS`, new
    /// connections are closed at once.
    pub connections: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    pub fn next_conn(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    /// A connection slot, or `None` when the server is full.
    pub fn admit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let p = self.connections.clone().try_acquire_owned().ok();
        if p.is_none() {
            tracing::warn!("connection limit reached: refusing a connection");
        }
        p
    }
}

/// Accepts TCP connections until `shutdown`: one task each while a connection slot is free
/// ([`Shared::admit`]), counted in `gauge` while open; then waits for them to end.
pub(crate) async fn serve_connections<F, Fut>(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    what: &'static str,
    gauge: fn(&Metrics) -> &std::sync::atomic::AtomicI64,
    handle: F,
) where
    F: Fn(tokio::net::TcpStream, std::net::SocketAddr, Arc<Shared>, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let tracker = tokio_util::task::TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((sock, peer)) => {
                let Some(permit) = shared.admit() else { continue };
                let conn = handle(sock, peer, shared.clone(), shutdown.clone());
                let shared = shared.clone();
                tracker.spawn(async move {
                    Metrics::gauge(gauge(&shared.metrics), 1);
                    conn.await;
                    // the slot is free before the gauge says so
                    drop(permit);
                    Metrics::gauge(gauge(&shared.metrics), -1);
                });
            }
            Err(e) => {
                tracing::warn!("{what} accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
    tracker.close();
    tracker.wait().await;
}

/// Starts every listener and the hub; returns when `shutdown` fires (or a listener cannot
/// be bound).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    let bus = tokio::net::TcpListener::bind(config.bus_addr).await?;
    let c2s_l = tokio::net::TcpListener::bind(config.c2s_addr).await?;
    let http_l = tokio::net::TcpListener::bind(config.http_addr).await?;
    tracing::info!(domain = %config.domain, c2s = %c2s_l.local_addr()?, http = %http_l.local_addr()?, bus = %bus.local_addr()?, "signal listening");
    let metrics = Arc::new(Metrics::default());
    let (hub_tx, hub_rx) = mpsc::channel(16 * 1024);
    let auth = Arc::new(config.auth()?);
    let accounts = accounts::Accounts::new(&config.data_dir).list()?;
    let token_secret = config.token_secret.as_bytes().to_vec();
    let people = people::People::open(&config.domain, &config.data_dir, &accounts, token_secret.clone())?;
    let hub = Hub::new(&config.domain, token_secret, metrics.clone(), &auth, people);
    let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections));
    let shared = Arc::new(Shared { config, hub: hub_tx, metrics, auth, next_conn: AtomicU64::new(1), connections });
    let hub_task = tokio::spawn(hub.run(hub_rx, shutdown.clone()));
    let bus_task = tokio::spawn(component::serve(bus, shared.clone(), shutdown.clone()));
    let c2s_task = tokio::spawn(c2s::serve(c2s_l, shared.clone(), shutdown.clone()));
    let http_task = tokio::spawn(http::serve(http_l, shared.clone(), shutdown.clone()));
    shutdown.cancelled().await;
    let _ = bus_task.await;
    let _ = c2s_task.await;
    if let Ok(Err(e)) = http_task.await {
        tracing::warn!("http listener: {e}");
    }
    let _ = hub_task.await;
    Ok(())
}
