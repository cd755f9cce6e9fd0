//! Uploads over MAX_FILE_SIZE, over the room's quota (ROOM_QUOTA, counting unfinished
//! uploads in full), or a body longer than Upload-Length get 413 and store nothing; other
//! rooms keep their own quota.

mod common;
use common::*;

#[tokio::test]
async fn oversize_and_over_quota_are_413() {
    let server = Server::start(&[("MAX_FILE_SIZE", "1000"), ("ROOM_QUOTA", "1500")]);
    let tok = token("quota", "alice01");
    let r = create_upload(&server.addr, &tok, 1001, "big.bin").await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(server.stored(), (vec![], vec![]));

    let first = upload(&server.addr, &tok, "a.bin", &[1u8; 900]).await;
    assert!(first.starts_with("/files/"));
    let r = create_upload(&server.addr, &tok, 700, "b.bin").await;
    assert_eq!(r.status, 413, "900 + 700 > 1500: {}", r.text());
    assert!(r.text().contains("quota"));
    // an unfinished upload reserves its length
    let r = create_upload(&server.addr, &tok, 500, "c.bin").await;
    assert_eq!(r.status, 201);
    let c = r.header("location").expect("location").to_string();
    let r = create_upload(&server.addr, &tok, 200, "d.bin").await;
    assert_eq!(r.status, 413);
    // a body past Upload-Length
    let p = patch(&server.addr, &tok, &c, 0, vec![0u8; 501], None).await;
    assert_eq!(p.status, 413);
    let h =
        http(&server.addr, "HEAD", &c, &[("authorization", &bearer(&tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.header("upload-offset"), Some("0"));
    // another room is not affected
    let other = token("elsewhere", "bob0001");
    assert_eq!(create_upload(&server.addr, &other, 1000, "e.bin").await.status, 201);
    let (blobs, partial) = server.stored();
    assert_eq!(blobs.len(), 1);
    assert_eq!(partial.len(), 2);
}
