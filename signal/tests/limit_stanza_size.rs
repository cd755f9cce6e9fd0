//! A stanza over the limit (64 KiB by default) ends the offender's stream with
//! `policy-violation`; other connections are not disturbed.

mod common;

use common::*;

#[tokio::test]
async fn oversized_stanza_gets_policy_violation_for_the_offender_only() {
    let signal = Signal::start();
    let mut bystander = Client::anonymous(&signal).await;
    let mut big = Client::anonymous(&signal).await;
    // just under the limit passes
    let ok_body = "a".repeat(60 * 1024);
    big.send(&format!("<message to='meet.lan' id='fine'><body>{ok_body}</body></message>")).await;
    still_served(&mut big, "p0").await;
    // over the limit, sent in pieces as a slow client would
    big.send("<message to='meet.lan'><body>").await;
    let chunk = "b".repeat(8 * 1024);
    for _ in 0..9 {
        big.send(&chunk).await;
    }
    assert_eq!(big.s.stream_error().await.as_deref(), Some("policy-violation"));
    still_served(&mut bystander, "p1").await;
}

#[tokio::test]
async fn unterminated_huge_start_tag_is_refused() {
    let signal = Signal::start();
    let mut c = Client::anonymous(&signal).await;
    // one huge start tag that never closes must not be buffered without end
    c.send(&format!("<message to='meet.lan' x='{}", "c".repeat(70 * 1024))).await;
    assert_eq!(c.s.stream_error().await.as_deref(), Some("policy-violation"));
}
