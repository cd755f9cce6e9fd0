//! Upload throughput on loopback with hashing: the real (release) binary receives tus
//! PATCHes, writes them to DATA_DIR/files and computes the file's SHA-256 (plus a per-PATCH
//! sha256 checksum in the second case). Prints MB/s medians of 3 runs, and, measured in the
//! same run, what SHA-256 alone does on this CPU, as a ratio.
//!
//! Run: `cargo bench -p filestore --bench upload_throughput` (FILESTORE_BENCH_BYTES to change
//! the 1 GiB default).

#[path = "../tests/common/mod.rs"]
mod common;

use base64::Engine;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use sha2::{Digest, Sha256};
use std::time::Instant;

const PIECE: usize = 1 << 20;

async fn patch_stream(
    addr: &str,
    tok: &str,
    loc: &str,
    offset: u64,
    len: u64,
    piece: Bytes,
    checksum: Option<String>,
) -> u16 {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let n = (len as usize).div_ceil(PIECE);
    let frames = futures_util::stream::iter(0..n).map(move |i| {
        let take = if i + 1 == n { len as usize - i * PIECE } else { PIECE };
        Ok::<_, std::convert::Infallible>(Frame::data(piece.slice(..take)))
    });
    let mut req = hyper::Request::builder()
        .method("PATCH")
        .uri(loc)
        .header("host", addr)
        .header("authorization", bearer(tok))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-length", len.to_string())
        .header("content-type", "application/offset+octet-stream");
    if let Some(c) = checksum {
        req = req.header("upload-checksum", c);
    }
    let resp = send.send_request(req.body(StreamBody::new(frames)).expect("request")).await.expect("response");
    let s = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    s
}

/// One upload of `total` bytes in PATCHes of `per_patch`; returns MB/s.
async fn one_run(server: &Server, tok: &str, total: u64, per_patch: u64, with_checksum: bool, salt: u8) -> f64 {
    // Every run uploads different content (first byte), so dedup does not short-cut it.
    let mut data = vec![0u8; PIECE];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D ^ salt as u64;
    for w in data.chunks_exact_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w.copy_from_slice(&x.to_le_bytes());
    }
    let piece = Bytes::from(data);
    let r = create_upload(&server.addr, tok, total, &format!("bench-{salt}.bin")).await;
    assert_eq!(r.status, 201);
    let loc = r.header("location").expect("location").to_string();
    // The checksum of a PATCH of `per_patch` bytes made of repeated pieces.
    let checksum = with_checksum.then(|| {
        let mut h = Sha256::new();
        let mut left = per_patch as usize;
        while left > 0 {
            let n = left.min(PIECE);
            h.update(&piece[..n]);
            left -= n;
        }
        format!("sha256 {}", base64::engine::general_purpose::STANDARD.encode(h.finalize()))
    });
    let t0 = Instant::now();
    let mut off = 0;
    while off < total {
        let len = per_patch.min(total - off);
        let c = if len == per_patch { checksum.clone() } else { None };
        let s = patch_stream(&server.addr, tok, &loc, off, len, piece.clone(), c).await;
        assert_eq!(s, 204);
        off += len;
    }
    let secs = t0.elapsed().as_secs_f64();
    // free the disk for the next run
    let d = http(&server.addr, "DELETE", &loc, &[("authorization", &bearer(tok)), ("tus-resumable", "1.0.0")], vec![])
        .await;
    assert_eq!(d.status, 204);
    total as f64 / secs / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total: u64 = std::env::var("FILESTORE_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 30);
    let server = Server::start(&[("MAX_FILE_SIZE", &(8u64 << 30).to_string())]);
    let tok = token("bench", "alice01");

    let sha_only = {
        let buf = vec![0x5au8; PIECE];
        let t0 = Instant::now();
        let mut h = Sha256::new();
        for _ in 0..(total / PIECE as u64) {
            h.update(&buf);
        }
        std::hint::black_box(h.finalize());
        total as f64 / t0.elapsed().as_secs_f64() / 1e6
    };
    // The disk's ceiling, measured now: the same amount written and fdatasynced once.
    let disk = {
        use std::io::Write;
        let path = server.data.0.join("disk-ceiling.bin");
        let buf = vec![0xa5u8; PIECE];
        let t0 = Instant::now();
        let mut f = std::fs::File::create(&path).expect("create");
        for _ in 0..(total / PIECE as u64) {
            f.write_all(&buf).expect("write");
        }
        f.sync_data().expect("sync");
        let mbs = total as f64 / t0.elapsed().as_secs_f64() / 1e6;
        let _ = std::fs::remove_file(&path);
        mbs
    };
    let mut one = Vec::new();
    let mut chunked = Vec::new();
    for i in 0..3u8 {
        one.push(one_run(&server, &tok, total, total, false, i).await);
        chunked.push(one_run(&server, &tok, total, 64 << 20, true, 100 + i).await);
    }
    let (m1, m2) = (median(one.clone()), median(chunked.clone()));
    println!("upload_throughput: {} MiB per upload, loopback, release binary, 3 runs each", total >> 20);
    println!("  one PATCH, SHA-256 of the file:                 median {m1:.0} MB/s  (runs {one:.0?})");
    println!("  64 MiB PATCHes + sha256 Upload-Checksum each:    median {m2:.0} MB/s  (runs {chunked:.0?})");
    println!("  SHA-256 alone in this process:                  {sha_only:.0} MB/s");
    println!("  write + fdatasync alone (disk ceiling):         {disk:.0} MB/s");
    println!(
        "  ratio upload/SHA-256-alone: {:.2} (one PATCH), {:.2} (checksummed PATCHes)",
        m1 / sha_only,
        m2 / sha_only
    );
    println!("  ratio upload/disk-ceiling:  {:.2} (one PATCH), {:.2} (checksummed PATCHes)", m1 / disk, m2 / disk);
    println!("  load average at the end: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}
