//! The generated certificate as a Docker deployment needs it: it names the addresses and
//! names people use (`ADVERTISE_IPS`, `PUBLIC_HOSTNAMES`), not the host (or container) web
//! runs on; a restart with the same settings serves the same certificate, and changed
//! settings serve a new one that names the new address. An own certificate
//! (`TLS_CERT`/`TLS_KEY`) wins over both settings and nothing is generated.

mod common;

use common::System;

/// The certificate web serves, as DER, for a client that asks for `server_name`.
async fn served_cert(sys: &System, server_name: &str) -> Vec<u8> {
    let tls = common::tls_stream(sys, server_name).await.unwrap_or_else(|e| panic!("TLS as {server_name}: {e}"));
    let certs = tls.get_ref().1.peer_certificates().expect("a server certificate");
    certs[0].as_ref().to_vec()
}

fn web_with(data_dir: &str, advertise_ips: &str, hostnames: &str) -> System {
    System::start(
        "web",
        vec![
            ("DATA_DIR".into(), data_dir.into()),
            ("ADVERTISE_IPS".into(), advertise_ips.into()),
            ("PUBLIC_HOSTNAMES".into(), hostnames.into()),
        ],
    )
}

#[tokio::test]
async fn certificate_follows_the_public_names_setting_not_the_host() {
    let dir = common::temp_dir("tlsnames");
    let data = dir.display().to_string();
    // 192.0.2.0/24 is documentation space: only a name in the certificate, never a target.
    let mut sys = web_with(&data, "192.0.2.10", "meet-box.test");
    sys.wait_ready().await;
    let first = served_cert(&sys, "meet-box.test").await;
    for name in ["192.0.2.10", "localhost", "127.0.0.1"] {
        assert_eq!(served_cert(&sys, name).await, first, "{name} is named by the certificate");
    }
    let own_hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("the kernel knows its hostname");
    assert!(
        common::tls_stream(&sys, own_hostname.trim()).await.is_err(),
        "the host's own name ({}) is not in the certificate: a container's would change with it",
        own_hostname.trim()
    );
    assert!(sys.stop().success(), "web exits cleanly on SIGTERM");

    let mut same = web_with(&data, "192.0.2.10", "meet-box.test");
    same.wait_ready().await;
    assert_eq!(served_cert(&same, "meet-box.test").await, first, "same settings: the same certificate");
    assert!(same.stop().success());

    let mut moved = web_with(&data, "192.0.2.11", "meet-box.test");
    moved.wait_ready().await;
    let second = served_cert(&moved, "192.0.2.11").await;
    assert_ne!(second, first, "a changed ADVERTISE_IPS makes a new certificate");
    assert!(common::tls_stream(&moved, "192.0.2.10").await.is_err(), "the old address is gone from it");
    assert!(moved.stop().success());

    let mut bad = web_with(&data, "192.0.2.11", "not a name");
    let status = bad.child.wait().expect("web runs");
    assert!(!status.success(), "a malformed PUBLIC_HOSTNAMES stops web at start-up");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !bad.logs_contain("PUBLIC_HOSTNAMES") {
        assert!(std::time::Instant::now() < deadline, "the start-up error names PUBLIC_HOSTNAMES");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let names = std::fs::read_to_string(dir.join("tls/names.txt")).expect("the name list is kept");
    assert!(names.contains("192.0.2.11"), "a refused setting changes nothing: {names}");
    drop(bad);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn own_certificate_wins_over_public_names() {
    // 127.0.0.1 too: the test client reaches web there.
    let own = rcgen::generate_simple_self_signed(vec!["meet.example.lan".into(), "127.0.0.1".into()]).expect("rcgen");
    let files = common::temp_dir("tlsown");
    std::fs::write(files.join("c.pem"), own.cert.pem()).expect("write cert");
    std::fs::write(files.join("k.pem"), own.signing_key.serialize_pem()).expect("write key");
    let data = common::temp_dir("tlsowndata");
    let mut sys = System::start(
        "web",
        vec![
            ("DATA_DIR".into(), data.display().to_string()),
            ("ADVERTISE_IPS".into(), "192.0.2.10".into()),
            ("PUBLIC_HOSTNAMES".into(), "meet-box.test".into()),
            ("TLS_CERT".into(), files.join("c.pem").display().to_string()),
            ("TLS_KEY".into(), files.join("k.pem").display().to_string()),
        ],
    );
    // The test client trusts DATA_DIR/tls/cert.pem; put the admin's certificate there, so
    // wait_ready can tell when web serves, and check web did not write its own next to it.
    std::fs::create_dir_all(data.join("tls")).expect("mkdir");
    std::fs::write(data.join("tls/cert.pem"), own.cert.pem()).expect("anchor for the test client");
    sys.wait_ready().await;
    assert_eq!(served_cert(&sys, "meet.example.lan").await, own.cert.der().to_vec(), "the admin's certificate");
    assert!(common::tls_stream(&sys, "meet-box.test").await.is_err(), "PUBLIC_HOSTNAMES does not replace it");
    assert!(!data.join("tls/key.pem").exists(), "no key is generated when one is given");
    assert!(sys.stop().success());
    let _ = std::fs::remove_dir_all(files);
}
