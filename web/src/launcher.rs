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

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down");
        token.cancel();
    });
}

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
/// into `DATA_DIR` (or taken from env), so every component reads the same values.
pub fn prepare_all_in_one_env() -> Result<(), Error> {
    default_env("DATA_DIR", "./data");
    // Components find each other from their listen addresses: a test or an admin that moves
    // one listener moves its clients with it.
    let signal_http = proto::config::env_string("SIGNAL_HTTP_ADDR", "127.0.0.1:5280");
    let signal_bus = proto::config::env_string("SIGNAL_BUS_ADDR", "127.0.0.1:5347");
    let filestore = proto::config::env_string("FILESTORE_ADDR", "127.0.0.1:8090");
    default_env("SIGNAL_HTTP_URL", &format!("http://{}", connectable(&signal_http)));
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

/// One component of the all-in-one run: its name and its `run` future.
pub struct Component {
    pub name: &'static str,
    pub run: ComponentFuture,
}

impl Component {
    pub fn new<F, E>(name: &'static str, fut: F) -> Component
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        Component { name, run: Box::pin(async move { fut.await.map_err(|e| e.to_string()) }) }
    }
}

/// Runs every component until `shutdown`; if one of them stops on its own (an error, a
/// port in use), all others are stopped too and its error is returned.
pub async fn run_components(components: Vec<Component>, shutdown: CancellationToken) -> Result<(), Error> {
    let mut set = tokio::task::JoinSet::new();
    for c in components {
        let name = c.name;
        let fut = c.run;
        set.spawn(async move { (name, fut.await) });
    }
    let mut first_error: Option<String> = None;
    while let Some(joined) = set.join_next().await {
        let (name, result) = match joined {
            Ok(x) => x,
            Err(e) => ("?", Err(format!("task failed: {e}"))),
        };
        match result {
            Ok(()) if shutdown.is_cancelled() => tracing::info!(component = name, "stopped"),
            Ok(()) => {
                first_error.get_or_insert(format!("{name} stopped unexpectedly"));
                shutdown.cancel();
            }
            Err(e) => {
                tracing::error!(component = name, error = %e, "component failed");
                first_error.get_or_insert(format!("{name}: {e}"));
                shutdown.cancel();
            }
        }
    }
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
