//! A client that sends faster than its budget gets `policy-violation`; a client beside it
//! is not slowed or disconnected.

mod common;

use common::*;

#[tokio::test]
async fn flooding_client_is_cut_off_and_others_continue() {
    let signal = Signal::start_with(&[("SIGNAL_C2S_RATE", "5"), ("SIGNAL_C2S_BURST", "30")]);
    let mut calm = Client::anonymous(&signal).await;
    let mut flood = Client::anonymous(&signal).await;
    calm.join("busy", "calm").await;
    flood.join("busy", "flood").await;
    let mut burst = String::new();
    for i in 0..200 {
        burst.push_str(&format!(
            "<message to='busy@conference.meet.lan' type='groupchat' id='f{i}'><body>{i}</body></message>"
        ));
    }
    flood.send(&burst).await;
    assert_eq!(flood.s.stream_error().await.as_deref(), Some("policy-violation"));
    // calm saw at most the burst, then the flooder leave, and is still served
    let gone = calm.until(|s| s.name() == "presence" && s.get_attr("type") == Some("unavailable")).await;
    assert_eq!(gone.get_attr("from"), Some("busy@conference.meet.lan/flood"));
    still_served(&mut calm, "p1").await;
}
