//! The HTTPS certificate: the admin's own (`TLS_CERT`/`TLS_KEY`), or a self-signed one
//! generated into `DATA_DIR/tls/` on first start and reused after. It names either what the
//! admin configured (`ADVERTISE_IPS`, `PUBLIC_HOSTNAMES`: regenerated only when those change,
//! never because a container got a new hostname or address), or, when neither is set, this
//! host's own names and addresses (regenerated when a new one appears, old ones kept).
//!
//! This module never sends a key anywhere and writes the key file readable by its owner only.

use crate::{Config, Error};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rustls server configuration (HTTP/1.1 only: WebSocket upgrades need it).
pub fn server_config(config: &Config) -> Result<Arc<rustls::ServerConfig>, Error> {
    let (cert_path, key_path) = match &config.tls_files {
        Some((c, k)) => (c.clone(), k.clone()),
        None => ensure_self_signed(&config.data_dir, &wanted_names(&config.public_names))?,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| Error::Tls(format!("reading {}: {e}", cert_path.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Tls(format!("parsing {}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("{} holds no certificate", cert_path.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| Error::Tls(format!("reading the key {}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(format!("certificate and key do not fit: {e}")))?;
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// Names a browser on the LAN may use to reach this host: `localhost`, the host name (and
/// `<hostname>.local`), and every interface address.
pub fn host_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    names.insert("localhost".to_string());
    if let Ok(h) = fs::read_to_string("/proc/sys/kernel/hostname") {
        let h = h.trim();
        if !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            names.insert(h.to_string());
            if !h.contains('.') {
                names.insert(format!("{h}.local"));
            }
        }
    }
    for ip in lan_addresses(true) {
        names.insert(ip.to_string());
    }
    names
}

/// This host's interface addresses (IPv6 link-local left out: a URL cannot carry its zone).
pub fn lan_addresses(with_loopback: bool) -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    if let Ok(ifaces) = if_addrs::get_if_addrs() {
        for i in ifaces {
            let ip = i.ip();
            let link_local_v6 = matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80);
            if link_local_v6 || (!with_loopback && ip.is_loopback()) {
                continue;
            }
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    out
}

/// What the generated certificate must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertNames {
    /// Exactly these: the configured public names plus `localhost` and loopback. A different
    /// set makes a new certificate.
    Configured(BTreeSet<String>),
    /// At least these: the host's names now. Names covered before are kept, so a laptop moving
    /// between networks does not invalidate a certificate someone accepted for an older address.
    Detected(BTreeSet<String>),
}

/// The names for `public_names` (`Config::public_names`); empty means "detect".
pub fn wanted_names(public_names: &[String]) -> CertNames {
    if public_names.is_empty() {
        return CertNames::Detected(host_names());
    }
    let mut names: BTreeSet<String> = ["localhost", "127.0.0.1", "::1"].iter().map(|n| n.to_string()).collect();
    names.extend(public_names.iter().cloned());
    CertNames::Configured(names)
}

/// The certificate and key files in `DATA_DIR/tls/` for `wanted`: the existing pair when it
/// still fits, else a new pair (written key first, certificate last).
pub fn ensure_self_signed(data_dir: &Path, wanted: &CertNames) -> Result<(PathBuf, PathBuf), Error> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let names_file = dir.join("names.txt");
    let covered: BTreeSet<String> =
        fs::read_to_string(&names_file).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default();
    let have_pair = cert.exists() && key.exists();
    let all: BTreeSet<String> = match wanted {
        CertNames::Configured(names) if have_pair && *names == covered => return Ok((cert, key)),
        CertNames::Detected(names) if have_pair && names.is_subset(&covered) => return Ok((cert, key)),
        CertNames::Configured(names) => names.clone(),
        CertNames::Detected(names) => names.union(&covered).cloned().collect(),
    };
    fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let generated = rcgen::generate_simple_self_signed(all.iter().cloned().collect::<Vec<_>>())?;
    // The name list goes last: a pair interrupted halfway does not match it and is made again.
    write_file(&key, generated.signing_key.serialize_pem().as_bytes(), true)?;
    write_file(&cert, generated.cert.pem().as_bytes(), false)?;
    let list: String = all.iter().map(|n| format!("{n}\n")).collect();
    write_file(&names_file, list.as_bytes(), false)?;
    tracing::info!(path = %cert.display(), names = ?all, "generated a self-signed certificate");
    Ok((cert, key))
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), Error> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if private { 0o600 } else { 0o644 });
    }
    let _ = private;
    let mut f = opts.open(&tmp).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    f.write_all(bytes).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    f.sync_all().map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("renaming to {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "meet-web-tls-{}-{}",
            std::process::id(),
            proto::secrets::random_hex(4).expect("OS randomness")
        ));
        fs::create_dir_all(&d).expect("creating a temp dir");
        d
    }

    fn configured(names: &[&str]) -> CertNames {
        wanted_names(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
    }

    fn generate(dir: &Path, names: &CertNames) -> Vec<u8> {
        let (cert, _) = ensure_self_signed(dir, names).expect("certificate made or reused");
        fs::read(cert).expect("certificate readable")
    }

    #[test]
    fn configured_names_keep_the_certificate_until_they_change() {
        let dir = temp_dir();
        let first = generate(&dir, &configured(&["192.168.1.20", "meet-box"]));
        assert_eq!(
            generate(&dir, &configured(&["192.168.1.20", "meet-box"])),
            first,
            "same settings, same certificate"
        );
        assert_eq!(generate(&dir, &configured(&["meet-box", "192.168.1.20"])), first, "order does not matter");
        let second = generate(&dir, &configured(&["192.168.1.21", "meet-box"]));
        assert_ne!(second, first, "a changed address makes a new certificate");
        let names = fs::read_to_string(dir.join("tls/names.txt")).expect("names written");
        assert_eq!(names, "127.0.0.1\n192.168.1.21\n::1\nlocalhost\nmeet-box\n", "exactly the configured names");
        assert_ne!(generate(&dir, &configured(&["192.168.1.21"])), second, "a name left out makes a new one too");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn configured_names_ignore_the_host_own_names() {
        let dir = temp_dir();
        // A certificate made while nothing was configured (e.g. an older version in a container).
        let detected = generate(&dir, &wanted_names(&[]));
        let configured_cert = generate(&dir, &configured(&["10.1.2.3"]));
        assert_ne!(configured_cert, detected, "switching to configured names makes one for them");
        assert!(!fs::read_to_string(dir.join("tls/names.txt")).expect("names").contains(".local"));
        assert_eq!(generate(&dir, &configured(&["10.1.2.3"])), configured_cert);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn detected_names_keep_what_was_covered_before() {
        let dir = temp_dir();
        let old: BTreeSet<String> = ["localhost", "192.168.7.7"].iter().map(|n| n.to_string()).collect();
        let first = generate(&dir, &CertNames::Detected(old.clone()));
        assert_eq!(generate(&dir, &CertNames::Detected(["localhost".to_string()].into())), first, "a subset reuses it");
        let moved: BTreeSet<String> = ["localhost", "10.0.0.9"].iter().map(|n| n.to_string()).collect();
        assert_ne!(generate(&dir, &CertNames::Detected(moved)), first, "a new address makes a new one");
        let names = fs::read_to_string(dir.join("tls/names.txt")).expect("names");
        assert!(names.contains("192.168.7.7") && names.contains("10.0.0.9"), "old and new addresses: {names}");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_pair_whose_name_list_is_missing_is_made_again() {
        let dir = temp_dir();
        let names = configured(&["meet-box"]);
        let first = generate(&dir, &names);
        fs::remove_file(dir.join("tls/names.txt")).expect("names written");
        assert_ne!(generate(&dir, &names), first, "an interrupted write is not trusted");
        let _ = fs::remove_dir_all(dir);
    }
}
