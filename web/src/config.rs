//! Settings of the web component, read once from the environment (see the README table).
//! Nothing here opens a socket or a file.

use crate::Error;
use proto::config::{env_parse, env_string, ConfigError};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Largest WebSocket frame or message the proxies accept from a browser or an upstream.
/// XMPP stanzas with SDP stay well below this; anything larger is refused with close 1009.
pub const DEFAULT_MAX_WS_FRAME: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub https_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// `host:port` of signal's HTTP listener (from `SIGNAL_HTTP_URL`, which must be `http://`).
    pub signal_authority: String,
    /// `host:port` of filestore (from `FILESTORE_URL`).
    pub filestore_authority: String,
    /// Own certificate and key (PEM) from `TLS_CERT`/`TLS_KEY`; when absent a self-signed
    /// one is generated into `DATA_DIR/tls`.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// The addresses (`ADVERTISE_IPS`) and names (`PUBLIC_HOSTNAMES`) people open the page at.
    /// When either is given the generated certificate names exactly these (plus `localhost`
    /// and loopback), so it does not follow the container's own hostname and address.
    pub public_names: Vec<String>,
    pub data_dir: PathBuf,
    pub domain: String,
    pub max_ws_frame: usize,
    /// STUN/TURN servers for the page (`ICE_SERVERS`); empty by default.
    pub ice_servers: Vec<crate::ice::IceServer>,
    /// Who may show the pages in a frame: the CSP `frame-ancestors` sources
    /// (`WEB_FRAME_ANCESTORS`, default `'none'`).
    pub frame_ancestors: String,
    /// Who may open rooms (`AUTH_MODE`, enforced by signal; the page only adapts to it).
    pub auth_mode: proto::config::AuthMode,
}

impl Config {
    pub fn from_env() -> Result<Config, Error> {
        let signal = env_string("SIGNAL_HTTP_URL", "http://127.0.0.1:5280");
        let filestore = env_string("FILESTORE_URL", "http://127.0.0.1:8090");
        let cert = std::env::var("TLS_CERT").ok().filter(|v| !v.is_empty());
        let key = std::env::var("TLS_KEY").ok().filter(|v| !v.is_empty());
        let tls_files = match (cert, key) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (None, None) => None,
            (c, _) => {
                return Err(ConfigError {
                    name: if c.is_some() { "TLS_KEY".into() } else { "TLS_CERT".into() },
                    value: String::new(),
                    reason: "TLS_CERT and TLS_KEY must be given together".into(),
                }
                .into())
            }
        };
        Ok(Config {
            https_addr: env_parse("WEB_HTTPS_ADDR", SocketAddr::from(([0, 0, 0, 0], 8443)))?,
            http_addr: env_parse("WEB_HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8000)))?,
            signal_authority: http_authority("SIGNAL_HTTP_URL", &signal)?,
            filestore_authority: http_authority("FILESTORE_URL", &filestore)?,
            tls_files,
            public_names: public_names(&env_string("ADVERTISE_IPS", ""), &env_string("PUBLIC_HOSTNAMES", ""))?,
            data_dir: proto::config::data_dir(),
            domain: proto::config::xmpp_domain(),
            max_ws_frame: env_parse("WEB_MAX_WS_FRAME", DEFAULT_MAX_WS_FRAME)?,
            ice_servers: crate::ice::parse(
                &env_string("ICE_SERVERS", ""),
                proto::config::env_secret("TURN_USERNAME"),
                proto::config::env_secret("TURN_CREDENTIAL"),
            )?,
            frame_ancestors: frame_ancestors(&env_string("WEB_FRAME_ANCESTORS", "none"))?,
            auth_mode: env_parse("AUTH_MODE", proto::config::AuthMode::Open)?,
        })
    }
}

/// Checks a `frame-ancestors` source list: `'none'` alone, or `'self'`, schemes (`https:`)
/// and origins (`https://intranet.example`, `https://*.example:8443`), separated by spaces.
/// Nothing that could end the directive or add another (`;`, `,`, quotes, controls).
pub fn frame_ancestors(value: &str) -> Result<String, ConfigError> {
    let bad =
        |reason: &str| ConfigError { name: "WEB_FRAME_ANCESTORS".into(), value: value.into(), reason: reason.into() };
    // `none`/`self` may come without their quotes (env files and shells strip them).
    let sources: Vec<&str> = value
        .split_ascii_whitespace()
        .map(|s| match s {
            "none" => "'none'",
            "self" => "'self'",
            s => s,
        })
        .collect();
    if sources.is_empty() {
        return Err(bad("empty: use 'none' to forbid framing"));
    }
    if sources.contains(&"'none'") && sources.len() > 1 {
        return Err(bad("'none' cannot be combined with other sources"));
    }
    for s in &sources {
        let plain = s.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:/*_".contains(&b));
        if !(matches!(*s, "'none'" | "'self'") || plain && !s.starts_with(':')) {
            return Err(bad("each source must be 'none', 'self', a scheme (https:) or an origin"));
        }
    }
    Ok(sources.join(" "))
}

/// `http://host:port[/]` → `host:port`. Upstreams are on loopback or a private network, so
/// only plain `http` is accepted, and a path would be ambiguous, so none is.
pub fn http_authority(name: &str, url: &str) -> Result<String, ConfigError> {
    let bad = |reason: &str| ConfigError { name: name.into(), value: url.into(), reason: reason.into() };
    let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("must start with http://"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("must not have a path or query"));
    }
    let auth = uri.authority().ok_or_else(|| bad("has no host"))?;
    let port = auth.port_u16().unwrap_or(80);
    Ok(format!("{}:{}", auth.host(), port))
}

/// `ADVERTISE_IPS` (IP addresses) and `PUBLIC_HOSTNAMES` (DNS names), both comma lists, as
/// the lower-case names a certificate carries; duplicates dropped, order kept.
pub fn public_names(advertise_ips: &str, hostnames: &str) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for ip in advertise_ips.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || ConfigError { name: "ADVERTISE_IPS".into(), value: ip.into(), reason: "not an IP address".into() };
        out.push(ip.parse::<IpAddr>().map_err(|_| bad())?.to_string());
    }
    for name in hostnames.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !is_dns_name(name) {
            return Err(ConfigError {
                name: "PUBLIC_HOSTNAMES".into(),
                value: name.into(),
                reason: "not a host name (letters, digits, '-' and '.', labels of 1 to 63)".into(),
            });
        }
        out.push(name.to_ascii_lowercase());
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|n| seen.insert(n.clone()));
    Ok(out)
}

/// A host name a certificate can carry as a DNS SAN (RFC 1123 labels, no wildcard).
fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_names_take_addresses_and_host_names_and_refuse_anything_else() {
        assert_eq!(
            public_names("192.168.1.20, fd00::1", "Meet-Box,meet-box.local,meet-box").unwrap(),
            ["192.168.1.20", "fd00::1", "meet-box", "meet-box.local"]
        );
        assert!(public_names("", "").unwrap().is_empty());
        assert_eq!(public_names("192.168.1.300", "").unwrap_err().name, "ADVERTISE_IPS");
        for bad in ["-box", "a..b", "white space", "*.example", "host_name", "x/y"] {
            assert_eq!(public_names("", bad).unwrap_err().name, "PUBLIC_HOSTNAMES", "{bad}");
        }
    }

    #[test]
    fn frame_ancestors_are_sources_only() {
        assert_eq!(frame_ancestors("'none'").unwrap(), "'none'");
        assert_eq!(frame_ancestors("none").unwrap(), "'none'");
        assert_eq!(frame_ancestors("self https://a.example").unwrap(), "'self' https://a.example");
        assert_eq!(
            frame_ancestors(" 'self'  https://intranet.example https://*.corp.example:8443 ").unwrap(),
            "'self' https://intranet.example https://*.corp.example:8443"
        );
        for bad in ["", "'none' 'self'", "https://a; script-src *", "'unsafe-inline'", "https://a,b", "\"x\""] {
            assert!(frame_ancestors(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upstream_urls_must_be_plain_http_without_path() {
        assert_eq!(http_authority("X", "http://127.0.0.1:5280").unwrap(), "127.0.0.1:5280");
        assert_eq!(http_authority("X", "http://signal/").unwrap(), "signal:80");
        assert!(http_authority("X", "https://127.0.0.1:5280").is_err());
        assert!(http_authority("X", "http://127.0.0.1:5280/x").is_err());
        assert!(http_authority("X", "nonsense").is_err());
    }
}
