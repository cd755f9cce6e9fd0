//! The `bridge` binary: tracing, settings from the environment, Ctrl-C/SIGTERM → graceful
//! drain, then [`bridge::run`]. Nothing else belongs here.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    proto::service::main("bridge", bridge::Config::from_env, bridge::run).await
}
