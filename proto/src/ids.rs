//! Newtypes for the identifiers that travel between components.
//!
//! Validation happens once, at the edge where a string arrives from the network; past that
//! point an id is known to be safe to use in a JID, a file path component or a log line.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} bytes")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} contains a character that is not allowed: {ch:?}")]
    BadChar { kind: &'static str, ch: char },
}

fn check(kind: &'static str, s: &str, max: usize, ok: impl Fn(char) -> bool) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.len() > max {
        return Err(IdError::TooLong { kind, max });
    }
    if let Some(ch) = s.chars().find(|c| !ok(*c)) {
        return Err(IdError::BadChar { kind, ch });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $kind:literal, $max:expr, $ok:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check($kind, &s, $max, $ok)?;
                Ok(Self(s))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// A room's local name, the `<room>` of `https://<server>/<room>` and of
    /// `<room>@conference.<domain>`. Lowercase letters, digits, `-`, `_`, `.` (not leading),
    /// at most 64 bytes: safe in a JID local part, a URL path segment and a file name.
    RoomName,
    "room name",
    64,
    |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
);

id_type!(
    /// A participant's endpoint id on a bridge; it is the participant's MUC nickname
    /// (a short random string the client picks, not the display name).
    EndpointId,
    "endpoint id",
    64,
    |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_'
);

id_type!(
    /// A conference on a bridge. Focus names it; one room has one conference at a time.
    ConferenceId,
    "conference id",
    128,
    |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || c == '@'
);

impl RoomName {
    /// Rooms are case-insensitive for people (`/Standup` and `/standup` are one room).
    pub fn normalize(s: &str) -> Result<Self, IdError> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with('.') {
            return Err(IdError::BadChar { kind: "room name", ch: '.' });
        }
        Self::new(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_refuse_path_tricks_and_markup() {
        assert!(RoomName::normalize("../etc").is_err());
        assert!(RoomName::normalize(".hidden").is_err());
        assert!(RoomName::normalize("a/b").is_err());
        assert!(RoomName::normalize("<script>").is_err());
        assert!(RoomName::normalize("").is_err());
        assert!(RoomName::normalize(&"x".repeat(65)).is_err());
        assert_eq!(RoomName::normalize("Stand-Up_1").unwrap().as_str(), "stand-up_1");
    }

    #[test]
    fn ids_deserialize_through_validation() {
        let ok: Result<EndpointId, _> = serde_json::from_str("\"abc-1\"");
        assert!(ok.is_ok());
        let bad: Result<EndpointId, _> = serde_json::from_str("\"a b\"");
        assert!(bad.is_err());
    }
}
