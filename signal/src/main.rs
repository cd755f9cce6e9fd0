//! The `signal` binary: tracing, settings, Ctrl-C/SIGTERM → shutdown, then [`signal::run`].
//! `signal add-account <user>` (password on stdin) and `signal remove-account <user>` manage
//! accounts on `auth.<domain>` in `DATA_DIR`, like `prosodyctl register`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(cmd) = args.first() {
        return accounts_command(cmd, &args[1..]);
    }
    proto::service::main("signal", signal::Config::from_env, signal::run).await
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
