//! Wire types shared by every component of the system, in one place.
//!
//! Each message that crosses a process boundary (bus IQs between focus and bridges, session
//! IQs between focus and participants, the bridge channel, room tokens) is declared here once
//! and only here. This crate does no I/O beyond reading and writing secret files, and
//! depends on a runtime only behind its features (`bus`: the component client; `service`:
//! the binaries' shared `main`), so tests and benches can use the rest as it is.

pub mod bridge_channel;
#[cfg(feature = "bus")]
pub mod bus;
pub mod colibri;
pub mod config;
pub mod ids;
pub mod sdp_encoding;
pub mod secrets;
#[cfg(feature = "service")]
pub mod service;
pub mod session;
pub mod testkit;
pub mod token;
#[cfg(feature = "bus")]
pub mod xml;

pub use ids::{ConferenceId, EndpointId, IdError, RoomName};

/// Namespaces of our own protocol elements. XMPP-standard namespaces are used where they fit;
/// these cover what no XEP describes.
pub mod ns {
    /// `<colibri/>` payload of bus IQs between focus and bridges (JSON inside).
    pub const COLIBRI: &str = "urn:meet-lan:colibri:0";
    /// `<description/>` carrying SDP inside a Jingle-style session IQ.
    pub const SDP: &str = "urn:meet-lan:sdp:0";
    /// `<token/>` request to signal for a room token (filestore access).
    pub const TOKEN: &str = "urn:meet-lan:token:0";
    /// Jingle, whose action names we follow for session signalling.
    pub const JINGLE: &str = "urn:xmpp:jingle:1";
    /// The conference request to focus, as Jitsi's clients send it.
    pub const FOCUS: &str = "http://jitsi.org/protocol/focus";
    /// Bridge load announced in presence to `bridges@internal.<domain>`.
    pub const BRIDGE_STATS: &str = "urn:meet-lan:bridge-stats:0";
    /// Room control beyond XEP-0045 (mute flags, lobby, removed list, room state, gate
    /// errors): `signal/ROOMS.md`.
    pub const ROOM: &str = "urn:meet-lan:room:0";
    /// People on the LAN beyond standard XMPP (the archive copy, `<in-meeting/>`, the open
    /// rooms list, calls' room, notifications, removals told to the archive):
    /// `signal/PEOPLE.md`.
    pub const PEOPLE: &str = "urn:meet-lan:people:0";
}
