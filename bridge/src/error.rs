//! The bridge's one error type. Errors describe bad input or an unavailable resource; a bug
//! in the bridge is a panic, never an `Error`. Nothing here may carry secrets.

/// Everything that can go wrong in the bridge, from a refused Colibri request to a socket
/// that cannot be bound.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request whose content is wrong (unparsable SDP, an answer without an offer…).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A request naming a conference or endpoint the bridge does not have.
    #[error("not found: {0}")]
    NotFound(String),
    /// The bridge is draining and takes no new conferences.
    #[error("the bridge is shutting down and takes no new conferences")]
    Draining,
    #[error("configuration: {0}")]
    Config(#[from] proto::config::ConfigError),
    #[error("configuration: {0}")]
    BadSetting(String),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A media thread (or the UDP reader) stopped: the bridge is unhealthy.
    #[error("{0}")]
    MediaThread(String),
    /// The bus connection failed or was refused.
    #[error("bus: {0}")]
    Bus(String),
}

impl Error {
    /// The XMPP error condition a Colibri IQ error carries for this error
    /// (see `proto::colibri`).
    pub fn condition(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad-request",
            Error::NotFound(_) => "item-not-found",
            Error::Draining => "service-unavailable",
            _ => "internal-server-error",
        }
    }
}
