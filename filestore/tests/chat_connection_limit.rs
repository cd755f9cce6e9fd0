//! The server accepts at most CHAT_MAX_CONNECTIONS chat connections (503 beyond), and a
//! freed place can be taken again.

mod common;
use common::*;

fn status_of<T>(res: Result<T, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match res {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => 101,
    }
}

#[tokio::test]
async fn connections_beyond_the_limit_get_503() {
    let server = Server::start(&[("CHAT_MAX_CONNECTIONS", "2")]);
    let a = &server.addr;
    let one = Chat::connect(a, &token("cap", "alice01")).await;
    let _two = Chat::connect(a, &token("cap", "bob0001")).await;
    let url = format!("ws://{a}/chat?token={}", token("cap", "carol01"));
    assert_eq!(status_of(tokio_tungstenite::connect_async(url.as_str()).await), 503);
    drop(one);
    // the server notices the close; then the place is free again
    let mut ok = false;
    for _ in 0..100 {
        if status_of(tokio_tungstenite::connect_async(url.as_str()).await) == 101 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "a freed place was not given again");
}
