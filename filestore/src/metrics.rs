//! Counters for `/metrics` (Prometheus text format). Plain atomics, written by whoever
//! observes the event; nothing reads them except the exporter.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub chat_connections: AtomicI64,
    pub chat_messages: AtomicU64,
    pub chat_rejected: AtomicU64,
    pub chat_rate_limited: AtomicU64,
    pub uploads_created: AtomicU64,
    pub uploads_completed: AtomicU64,
    pub uploads_deduplicated: AtomicU64,
    pub upload_bytes: AtomicU64,
    pub checksum_mismatches: AtomicU64,
    pub downloads: AtomicU64,
    pub download_bytes: AtomicU64,
    pub relay_bytes: AtomicU64,
    pub auth_failures: AtomicU64,
    pub retention_rooms_removed: AtomicU64,
    pub uploads_expired: AtomicU64,
    pub archive_bus_connected: AtomicI64,
    pub archive_messages_stored: AtomicU64,
    pub archive_copies_duplicate: AtomicU64,
    pub archive_copies_forged: AtomicU64,
    pub archive_copies_invalid: AtomicU64,
    pub archive_queries: AtomicU64,
    pub archive_missed_calls: AtomicU64,
    pub archive_invitations: AtomicU64,
    pub tokens_revoked: AtomicU64,
}

pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut put = |name: &str, kind: &str, help: &str, v: String| {
            let _ =
                writeln!(out, "# HELP filestore_{name} {help}\n# TYPE filestore_{name} {kind}\nfilestore_{name} {v}");
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        put(
            "chat_connections",
            "gauge",
            "Open chat WebSocket connections.",
            self.chat_connections.load(Ordering::Relaxed).to_string(),
        );
        put("chat_messages_total", "counter", "Chat messages accepted and stored.", g(&self.chat_messages));
        put(
            "chat_rejected_total",
            "counter",
            "Chat messages refused (size, auth, unknown target, not yours).",
            g(&self.chat_rejected),
        );
        put(
            "chat_rate_limited_total",
            "counter",
            "Chat messages refused by the per-connection rate limit.",
            g(&self.chat_rate_limited),
        );
        put("uploads_created_total", "counter", "tus uploads created.", g(&self.uploads_created));
        put("uploads_completed_total", "counter", "tus uploads completed.", g(&self.uploads_completed));
        put(
            "uploads_deduplicated_total",
            "counter",
            "Completed uploads whose content was already stored.",
            g(&self.uploads_deduplicated),
        );
        put("upload_bytes_total", "counter", "Upload bytes written.", g(&self.upload_bytes));
        put("checksum_mismatches_total", "counter", "PATCH requests refused with 460.", g(&self.checksum_mismatches));
        put("downloads_total", "counter", "File downloads started.", g(&self.downloads));
        put("download_bytes_total", "counter", "File bytes sent.", g(&self.download_bytes));
        put("relay_bytes_total", "counter", "Bytes relayed between two participants.", g(&self.relay_bytes));
        put(
            "auth_failures_total",
            "counter",
            "Requests refused for a missing, invalid, expired or foreign token.",
            g(&self.auth_failures),
        );
        put(
            "retention_rooms_removed_total",
            "counter",
            "Rooms whose files and history retention removed.",
            g(&self.retention_rooms_removed),
        );
        put("uploads_expired_total", "counter", "Unfinished uploads removed on expiry.", g(&self.uploads_expired));
        put(
            "archive_bus_connected",
            "gauge",
            "1 while the archive is connected to signal's bus as archive.<domain>.",
            self.archive_bus_connected.load(Ordering::Relaxed).to_string(),
        );
        put(
            "archive_messages_stored_total",
            "counter",
            "One-to-one messages stored by the archive.",
            g(&self.archive_messages_stored),
        );
        put(
            "archive_copies_duplicate_total",
            "counter",
            "Message copies whose stanza-id was stored already (stored once).",
            g(&self.archive_copies_duplicate),
        );
        put(
            "archive_copies_forged_total",
            "counter",
            "Copies and revocations refused because they did not come from the server JID.",
            g(&self.archive_copies_forged),
        );
        put(
            "archive_copies_invalid_total",
            "counter",
            "Copies from the server JID the archive could not use (missing ids, bad JIDs, too large).",
            g(&self.archive_copies_invalid),
        );
        put("archive_queries_total", "counter", "IQ requests answered by the archive.", g(&self.archive_queries));
        put("archive_missed_calls_total", "counter", "Calls that became missed calls.", g(&self.archive_missed_calls));
        put(
            "archive_invitations_total",
            "counter",
            "Invitations stored as notifications.",
            g(&self.archive_invitations),
        );
        put(
            "tokens_revoked_total",
            "counter",
            "Removals from a room told by signal (that person's room tokens refused).",
            g(&self.tokens_revoked),
        );
        out
    }
}
