//! The one error type of the web crate. Errors are for bad settings and failed I/O at
//! start-up; per-request problems become HTTP answers and are never returned from `run`.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] proto::config::ConfigError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("generating the self-signed certificate: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("{0}")]
    Launch(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}
