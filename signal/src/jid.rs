//! JIDs (`local@domain/resource`) as signal sees them: parsed once where a stanza's `to` or
//! `from` arrives, compared in canonical form (local part and domain lowercased).
//!
//! This is deliberately simpler than full PRECIS: signal only ever creates ASCII local parts
//! and domains, and refuses JIDs with empty parts, spaces or control characters. It must never
//! accept a JID longer than [`MAX_JID_PART`] bytes per part.

use std::fmt;

/// RFC 7622: each part is at most 1023 bytes.
pub const MAX_JID_PART: usize = 1023;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Jid {
    local: Option<String>,
    domain: String,
    resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid JID {0:?}")]
pub struct JidError(pub String);

impl Jid {
    pub fn parse(s: &str) -> Result<Jid, JidError> {
        let err = || JidError(s.chars().take(80).collect());
        let (bare, resource) = match s.split_once('/') {
            Some((b, r)) => (b, Some(r)),
            None => (s, None),
        };
        let (local, domain) = match bare.split_once('@') {
            Some((l, d)) => (Some(l), d),
            None => (None, bare),
        };
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let part_ok = |p: &str| !p.is_empty() && p.len() <= MAX_JID_PART && !p.chars().any(|c| c.is_control());
        if !part_ok(domain) || domain.chars().any(|c| c.is_whitespace() || "@/\"&'<>:".contains(c)) {
            return Err(err());
        }
        if let Some(l) = local {
            if !part_ok(l) || l.chars().any(|c| c.is_whitespace() || "\"&'/:<>@".contains(c)) {
                return Err(err());
            }
        }
        if let Some(r) = resource {
            if !part_ok(r) {
                return Err(err());
            }
        }
        Ok(Jid {
            local: local.map(|l| l.to_lowercase()),
            domain: domain.to_ascii_lowercase(),
            resource: resource.map(str::to_string),
        })
    }

    pub fn domain_only(domain: &str) -> Jid {
        Jid { local: None, domain: domain.to_ascii_lowercase(), resource: None }
    }

    pub fn new(local: Option<&str>, domain: &str, resource: Option<&str>) -> Jid {
        Jid {
            local: local.map(|l| l.to_lowercase()),
            domain: domain.to_ascii_lowercase(),
            resource: resource.map(str::to_string),
        }
    }

    pub fn local(&self) -> Option<&str> {
        self.local.as_deref()
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    pub fn bare(&self) -> Jid {
        Jid { local: self.local.clone(), domain: self.domain.clone(), resource: None }
    }

    pub fn with_resource(&self, resource: &str) -> Jid {
        Jid { local: self.local.clone(), domain: self.domain.clone(), resource: Some(resource.to_string()) }
    }

    /// True when this JID's domain is `domain` or one of its subdomains.
    pub fn is_within(&self, domain: &str) -> bool {
        domain_within(&self.domain, domain)
    }
}

/// True when `d` is `parent` or a subdomain of it.
pub fn domain_within(d: &str, parent: &str) -> bool {
    d == parent || (d.len() > parent.len() && d.ends_with(parent) && d.as_bytes()[d.len() - parent.len() - 1] == b'.')
}

impl fmt::Display for Jid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.local {
            write!(f, "{l}@")?;
        }
        f.write_str(&self.domain)?;
        if let Some(r) = &self.resource {
            write!(f, "/{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let j = Jid::parse("Room@Conference.Meet.Lan/Nick One").unwrap();
        assert_eq!(j.local(), Some("room"));
        assert_eq!(j.domain(), "conference.meet.lan");
        assert_eq!(j.resource(), Some("Nick One"));
        assert_eq!(j.to_string(), "room@conference.meet.lan/Nick One");
        assert!(Jid::parse("").is_err());
        assert!(Jid::parse("@x").is_err());
        assert!(Jid::parse("a@").is_err());
        assert!(Jid::parse("a@b/").is_err());
        assert!(Jid::parse("a b@c").is_err());
        assert!(j.is_within("meet.lan"));
        assert!(!Jid::parse("evilmeet.lan").unwrap().is_within("meet.lan"));
    }
}
