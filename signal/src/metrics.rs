//! Counters and gauges for `/metrics` (Prometheus text format). Plain atomics: the hub and
//! the connections bump them, the HTTP handler reads them; nothing here ever blocks.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct Metrics {
    pub c2s_connections: AtomicI64,
    pub websocket_connections: AtomicI64,
    pub component_connections: AtomicI64,
    pub rooms: AtomicI64,
    pub occupants: AtomicI64,
    pub stanzas_in: AtomicU64,
    pub stanzas_out: AtomicU64,
    pub stream_errors: AtomicU64,
    pub stanza_errors: AtomicU64,
    pub auth_failures: AtomicU64,
    /// Wrong room passwords (a copy of the rooms service's count, set by the hub).
    pub room_password_failures: AtomicU64,
    /// People in the directory, and those with an available session (set by the hub).
    pub people: AtomicI64,
    pub people_online: AtomicI64,
    /// One-to-one stanzas routed between people (a copy of the people's count).
    pub people_messages: AtomicU64,
}

impl Metrics {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn gauge(g: &AtomicI64, delta: i64) {
        g.fetch_add(delta, Ordering::Relaxed);
    }

    /// The Prometheus text exposition of all values.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let g = |s: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let c = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let l = |a: &AtomicI64| a.load(Ordering::Relaxed);
        let lu = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ =
            writeln!(s, "# HELP signal_connections Open connections by transport.\n# TYPE signal_connections gauge");
        let _ = writeln!(s, "signal_connections{{transport=\"tcp\"}} {}", l(&self.c2s_connections));
        let _ = writeln!(s, "signal_connections{{transport=\"websocket\"}} {}", l(&self.websocket_connections));
        let _ = writeln!(s, "signal_connections{{transport=\"component\"}} {}", l(&self.component_connections));
        g(&mut s, "signal_rooms", "Rooms that exist now.", l(&self.rooms));
        g(&mut s, "signal_occupants", "Occupants in all rooms now.", l(&self.occupants));
        c(&mut s, "signal_stanzas_in_total", "Stanzas received from connections.", lu(&self.stanzas_in));
        c(&mut s, "signal_stanzas_out_total", "Stanzas queued to connections.", lu(&self.stanzas_out));
        c(&mut s, "signal_stream_errors_total", "Streams closed with a stream error.", lu(&self.stream_errors));
        c(&mut s, "signal_stanza_errors_total", "Error stanzas sent for refused stanzas.", lu(&self.stanza_errors));
        c(&mut s, "signal_auth_failures_total", "Failed SASL or component handshakes.", lu(&self.auth_failures));
        g(&mut s, "signal_people", "People in the directory (accounts and recognised guests).", l(&self.people));
        g(&mut s, "signal_people_online", "People with an available session now.", l(&self.people_online));
        c(
            &mut s,
            "signal_people_messages_total",
            "One-to-one stanzas routed between people.",
            lu(&self.people_messages),
        );
        c(
            &mut s,
            "signal_room_password_failures_total",
            "Joins refused for a wrong room password.",
            lu(&self.room_password_failures),
        );
        s
    }
}
