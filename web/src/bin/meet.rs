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

async fn run() -> Result<(), String> {
    let shutdown = CancellationToken::new();
    launcher::cancel_on_signal(shutdown.clone());
    let web_config = web::Config::from_env().map_err(|e| e.to_string())?;
    let https = web_config.https_addr;

    let signal_config = signal::Config::from_env().map_err(|e| format!("signal: {e}"))?;
    let focus_config = focus::Config::from_env().map_err(|e| format!("focus: {e}"))?;
    let bridge_config = bridge::Config::from_env().map_err(|e| format!("bridge: {e}"))?;
    let filestore_config = filestore::Config::from_env().map_err(|e| format!("filestore: {e}"))?;

    // Shutdown order: the entry point and file service first, then focus and the bridge,
    // then signal, which all the others talk through.
    let (front, media, core) = (CancellationToken::new(), CancellationToken::new(), CancellationToken::new());
    let components = vec![
        Component::new("signal", 2, signal::run(signal_config, core.clone())),
        Component::new("focus", 1, focus::run(focus_config, media.clone())),
        Component::new("bridge", 1, bridge::run(bridge_config, media.clone())),
        Component::new("filestore", 0, filestore::run(filestore_config, front.clone())),
        Component::new("web", 0, web::run(web_config, front.clone())),
    ];

    let names: Vec<&str> = components.iter().map(|c| c.name).collect();
    println!("meet-lan is starting ({}). Open one of these on any machine of the LAN:", names.join(", "));
    for url in launcher::public_urls(https) {
        println!("  {url}<room>");
    }
    println!("(the certificate is self-signed: the browser asks once to accept it)");
    launcher::run_components(components, vec![front, media, core], shutdown).await.map_err(|e| e.to_string())
}
