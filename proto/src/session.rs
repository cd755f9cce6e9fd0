//! Session signalling between focus and a participant, and between two participants in
//! P2P: Jingle's action names, SDP as the payload.
//!
//! All of it is IQ `set` routed by signal's MUC between `<room>@conference.<domain>/focus`
//! and the occupant (or occupant to occupant for P2P), with one child
//! `<jingle xmlns="urn:xmpp:jingle:1" action="…" sid="…" [transport="bridge|p2p"]
//! [peer="<nick>"] [initiator="true|false"] [reason="…"]>` which may hold
//! `<description xmlns="urn:meet-lan:sdp:0" type="offer|answer">SDP text</description>`.
//!
//! Compressed SDP: the description may instead be
//! `<description xmlns="urn:meet-lan:sdp:0" type="offer|answer" encoding="deflate">base64 of
//! raw DEFLATE (RFC 1951) of the SDP</description>` ([`crate::sdp_encoding`]). Every receiver
//! accepts both forms; an unknown `encoding`, bad base64/DEFLATE, or SDP expanding beyond
//! [`crate::sdp_encoding::MAX_SDP_BYTES`] is a `bad-request`. Focus always sends its offers
//! to participants compressed, and pages always send their offers and answers to focus
//! compressed: a bridge session carries one media section per remote source (about 1.2 KB
//! each, two per remote participant), so plain SDP passes signal's 64 KiB client stanza
//! limit at about 26 participants; compressed it is ~8× smaller. Between two pages (P2P)
//! either form may be used. The bus legs (focus ↔ bridge, Colibri JSON) carry plain SDP.
//!
//! Bridge mode (three or more participants):
//! 1. focus → participant `session-initiate transport="bridge"`; result is empty.
//! 2. participant → focus `session-accept` with its **offer** (its own audio, simulcast
//!    video, and the data channel). Focus allocates on a bridge and puts the bridge's
//!    **answer** in the IQ result (a `<jingle action="session-accept">` with the description).
//!    The participant may repeat step 2 on its current session (same sid) with a new offer
//!    for an ICE restart (`iceRestart: true`, e.g. after its ICE failed): focus re-allocates
//!    it on the same bridge, which replaces the endpoint, and answers as above.
//! 3. When the forwarded sources change, focus → participant `source-add` or
//!    `source-remove` with the bridge's **offer**; the IQ result carries the participant's
//!    **answer**. Only the bridge offers after step 2: screen sharing replaces the camera
//!    track on the same sender, so the participant never re-offers.
//! 4. focus → participant `session-terminate reason="moving|p2p|ended"`. After `moving` a new
//!    `session-initiate` follows (another bridge); the page keeps running.
//!
//! P2P mode (exactly two participants; focus decides):
//! 1. focus → both `session-initiate transport="p2p" peer="<other nick>"`, with
//!    `initiator="true"` for exactly one of them.
//! 2. The initiator sends `session-initiate transport="p2p"` with its offer to
//!    `<room>@conference.<domain>/<peer>`; the peer's IQ result carries its answer
//!    (non-trickle: candidates are in the SDP, gathered first; host candidates on a LAN).
//! 3. When a third participant joins, focus sends `session-initiate transport="bridge"`;
//!    the participant keeps the P2P media until the bridge's media flows, then closes it.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SessionInitiate,
    SessionAccept,
    SourceAdd,
    SourceRemove,
    SessionTerminate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SessionInitiate => "session-initiate",
            Action::SessionAccept => "session-accept",
            Action::SourceAdd => "source-add",
            Action::SourceRemove => "source-remove",
            Action::SessionTerminate => "session-terminate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

impl FromStr for Action {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        Ok(match s {
            "session-initiate" => Action::SessionInitiate,
            "session-accept" => Action::SessionAccept,
            "source-add" => Action::SourceAdd,
            "source-remove" => Action::SourceRemove,
            "session-terminate" => Action::SessionTerminate,
            _ => return Err(UnknownValue { kind: "jingle action", value: s.into() }),
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Bridge,
    P2p,
}

impl FromStr for Transport {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "bridge" => Ok(Transport::Bridge),
            "p2p" => Ok(Transport::P2p),
            _ => Err(UnknownValue { kind: "transport", value: s.into() }),
        }
    }
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Bridge => "bridge",
            Transport::P2p => "p2p",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpType {
    Offer,
    Answer,
}

impl FromStr for SdpType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, UnknownValue> {
        match s {
            "offer" => Ok(SdpType::Offer),
            "answer" => Ok(SdpType::Answer),
            _ => Err(UnknownValue { kind: "sdp type", value: s.into() }),
        }
    }
}

impl SdpType {
    pub fn as_str(self) -> &'static str {
        match self {
            SdpType::Offer => "offer",
            SdpType::Answer => "answer",
        }
    }
}

/// Why a session ends, in `session-terminate reason="…"`.
pub mod reason {
    /// Moving to another bridge (failover or drain); a new `session-initiate` follows.
    pub const MOVING: &str = "moving";
    /// The room dropped to two: P2P takes over.
    pub const P2P: &str = "p2p";
    /// The conference is over.
    pub const ENDED: &str = "ended";
    /// Focus gave up on this session (the participant did not answer in time, or its
    /// answers were unusable; for a P2P session: one of the two did not acknowledge it).
    /// No new session follows until the participant joins the room again.
    pub const FAILED: &str = "failed";
}

/// A media stream's `msid` stream id on the bridge is the sending endpoint's id, so a page
/// maps a received track to the participant that sent it; source names follow Jitsi's
/// `<endpoint>-a0` / `<endpoint>-v0`.
pub fn source_name(endpoint: &crate::EndpointId, video: bool) -> String {
    format!("{}-{}0", endpoint, if video { 'v' } else { 'a' })
}
