//! SIGTERM stops signal cleanly: connected clients and components get `system-shutdown` and
//! the process exits on its own, promptly.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test]
async fn sigterm_ends_streams_with_system_shutdown_and_exits() {
    let mut signal = Signal::start();
    let mut c = Client::anonymous(&signal).await;
    c.join("bye", "me").await;
    let mut comp = RawStream::connect(signal.bus, true).await;
    comp.send("<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='jvb-x.meet.lan'>").await;
    let Some(proto::xml::StreamEvent::Open(h)) = comp.next().await else { panic!() };
    let id = h.get_attr("id").unwrap().to_string();
    comp.send(&format!("<handshake>{}</handshake>", proto::bus::handshake_digest(&id, BUS_SECRET))).await;
    assert_eq!(comp.stanza().await.name(), "handshake");

    let pid = signal.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert_eq!(c.s.stream_error().await.as_deref(), Some("system-shutdown"));
    assert_eq!(comp.stream_error().await.as_deref(), Some("system-shutdown"));
    let t = Instant::now();
    loop {
        if let Some(status) = signal.child.try_wait().unwrap() {
            assert!(status.success(), "clean exit, got {status}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "signal did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
