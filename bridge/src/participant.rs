//! The participant's side of a bridge session, as the tests and `bridge-bench` play it: a
//! str0m session that publishes Opus audio and simulcast video (one send layer per rid) and
//! opens the bridge channel, like a browser joining through focus. The bridge never uses it.

use str0m::change::SdpPendingOffer;
use str0m::media::{Direction, MediaKind, Mid, Simulcast, SimulcastLayer};
use str0m::Rtc;

/// A publisher's first offer and what its session needs to send on it.
pub struct PublisherOffer {
    /// The SDP text for the allocation request.
    pub offer: String,
    /// For `accept_answer` once the bridge has answered.
    pub pending: SdpPendingOffer,
    pub audio_mid: Mid,
    pub video_mid: Mid,
}

/// Adds `<name>-a0` (audio) and `<name>-v0` (video with one simulcast layer per rid, in
/// order) as send-only tracks of stream `name`, plus the bridge channel, and makes the offer.
pub fn publisher_offer(rtc: &mut Rtc, name: &str, rids: &[&str]) -> PublisherOffer {
    let mut api = rtc.sdp_api();
    let audio_mid =
        api.add_media(MediaKind::Audio, Direction::SendOnly, Some(name.into()), Some(format!("{name}-a0")), None);
    let mut sim = Simulcast::new();
    for rid in rids {
        sim.add_send_layer(SimulcastLayer::new(rid));
    }
    let video_mid =
        api.add_media(MediaKind::Video, Direction::SendOnly, Some(name.into()), Some(format!("{name}-v0")), Some(sim));
    api.add_channel(proto::bridge_channel::LABEL.into());
    let (offer, pending) = api.apply().expect("two tracks and a channel were just added: the offer has changes");
    PublisherOffer { offer: offer.to_sdp_string(), pending, audio_mid, video_mid }
}
