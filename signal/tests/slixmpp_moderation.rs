//! Moderation with a real XMPP client library (slixmpp, PyPI; `slixmpp_moderation.py`): a
//! non-moderator's mute, kick, room configuration and lobby requests are refused with
//! `forbidden` while the moderator's go through; in `AUTH_MODE=accounts` a guest cannot
//! create a room (`not-authorized` + `<host-required/>`). Needs `$MEET_PYTHON` (a venv with
//! tests/requirements.txt); under `CI=true` its absence is a failure.

mod common;

use common::*;

fn run(py: &str, signal: &Signal, scenario: &str, room: &str) {
    let port = signal.c2s.port().to_string();
    run_python_test(py, "slixmpp_moderation.py", &["127.0.0.1", &port, scenario, room]);
}

#[test]
fn slixmpp_participant_requests_are_refused() {
    let Some(py) = meet_python() else { return };
    let signal = Signal::start();
    run(&py, &signal, "refusals", "rights");
}

#[test]
fn slixmpp_guest_cannot_create_a_room_in_accounts_mode() {
    let Some(py) = meet_python() else { return };
    let signal = Signal::start_with(&[("AUTH_MODE", "accounts")]);
    run(&py, &signal, "guest-create", "private");
}
