//! The inbox lists a person's conversations, newest first, each with its last message and
//! unread count, then the totals; a chat marker moves the reader's pointer (unread drops), and
//! writing in a conversation reads it.

mod common;
use common::bus::*;
use proto::xml::Element;

const ALICE: &str = "alice@guest.meet.lan";
const BOB: &str = "bob@guest.meet.lan";
const CAROL: &str = "carol@auth.meet.lan";

/// (peer, unread, last body) of each inbox result, and the fin's (total, unread, all-unread).
async fn inbox(conn: &mut BusConn, who: &str) -> (Vec<(String, u64, String)>, (u64, u64, u64)) {
    let (r, a) = conn.iq(&format!("{who}/p"), "set", INBOX).await;
    let bodies = bodies(&r);
    let rows = r
        .iter()
        .zip(bodies)
        .map(|(m, body)| {
            let res = m.get_child("result", "urn:xmpp:inbox:1").expect("inbox result");
            assert_eq!(res.get_attr("queryid"), Some("ib"));
            let n = |k: &str| res.get_attr(k).unwrap_or_default().to_string();
            (n("jid"), n("unread").parse().expect("unread"), body)
        })
        .collect();
    let fin: &Element = a.get_child("fin", "urn:xmpp:inbox:1").expect("inbox fin");
    let n = |k: &str| fin.get_attr(k).and_then(|v| v.parse().ok()).expect("fin attribute");
    (rows, (n("total"), n("unread"), n("all-unread")))
}

#[tokio::test]
async fn unread_counts_and_read_markers() {
    let mut bus = FakeSignal::start().await;
    let (_server, mut conn) = start_with_bus(&mut bus, &[]).await;
    let send = |conn: &BusConn, from: &str, to: &str, id: &str, body: &str| {
        conn.send(copy(&chat(&format!("{from}/p"), to, id, body), "X", Some(true)));
    };
    send(&conn, ALICE, BOB, "a1", "one");
    send(&conn, ALICE, BOB, "a2", "two");
    send(&conn, ALICE, BOB, "a3", "three");
    send(&conn, CAROL, BOB, "c1", "from Carol");

    let (rows, totals) = inbox(&mut conn, BOB).await;
    assert_eq!(rows, vec![(CAROL.into(), 1, "from Carol".into()), (ALICE.into(), 3, "three".into())]);
    assert_eq!(totals, (2, 2, 4));
    // The sender has nothing unread.
    let (rows, totals) = inbox(&mut conn, ALICE).await;
    assert_eq!(rows, vec![(BOB.into(), 0, "three".into())]);
    assert_eq!(totals, (1, 0, 0));

    // Bob displays Alice's second message: one left there.
    conn.send(copy(&displayed(&format!("{BOB}/p"), ALICE, "a2"), "Bob", Some(true)));
    let (rows, totals) = inbox(&mut conn, BOB).await;
    assert_eq!(rows[1], (ALICE.into(), 1, "three".into()));
    assert_eq!(totals, (2, 2, 2));
    // A marker never moves the pointer back, and one for another conversation does nothing.
    conn.send(copy(&displayed(&format!("{BOB}/p"), ALICE, "a1"), "Bob", Some(true)));
    conn.send(copy(&displayed(&format!("{BOB}/p"), ALICE, "c1"), "Bob", Some(true)));
    assert_eq!(inbox(&mut conn, BOB).await.1, (2, 2, 2));
    // Markers of ordinary clients name the message's own id: that works too.
    conn.send(copy(&displayed(&format!("{BOB}/p"), ALICE, "o-a3"), "Bob", Some(true)));
    assert_eq!(inbox(&mut conn, BOB).await.1, (2, 1, 1));
    // Bob answers Carol: that conversation is read, and moves to the top.
    send(&conn, BOB, CAROL, "b1", "thanks");
    let (rows, totals) = inbox(&mut conn, BOB).await;
    assert_eq!(rows[0], (CAROL.into(), 0, "thanks".into()));
    assert_eq!(totals, (2, 0, 0));
    // Somebody's markers are only theirs: Carol still has Bob's message unread.
    assert_eq!(inbox(&mut conn, CAROL).await.1, (1, 1, 1));
}
