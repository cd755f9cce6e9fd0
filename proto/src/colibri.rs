//! Colibri's role: what focus and bridges say to each other over the bus.
//!
//! Transport: an XMPP `<iq/>` routed by `signal` between components, with one
//! `<colibri xmlns="urn:meet-lan:colibri:0">` child whose text is the JSON of one of these
//! types. Focus sends [`ColibriRequest`] (IQ `set`, from `focus.<domain>` to the bridge's
//! component JID) and gets [`ColibriResponse`] in the IQ `result`; a refused request comes back
//! as an IQ `error` (`bad-request`, `item-not-found`, `service-unavailable` when draining) with
//! a `<text/>` saying why. The bridge sends [`ColibriEvent`] to `focus.<domain>` as IQ `set`;
//! focus acknowledges with an empty `result`.
//!
//! Sessions carry SDP (see [`crate::session`]): the participant offers its own media, the
//! bridge answers; afterwards only the bridge offers (when the set of sources it forwards to
//! that participant changes), so offers never cross.

use crate::{ConferenceId, EndpointId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ColibriRequest {
    /// Create `endpoint` (and `conference` if new) from the participant's SDP offer.
    /// Answered with [`ColibriResponse::Allocated`]. Re-allocating an existing endpoint
    /// replaces it (an ICE restart or a move from another bridge).
    Allocate {
        conference: ConferenceId,
        endpoint: EndpointId,
        /// Display name, for stats and logs only.
        #[serde(default)]
        display_name: String,
        offer: String,
    },
    /// The participant's SDP answer to a [`ColibriEvent::Offer`].
    Answer { conference: ConferenceId, endpoint: EndpointId, answer: String },
    /// Remove one endpoint; its sources leave every other endpoint's session.
    Expire { conference: ConferenceId, endpoint: EndpointId },
    /// Remove the conference and all its endpoints.
    ExpireConference { conference: ConferenceId },
    /// Stop forwarding an endpoint's audio and/or video (a moderator's force-mute).
    ForceMute { conference: ConferenceId, endpoint: EndpointId, audio: bool, video: bool },
    /// Health check; answered with [`ColibriResponse::Health`].
    Health,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ColibriResponse {
    Allocated { answer: String },
    Done,
    Health { stats: BridgeStats },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum ColibriEvent {
    /// The bridge's new offer for `endpoint`: sources were added or removed. While one offer
    /// is unanswered the bridge gathers further changes into the next one (batching).
    Offer {
        conference: ConferenceId,
        endpoint: EndpointId,
        offer: String,
        #[serde(default)]
        added: Vec<EndpointId>,
        #[serde(default)]
        removed: Vec<EndpointId>,
    },
    /// ICE and DTLS are up for the endpoint.
    EndpointConnected { conference: ConferenceId, endpoint: EndpointId },
    /// The endpoint's transport failed or timed out; the bridge has removed it.
    EndpointFailed { conference: ConferenceId, endpoint: EndpointId, reason: String },
    /// The bridge is shutting down gracefully: focus should move its conferences.
    Draining,
}

/// Load a bridge publishes every 5 s in its presence to `bridges@internal.<domain>`
/// (`<stats xmlns="urn:meet-lan:bridge-stats:0">` JSON `</stats>`), and in health answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgeStats {
    /// 0.0 idle .. 1.0 at capacity (may exceed 1.0 when overloaded).
    pub stress: f64,
    pub conferences: u32,
    pub endpoints: u32,
    pub packet_rate_in: u64,
    pub packet_rate_out: u64,
    pub bitrate_in_kbps: u64,
    pub bitrate_out_kbps: u64,
    /// True once graceful shutdown began: no new conferences.
    pub draining: bool,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_stable() {
        let r = ColibriRequest::Expire {
            conference: ConferenceId::new("room1").unwrap(),
            endpoint: EndpointId::new("ab12").unwrap(),
        };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"op":"expire","conference":"room1","endpoint":"ab12"}"#);
        let bad = r#"{"op":"expire","conference":"room1","endpoint":"a b"}"#;
        assert!(serde_json::from_str::<ColibriRequest>(bad).is_err());
    }
}
