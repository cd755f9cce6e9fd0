//! The plumbing every service binary shares: tracing to stderr (filter from `RUST_LOG`,
//! default `info`), Ctrl-C/SIGTERM → a cancelled shutdown token, and exit codes (2: bad
//! settings, 1: the service failed). A binary's `main` is one call to [`main`].

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use tokio_util::sync::CancellationToken;

/// Tracing to stderr; `RUST_LOG` filters (default `info`); colours only on a terminal (not
/// in `docker compose logs` or a file). A second call changes nothing.
pub fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Cancels `token` on Ctrl-C or SIGTERM. Must be called inside a tokio runtime.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM ({e}); stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        tracing::info!("shutting down");
        token.cancel();
    });
}

/// A service's whole `main`: tracing, its settings from the environment (`config`), a
/// shutdown token cancelled by Ctrl-C/SIGTERM, then `run` until it returns.
pub async fn main<C, E, R, F>(
    name: &str,
    config: impl FnOnce() -> Result<C, E>,
    run: impl FnOnce(C, CancellationToken) -> F,
) -> ExitCode
where
    E: Display,
    R: Display,
    F: Future<Output = Result<(), R>>,
{
    init_tracing();
    let config = match config() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("{name} cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    tracing::info!("{name} {} starting", env!("CARGO_PKG_VERSION"));
    let shutdown = CancellationToken::new();
    cancel_on_signal(shutdown.clone());
    match run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{name} stopped: {e}");
            ExitCode::FAILURE
        }
    }
}
