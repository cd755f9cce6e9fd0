//! `/health` answers, and `/metrics` (Prometheus text) counts connections, rooms, occupants
//! and stanzas as they change.

mod common;

use common::*;

#[tokio::test]
async fn health_and_metrics_follow_the_server_state() {
    let signal = Signal::start();
    let (code, body) = http_get(signal.http, "/health").await;
    assert_eq!(code, 200);
    assert!(body.ends_with("ok\n"));
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_rooms"), 0);

    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("m1", "a").await;
    b.join("m1", "b").await;
    let (_, m) = http_get(signal.http, "/metrics").await;
    assert_eq!(metric_value(&m, "signal_rooms"), 1);
    assert_eq!(metric_value(&m, "signal_occupants"), 2);
    assert_eq!(metric_value(&m, "signal_connections{transport=\"tcp\"}"), 2);
    assert!(metric_value(&m, "signal_stanzas_in_total") >= 2);
    assert!(metric_value(&m, "signal_stanzas_out_total") >= 5);

    let (code, _) = http_get(signal.http, "/nothing").await;
    assert_eq!(code, 404);
}
