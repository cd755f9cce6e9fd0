//! A full disk answers 507 with a reason (not a bare 500), keeps the upload's stored offset,
//! and the upload resumes and completes intact once space has been freed. The server's files
//! live on a 1 MiB tmpfs of its own (a private mount namespace), so filling it touches
//! nothing else.

mod common;
use common::*;

const PIECE: usize = 64 * 1024;

async fn head_offset(addr: &str, tok: &str, loc: &str) -> u64 {
    let h = http(addr, "HEAD", loc, &[("authorization", &bearer(tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(h.status, 200, "HEAD {loc}: {}", h.text());
    h.header("upload-offset").and_then(|v| v.parse().ok()).expect("Upload-Offset")
}

#[tokio::test]
async fn full_disk_is_507_and_the_upload_resumes_after_space_is_freed() {
    let server = Server::start_on_small_disk("1m", &[]);
    let a = &server.addr;
    let tok = token("diskfull", "alice01");

    // A first upload takes 640 KiB of the 1 MiB and stays unfinished.
    let r = create_upload(a, &tok, 700 * 1024, "first.bin").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let first = r.header("location").expect("location").to_string();
    let r = patch(a, &tok, &first, 0, vec![7u8; 640 * 1024], None).await;
    assert_eq!(r.status, 204, "{}", r.text());

    // The second does not fit: some 64 KiB piece fails with 507.
    let data: Vec<u8> = (0..600 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let r = create_upload(a, &tok, data.len() as u64, "second.bin").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let second = r.header("location").expect("location").to_string();
    let mut offset = 0usize;
    let refused = loop {
        assert!(offset < data.len(), "600 KiB fitted beside 640 KiB on a 1 MiB disk");
        let end = (offset + PIECE).min(data.len());
        let r = patch(a, &tok, &second, offset as u64, data[offset..end].to_vec(), None).await;
        if r.status != 204 {
            break r;
        }
        offset = end;
    };
    assert_eq!(refused.status, 507, "{}", refused.text());
    assert!(refused.text().contains("storage is full"), "{}", refused.text());
    assert!(offset > 0, "some pieces fitted before the disk filled");

    // Nothing past the last stored piece counts, and asking again changes nothing.
    assert_eq!(head_offset(a, &tok, &second).await, offset as u64);
    let again = patch(a, &tok, &second, offset as u64, data[offset..offset + PIECE].to_vec(), None).await;
    assert_eq!(again.status, 507, "{}", again.text());
    assert_eq!(head_offset(a, &tok, &second).await, offset as u64);

    // Space is freed (the first upload is terminated); the second resumes where it stood.
    let d = http(a, "DELETE", &first, &[("authorization", &bearer(&tok)), ("tus-resumable", "1.0.0")], vec![]).await;
    assert_eq!(d.status, 204, "{}", d.text());
    while offset < data.len() {
        let end = (offset + PIECE).min(data.len());
        let r = patch(a, &tok, &second, offset as u64, data[offset..end].to_vec(), None).await;
        assert_eq!(r.status, 204, "resume at {offset}: {}", r.text());
        offset = end;
    }
    let (status, len, hash) = download_hash(a, &second, &tok).await;
    assert_eq!((status, len), (200, data.len() as u64));
    assert_eq!(hash, sha256_hex(&data), "the resumed file is intact");

    let health = http(a, "GET", "/health", &[], vec![]).await;
    assert_eq!(health.status, 200);
}
