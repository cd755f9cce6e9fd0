//! XEP-0045 §7.6: an occupant changes its nickname; everyone sees 303 with the new nick, then
//! the new nick's presence; a nick in use is refused with conflict.

mod common;

use common::*;

#[tokio::test]
async fn occupant_changes_nick_and_others_follow() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("nicks", "alice").await;
    b.join("nicks", "bob").await;
    let _ = a.until(|s| s.name() == "presence").await;

    b.send("<presence to='nicks@conference.meet.lan/alice'/>").await;
    let e = b.until(|s| s.name() == "presence").await;
    assert_eq!(error_condition(&e).as_deref(), Some("conflict"));

    b.send("<presence to='nicks@conference.meet.lan/robert'/>").await;
    let gone = a.until(|s| s.name() == "presence").await;
    assert_eq!(gone.get_attr("from"), Some("nicks@conference.meet.lan/bob"));
    assert_eq!(gone.get_attr("type"), Some("unavailable"));
    assert!(status_codes(&gone).contains(&"303".to_string()));
    let item = gone.get_child("x", NS_MUC_USER).unwrap().get_child("item", NS_MUC_USER).unwrap();
    assert_eq!(item.get_attr("nick"), Some("robert"));
    let back = a.until(|s| s.name() == "presence").await;
    assert_eq!(back.get_attr("from"), Some("nicks@conference.meet.lan/robert"));
    assert_eq!(back.get_attr("type"), None);

    let mine = b.until(|s| s.name() == "presence" && s.get_attr("type").is_none()).await;
    assert_eq!(mine.get_attr("from"), Some("nicks@conference.meet.lan/robert"));
    assert!(status_codes(&mine).contains(&"110".to_string()));

    // messages now come from the new nick; the old one is free
    b.send("<message to='nicks@conference.meet.lan' type='groupchat'><body>renamed</body></message>").await;
    let m = a.until(|s| s.name() == "message").await;
    assert_eq!(m.get_attr("from"), Some("nicks@conference.meet.lan/robert"));
    let mut c = Client::anonymous(&signal).await;
    let (_, others) = c.join("nicks", "bob").await;
    assert_eq!(others.len(), 2);
}
