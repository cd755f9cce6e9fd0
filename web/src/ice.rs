//! The optional STUN/TURN servers pages use (`ICE_SERVERS`, `TURN_USERNAME`,
//! `TURN_CREDENTIAL`), handed to the page in `/config.json`.
//!
//! None by default: on a LAN host candidates reach the bridge and the other page, and nothing
//! may contact the internet. An admin whose participants sit behind NAT (another subnet, a
//! VPN) can name their own STUN or TURN server. Only `stun:`, `turn:` and `turns:` URLs are
//! accepted, so the setting cannot smuggle anything else into the page.

use proto::config::ConfigError;
use serde::Serialize;

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    pub urls: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Parses the comma list `list`; `turn:`/`turns:` entries get the TURN credentials, which
/// they require.
pub fn parse(list: &str, username: Option<String>, credential: Option<String>) -> Result<Vec<IceServer>, ConfigError> {
    let bad = |reason: String| ConfigError { name: "ICE_SERVERS".into(), value: list.into(), reason };
    let mut out = Vec::new();
    for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (scheme, rest) = url.split_once(':').ok_or_else(|| bad(format!("{url:?} has no scheme")))?;
        if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric() || "-._:[]?=&".contains(c)) {
            return Err(bad(format!("{url:?} is not a host[:port][?transport=..]")));
        }
        match scheme {
            "stun" => out.push(IceServer { urls: url.into(), username: None, credential: None }),
            "turn" | "turns" => match (&username, &credential) {
                (Some(u), Some(c)) => {
                    out.push(IceServer { urls: url.into(), username: Some(u.clone()), credential: Some(c.clone()) })
                }
                _ => return Err(bad(format!("{url:?} needs TURN_USERNAME and TURN_CREDENTIAL"))),
            },
            _ => return Err(bad(format!("{url:?}: only stun:, turn: and turns: URLs"))),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_none() {
        assert!(parse("", None, None).unwrap().is_empty());
        assert!(parse(" , ", None, None).unwrap().is_empty());
    }

    #[test]
    fn stun_and_turn_with_credentials() {
        let s =
            parse("stun:10.0.0.1:3478, turn:turn.lan:3478?transport=udp", Some("u".into()), Some("p".into())).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].username, None);
        assert_eq!(s[1].credential.as_deref(), Some("p"));
    }

    #[test]
    fn refuses_other_schemes_markup_and_turn_without_credentials() {
        assert!(parse("http://x", None, None).is_err());
        assert!(parse("stun:</script><script>", None, None).is_err());
        assert!(parse("javascript:alert(1)", None, None).is_err());
        assert!(parse("turn:turn.lan", None, None).is_err());
        assert!(parse("stun:", None, None).is_err());
    }
}
