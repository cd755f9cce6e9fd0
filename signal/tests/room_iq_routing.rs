//! IQs to an occupant's room JID reach its real JID with `from` = the asker's room JID, and
//! the answer travels back the same way (session signalling between focus and pages and
//! between P2P peers relies on it).

mod common;

use common::*;

#[tokio::test]
async fn iq_to_occupant_is_routed_to_real_jid_and_answer_comes_back() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("iqroom", "aaaa1111").await;
    b.join("iqroom", "bbbb2222").await;
    a.send("<iq type='set' id='q1' to='iqroom@conference.meet.lan/bbbb2222'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1'/></iq>").await;
    let req = b.until(|s| s.name() == "iq").await;
    assert_eq!(req.get_attr("from"), Some("iqroom@conference.meet.lan/aaaa1111"));
    assert_eq!(req.get_attr("to"), Some(b.jid.as_str()));
    assert_eq!(req.get_attr("id"), Some("q1"));
    assert!(req.get_child("jingle", "urn:xmpp:jingle:1").is_some());
    b.send("<iq type='result' id='q1' to='iqroom@conference.meet.lan/aaaa1111'/>").await;
    let res = a.until(|s| s.name() == "iq").await;
    assert_eq!(res.get_attr("type"), Some("result"));
    assert_eq!(res.get_attr("from"), Some("iqroom@conference.meet.lan/bbbb2222"));
    assert_eq!(res.get_attr("to"), Some(a.jid.as_str()));

    // an IQ to a missing occupant is an error
    a.send("<iq type='get' id='q2' to='iqroom@conference.meet.lan/nobody'><ping xmlns='urn:xmpp:ping'/></iq>").await;
    let e = a.until(|s| s.get_attr("id") == Some("q2")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("item-not-found"));
}
