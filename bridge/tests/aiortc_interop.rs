//! Interop with an independent WebRTC stack: an aiortc participant (Python, from PyPI) and
//! two str0m participants meet on the real bridge binary, allocated over the real bus. The
//! aiortc side offers plain (non-simulcast) VP8 and Opus and gets the bridge's renegotiation
//! offers; everyone receives the others' audio and video.

mod live;
use live::{FocusClient, PeerSetup, System};
use proto::colibri::{ColibriEvent, ColibriRequest, ColibriResponse};
use proto::{ConferenceId, EndpointId};
use serde_json::Value;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

fn python() -> Option<String> {
    match std::env::var("MEET_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "MEET_PYTHON must point to the test venv on CI");
            None
        }
    }
}

struct Aiortc {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Aiortc {
    fn start(python: &str) -> Aiortc {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aiortc_participant.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python with aiortc starts");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Aiortc { child, stdin, lines }
    }

    fn send(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").expect("write to the aiortc participant");
        self.stdin.flush().expect("flush to the aiortc participant");
    }

    async fn expect(&mut self, kind: &str) -> Value {
        let v = tokio::time::timeout(Duration::from_secs(30), self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("aiortc participant sent no {kind} in time"))
            .expect("aiortc participant is running");
        assert_eq!(v["type"], kind, "{v}");
        v
    }
}

impl Drop for Aiortc {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({"type": "quit"}));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiortc_and_str0m_participants_receive_each_other_through_the_bridge() {
    let Some(py) = python() else {
        eprintln!("MEET_PYTHON not set: skipping the aiortc interop test (outside CI)");
        return;
    };
    let sys = System::start();
    let mut focus = FocusClient::connect_ready(sys.bus, &sys.secret).await;
    let conf = ConferenceId::new("interop").unwrap();

    let mut peers = Vec::new();
    for (i, name) in ["alice", "bob"].into_iter().enumerate() {
        let setup = PeerSetup::new(name, i as u8).await;
        let answer = setup.allocate(&focus, &conf, name).await;
        peers.push(setup.start(&answer));
    }
    let mut ai = Aiortc::start(&py);
    let offer = ai.expect("offer").await;
    let carol = EndpointId::new("carol").unwrap();
    let req = ColibriRequest::Allocate {
        conference: conf.clone(),
        endpoint: carol.clone(),
        display_name: "Carol (aiortc)".into(),
        offer: offer["sdp"].as_str().expect("sdp text").to_string(),
    };
    let answer = match focus.colibri(&req).await {
        Ok(ColibriResponse::Allocated { answer }) => answer,
        other => panic!("allocation of the aiortc participant: {other:?}"),
    };
    ai.send(serde_json::json!({"type": "answer", "sdp": answer}));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), focus.events.recv()).await {
            if let ColibriEvent::Offer { endpoint, offer, .. } = ev {
                let answer = if endpoint == carol {
                    ai.send(serde_json::json!({"type": "offer", "sdp": offer}));
                    ai.expect("answer").await["sdp"].as_str().expect("sdp text").to_string()
                } else {
                    peers.iter().find(|p| p.id == endpoint).expect("known endpoint").accept_offer(offer).await
                };
                let req = ColibriRequest::Answer { conference: conf.clone(), endpoint, answer };
                focus.colibri(&req).await.expect("bridge accepts the answer");
            }
        }
        ai.send(serde_json::json!({"type": "report"}));
        let rep = ai.expect("report").await;
        let packets = |t: &str| rep["packets"][t].as_u64().unwrap_or(0);
        let ai_ok = ["alice-a0", "alice-v0", "bob-a0", "bob-v0"].iter().all(|t| packets(t) >= 50);
        let mut str0m_ok = true;
        for p in &peers {
            let r = p.report().await;
            let audio = r.frames_by_stream.get(&("carol".to_string(), false)).copied().unwrap_or(0);
            let video = r.frames_by_stream.get(&("carol".to_string(), true)).copied().unwrap_or(0);
            str0m_ok &= audio >= 50 && video >= 15;
        }
        if ai_ok && str0m_ok {
            let hello = rep["channel"].as_array().is_some_and(|m| m.iter().any(|m| m["colibriClass"] == "ServerHello"));
            assert!(hello, "the aiortc page got ServerHello on the bridge channel: {rep}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "media did not flow both ways in time; aiortc saw {rep}");
    }
}
