//! The one error type of the focus crate. Errors are for bad configuration or a bus that
//! cannot be reached at start; nothing a peer sends ever becomes an `Error`.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] proto::config::ConfigError),
    #[error("{0}")]
    BadSetting(String),
    #[error("secret: {0}")]
    Secret(std::io::Error),
    #[error("HTTP listener on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
}
