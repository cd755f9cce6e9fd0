//! Faults during a meeting (issue 16, point 4): three pages meet through five separate
//! processes (the `signal`, `focus`, `bridge`, `filestore` and `web` binaries, as on five
//! machines); signal, then focus, then filestore, then web is killed with SIGKILL and
//! started again (`tests/browser/faults.mjs` asks for each step through control files and
//! checks the pages: media during the outage, chat and files after it, no reload, no chat
//! message lost).

mod common;

use common::System;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One component: how to start it again on the same ports and data.
struct Component {
    name: &'static str,
    env: Vec<(String, String)>,
    /// Listening here means started.
    ready_addr: String,
    running: Option<System>,
    /// Killed instances, kept so their data folder is not removed (System's Drop removes it).
    dead: Vec<System>,
}

impl Component {
    async fn start(&mut self) {
        let mut sys = System::start(self.name, self.env.clone());
        if self.name == "web" {
            sys.wait_ready().await;
        } else {
            let deadline = Instant::now() + Duration::from_secs(60);
            while tokio::net::TcpStream::connect(&self.ready_addr).await.is_err() {
                assert!(sys.child.try_wait().expect("wait").is_none(), "{} exited at start", self.name);
                assert!(Instant::now() < deadline, "{} does not listen on {}", self.name, self.ready_addr);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.running = Some(sys);
    }

    fn kill(&mut self) {
        let mut sys = self.running.take().expect("running");
        sys.child.kill().expect("SIGKILL");
        sys.child.wait().expect("reaped");
        self.dead.push(sys);
    }
}

fn addr() -> String {
    format!("127.0.0.1:{}", common::free_tcp())
}

async fn wait_file(control: &Path, name: &str, scenario: &tokio::task::JoinHandle<()>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !control.join(name).exists() {
        assert!(!scenario.is_finished(), "the scenario ended before asking for {name}");
        assert!(Instant::now() < deadline, "the scenario never asked for {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_survives_each_component_killed_and_restarted() {
    let Some(modules) = common::node_modules() else { return };
    let root = common::temp_dir("faults");
    let dir = |c: &str| -> String {
        let d: PathBuf = root.join(c);
        std::fs::create_dir_all(&d).expect("data folder");
        d.display().to_string()
    };
    let bus_secret = proto::secrets::random_hex(16).expect("random");
    let token_secret = proto::secrets::random_hex(32).expect("random");
    let (c2s, signal_http, bus, focus_http, bridge_http, filestore) = (addr(), addr(), addr(), addr(), addr(), addr());
    let media = format!("127.0.0.1:{}", common::free_udp());
    let (https, http) = (addr(), addr());
    let s = |v: &str| v.to_string();
    let common_env = |c: &str, extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut env = vec![(s("DATA_DIR"), dir(c)), (s("BUS_SECRET"), bus_secret.clone())];
        env.extend(extra.iter().map(|(k, v)| (s(k), s(v))));
        env
    };
    let mut components = vec![
        Component {
            name: "signal",
            env: common_env(
                "signal",
                &[
                    ("SIGNAL_C2S_ADDR", &c2s),
                    ("SIGNAL_HTTP_ADDR", &signal_http),
                    ("SIGNAL_BUS_ADDR", &bus),
                    ("TOKEN_SECRET", &token_secret),
                ],
            ),
            ready_addr: bus.clone(),
            running: None,
            dead: vec![],
        },
        Component {
            name: "focus",
            env: common_env("focus", &[("BUS_ADDR", &bus), ("FOCUS_HTTP_ADDR", &focus_http), ("P2P_ENABLED", "false")]),
            ready_addr: focus_http.clone(),
            running: None,
            dead: vec![],
        },
        Component {
            name: "bridge",
            env: common_env(
                "bridge",
                &[
                    ("BUS_ADDR", &bus),
                    ("BRIDGE_MEDIA_ADDR", &media),
                    ("BRIDGE_HTTP_ADDR", &bridge_http),
                    ("ADVERTISE_IPS", "127.0.0.1"),
                ],
            ),
            ready_addr: bridge_http.clone(),
            running: None,
            dead: vec![],
        },
        Component {
            name: "filestore",
            env: common_env("filestore", &[("FILESTORE_ADDR", &filestore), ("TOKEN_SECRET", &token_secret)]),
            ready_addr: filestore.clone(),
            running: None,
            dead: vec![],
        },
        Component {
            name: "web",
            env: common_env(
                "web",
                &[
                    ("WEB_HTTPS_ADDR", &https),
                    ("WEB_HTTP_ADDR", &http),
                    ("SIGNAL_HTTP_URL", &format!("http://{signal_http}")),
                    ("FILESTORE_URL", &format!("http://{filestore}")),
                ],
            ),
            ready_addr: https.clone(),
            running: None,
            dead: vec![],
        },
    ];
    for c in &mut components {
        c.start().await;
    }

    let control = common::temp_dir("faults-control");
    let base = format!("https://{https}");
    let control2 = control.clone();
    let scenario = tokio::task::spawn_blocking(move || {
        common::run_browser_scenario(
            "faults.mjs",
            &base,
            &modules,
            &[("CONTROL_DIR", control2.to_str().expect("utf-8 temp path"))],
        )
    });
    for name in ["signal", "focus", "filestore", "web"] {
        let c = components.iter_mut().find(|c| c.name == name).expect("component");
        wait_file(&control, &format!("kill-{name}"), &scenario).await;
        c.kill();
        std::fs::write(control.join(format!("{name}-killed")), b"").expect("control file");
        wait_file(&control, &format!("restart-{name}"), &scenario).await;
        c.start().await;
        std::fs::write(control.join(format!("{name}-restarted")), b"").expect("control file");
    }
    scenario.await.expect("the scenario thread does not panic outside its assertion");
    for c in components.iter_mut().rev() {
        if let Some(mut sys) = c.running.take() {
            assert!(sys.stop().success(), "{} stops cleanly on SIGTERM", c.name);
        }
    }
    drop(components);
    let _ = std::fs::remove_dir_all(&control);
    let _ = std::fs::remove_dir_all(&root);
}
