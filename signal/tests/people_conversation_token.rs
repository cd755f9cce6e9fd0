//! The conversation token (PEOPLE.md section 4): `<token xmlns="urn:meet-lan:token:0"
//! with="<peer>"/>` gives a person a room token for the room of their conversation with the
//! peer (`dm-` + 24 hex), the same room whichever of the two asks; nobody else gets a token
//! for it (a third person asking gets their own conversation's), and non-people, unknown
//! peers and oneself are refused.

mod common;

use common::*;

async fn token(c: &mut Client, id: &str, with: &str) -> proto::xml::Element {
    c.iq(id, &format!("<iq type='get' id='{id}' to='conference.meet.lan'><token xmlns='urn:meet-lan:token:0' with='{with}'/></iq>"))
        .await
}

fn claims(answer: &proto::xml::Element) -> proto::token::Claims {
    let t = answer.get_child("token", "urn:meet-lan:token:0").expect("a token").text_content();
    proto::token::verify(TOKEN_SECRET.as_bytes(), &t, None).expect("signed with the token secret")
}

#[tokio::test]
async fn a_conversation_token_only_for_its_two_people() {
    let signal = Signal::start();
    add_account(&signal, "alice", "pw");
    let mut alice = Client::account(&signal, "alice", "pw").await;
    alice.available("Alice", "").await;
    let mut g = Client::guest(&signal, &guest_secret()).await;
    let mut h = Client::guest(&signal, &guest_secret()).await;

    let ca = claims(&token(&mut alice, "t1", &g.bare()).await);
    let cg = claims(&token(&mut g, "t2", &alice.bare()).await);
    assert_eq!(ca.room, cg.room, "one room for the conversation");
    assert!(ca.room.as_str().starts_with("dm-") && ca.room.as_str().len() == 27, "{}", ca.room);
    assert_ne!(ca.nick, cg.nick, "each person their own nick");
    assert_eq!(ca.name, "Alice");
    assert_eq!(ca.sub, alice.jid);
    let ch = claims(&token(&mut h, "t3", &alice.bare()).await);
    assert_ne!(ch.room, ca.room, "a third person gets their own conversation, never another's");

    let me = g.bare();
    assert_refused(&token(&mut g, "t4", &me).await, "bad-request", None);
    assert_refused(&token(&mut g, "t5", "nobody@guest.meet.lan").await, "item-not-found", None);
    assert_refused(&token(&mut g, "t6", "not a jid").await, "bad-request", None);
    let mut anon = Client::anonymous(&signal).await;
    assert_refused(&token(&mut anon, "t7", &me).await, "forbidden", None);
}
