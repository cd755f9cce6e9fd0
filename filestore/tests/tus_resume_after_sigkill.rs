//! A tus client that is not ours (tuspy) uploads a large file (1 GiB by default, generated
//! on the fly) with sha1 chunk checksums; the server is SIGKILLed mid-upload and restarted;
//! tuspy resumes from the offset the server stored (not from zero), and the downloaded
//! SHA-256 equals the source's. Also with one PATCH for a whole file and no checksum, where
//! the stored offset comes from the server's periodic commits.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

fn python() -> Option<String> {
    match std::env::var("MEET_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!("MEET_PYTHON is not set (run ./run-tests.sh)"),
        _ => None,
    }
}

/// Writes `size` pseudo-random bytes (xorshift, fast and incompressible) and returns their SHA-256.
fn make_file(path: &std::path::Path, size: u64) -> String {
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create source"));
    let mut h = Sha256::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).expect("write source");
        h.update(&buf[..n]);
        left -= n as u64;
    }
    f.flush().expect("flush source");
    hex::encode(h.finalize())
}

/// How the kill is timed: after tuspy reported this much (several PATCHes), or once the
/// server's partial file holds this much (one PATCH for the whole file, no checksum).
enum KillWhen {
    AcknowledgedAtLeast(u64),
    PartialFileAtLeast(u64),
}

async fn upload_kill_resume(py: String, size: u64, chunk: u64, checksum: bool, kill: KillWhen) {
    let src_dir = TempDir::new("src");
    let src = src_dir.0.join("big file.bin");
    let src_sha = make_file(&src, size);

    let mut server = Server::start(&[]);
    let tok = token("bigroom", "alice01");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tus_upload.py");
    let mut py = Command::new(py)
        .args([
            script,
            &server.url("/files/"),
            &tok,
            src.to_str().expect("utf-8 path"),
            &chunk.to_string(),
            if checksum { "1" } else { "0" },
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start tuspy script");
    let mut stdin = py.stdin.take().expect("stdin");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let out = py.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let next = |what: &str| -> String {
        let l = rx
            .recv_timeout(Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("tuspy script said nothing while waiting for {what}"));
        eprintln!("tuspy: {l}");
        l
    };
    let field = |l: &str| -> u64 { l.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("offset number") };

    assert!(next("url").starts_with("url "));
    let stored_before_kill = match kill {
        // Let a good part go through, then kill the server while the next PATCH is in flight.
        KillWhen::AcknowledgedAtLeast(n) => loop {
            let l = next("offset");
            assert!(l.starts_with("offset "), "unexpected: {l}");
            let off = field(&l);
            if off >= n {
                break off;
            }
        },
        // One long PATCH: kill once the server has written this much of it.
        KillWhen::PartialFileAtLeast(n) => {
            let dir = server.files_dir().join("partial");
            let mut waited = 0;
            loop {
                let len = std::fs::read_dir(&dir)
                    .ok()
                    .and_then(|mut d| d.next())
                    .and_then(|e| e.ok())
                    .and_then(|e| e.metadata().ok())
                    .map_or(0, |m| m.len());
                if len >= n {
                    break 0;
                }
                waited += 1;
                assert!(waited < 30_000, "the partial file never reached {n} bytes");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    server.kill();
    let l = next("interrupted");
    assert!(l.starts_with("interrupted "), "unexpected: {l}");
    let (_, partial) = server.stored();
    assert_eq!(partial.len(), 1, "one partial upload on disk");

    server.kill_and_restart();
    writeln!(stdin, "resume").expect("tell tuspy to resume");
    let l = next("resumed");
    assert!(l.starts_with("resumed "), "unexpected: {l}");
    let resumed_from = field(&l);
    assert!(
        resumed_from >= stored_before_kill && resumed_from < size,
        "resumed from {resumed_from}, but {stored_before_kill} bytes were acknowledged before the kill"
    );
    if matches!(kill, KillWhen::PartialFileAtLeast(_)) {
        assert!(resumed_from > 0, "the periodic commit of a long PATCH was not kept");
    }
    let mut done = next("done");
    while done.starts_with("offset ") {
        done = next("done");
    }
    assert!(done.starts_with("done "), "unexpected: {done}");
    let url = done.split_whitespace().nth(1).expect("url").to_string();
    assert!(py.wait().expect("tuspy exit").success());

    let path = url.split_once(&server.addr).map(|(_, p)| p.to_string()).expect("upload url on our server");
    let (status, len, sha) = download_hash(&server.addr, &path, &tok).await;
    assert_eq!(status, 200);
    assert_eq!(len, size);
    assert_eq!(sha, src_sha, "downloaded SHA-256 differs from the source");
    let (blobs, partial) = server.stored();
    assert_eq!(blobs, vec![src_sha.clone()], "stored once, named by its SHA-256");
    assert!(partial.is_empty(), "no partial file left");
}

fn size_from_env(default: u64) -> u64 {
    std::env::var("FILESTORE_TUS_BYTES").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuspy_checksummed_chunks_resume_after_sigkill_and_hash_matches() {
    let Some(py) = python() else {
        eprintln!("skipped: MEET_PYTHON not set");
        return;
    };
    let size = size_from_env(1 << 30);
    upload_kill_resume(py, size, (size / 16).max(1 << 20), true, KillWhen::AcknowledgedAtLeast(size * 2 / 5)).await;
}

/// One PATCH for the whole file and no checksum: the server commits the offset every 64 MiB
/// (after fsync), so the resume starts past zero.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tuspy_single_patch_resumes_from_the_periodic_commit() {
    let Some(py) = python() else {
        eprintln!("skipped: MEET_PYTHON not set");
        return;
    };
    let size = size_from_env(1 << 30).clamp(200 << 20, 320 << 20);
    upload_kill_resume(py, size, size, false, KillWhen::PartialFileAtLeast(150 << 20)).await;
}
