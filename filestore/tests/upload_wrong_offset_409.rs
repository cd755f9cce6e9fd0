//! A PATCH whose Upload-Offset is not the stored offset gets 409 and changes nothing; the
//! right offset then works.

mod common;
use common::*;

#[tokio::test]
async fn wrong_upload_offset_is_409_and_nothing_changes() {
    let server = Server::start(&[]);
    let tok = token("offsets", "alice01");
    let r = create_upload(&server.addr, &tok, 10, "a.bin").await;
    assert_eq!(r.status, 201);
    let loc = r.header("location").expect("location").to_string();

    let p = patch(&server.addr, &tok, &loc, 3, b"xxxxx".to_vec(), None).await;
    assert_eq!(p.status, 409, "{}", p.text());
    let h =
        http(&server.addr, "HEAD", &loc, &[("authorization", &bearer(&tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.header("upload-offset"), Some("0"));

    let p = patch(&server.addr, &tok, &loc, 0, b"01234".to_vec(), None).await;
    assert_eq!(p.status, 204);
    assert_eq!(p.header("upload-offset"), Some("5"));
    // replaying the same chunk is a conflict too
    let p = patch(&server.addr, &tok, &loc, 0, b"01234".to_vec(), None).await;
    assert_eq!(p.status, 409);
    let p = patch(&server.addr, &tok, &loc, 5, b"56789".to_vec(), None).await;
    assert_eq!(p.status, 204);
    let r = http(&server.addr, "GET", &loc, &[("authorization", &bearer(&tok))], vec![]).await;
    assert_eq!(r.body, b"0123456789");
    // a complete upload takes no more
    let p = patch(&server.addr, &tok, &loc, 10, b"x".to_vec(), None).await;
    assert_eq!(p.status, 409);
}
