//! Downloads: ETag is the SHA-256, If-None-Match gives 304, Range gives 206 with the right
//! bytes and Content-Range, an unsatisfiable range 416; identical content uploaded twice
//! (even from two rooms) is stored once and stays until its last file is deleted.

mod common;
use common::*;

#[tokio::test]
async fn ranges_etag_and_dedup() {
    let server = Server::start(&[]);
    let a = &server.addr;
    let tok = token("dl", "alice01");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let loc = upload(a, &tok, "data.bin", &data).await;
    let auth = bearer(&tok);
    let etag = format!("\"{}\"", sha256_hex(&data));

    let r = http(a, "GET", &loc, &[("authorization", &auth)], vec![]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("content-disposition"), Some("attachment; filename=\"data.bin\"; filename*=UTF-8''data.bin"));
    assert_eq!(r.body, data);

    let r = http(a, "GET", &loc, &[("authorization", &auth), ("if-none-match", &etag)], vec![]).await;
    assert_eq!(r.status, 304);
    let r = http(a, "GET", &loc, &[("authorization", &auth), ("range", "bytes=1000-1999")], vec![]).await;
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 1000-1999/100000"));
    assert_eq!(r.body, &data[1000..2000]);
    let r = http(a, "GET", &loc, &[("authorization", &auth), ("range", "bytes=-10")], vec![]).await;
    assert_eq!(r.body, &data[99_990..]);
    let r = http(a, "GET", &loc, &[("authorization", &auth), ("range", "bytes=99990-")], vec![]).await;
    assert_eq!(r.body, &data[99_990..]);
    let r = http(a, "GET", &loc, &[("authorization", &auth), ("range", "bytes=200000-")], vec![]).await;
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */100000"));

    let tok2 = token("dl-two", "bob0001");
    let loc2 = upload(a, &tok2, "copy.bin", &data).await;
    assert_ne!(loc, loc2);
    let (blobs, partial) = server.stored();
    assert_eq!(blobs, vec![sha256_hex(&data)], "identical content stored once");
    assert!(partial.is_empty());
    // deleting one copy keeps the blob for the other
    let d = http(a, "DELETE", &loc, &[("authorization", &auth), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(d.status, 204);
    assert_eq!(http(a, "GET", &loc, &[("authorization", &auth)], vec![]).await.status, 404);
    let (status, n, sha) = download_hash(a, &loc2, &tok2).await;
    assert_eq!((status, n, sha), (200, data.len() as u64, sha256_hex(&data)));
    let d = http(a, "DELETE", &loc2, &[("authorization", &bearer(&tok2)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(d.status, 204);
    assert_eq!(server.stored(), (vec![], vec![]));
    let m = http(a, "GET", "/metrics", &[], vec![]).await.text();
    assert!(m.contains("filestore_uploads_deduplicated_total 1"), "{m}");
}
