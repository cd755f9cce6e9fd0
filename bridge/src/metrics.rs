//! Counters of the bridge, shared between the media task (which counts) and the HTTP task
//! (which reads them for `/metrics` and `/stats`). Plain atomics: counting never blocks
//! the media path, and nothing here decides anything.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter (or a gauge when `set` is used).
///
/// Each counter has one writer: the media thread that owns the set (`inbox_dropped_total`:
/// thread 0, which reads the port for all). So counting is a plain load and store, not a
/// locked read-modify-write: several counters go up per forwarded packet, and a locked
/// instruction right after the packet's stores waits for them to drain (`README.md`,
/// "Where a 100-person meeting's packets wait"). Readers (`/metrics`, `/stats`) see each
/// value whole, at most a moment late.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

macro_rules! metrics {
    ($($name:ident: $help:literal),* $(,)?) => {
        /// Every counter the bridge exports, named as in Prometheus (`bridge_<name>`).
        #[derive(Debug, Default)]
        pub struct Metrics { $(#[doc = $help] pub $name: Counter,)* }

        impl Metrics {
            /// Prometheus text exposition format.
            pub fn render(&self) -> String {
                let mut s = String::new();
                $(
                    let _ = writeln!(s, "# HELP bridge_{} {}", stringify!($name), $help);
                    let _ = writeln!(s, "# TYPE bridge_{} {}", stringify!($name),
                        if stringify!($name).ends_with("_total") { "counter" } else { "gauge" });
                    let _ = writeln!(s, "bridge_{} {}", stringify!($name), self.$name.get());
                )*
                s
            }

            /// Prometheus text of several sets (one per media thread), added up; the
            /// gauges also per thread (`bridge_thread_<name>{thread="i"}`), so the spread
            /// of conferences over threads is visible.
            pub fn render_sum(all: &[std::sync::Arc<Metrics>]) -> String {
                let mut s = String::new();
                $(
                    let _ = writeln!(s, "# HELP bridge_{} {}", stringify!($name), $help);
                    let _ = writeln!(s, "# TYPE bridge_{} {}", stringify!($name),
                        if stringify!($name).ends_with("_total") { "counter" } else { "gauge" });
                    let _ = writeln!(s, "bridge_{} {}", stringify!($name), all.iter().map(|m| m.$name.get()).sum::<u64>());
                )*
                for (name, help) in [("conferences", "current conferences per media thread (one spanning threads counts on the lowest)"), ("endpoints", "current endpoints per media thread")] {
                    let _ = writeln!(s, "# HELP bridge_thread_{name} {help}");
                    let _ = writeln!(s, "# TYPE bridge_thread_{name} gauge");
                    for (i, m) in all.iter().enumerate() {
                        let v = if name == "conferences" { m.conferences.get() } else { m.endpoints.get() };
                        let _ = writeln!(s, "bridge_thread_{name}{{thread=\"{i}\"}} {v}");
                    }
                }
                s
            }
        }
    };
}

metrics! {
    datagrams_in_total: "UDP datagrams received",
    datagrams_out_total: "UDP datagrams sent",
    bytes_in_total: "UDP bytes received",
    bytes_out_total: "UDP bytes sent",
    bad_datagrams_total: "datagrams that are neither STUN, DTLS, RTP nor RTCP (dropped)",
    unknown_source_total: "datagrams from an address no endpoint knows, not STUN with a known ufrag (dropped)",
    unknown_ufrag_total: "STUN messages whose username matches no endpoint (dropped)",
    rtp_in_total: "RTP packets received from endpoints",
    rtp_forwarded_total: "RTP packets written towards receivers",
    relay_dropped_total: "packets relayed to another media thread dropped because it fell behind",
    audio_not_routed_total: "audio packets not forwarded: the sender was not among the BRIDGE_LOUDEST_AUDIO loudest",
    keyframe_requests_total: "keyframe requests (PLI) sent to senders",
    layer_switches_total: "simulcast layer switches done at a keyframe",
    bad_channel_messages_total: "bridge-channel messages refused (unparsable, too big, wrong direction)",
    channel_messages_dropped_total: "bridge-channel messages dropped because a page sent faster than allowed",
    inbox_dropped_total: "datagrams the UDP reader dropped because their media thread's inbox was full",
    colibri_requests_total: "Colibri requests handled",
    colibri_errors_total: "Colibri requests refused",
    endpoints_failed_total: "endpoints removed after a transport failure",
    conferences: "current conferences",
    endpoints: "current endpoints",
}
