//! The HTTPS entry point as a browser on the LAN meets it: a self-signed certificate for
//! this host's names and addresses, generated on first start and reused after; plain HTTP
//! redirecting to HTTPS; the client, `/config.json` and `/health` served from the binary.

mod common;

use common::{get, http_request, https_request, System};

#[tokio::test]
async fn certificate_covers_local_names_and_is_reused_after_restart() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    // The generated certificate verifies for the names a browser uses (rustls checks SANs).
    for name in ["localhost", "127.0.0.1"] {
        common::tls_stream(&sys, name).await.unwrap_or_else(|e| panic!("TLS as {name}: {e}"));
    }
    assert!(common::tls_stream(&sys, "not-this-host.example").await.is_err(), "a foreign name must not verify");
    let first = std::fs::read(sys.data_dir.join("tls/cert.pem")).expect("certificate written");
    let key_mode = std::fs::metadata(sys.data_dir.join("tls/key.pem")).map(|m| {
        use std::os::unix::fs::PermissionsExt;
        m.permissions().mode() & 0o777
    });
    assert_eq!(key_mode.expect("key written"), 0o600, "the key is private to its owner");
    assert!(sys.stop().success(), "web exits cleanly on SIGTERM");

    let env: Vec<(String, String)> = vec![("DATA_DIR".into(), sys.data_dir.display().to_string())];
    let mut again = System::start("web", env);
    again.wait_ready().await;
    let second = std::fs::read(again.data_dir.join("tls/cert.pem")).expect("certificate still there");
    assert_eq!(first, second, "the certificate is reused, not regenerated");
    assert!(again.stop().success());
}

#[tokio::test]
async fn own_certificate_from_tls_cert_and_tls_key_is_used() {
    // Make a certificate the way an admin would bring one, for a name only it covers.
    let ck = rcgen_cert("meet.example.lan");
    let dir = common::temp_dir("owncert");
    std::fs::write(dir.join("c.pem"), &ck.0).expect("write cert");
    std::fs::write(dir.join("k.pem"), &ck.1).expect("write key");
    let mut sys = System::start(
        "web",
        vec![
            ("TLS_CERT".into(), dir.join("c.pem").display().to_string()),
            ("TLS_KEY".into(), dir.join("k.pem").display().to_string()),
        ],
    );
    // wait_ready trusts DATA_DIR/tls/cert.pem; with an own certificate nothing is generated.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while tokio::net::TcpStream::connect(sys.https).await.is_err() {
        assert!(std::time::Instant::now() < deadline, "web did not listen");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!sys.data_dir.join("tls/cert.pem").exists(), "no certificate is generated when one is given");
    std::fs::create_dir_all(sys.data_dir.join("tls")).expect("mkdir");
    std::fs::write(sys.data_dir.join("tls/cert.pem"), &ck.0).expect("anchor for the test client");
    common::tls_stream(&sys, "meet.example.lan").await.expect("the admin's certificate is served");
    assert!(sys.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}

fn rcgen_cert(name: &str) -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("rcgen makes a certificate");
    (c.cert.pem(), c.signing_key.serialize_pem())
}

#[tokio::test]
async fn http_redirects_to_https_keeping_path_and_query() {
    let mut sys = System::start("web", vec![]);
    sys.wait_ready().await;
    let r =
        http_request(sys.http, "GET /standup?name=Ada HTTP/1.1\r\nHost: meet.lan:8000\r\nConnection: close\r\n\r\n")
            .await
            .expect("HTTP answers");
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location").as_deref(),
        Some(format!("https://meet.lan:{}/standup?name=Ada", sys.https.port()).as_str())
    );
    assert!(sys.stop().success());
}

#[tokio::test]
async fn client_config_and_health_are_served_from_the_binary() {
    let mut sys = System::start("web", vec![("XMPP_DOMAIN".into(), "example.lan".into())]);
    sys.wait_ready().await;
    let page = https_request(&sys, &get("/standup")).await.expect("room page");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap_or_default().starts_with("text/html"));
    assert!(page.text().contains("/static/js/app.js"));
    let csp = page.header("content-security-policy").expect("a CSP on every page");
    assert!(csp.contains("script-src 'self'"), "scripts only from this origin: {csp}");

    let js = https_request(&sys, &get("/static/js/conference.js")).await.expect("a module");
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap_or_default().starts_with("text/javascript"));
    let embedded = std::fs::read_to_string(common::workspace_root().join("web/client/static/js/conference.js"))
        .expect("source file");
    assert_eq!(js.text(), embedded, "served bytes are the client's file");

    let cfg = https_request(&sys, &get("/config.json")).await.expect("config");
    let v: serde_json::Value = serde_json::from_slice(&cfg.body).expect("config.json is JSON");
    assert_eq!(v["domain"], "example.lan");
    assert_eq!(v["muc"], "conference.example.lan");
    assert_eq!(v["focus"], "focus.example.lan");

    let health = https_request(&sys, &get("/health")).await.expect("health");
    assert_eq!(health.status, 200);
    assert!(sys.stop().success());
}
