//! The shared roster (PEOPLE.md section 2): everyone else in the directory (accounts and
//! recognised guests), `subscription="both"`, sorted by display name; pushes tell those who
//! asked of new people and new names; nobody edits it; subscription requests are answered at
//! once and go nowhere; the directory and its names survive a restart.

mod common;

use common::*;

#[tokio::test]
async fn everyone_has_everyone_sorted_by_name_and_pushes_tell_of_news() {
    let signal = Signal::start();
    add_account(&signal, "zed", "pw");
    let mut zed = Client::account(&signal, "zed", "pw").await;
    zed.available("Zed", "").await;
    let (gs, hs) = (guest_secret(), guest_secret());
    let mut g = Client::guest(&signal, &gs).await;
    g.available("anna", "").await;

    let roster = zed.roster("r1").await;
    assert_eq!(roster, vec![(g.bare(), Some("anna".to_string()))], "everyone but oneself");
    let roster = g.roster("r2").await;
    assert_eq!(roster, vec![(zed.bare(), Some("Zed".to_string()))]);

    // a new guest logs in: both hear of them (no name yet), and again when they give one
    let mut h = Client::guest(&signal, &hs).await;
    for c in [&mut zed, &mut g] {
        let push = c.until(|s| s.name() == "iq" && s.get_attr("type") == Some("set")).await;
        assert_eq!(push.get_attr("from"), None, "pushes come from the account itself: {push}");
        let item = push.get_child("query", NS_ROSTER).and_then(|q| q.first_child()).expect("an item");
        assert_eq!(item.get_attr("jid"), Some(h.bare().as_str()));
        assert_eq!(item.get_attr("name"), None);
        c.send(&format!("<iq type='result' id='{}'/>", push.get_attr("id").unwrap())).await;
    }
    h.available("Bob", "").await;
    let push = g.until(|s| s.name() == "iq" && s.get_attr("type") == Some("set")).await;
    assert!(push.to_string().contains("name=\"Bob\""), "{push}");
    let roster = zed.roster("r3").await;
    let names: Vec<_> = roster.iter().map(|(_, n)| n.clone().unwrap_or_default()).collect();
    assert_eq!(names, vec!["anna", "Bob"], "sorted by name, case aside");

    // h never asked for the roster: no pushes for it when g renames
    g.available("Anna B", "").await;
    zed.until(|s| s.name() == "iq" && s.to_string().contains("Anna B")).await;
    h.send("<iq type='get' id='p' to='meet.lan'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    loop {
        let s = h.s.stanza().await;
        assert!(s.name() != "iq" || s.get_attr("type") != Some("set"), "no push without asking: {s}");
        if s.get_attr("id") == Some("p") {
            break;
        }
    }
}

#[tokio::test]
async fn nobody_edits_the_roster_and_subscriptions_go_nowhere() {
    let signal = Signal::start();
    let mut a = Client::guest(&signal, &guest_secret()).await;
    let mut b = Client::guest(&signal, &guest_secret()).await;
    b.available("B", "").await;
    let set = format!(
        "<iq type='set' id='s1'><query xmlns='{NS_ROSTER}'><item jid='{}' name='Mallory'/></query></iq>",
        b.bare()
    );
    let r = a.iq("s1", &set).await;
    assert_refused(&r, "not-allowed", None);
    let r = b.roster("r").await;
    assert_eq!(r[0].1, None, "the name did not change");

    a.send(&format!("<presence to='{}' type='subscribe'/>", b.bare())).await;
    let ok = a.until(|s| s.name() == "presence" && s.get_attr("type") == Some("subscribed")).await;
    assert_eq!(ok.get_attr("from"), Some(b.bare().as_str()));
    b.no_presence_until_ping("p1").await;
    let r = a
        .iq(
            "s2",
            &format!(
                "<iq type='set' id='s2'><query xmlns='{NS_ROSTER}'><item jid='{}' subscription='remove'/></query></iq>",
                b.bare()
            ),
        )
        .await;
    assert_refused(&r, "not-allowed", None);

    let mut anon = Client::anonymous(&signal).await;
    let r = anon.iq("r", &format!("<iq type='get' id='r'><query xmlns='{NS_ROSTER}'/></iq>")).await;
    assert_eq!(r.get_child("query", NS_ROSTER).map(|q| q.children().count()), Some(0), "not a person: nobody");
}

#[tokio::test]
async fn the_directory_and_its_names_survive_a_restart_and_follow_the_accounts() {
    let signal = Signal::start();
    add_account(&signal, "alice", "pw");
    add_account(&signal, "carol", "pw");
    let gs = guest_secret();
    let mut g = Client::guest(&signal, &gs).await;
    g.available("Gina", "").await;
    let mut alice = Client::account(&signal, "alice", "pw").await;
    assert_eq!(alice.roster("r0").await.len(), 1, "carol, added while signal runs, comes at her first login");
    drop((g, alice));

    let signal = signal.restart(&[]);
    let mut alice = Client::account(&signal, "alice", "pw").await;
    assert_eq!(alice.roster("r0").await.len(), 2, "after a restart every account is known");
    drop(alice);
    remove_account(&signal, "carol");
    let signal = signal.restart(&[]);
    let mut alice = Client::account(&signal, "alice", "pw").await;
    let roster = alice.roster("r1").await;
    assert_eq!(roster, vec![(format!("{}@guest.meet.lan", guest_id(&gs)), Some("Gina".to_string()))]);
}
