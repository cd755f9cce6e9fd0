//! Filestore's `/chat` frames through the real message handling (`chat::connection::Member`,
//! the same code the WebSocket loop calls): two members of one room, Alice and Bob, send
//! arbitrary text frames; messages, private messages, edits, deletes, peer-to-peer
//! signalling, relay requests and token refreshes reach the real SQLite history and hub.
//!
//! Input: one frame per line; a line starting with `b ` is Bob's, any other Alice's (an
//! `a ` prefix is dropped). `$token` in a frame becomes a fresh valid token of its sender,
//! so `{"type":"auth","token":"$token"}` reaches the refresh path.
//!
//! Oracles: every reply and everything the hub delivers is valid JSON; whatever reaches Bob
//! as sent by someone names Alice exactly as her token does (sender fields come from the
//! token, never from the frame).
#![no_main]

use filestore::chat::connection::Member;
use filestore::chat::hub::HubHandle;
use filestore::config::{ChatLimits, Config};
use filestore::state::AppState;
use libfuzzer_sys::fuzz_target;
use proto::token::{issue, Claims};
use proto::{EndpointId, RoomName};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const SECRET: &[u8] = b"fuzz-chat-secret";

struct World {
    rt: Runtime,
    st: AppState,
    _dir: std::path::PathBuf,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
        let dir = std::path::PathBuf::from(format!("{base}/meet-lan-fuzz-chat-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("files/partial")).expect("scratch folder");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let config = Config {
            addr: "127.0.0.1:0".parse().expect("address"),
            data_dir: dir.clone(),
            token_secret: SECRET.to_vec(),
            retention: None,
            max_file_size: 1 << 30,
            room_quota: 1 << 32,
            upload_expiry: Duration::from_secs(3600),
            chat: ChatLimits {
                max_frame: 64 * 1024,
                max_text: 8 * 1024,
                rate_per_sec: 5.0,
                burst: 20.0,
                history: 200,
                max_connections: 1000,
            },
            // the archive is not started here: chat frames never reach it
            archive: filestore::config::ArchiveSettings {
                domain: "meet.lan".into(),
                bus_addr: "127.0.0.1:9".into(),
                bus_secret: String::new(),
                ring: Duration::from_secs(30),
            },
        };
        let st = rt.block_on(async {
            let db = filestore::db::Db::open(&config.db_path(), filestore::db::FILESTORE_MIGRATIONS, "fuzz-db")
                .expect("database");
            let shutdown = tokio_util::sync::CancellationToken::new();
            AppState {
                paths: filestore::files::store::Paths { files: config.files_dir(), partial: config.partial_dir() },
                config: Arc::new(config),
                hub: HubHandle::start(db.clone(), shutdown.clone()),
                db,
                uploads: Default::default(),
                metrics: Default::default(),
                revocations: Default::default(),
                shutdown,
            }
        });
        World { rt, st, _dir: dir }
    })
}

fn claims(nick: &str, name: &str) -> Claims {
    Claims::new(
        format!("{nick}@meet.lan/x"),
        RoomName::new("fuzzroom").expect("room name"),
        EndpointId::new(nick).expect("nick"),
        name.into(),
        3600,
    )
}

fn drain(rx: &mut mpsc::Receiver<Arc<str>>, alice: &Claims) {
    while let Ok(text) = rx.try_recv() {
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("hub sent bad JSON {e}: {text}"));
        let from = v.get("from").or_else(|| v.get("message").and_then(|m| m.get("from")));
        if let Some(from) = from {
            if from.get("nick").and_then(|n| n.as_str()) == Some(alice.nick.as_str()) {
                assert_eq!(from.get("name").and_then(|n| n.as_str()), Some(alice.name.as_str()), "{text}");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let w = world();
    w.rt.block_on(async {
        let alice = claims("alice1", "Alice");
        let bob = claims("bob2", "Bob");
        let (atx, mut arx) = mpsc::channel(4096);
        let (btx, mut brx) = mpsc::channel(4096);
        let (mut a, _) = Member::join(w.st.clone(), alice.clone(), atx).await.expect("alice joins");
        let (mut b, _) = Member::join(w.st.clone(), bob.clone(), btx).await.expect("bob joins");
        for line in text.lines().take(64) {
            let (who, frame, mine) = match line.strip_prefix("b ") {
                Some(f) => (&mut b, f, &bob),
                None => (&mut a, line.strip_prefix("a ").unwrap_or(line), &alice),
            };
            let frame = if frame.contains("$token") {
                frame.replace("$token", &issue(SECRET, mine).expect("signing works"))
            } else {
                frame.to_string()
            };
            if let Some(reply) = who.handle_text(&frame).await {
                serde_json::from_str::<serde_json::Value>(&reply)
                    .unwrap_or_else(|e| panic!("bad reply JSON {e}: {reply}"));
            }
            // Let the hub deliver, then check what it delivered.
            tokio::task::yield_now().await;
            drain(&mut arx, &alice);
            drain(&mut brx, &alice);
        }
        a.leave();
        b.leave();
        tokio::task::yield_now().await;
        drain(&mut brx, &alice);
    });
    // Keep the scratch database small over a long run.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2000 == 1999 {
        let _ = w.rt.block_on(w.st.db.call(|c| {
            c.execute_batch("DELETE FROM messages; DELETE FROM rooms;")?;
            Ok(())
        }));
    }
});
