//! The `web` binary: tracing, settings from the environment, Ctrl-C/SIGTERM → shutdown.

use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    web::launcher::init_tracing();
    let config = match web::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("web: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    web::launcher::cancel_on_signal(shutdown.clone());
    match web::run(config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
