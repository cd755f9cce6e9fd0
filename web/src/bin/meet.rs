//! `meet`: the one-command run. Starts every component of meet-lan in this one process
//! with generated secrets and embedded defaults, prints the addresses other machines of the
//! LAN open, and stops everything cleanly on Ctrl-C.

use tokio_util::sync::CancellationToken;
use web::launcher::{self, Component};

fn main() -> std::process::ExitCode {
    launcher::init_tracing();
    if let Err(e) = launcher::prepare_all_in_one_env() {
        eprintln!("meet: {e}");
        return std::process::ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("meet: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("meet: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Every component, in start order.
const ALL: [&str; 5] = ["signal", "focus", "bridge", "filestore", "web"];

/// `MEET_COMPONENTS` (comma list, default all): run only some components here, e.g.
/// `MEET_COMPONENTS=bridge` on a second machine adds a bridge to the first one's system
/// (with `BUS_ADDR` and `BUS_SECRET` pointing at it).
fn selected() -> Result<Vec<&'static str>, String> {
    let raw = proto::config::env_string("MEET_COMPONENTS", &ALL.join(","));
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let known = ALL.iter().find(|a| **a == name).ok_or_else(|| {
            format!(
                "setting MEET_COMPONENTS={raw:?} is not valid: unknown component {name:?} (known: {})",
                ALL.join(", ")
            )
        })?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    if out.is_empty() {
        return Err("setting MEET_COMPONENTS is empty".into());
    }
    Ok(out)
}

async fn run() -> Result<(), String> {
    let selected = selected()?;
    let on = |name: &str| selected.contains(&name);
    let shutdown = CancellationToken::new();
    launcher::cancel_on_signal(shutdown.clone());

    // Shutdown order: the entry point and file service first, then focus and the bridge,
    // then signal, which all the others talk through.
    let (front, media, core) = (CancellationToken::new(), CancellationToken::new(), CancellationToken::new());
    let mut components = Vec::new();
    let mut https = None;
    if on("signal") {
        let c = signal::Config::from_env().map_err(|e| format!("signal: {e}"))?;
        components.push(Component::new("signal", 2, signal::run(c, core.clone())));
    }
    if on("focus") {
        let c = focus::Config::from_env().map_err(|e| format!("focus: {e}"))?;
        components.push(Component::new("focus", 1, focus::run(c, media.clone())));
    }
    if on("bridge") {
        let c = bridge::Config::from_env().map_err(|e| format!("bridge: {e}"))?;
        components.push(Component::new("bridge", 1, bridge::run(c, media.clone())));
    }
    if on("filestore") {
        let c = filestore::Config::from_env().map_err(|e| format!("filestore: {e}"))?;
        components.push(Component::new("filestore", 0, filestore::run(c, front.clone())));
    }
    if on("web") {
        let c = web::Config::from_env().map_err(|e| e.to_string())?;
        https = Some(c.https_addr);
        components.push(Component::new("web", 0, web::run(c, front.clone())));
    }

    let names: Vec<&str> = components.iter().map(|c| c.name).collect();
    match https {
        Some(https) => {
            println!("meet-lan is starting ({}). Open one of these on any machine of the LAN:", names.join(", "));
            for url in launcher::public_urls(https) {
                println!("  {url}<room>");
            }
            println!("(the certificate is self-signed: the browser asks once to accept it)");
        }
        None => println!("meet-lan is starting ({}).", names.join(", ")),
    }
    launcher::run_components(components, vec![front, media, core], shutdown).await.map_err(|e| e.to_string())
}
