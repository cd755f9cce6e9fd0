//! The session IQ payload (`<jingle/>` of [`proto::session`]) as a typed value, and the
//! plausibility check focus applies to SDP before passing it on.
//!
//! This module never looks at XML: the driver maps elements to [`Jingle`] and back.

use proto::session::{Action, SdpType, Transport};

/// One `<jingle xmlns="urn:xmpp:jingle:1">` element.
#[derive(Debug, Clone, PartialEq)]
pub struct Jingle {
    pub action: Action,
    pub sid: String,
    pub transport: Option<Transport>,
    pub peer: Option<String>,
    pub initiator: Option<bool>,
    pub reason: Option<String>,
    pub description: Option<Description>,
}

/// `<description xmlns="urn:meet-lan:sdp:0" type="offer|answer">SDP</description>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub kind: SdpType,
    pub sdp: String,
}

impl Jingle {
    pub fn new(action: Action, sid: impl Into<String>) -> Self {
        Jingle {
            action,
            sid: sid.into(),
            transport: None,
            peer: None,
            initiator: None,
            reason: None,
            description: None,
        }
    }

    pub fn with_sdp(mut self, kind: SdpType, sdp: impl Into<String>) -> Self {
        self.description = Some(Description { kind, sdp: sdp.into() });
        self
    }

    /// The SDP of the given kind this element carries, checked for plausibility.
    pub fn sdp(&self, kind: SdpType) -> Result<&str, String> {
        let d = self.description.as_ref().ok_or_else(|| "no <description/> with SDP".to_string())?;
        if d.kind != kind {
            return Err(format!("expected an SDP {}, got an {}", kind.as_str(), d.kind.as_str()));
        }
        check_sdp(&d.sdp)?;
        Ok(&d.sdp)
    }
}

/// Largest SDP focus relays; a real one with simulcast and 50 participants' sources stays
/// well below.
pub const MAX_SDP_BYTES: usize = 256 * 1024;

/// A cheap check that `sdp` is a session description at all, so that garbage is refused at
/// the participant's door instead of being blamed on a bridge. The bridge parses it fully.
pub fn check_sdp(sdp: &str) -> Result<(), String> {
    if sdp.len() > MAX_SDP_BYTES {
        return Err(format!("SDP is larger than {MAX_SDP_BYTES} bytes"));
    }
    let mut lines = sdp.lines().map(str::trim_end).filter(|l| !l.is_empty());
    if lines.next() != Some("v=0") {
        return Err("SDP does not start with v=0".into());
    }
    let mut media = 0;
    for l in lines {
        let b = l.as_bytes();
        if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
            return Err(format!("SDP line is not <type>=<value>: {:?}", truncate(l, 40)));
        }
        if b[0] == b'm' {
            media += 1;
        }
    }
    if media == 0 {
        return Err("SDP has no m= section".into());
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdp_check_refuses_garbage_and_accepts_a_minimal_description() {
        assert!(check_sdp("hello").is_err());
        assert!(check_sdp("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n").is_err(), "no media");
        assert!(check_sdp("v=0\r\nnot sdp\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n").is_err());
        assert!(check_sdp("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n").is_ok());
    }

    #[test]
    fn wrong_description_kind_is_refused() {
        let j = Jingle::new(Action::SessionAccept, "s").with_sdp(SdpType::Answer, "v=0\r\nm=audio 9 RTP/AVP 0\r\n");
        assert!(j.sdp(SdpType::Offer).is_err());
        assert!(j.sdp(SdpType::Answer).is_ok());
    }
}
