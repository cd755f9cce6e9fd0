//! The `signal` binary: tracing, settings, Ctrl-C/SIGTERM → shutdown, then [`signal::run`].
//! `signal add-account <user>` (password on stdin) and `signal remove-account <user>` manage
//! accounts on `auth.<domain>` in `DATA_DIR`, like `prosodyctl register`.

use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd) = args.first() {
        return accounts_command(cmd, &args[1..]);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let config = match signal::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("signal: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let shutdown = CancellationToken::new();
    let s = shutdown.clone();
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        s.cancel();
    });
    match signal::run(config, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signal: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn accounts_command(cmd: &str, rest: &[String]) -> std::process::ExitCode {
    use std::io::BufRead;
    let usage = "usage: signal [add-account <user> (password on stdin) | remove-account <user>]";
    let accounts = signal::accounts::Accounts::new(&proto::config::data_dir());
    let r = match (cmd, rest) {
        ("add-account", [user]) => {
            let mut line = String::new();
            match std::io::stdin().lock().read_line(&mut line) {
                Ok(_) => accounts.add(user, line.trim_end_matches(['\n', '\r'])),
                Err(e) => Err(e.into()),
            }
        }
        ("remove-account", [user]) => accounts.remove(user),
        _ => {
            eprintln!("{usage}");
            return std::process::ExitCode::from(2);
        }
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("signal: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
