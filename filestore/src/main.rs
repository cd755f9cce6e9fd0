//! The filestore binary: tracing, settings from the environment, Ctrl-C/SIGTERM → shutdown.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    proto::service::main("filestore", filestore::Config::from_env, filestore::run).await
}
