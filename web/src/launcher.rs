//! Process plumbing shared by the `web` and `meet` binaries: tracing set-up, signal
//! handling, and the all-in-one run that starts every component in one process with one
//! shutdown token.
//!
//! The launcher only wires components together; it never reaches into their state. Every
//! component reads its own settings from the environment, which `meet` fills with defaults
//! before any of them starts.

use crate::Error;
use std::future::Future;
use std::pin::Pin;
use tokio_util::sync::CancellationToken;

pub use proto::service::{cancel_on_signal, init_tracing};

/// Sets `name` to `value` unless the environment already has a non-empty value.
///
/// Must run before the tokio runtime starts threads (the process is single-threaded then).
pub fn default_env(name: &str, value: &str) {
    if std::env::var(name).map(|v| v.is_empty()).unwrap_or(true) {
        // SAFETY-free in edition 2021; called from `main` before any thread exists.
        std::env::set_var(name, value);
    }
}

/// Fills the environment for the all-in-one run: the shared secrets are generated once
/// into `DATA_DIR` (or taken from env), so every component reads the same values (the bus
/// secret is signal's, focus's, the bridges' and filestore's archive's; the token key
/// signal's and filestore's).
pub fn prepare_all_in_one_env() -> Result<(), Error> {
    default_env("DATA_DIR", "./data");
    // Components find each other from their listen addresses: a test or an admin that moves
    // one listener moves its clients with it.
    let signal_http = proto::config::env_string("SIGNAL_HTTP_ADDR", "127.0.0.1:5280");
    let signal_bus = proto::config::env_string("SIGNAL_BUS_ADDR", "127.0.0.1:5347");
    let filestore = proto::config::env_string("FILESTORE_ADDR", "127.0.0.1:8090");
    default_env("SIGNAL_HTTP_URL", &format!("http://{}", connectable(&signal_http)));
    // The bus: focus, bridges and filestore's archive (`archive.<domain>`) connect to it.
    default_env("BUS_ADDR", &connectable(&signal_bus));
    default_env("FILESTORE_URL", &format!("http://{}", connectable(&filestore)));
    let data_dir = proto::config::data_dir();
    for (env, file) in [("BUS_SECRET", "bus_secret"), ("TOKEN_SECRET", "token_secret")] {
        let v = proto::secrets::load_or_generate(&data_dir, file, proto::config::env_secret(env))
            .map_err(|e| Error::io(format!("secret {file} in {}", data_dir.display()), e))?;
        std::env::set_var(env, v);
    }
    Ok(())
}

/// A listen address as a client connects to it (`0.0.0.0:p` → `127.0.0.1:p`).
fn connectable(listen: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        _ => listen.to_string(),
    }
}

type ComponentFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// One component of the all-in-one run: its name, its shutdown stage and its `run` future.
pub struct Component {
    pub name: &'static str,
    pub stage: usize,
    pub run: ComponentFuture,
}

impl Component {
    /// `stage` indexes the stop tokens given to [`run_components`]; `fut` must stop when the
    /// token of its stage is cancelled.
    pub fn new<F, E>(name: &'static str, stage: usize, fut: F) -> Component
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        Component { name, stage, run: Box::pin(async move { fut.await.map_err(|e| e.to_string()) }) }
    }
}

/// How long one shutdown stage may take before the next is stopped anyway.
const STAGE_GRACE: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs every component until `shutdown` (or until one of them stops on its own: an error,
/// a port in use). Then stops them stage by stage, in the order of `stages` (the entry point
/// first, the signalling server that everyone talks through last), so nobody logs the loss
/// of a peer that is merely shutting down. Returns the first component error.
pub async fn run_components(
    components: Vec<Component>,
    stages: Vec<CancellationToken>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut set = tokio::task::JoinSet::new();
    let mut left = vec![0usize; stages.len()];
    for c in components {
        let (name, stage, fut) = (c.name, c.stage.min(stages.len().saturating_sub(1)), c.run);
        left[stage] += 1;
        set.spawn(async move { (name, stage, fut.await) });
    }
    let mut first_error: Option<String> = None;
    let record = |name: &str, result: Result<(), String>, stopping: bool, first_error: &mut Option<String>| match result
    {
        Ok(()) if stopping => tracing::info!(component = name, "stopped"),
        Ok(()) => {
            first_error.get_or_insert(format!("{name} stopped unexpectedly"));
        }
        Err(e) => {
            tracing::error!(component = name, error = %e, "component failed");
            first_error.get_or_insert(format!("{name}: {e}"));
        }
    };
    // Running: until Ctrl-C or the first component that ends.
    tokio::select! {
        _ = shutdown.cancelled() => {}
        joined = set.join_next() => {
            if let Some(joined) = joined {
                let (name, stage, result) = joined.unwrap_or_else(|e| ("?", 0, Err(format!("task failed: {e}"))));
                left[stage] = left[stage].saturating_sub(1);
                record(name, result, false, &mut first_error);
            }
            shutdown.cancel();
        }
    }
    // Stopping, stage by stage.
    for (i, token) in stages.iter().enumerate() {
        token.cancel();
        let deadline = tokio::time::Instant::now() + STAGE_GRACE;
        while left[i] > 0 {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(Some(joined)) => {
                    let (name, stage, result) = joined.unwrap_or_else(|e| ("?", i, Err(format!("task failed: {e}"))));
                    left[stage] = left[stage].saturating_sub(1);
                    record(name, result, true, &mut first_error);
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(stage = i, "components of this stage did not stop in time");
                    break;
                }
            }
        }
    }
    for t in &stages {
        t.cancel();
    }
    set.abort_all();
    match first_error {
        Some(e) => Err(Error::Launch(e)),
        None => Ok(()),
    }
}

/// The URLs at which other machines of the LAN reach the page.
pub fn public_urls(https: std::net::SocketAddr) -> Vec<String> {
    let port = https.port();
    if !https.ip().is_unspecified() {
        return vec![fmt_url(https.ip(), port)];
    }
    let mut urls: Vec<String> = crate::tls::lan_addresses(false)
        .into_iter()
        .filter(|ip| https.is_ipv6() || ip.is_ipv4())
        .map(|ip| fmt_url(ip, port))
        .collect();
    if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            urls.push(format!("https://{h}:{port}/"));
        }
    }
    urls.push(format!("https://localhost:{port}/"));
    urls
}

fn fmt_url(ip: std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("https://[{v6}]:{port}/"),
        v4 => format!("https://{v4}:{port}/"),
    }
}
