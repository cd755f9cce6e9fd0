//! CLIENT_FLOW step 6: a current occupant gets a room token (JWT with its nick and display
//! name) from `conference.<domain>`; anyone else gets `forbidden`.

mod common;

use common::*;

#[tokio::test]
async fn occupant_gets_token_and_others_are_forbidden() {
    let signal = Signal::start();
    let mut a = Client::anonymous(&signal).await;
    let mut b = Client::anonymous(&signal).await;
    a.join("tokroom", "abcd1234").await;
    a.send("<iq type='get' id='t1' to='conference.meet.lan'><token xmlns='urn:meet-lan:token:0' room='tokroom'/></iq>")
        .await;
    let r = a.until(|s| s.get_attr("id") == Some("t1")).await;
    assert_eq!(r.get_attr("type"), Some("result"), "{r}");
    let jwt = r.get_child("token", "urn:meet-lan:token:0").unwrap().text_content();
    let room = proto::RoomName::new("tokroom").unwrap();
    let claims =
        proto::token::verify(TOKEN_SECRET.as_bytes(), &jwt, Some(&room)).expect("token signed with TOKEN_SECRET");
    assert_eq!(claims.nick.as_str(), "abcd1234");
    assert_eq!(claims.name, "Name abcd1234");
    assert_eq!(claims.sub, a.jid);

    b.send("<iq type='get' id='t2' to='conference.meet.lan'><token xmlns='urn:meet-lan:token:0' room='tokroom'/></iq>")
        .await;
    let e = b.until(|s| s.get_attr("id") == Some("t2")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("forbidden"));

    a.send("<iq type='get' id='t3' to='conference.meet.lan'><token xmlns='urn:meet-lan:token:0' room='../x'/></iq>")
        .await;
    let e = a.until(|s| s.get_attr("id") == Some("t3")).await;
    assert_eq!(error_condition(&e).as_deref(), Some("bad-request"));
}
