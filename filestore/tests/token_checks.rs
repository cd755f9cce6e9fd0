//! Room tokens on /files/ and /chat: missing or forged → 401, expired → 401 saying so,
//! a token for another room → 403; nothing is stored for a refused request.

mod common;
use common::*;

#[tokio::test]
async fn files_and_chat_refuse_bad_tokens() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let good = token("room-a", "alice01");
    let loc = upload(a, &good, "secret.txt", b"for room-a only").await;

    // missing
    let r = http(a, "POST", "/files/", &[("tus-resumable", "1.0.0"), ("upload-length", "3")], vec![]).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert_eq!(http(a, "GET", &loc, &[], vec![]).await.status, 401);
    // forged: right claims, wrong key
    let forged = token_with("room-a", "alice01", "A", 600, "another-secret");
    assert_eq!(http(a, "GET", &loc, &[("authorization", &bearer(&forged))], vec![]).await.status, 401);
    assert_eq!(http(a, "GET", &format!("{loc}?token=garbage"), &[], vec![]).await.status, 401);
    // expired
    let old = expired_token("room-a", "alice01");
    let r = http(a, "GET", &loc, &[("authorization", &bearer(&old))], vec![]).await;
    assert_eq!(r.status, 401);
    assert!(r.text().contains("expired"), "{}", r.text());
    let r = create_upload(a, &old, 3, "x.txt").await;
    assert_eq!(r.status, 401);
    // another room's token
    let other = token("room-b", "mallory");
    let r = http(a, "GET", &loc, &[("authorization", &bearer(&other))], vec![]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(http(a, "GET", &format!("{loc}?token={other}"), &[], vec![]).await.status, 403);
    let h = http(a, "HEAD", &loc, &[("authorization", &bearer(&other)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.status, 403);
    assert_eq!(
        http(a, "DELETE", &loc, &[("authorization", &bearer(&other)), ("tus-resumable", "1.0.0")], vec![]).await.status,
        403
    );
    // an unfinished upload of room-a cannot be written with room-b's token
    let r = create_upload(a, &good, 4, "u.bin").await;
    let up = r.header("location").expect("location").to_string();
    assert_eq!(patch(a, &other, &up, 0, b"evil".to_vec(), None).await.status, 403);
    let h = http(a, "HEAD", &up, &[("authorization", &bearer(&good)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.header("upload-offset"), Some("0"));
    // query token works for download links
    let r = http(a, "GET", &format!("{loc}?token={good}"), &[], vec![]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"for room-a only");

    // chat: refused at the upgrade
    let url = |q: String| format!("ws://{a}/chat?{q}");
    let status_of = |res: Result<_, tokio_tungstenite::tungstenite::Error>| match res {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => 101,
    };
    assert_eq!(status_of(tokio_tungstenite::connect_async(url(String::new())).await.map(|_| ())), 401);
    assert_eq!(status_of(tokio_tungstenite::connect_async(url(format!("token={forged}"))).await.map(|_| ())), 401);
    assert_eq!(status_of(tokio_tungstenite::connect_async(url(format!("token={old}"))).await.map(|_| ())), 401);
    assert_eq!(
        status_of(tokio_tungstenite::connect_async(url(format!("token={other}&room=room-a"))).await.map(|_| ())),
        403
    );
    assert_eq!(
        status_of(tokio_tungstenite::connect_async(url(format!("token={good}&room=room-a"))).await.map(|_| ())),
        101
    );

    let r = http(a, "GET", "/metrics", &[], vec![]).await;
    assert!(r.text().contains("filestore_auth_failures_total"));
}
