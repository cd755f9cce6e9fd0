//! bridge: the SFU of meet-lan. Every participant's audio, video and bridge channel arrive
//! on one UDP port (DTLS-SRTP, ICE-lite, str0m in RTP mode) and are forwarded to the other
//! participants of the conference, with simulcast layer choice per receiver, loss recovery
//! (NACK/RTX from the packet cache, PLI), transport-cc bandwidth estimation and dominant
//! speaker detection. Focus allocates endpoints over the bus (Colibri's role, see
//! `proto::colibri`).
//!
//! The media logic is a sans-IO core ([`Sfu`] → `Conference` → `Endpoint`, `TrackIn` /
//! `TrackOut`); [`run`] is the thin driver owning the socket, the timers, the HTTP endpoint
//! and the bus connection. The bridge never decodes media and never panics on input from
//! the network.

pub mod allocator;
pub mod conference;
pub mod dominant_speaker;
pub mod endpoint;
mod error;
pub mod keyframe;
pub mod metrics;
pub mod rewriter;
pub mod sfu;
pub mod track;

pub use error::Error;
pub use sfu::{Sfu, SfuConfig, SfuOutput};
