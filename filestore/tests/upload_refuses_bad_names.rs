//! File names with path tricks or control characters are refused with 400 and nothing is
//! stored (no upload row, no partial file); an ordinary name next to them works.

mod common;
use common::*;

#[tokio::test]
async fn path_tricks_and_control_characters_are_refused() {
    let server = Server::start(&[]);
    let tok = token("names", "alice01");
    for bad in [
        "../../etc/passwd",
        "..",
        "a/b.txt",
        "C:\\evil.exe",
        "x\u{0}y",
        "line\nbreak.txt",
        "bell\u{7}",
        "cod\u{202E}fdp.exe",
        "\u{1b}[31mred",
    ] {
        let r = create_upload(&server.addr, &tok, 5, bad).await;
        assert_eq!(r.status, 400, "{bad:?} got {} {}", r.status, r.text());
        assert!(r.text().contains("file name refused"), "{}", r.text());
    }
    let (blobs, partial) = server.stored();
    assert!(blobs.is_empty() && partial.is_empty(), "nothing stored: {blobs:?} {partial:?}");

    let loc = upload(&server.addr, &tok, "notes ✓.txt", b"hello").await;
    let r = http(&server.addr, "GET", &loc, &[("authorization", &bearer(&tok))], vec![]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"notes _.txt\"; filename*=UTF-8''notes%20%E2%9C%93.txt")
    );
}
