//! The directory: every account and every recognised guest who has logged in once, with the
//! last display name each gave (`signal/PEOPLE.md` section 2). Held in memory by the hub's
//! [`super::People`], saved through the [`Store`] on every change, read back at start.
//!
//! Accounts follow `accounts.json`: at start an account that was removed leaves the
//! directory, and one added while signal runs joins it at its first login.

use super::store::{Kind, Row, Store};
use crate::auth::constant_time_eq;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// One person of the directory.
#[derive(Debug)]
pub struct Entry {
    pub jid: Arc<str>,
    pub kind: Kind,
    /// The last display name from their presence (`<nick/>`); an account's user name until
    /// they give one.
    pub name: Option<String>,
    /// SHA-256 of a guest's secret, recorded at their first login.
    secret_sha256: Option<[u8; 32]>,
}

impl Entry {
    fn row(&self) -> Row {
        Row { jid: self.jid.to_string(), kind: self.kind, name: self.name.clone(), secret_sha256: self.secret_sha256 }
    }

    /// The name people see: the display name, else the local part of the JID.
    pub fn shown_name(&self) -> &str {
        self.name.as_deref().unwrap_or_else(|| self.jid.split('@').next().unwrap_or(&self.jid))
    }
}

/// What a guest's login found in the directory.
#[derive(Debug, PartialEq, Eq)]
pub enum GuestRecord {
    /// First login: the hash is recorded now (trust on first use).
    New,
    Matches,
    Differs,
}

pub struct Directory {
    entries: HashMap<Arc<str>, Entry>,
    store: Store,
}

impl Directory {
    /// Reads `people.sqlite` of `data_dir` and brings its accounts in line with `accounts`
    /// (the user names of `accounts.json`) on `auth_domain`.
    pub fn open(data_dir: &Path, auth_domain: &str, accounts: &[String]) -> Result<Directory, crate::Error> {
        Self::with_store(Store::open(&data_dir.join("people.sqlite"))?, auth_domain, accounts)
    }

    /// A directory kept only in memory (no `people.sqlite`).
    pub fn in_memory(auth_domain: &str, accounts: &[String]) -> Result<Directory, crate::Error> {
        Self::with_store(Store::in_memory()?, auth_domain, accounts)
    }

    fn with_store(
        (store, rows): (Store, Vec<Row>),
        auth_domain: &str,
        accounts: &[String],
    ) -> Result<Directory, crate::Error> {
        let mut d = Directory { entries: HashMap::new(), store };
        for r in rows {
            let jid: Arc<str> = r.jid.into();
            d.entries.insert(jid.clone(), Entry { jid, kind: r.kind, name: r.name, secret_sha256: r.secret_sha256 });
        }
        let current: std::collections::HashSet<String> =
            accounts.iter().map(|u| format!("{u}@{auth_domain}")).collect();
        let gone: Vec<Arc<str>> = d
            .entries
            .values()
            .filter(|e| e.kind == Kind::Account && !current.contains(&*e.jid))
            .map(|e| e.jid.clone())
            .collect();
        for jid in gone {
            d.entries.remove(&jid);
            d.store.delete(&jid);
        }
        for jid in current {
            d.add_account(&jid);
        }
        Ok(d)
    }

    pub fn get(&self, jid: &str) -> Option<&Entry> {
        self.entries.get(jid)
    }

    pub fn contains(&self, jid: &str) -> bool {
        self.entries.contains_key(jid)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Adds an account (named by its user name) unless it is there; true when new.
    pub fn add_account(&mut self, jid: &str) -> bool {
        if self.entries.contains_key(jid) {
            return false;
        }
        let name = jid.split('@').next().map(str::to_string);
        let e = Entry { jid: jid.into(), kind: Kind::Account, name, secret_sha256: None };
        self.store.put(e.row());
        self.entries.insert(e.jid.clone(), e);
        true
    }

    /// Compares a guest's secret hash with the recorded one, recording it on the first login.
    pub fn guest_login(&mut self, jid: &str, secret_sha256: [u8; 32]) -> GuestRecord {
        match self.entries.get(jid) {
            Some(e) => match &e.secret_sha256 {
                Some(h) if constant_time_eq(h, &secret_sha256) => GuestRecord::Matches,
                _ => GuestRecord::Differs,
            },
            None => {
                let e = Entry { jid: jid.into(), kind: Kind::Guest, name: None, secret_sha256: Some(secret_sha256) };
                self.store.put(e.row());
                self.entries.insert(e.jid.clone(), e);
                GuestRecord::New
            }
        }
    }

    /// Sets a person's display name; true when it changed.
    pub fn set_name(&mut self, jid: &str, name: &str) -> bool {
        let Some(e) = self.entries.get_mut(jid) else { return false };
        if e.name.as_deref() == Some(name) {
            return false;
        }
        e.name = Some(name.to_string());
        self.store.put(e.row());
        true
    }
}
