//! The `focus` binary: tracing, configuration from the environment, Ctrl-C/SIGTERM → stop.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    proto::service::main("focus", focus::Config::from_env, focus::run).await
}
