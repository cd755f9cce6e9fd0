//! Ids that filestore hands out. They are generated here (128 random bits, hex), so a path
//! segment that claims to be one is checked before it reaches the database or a file name.

use crate::Error;
use std::fmt;

macro_rules! hex_id {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> Result<Self, Error> {
                Ok(Self(proto::secrets::random_hex(16)?))
            }
            /// Accepts only what `generate` produces: 32 lowercase hex digits.
            pub fn parse(s: &str) -> Result<Self, Error> {
                if s.len() == 32 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(Error::NotFound(format!("no such {}", $what)))
                }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_id!(
    /// A tus upload; once complete, the same id names the stored file (`/files/<id>`).
    FileId,
    "file"
);
hex_id!(
    /// A relayed peer-to-peer transfer (`/files/relay/<id>`).
    RelayId,
    "relay"
);

/// A chat message, numbered by the database in order of arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct MessageId(pub i64);

/// A 64-hex-digit SHA-256, the name of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Hex(pub String);
