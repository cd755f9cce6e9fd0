//! People on the LAN with slixmpp (PyPI), a real XMPP client library: an account's client
//! finds a recognised guest on its roster by name without adding anyone, sees them online,
//! and the two exchange one-to-one chat messages (an archive component on the bus records
//! the copies, as filestore's would). Needs `$MEET_PYTHON`; under `CI=true` its absence is a
//! failure.

mod common;

use common::*;

#[tokio::test]
async fn slixmpp_account_and_guest_see_each_other_and_chat() {
    let Some(py) = meet_python() else { return };
    let signal = Signal::start();
    add_account(&signal, "alice", "s3cret pass");
    let mut archive = BusComponent::archive(&signal).await;
    let secret = guest_secret();
    let id = guest_id(&secret);
    let args = [
        "127.0.0.1".to_string(),
        signal.c2s.port().to_string(),
        "alice".into(),
        "s3cret pass".into(),
        id.clone(),
        secret,
    ];
    // the archive's bus task keeps reading while the script runs
    tokio::task::spawn_blocking(move || {
        run_python_test(&py, "slixmpp_people.py", &args.each_ref().map(String::as_str))
    })
    .await
    .expect("the script ran");
    let (_, first) = archive.copy().await;
    assert_eq!(first.get_child("body", proto::xml::NS_CLIENT).map(|b| b.text_content()).as_deref(), Some("hello Gina"));
    let (_, second) = archive.copy().await;
    assert_eq!(second.get_attr("from").map(|f| f.starts_with(&id)), Some(true), "{second}");
}
