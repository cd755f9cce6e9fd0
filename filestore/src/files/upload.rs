//! Writing one PATCH (or creation-with-upload) body into an upload's partial file, streamed.
//!
//! The request body is cut into 1 MiB pieces that a blocking writer thread appends, hashes
//! (the file's running SHA-256 and the chunk's tus checksum) and fsyncs; at most a few pieces
//! are in flight, so memory stays bounded whatever the upload size. Never reports an offset
//! as stored before its bytes are fsynced.

use crate::Error;
use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const PIECE: usize = 1 << 20;
/// Without a checksum, a long PATCH commits its progress every this many bytes, so a crash
/// mid-request loses at most this much.
const SYNC_EVERY: u64 = 64 << 20;

/// The running SHA-256 of an upload's first `offset` bytes. Kept between PATCHes in memory;
/// after a restart it is rebuilt by reading the partial file once.
#[derive(Clone)]
pub struct HashProgress {
    pub offset: u64,
    pub sha256: Sha256,
}

/// One lock per upload: a PATCH holds it for its whole body, so two requests never write the
/// same upload at once. The lock also guards the upload's [`HashProgress`].
#[derive(Default)]
pub struct UploadLocks {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<HashProgress>>>>>,
}

pub type UploadGuard = tokio::sync::OwnedMutexGuard<Option<HashProgress>>;

impl UploadLocks {
    pub fn get(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<HashProgress>>> {
        let mut m = self.map.lock().expect("upload lock table is never poisoned: no code panics while holding it");
        m.entry(id.to_string()).or_default().clone()
    }
    pub fn forget(&self, id: &str) {
        let mut m = self.map.lock().expect("upload lock table is never poisoned: no code panics while holding it");
        m.remove(id);
    }
}

/// tus checksum extension: the algorithm and expected digest of this request's body.
#[derive(Clone)]
pub enum Checksum {
    Sha1(Vec<u8>),
    Sha256(Vec<u8>),
}

impl Checksum {
    /// Parses `Upload-Checksum: <algorithm> <base64 digest>`; an unknown algorithm is 400.
    pub fn parse(h: &str) -> Result<Checksum, Error> {
        use base64::Engine;
        let (alg, b64) = h
            .trim()
            .split_once(' ')
            .ok_or_else(|| Error::BadRequest("Upload-Checksum must be `<algorithm> <base64>`".into()))?;
        let digest = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| Error::BadRequest("Upload-Checksum digest is not base64".into()))?;
        match alg {
            "sha1" => Ok(Checksum::Sha1(digest)),
            "sha256" => Ok(Checksum::Sha256(digest)),
            _ => Err(Error::BadRequest(format!("checksum algorithm {alg:?} not supported (sha1, sha256)"))),
        }
    }
}

enum ChunkHasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl ChunkHasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            ChunkHasher::Sha1(h) => h.update(b),
            ChunkHasher::Sha256(h) => h.update(b),
        }
    }
}

pub struct Chunk {
    pub path: PathBuf,
    pub start: u64,
    /// The upload's total length: the body may not go past it.
    pub length: u64,
    pub checksum: Option<Checksum>,
    /// The hash of the first `start` bytes, if known.
    pub progress: Option<HashProgress>,
}

pub enum Outcome {
    /// Body fully written and verified; bytes up to `progress.offset` are fsynced.
    Stored(HashProgress),
    /// The client went away. Without a checksum the bytes received so far are kept
    /// (fsynced up to `progress.offset`); with one, nothing of this request is.
    Interrupted(HashProgress),
}

/// Streams `body` into the partial file. `on_durable` is told of offsets that are fsynced
/// mid-request (only when there is no checksum, since a checksum covers the whole body).
pub async fn write_chunk<F, Fut>(chunk: Chunk, body: Body, mut on_durable: F) -> Result<Outcome, Error>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let Chunk { path, start, length, checksum, progress } = chunk;
    let path_again = path.clone();
    let (piece_tx, mut piece_rx) = mpsc::channel::<Bytes>(4);
    let (durable_tx, mut durable_rx) = mpsc::unbounded_channel::<u64>();
    let periodic = checksum.is_none();
    let expected = checksum.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(HashProgress, Option<bool>, u64), Error> {
        let mut file = OpenOptions::new().read(true).write(true).open(&path)?;
        let progress = match progress.filter(|p| p.offset == start) {
            Some(p) => p,
            None => rehash_prefix(&mut file, start)?,
        };
        // Bytes past the committed offset (a request cut by a crash) are dropped.
        file.set_len(start)?;
        file.seek(SeekFrom::Start(start))?;
        let mut sha256 = progress.sha256;
        // The chunk's checksum is computed on a thread of its own, beside the file's hash.
        let checker = match &expected {
            None => None,
            Some(c) => {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Bytes>(4);
                let c = c.clone();
                let t = std::thread::Builder::new().name("upload-checksum".into()).spawn(move || {
                    let mut h = match c {
                        Checksum::Sha1(_) => ChunkHasher::Sha1(Sha1::new()),
                        Checksum::Sha256(_) => ChunkHasher::Sha256(Sha256::new()),
                    };
                    while let Ok(piece) = rx.recv() {
                        h.update(&piece);
                    }
                    match (h, c) {
                        (ChunkHasher::Sha1(h), Checksum::Sha1(want)) => h.finalize().as_slice() == want.as_slice(),
                        (ChunkHasher::Sha256(h), Checksum::Sha256(want)) => h.finalize().as_slice() == want.as_slice(),
                        _ => false,
                    }
                })?;
                Some((tx, t))
            }
        };
        let mut written = 0u64;
        let mut since_sync = 0u64;
        // Periodic fsyncs run on their own thread, so writing goes on while the disk catches
        // up; an offset is reported durable only after its fsync returned.
        let syncer = if periodic {
            let handle = file.try_clone()?;
            let (sync_tx, sync_rx) = std::sync::mpsc::sync_channel::<u64>(1);
            let durable_tx = durable_tx.clone();
            let t = std::thread::Builder::new().name("upload-fsync".into()).spawn(move || {
                while let Ok(off) = sync_rx.recv() {
                    if handle.sync_data().is_err() {
                        return;
                    }
                    let _ = durable_tx.send(off);
                }
            })?;
            Some((sync_tx, t))
        } else {
            None
        };
        while let Some(piece) = piece_rx.blocking_recv() {
            file.write_all(&piece)?;
            sha256.update(&piece);
            if let Some((tx, _)) = &checker {
                let _ = tx.send(piece.clone());
            }
            written += piece.len() as u64;
            since_sync += piece.len() as u64;
            if let Some((sync_tx, _)) = &syncer {
                if since_sync >= SYNC_EVERY && sync_tx.try_send(start + written).is_ok() {
                    since_sync = 0;
                }
            }
        }
        if let Some((sync_tx, t)) = syncer {
            drop(sync_tx);
            let _ = t.join();
        }
        let verdict = match checker {
            None => None,
            Some((tx, t)) => {
                drop(tx);
                Some(t.join().unwrap_or(false))
            }
        };
        if verdict == Some(false) {
            file.set_len(start)?;
        }
        file.sync_data()?;
        Ok((HashProgress { offset: start + written, sha256 }, verdict, written))
    });

    let mut buf = BytesMut::with_capacity(PIECE);
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    let mut interrupted = false;
    let mut too_long = false;
    let mut pipe_broken = false;
    loop {
        tokio::select! {
            Some(off) = durable_rx.recv() => { on_durable(off).await?; continue; }
            frame = stream.next() => match frame {
                None => break,
                Some(Err(_)) => { interrupted = true; break; }
                Some(Ok(data)) => {
                    received += data.len() as u64;
                    if start + received > length {
                        too_long = true;
                        break;
                    }
                    buf.extend_from_slice(&data);
                    if buf.len() >= PIECE && piece_tx.send(buf.split().freeze()).await.is_err() {
                        pipe_broken = true;
                        break;
                    }
                }
            }
        }
    }
    if !too_long && !pipe_broken && !buf.is_empty() {
        let _ = piece_tx.send(buf.split().freeze()).await;
    }
    drop(piece_tx);
    let joined = writer.await.map_err(|e| Error::Io(std::io::Error::other(format!("writer task failed: {e}"))))?;
    while let Ok(off) = durable_rx.try_recv() {
        on_durable(off).await?;
    }
    let (progress, verdict, _written) = joined?;
    let discard = too_long || pipe_broken || (interrupted && checksum.is_some());
    if discard && verdict != Some(false) {
        // Nothing of this request is kept: cut the file back to where it started.
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let f = OpenOptions::new().write(true).open(&path_again)?;
            f.set_len(start)?;
            f.sync_data()
        })
        .await
        .map_err(|e| Error::Io(std::io::Error::other(format!("truncate task failed: {e}"))))??;
    }
    if too_long {
        return Err(Error::TooLarge("request body goes past Upload-Length".into()));
    }
    if pipe_broken {
        return Err(Error::Io(std::io::Error::other("upload writer stopped early")));
    }
    match (interrupted, verdict) {
        (_, Some(false)) => Err(Error::ChecksumMismatch),
        (true, Some(true)) => Err(Error::BadRequest("request body ended early".into())),
        (true, None) => Ok(Outcome::Interrupted(progress)),
        (false, _) => Ok(Outcome::Stored(progress)),
    }
}

/// Reads the first `len` bytes of the partial file to rebuild its running hash.
fn rehash_prefix(file: &mut File, len: u64) -> Result<HashProgress, Error> {
    if file.metadata()?.len() < len {
        return Err(Error::Io(std::io::Error::other("partial file is shorter than its committed offset")));
    }
    file.seek(SeekFrom::Start(0))?;
    let mut sha256 = Sha256::new();
    let mut left = len;
    let mut buf = vec![0u8; PIECE];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        file.read_exact(&mut buf[..n])?;
        sha256.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(HashProgress { offset: len, sha256 })
}

/// The type of a finished upload, from its first bytes (never from the client's word).
pub fn sniff(path: &std::path::Path) -> String {
    let mut head = vec![0u8; 8192];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    infer::get(&head[..n]).map(|t| t.mime_type().to_string()).unwrap_or_else(|| "application/octet-stream".into())
}

#[cfg(test)]
mod tests {
    use super::Checksum;

    #[test]
    fn checksum_header() {
        assert!(matches!(Checksum::parse("sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00="), Ok(Checksum::Sha1(d)) if d.len() == 20));
        assert!(matches!(Checksum::parse("sha256 AAAA"), Ok(Checksum::Sha256(_))));
        assert!(Checksum::parse("md5 AAAA").is_err());
        assert!(Checksum::parse("sha1").is_err());
        assert!(Checksum::parse("sha1 ***").is_err());
    }
}
