//! Reading settings from the environment, the one way every component is configured
//! (compose passes `.env`, the all-in-one run passes its own defaults).

use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
#[error("setting {name}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub value: String,
    pub reason: String,
}

/// The value of `name`, or `default` when unset or empty.
pub fn env_string(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

/// The value of `name` parsed as `T`, or `default` when unset or empty.
pub fn env_parse<T: FromStr>(name: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => {
            v.parse().map_err(|e: T::Err| ConfigError { name: name.into(), value: v.clone(), reason: e.to_string() })
        }
        _ => Ok(default),
    }
}

/// `XMPP_DOMAIN`, default `meet.lan`.
pub fn xmpp_domain() -> String {
    env_string("XMPP_DOMAIN", "meet.lan")
}

/// `DATA_DIR`, default `./data`.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env_string("DATA_DIR", "./data"))
}

/// The optional secret from env `name` (empty counts as unset).
pub fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `AUTH_MODE` (signal/ROOMS.md, section 1): who may open rooms. signal enforces it; web
/// tells the page, which then offers sign-in or expects a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Open,
    Accounts,
    Token,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Open => "open",
            AuthMode::Accounts => "accounts",
            AuthMode::Token => "token",
        }
    }
}

impl std::str::FromStr for AuthMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(AuthMode::Open),
            "accounts" => Ok(AuthMode::Accounts),
            "token" => Ok(AuthMode::Token),
            _ => Err("expected open, accounts or token".into()),
        }
    }
}
