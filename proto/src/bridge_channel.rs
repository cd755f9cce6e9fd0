//! The bridge channel: JSON messages on the SCTP data channel between a participant's page
//! and the bridge, tagged by `colibriClass` as in Jitsi's protocol so the names are familiar.
//!
//! Source names are `<endpoint>-v0` (video) and `<endpoint>-a0` (audio), see
//! [`crate::session::source_name`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The label of the data channel the page opens before its first offer.
pub const LABEL: &str = "bridge-channel";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "colibriClass")]
pub enum BridgeChannelMessage {
    /// Bridge → page when the channel opens.
    ServerHello {
        #[serde(default)]
        version: String,
    },
    /// Page → bridge → page(s): an application message relayed as is. `to` empty = everyone
    /// else in the conference. The bridge sets `from`, whatever the sender wrote.
    EndpointMessage {
        #[serde(default)]
        from: String,
        #[serde(default)]
        to: String,
        #[serde(rename = "msgPayload")]
        msg_payload: serde_json::Value,
    },
    /// Page → bridge: what this receiver wants.
    ReceiverVideoConstraints(ReceiverVideoConstraints),
    /// Bridge → page: the endpoints whose video is now forwarded to it (last-N).
    LastNEndpointsChangeEvent {
        #[serde(rename = "lastNEndpoints")]
        last_n_endpoints: Vec<String>,
    },
    /// Bridge → every page.
    DominantSpeakerEndpointChangeEvent {
        #[serde(rename = "dominantSpeakerEndpoint")]
        dominant_speaker_endpoint: String,
        #[serde(rename = "previousSpeakers", default)]
        previous_speakers: Vec<String>,
    },
    /// Page → bridge → other pages: connection quality figures (opaque to the bridge).
    EndpointStats {
        #[serde(default)]
        from: String,
        #[serde(flatten)]
        stats: BTreeMap<String, serde_json::Value>,
    },
    /// Bridge → page: source names currently forwarded to it.
    ForwardedSources {
        #[serde(rename = "forwardedSources")]
        forwarded_sources: Vec<String>,
    },
    /// Bridge → sender page: the largest height anyone receives of its video, so it can stop
    /// encoding layers nobody watches.
    SenderSourceConstraints {
        #[serde(rename = "sourceName")]
        source_name: String,
        #[serde(rename = "maxHeight")]
        max_height: i32,
    },
    /// Bridge → receiver page: which source each of its receiving m-lines carries now. The
    /// bridge offers a receiver a pool of m-lines ("slots") per media kind, as many as it
    /// forwards at once (last-N video, routed audio), not one per participant, and moves a
    /// slot from one source to another as the selection changes. The list is complete: every
    /// negotiated slot, `source`/`owner` null while it carries nothing. An m-line not listed
    /// carries the source its msid names.
    SourcesMap {
        #[serde(rename = "mappedSources")]
        mapped_sources: Vec<MappedSource>,
    },
}

/// One slot of [`BridgeChannelMessage::SourcesMap`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappedSource {
    pub mid: String,
    /// `audio` or `video`.
    pub kind: String,
    /// Source name (`<endpoint>-v0`), null while the slot is idle.
    pub source: Option<String>,
    /// The endpoint sending that source.
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverVideoConstraints {
    /// How many video sources to receive at most; -1 = no limit.
    #[serde(default = "minus_one")]
    pub last_n: i32,
    /// Sources the user picked (pinned); they are preferred within last-N.
    #[serde(default)]
    pub selected_sources: Vec<String>,
    /// Sources on stage (large tile); they get the bandwidth first.
    #[serde(default)]
    pub on_stage_sources: Vec<String>,
    #[serde(default)]
    pub default_constraints: Option<VideoConstraints>,
    /// Per source name.
    #[serde(default)]
    pub constraints: BTreeMap<String, VideoConstraints>,
}

fn minus_one() -> i32 {
    -1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoConstraints {
    /// Largest height wanted; 0 = none (video off for that source).
    pub max_height: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jitsi_style_constraints() {
        let j = r#"{"colibriClass":"ReceiverVideoConstraints","lastN":2,
            "onStageSources":["ab-v0"],"defaultConstraints":{"maxHeight":180},
            "constraints":{"ab-v0":{"maxHeight":720}}}"#;
        match serde_json::from_str::<BridgeChannelMessage>(j).unwrap() {
            BridgeChannelMessage::ReceiverVideoConstraints(c) => {
                assert_eq!(c.last_n, 2);
                assert_eq!(c.constraints["ab-v0"].max_height, 720);
            }
            m => panic!("wrong message {m:?}"),
        }
    }

    #[test]
    fn sources_map_names_each_slot_and_null_for_an_idle_one() {
        let m = BridgeChannelMessage::SourcesMap {
            mapped_sources: vec![
                MappedSource {
                    mid: "3".into(),
                    kind: "video".into(),
                    source: Some("ab-v0".into()),
                    owner: Some("ab".into()),
                },
                MappedSource { mid: "4".into(), kind: "audio".into(), source: None, owner: None },
            ],
        };
        let j = serde_json::to_value(&m).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"colibriClass": "SourcesMap", "mappedSources": [
                {"mid": "3", "kind": "video", "source": "ab-v0", "owner": "ab"},
                {"mid": "4", "kind": "audio", "source": null, "owner": null},
            ]})
        );
    }
}
