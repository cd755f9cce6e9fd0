//! tus checksum: a chunk whose sha1/sha256 does not match gets 460 and is discarded (the
//! offset stays); a matching checksum of either algorithm is accepted; an unknown algorithm
//! is 400.

mod common;
use base64::Engine;
use common::*;
use sha1::Digest as _;

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

#[tokio::test]
async fn bad_checksum_is_460_and_the_chunk_is_discarded() {
    let server = Server::start(&[]);
    let tok = token("sums", "alice01");
    let r = create_upload(&server.addr, &tok, 8, "s.bin").await;
    let loc = r.header("location").expect("location").to_string();

    let wrong = format!("sha256 {}", b64(&sha2::Sha256::digest(b"not this")));
    let p = patch(&server.addr, &tok, &loc, 0, b"abcd".to_vec(), Some(&wrong)).await;
    assert_eq!(p.status, 460, "{}", p.text());
    let wrong1 = format!("sha1 {}", b64(&sha1::Sha1::digest(b"nope")));
    let p = patch(&server.addr, &tok, &loc, 0, b"abcd".to_vec(), Some(&wrong1)).await;
    assert_eq!(p.status, 460);
    let p = patch(&server.addr, &tok, &loc, 0, b"abcd".to_vec(), Some("md5 AAAA")).await;
    assert_eq!(p.status, 400);
    let h =
        http(&server.addr, "HEAD", &loc, &[("authorization", &bearer(&tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.header("upload-offset"), Some("0"), "nothing of the bad chunks was kept");
    let partial = server.files_dir().join("partial").join(loc.trim_start_matches("/files/"));
    assert_eq!(std::fs::metadata(&partial).expect("partial file").len(), 0);

    let ok1 = format!("sha1 {}", b64(&sha1::Sha1::digest(b"abcd")));
    assert_eq!(patch(&server.addr, &tok, &loc, 0, b"abcd".to_vec(), Some(&ok1)).await.status, 204);
    let ok256 = format!("sha256 {}", b64(&sha2::Sha256::digest(b"efgh")));
    assert_eq!(patch(&server.addr, &tok, &loc, 4, b"efgh".to_vec(), Some(&ok256)).await.status, 204);
    let r = http(&server.addr, "GET", &loc, &[("authorization", &bearer(&tok))], vec![]).await;
    assert_eq!(r.body, b"abcdefgh");
    assert_eq!(r.header("etag"), Some(format!("\"{}\"", sha256_hex(b"abcdefgh")).as_str()));
}
