//! The HTTPS certificate: the admin's own (`TLS_CERT`/`TLS_KEY`), or a self-signed one for
//! this host's names and addresses, generated into `DATA_DIR/tls/` on first start and reused
//! while it still covers every current name (a new LAN address regenerates it).
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
        None => ensure_self_signed(&config.data_dir)?,
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

fn ensure_self_signed(data_dir: &Path) -> Result<(PathBuf, PathBuf), Error> {
    let dir = data_dir.join("tls");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let names_file = dir.join("names.txt");
    let wanted = host_names();
    let covered: BTreeSet<String> =
        fs::read_to_string(&names_file).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default();
    if cert.exists() && key.exists() && wanted.is_subset(&covered) {
        return Ok((cert, key));
    }
    // Keep names that were covered before, so a laptop moving between networks does not
    // invalidate a certificate someone already accepted for an older address.
    let all: BTreeSet<String> = wanted.union(&covered).cloned().collect();
    fs::create_dir_all(&dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let generated = rcgen::generate_simple_self_signed(all.iter().cloned().collect::<Vec<_>>())?;
    // The certificate goes last: its presence means the set is complete.
    write_file(&key, generated.signing_key.serialize_pem().as_bytes(), true)?;
    let list: String = all.iter().map(|n| format!("{n}\n")).collect();
    write_file(&names_file, list.as_bytes(), false)?;
    write_file(&cert, generated.cert.pem().as_bytes(), false)?;
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
