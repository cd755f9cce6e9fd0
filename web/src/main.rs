//! The `web` binary: tracing, settings from the environment, Ctrl-C/SIGTERM → shutdown.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    proto::service::main("web", web::Config::from_env, web::run).await
}
