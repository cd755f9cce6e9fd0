//! Secrets that components share (bus secret, token signing key): taken from the
//! environment when set, otherwise generated once into `DATA_DIR/secrets/` and reused.
//!
//! Several processes of the all-in-one run may ask for the same secret at the same moment;
//! the file is published with a hard link, so exactly one generated value wins and every
//! process reads that one.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Returns the secret named `name`: `env_value` if it is non-empty, else the content of
/// `data_dir/secrets/<name>`, else a new random 256-bit hex value written there (mode 0600).
pub fn load_or_generate(data_dir: &Path, name: &str, env_value: Option<String>) -> io::Result<String> {
    if let Some(v) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok(v.trim().to_string());
    }
    let dir = data_dir.join("secrets");
    fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    if let Some(v) = read_existing(&path)? {
        return Ok(v);
    }
    let value = random_hex(32)?;
    let tmp: PathBuf = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = open_private(&tmp)?;
        f.write_all(value.as_bytes())?;
        f.sync_all()?;
    }
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(value),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_existing(&path)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("secret file {} is empty", path.display()))
        }),
        Err(e) => Err(e),
    }
}

fn read_existing(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<fs::File> {
    fs::File::create(path)
}

/// `n` random bytes from the OS, hex encoded.
pub fn random_hex(n: usize) -> io::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(hex::encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_then_file_is_reused() {
        let dir = std::env::temp_dir().join(format!("secrets-test-{}", random_hex(6).unwrap()));
        assert_eq!(load_or_generate(&dir, "bus", Some("fromenv".into())).unwrap(), "fromenv");
        let a = load_or_generate(&dir, "bus", None).unwrap();
        let b = load_or_generate(&dir, "bus", Some("  ".into())).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(a, b);
        let _ = fs::remove_dir_all(&dir);
    }
}
