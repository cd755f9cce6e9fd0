//! People's bare JIDs (`local@domain`) as the archive keys everything by: parsed once where a
//! stanza arrives, compared in canonical form (local part lowercased, domain ASCII-lowercased,
//! as signal does). A JID without a local part (a server or component) is never a person.

use std::fmt;

/// RFC 7622: each part is at most 1023 bytes.
const MAX_PART: usize = 1023;

/// The bare JID of a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BareJid(String);

impl BareJid {
    /// The bare JID of `s` (a full or bare JID); `None` when it has no local part or is not a
    /// JID signal would have let through.
    pub fn of(s: &str) -> Option<BareJid> {
        let bare = s.split_once('/').map_or(s, |(b, _)| b);
        let (local, domain) = bare.split_once('@')?;
        let domain = domain.strip_suffix('.').unwrap_or(domain);
        let ok = |p: &str, bad: &str| {
            !p.is_empty()
                && p.len() <= MAX_PART
                && !p.chars().any(|c| c.is_control() || c.is_whitespace() || bad.contains(c))
        };
        if !ok(local, "\"&'/:<>@") || !ok(domain, "\"&'/:<>@") {
            return None;
        }
        Some(BareJid(format!("{}@{}", local.to_lowercase(), domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local(&self) -> &str {
        self.0.split_once('@').map_or("", |(l, _)| l)
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for BareJid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key of the conversation between `a` and `b`: both bare JIDs, sorted, joined by a
/// space (no JID contains one), so either side finds the same conversation.
pub fn conversation(a: &BareJid, b: &BareJid) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    format!("{x} {y}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_of_full_and_bare_lowercased() {
        assert_eq!(BareJid::of("Alice@Guest.Meet.Lan/Res One").unwrap().as_str(), "alice@guest.meet.lan");
        assert_eq!(BareJid::of("bob@auth.meet.lan").unwrap().as_str(), "bob@auth.meet.lan");
        let b = BareJid::of("bob@auth.meet.lan").unwrap();
        assert_eq!((b.local(), b.domain()), ("bob", "auth.meet.lan"));
    }

    #[test]
    fn servers_components_and_junk_are_not_people() {
        for s in ["meet.lan", "archive.meet.lan", "@meet.lan", "a@", "a b@meet.lan", "a@b@c", "a<x@meet.lan", ""] {
            assert!(BareJid::of(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn a_conversation_is_the_same_from_both_sides() {
        let (a, b) = (BareJid::of("a@x").unwrap(), BareJid::of("b@x").unwrap());
        assert_eq!(conversation(&a, &b), conversation(&b, &a));
        assert_eq!(conversation(&a, &b), "a@x b@x");
    }
}
