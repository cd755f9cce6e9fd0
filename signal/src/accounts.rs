//! Accounts on `auth.<domain>` (for focus or admins who log in as clients), managed like
//! `prosodyctl register`: `signal add-account <user>` reads the password from stdin and
//! stores SCRAM-SHA-1 keys (salt, iterations, StoredKey, ServerKey) in
//! `DATA_DIR/accounts.json`; `signal remove-account <user>` deletes the entry.
//!
//! The password itself is never stored, and this module never logs it. SASL PLAIN is checked
//! against the same keys, so one record serves both mechanisms.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const ITERATIONS: u32 = 4096;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ScramKeys {
    pub salt: String,
    pub iterations: u32,
    pub stored_key: String,
    pub server_key: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    accounts: BTreeMap<String, ScramKeys>,
}

/// The accounts file of a data folder.
#[derive(Debug, Clone)]
pub struct Accounts {
    path: PathBuf,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// `SaltedPassword` of RFC 5802.
pub fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 20] {
    let mut out = [0u8; 20];
    pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), salt, iterations, &mut out);
    out
}

/// `(StoredKey, ServerKey)` of RFC 5802 for a salted password.
pub fn derive_keys(salted: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let client_key = hmac(salted, b"Client Key");
    let stored_key = Sha1::digest(&client_key).to_vec();
    let server_key = hmac(salted, b"Server Key");
    (stored_key, server_key)
}

pub fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac(key, data)
}

/// User names: lowercase letters, digits, `.`, `-`, `_`; 1..=64 bytes.
pub fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && user.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c))
}

impl ScramKeys {
    pub fn new(password: &str) -> Result<ScramKeys, crate::Error> {
        let salt = proto::secrets::random_hex(16)?;
        let salt = hex::decode(salt).expect("random_hex yields hex");
        let salted = salted_password(password, &salt, ITERATIONS);
        let (stored, server) = derive_keys(&salted);
        Ok(ScramKeys {
            salt: B64.encode(salt),
            iterations: ITERATIONS,
            stored_key: B64.encode(stored),
            server_key: B64.encode(server),
        })
    }

    pub fn salt_bytes(&self) -> Vec<u8> {
        B64.decode(&self.salt).unwrap_or_default()
    }

    pub fn stored_key_bytes(&self) -> Vec<u8> {
        B64.decode(&self.stored_key).unwrap_or_default()
    }

    pub fn server_key_bytes(&self) -> Vec<u8> {
        B64.decode(&self.server_key).unwrap_or_default()
    }

    /// True when `password` matches (SASL PLAIN), in constant time on the key.
    pub fn check_password(&self, password: &str) -> bool {
        let salted = salted_password(password, &self.salt_bytes(), self.iterations);
        let (stored, _) = derive_keys(&salted);
        let want = self.stored_key_bytes();
        crate::auth::constant_time_eq(&stored, &want)
    }
}

impl Accounts {
    pub fn new(data_dir: &Path) -> Self {
        Accounts { path: data_dir.join("accounts.json") }
    }

    fn load(&self) -> Result<File, crate::Error> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => {
                serde_json::from_str(&s).map_err(|e| crate::Error::Accounts(format!("{}: {e}", self.path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn save(&self, f: &File) -> Result<(), crate::Error> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = self.path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(f).map_err(|e| crate::Error::Accounts(e.to_string()))?;
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut file = opts.open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// The keys of `user`, if the account exists.
    pub fn get(&self, user: &str) -> Result<Option<ScramKeys>, crate::Error> {
        Ok(self.load()?.accounts.get(user).cloned())
    }

    /// Every account's user name.
    pub fn list(&self) -> Result<Vec<String>, crate::Error> {
        Ok(self.load()?.accounts.into_keys().collect())
    }

    /// Creates or replaces `user`'s password.
    pub fn add(&self, user: &str, password: &str) -> Result<(), crate::Error> {
        if !valid_user(user) {
            return Err(crate::Error::Accounts(format!(
                "invalid user name {user:?}: use lowercase letters, digits, . - _"
            )));
        }
        if password.is_empty() {
            return Err(crate::Error::Accounts("empty password".into()));
        }
        let mut f = self.load()?;
        f.accounts.insert(user.to_string(), ScramKeys::new(password)?);
        self.save(&f)
    }

    /// Deletes `user`; an error if there was no such account.
    pub fn remove(&self, user: &str) -> Result<(), crate::Error> {
        let mut f = self.load()?;
        if f.accounts.remove(user).is_none() {
            return Err(crate::Error::Accounts(format!("no account {user:?}")));
        }
        self.save(&f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5802_example_keys() {
        // RFC 5802 §5: user "user", password "pencil", salt QSXCR+Q6sek8bf92, 4096 iterations.
        let salt = B64.decode("QSXCR+Q6sek8bf92").unwrap();
        let salted = salted_password("pencil", &salt, 4096);
        let (_, server_key) = derive_keys(&salted);
        let auth_message = "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j";
        let sig = hmac_sha1(&server_key, auth_message.as_bytes());
        assert_eq!(B64.encode(sig), "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    }

    #[test]
    fn add_check_remove() {
        let dir = std::env::temp_dir().join(format!("acct-{}", proto::secrets::random_hex(6).unwrap()));
        let a = Accounts::new(&dir);
        a.add("alice", "s3cret").unwrap();
        assert!(a.get("alice").unwrap().unwrap().check_password("s3cret"));
        assert!(!a.get("alice").unwrap().unwrap().check_password("wrong"));
        assert!(!std::fs::read_to_string(dir.join("accounts.json")).unwrap().contains("s3cret"));
        assert!(a.add("Bad User", "x").is_err());
        a.remove("alice").unwrap();
        assert!(a.get("alice").unwrap().is_none());
        assert!(a.remove("alice").is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
