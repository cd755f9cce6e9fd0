//! Loudest-only audio routing (`BRIDGE_LOUDEST_AUDIO`): with k = 2 only the two loudest
//! senders' audio reaches the others; when someone new starts speaking their audio flows at
//! once, and the receivers see no gap in sequence numbers across the pause in routing. By
//! default it applies only to conferences above a size: below it everyone is heard.

mod common;
use common::World;
use std::time::Duration;

const ALICE: usize = 0;
const BOB: usize = 1;
const CAROL: usize = 2;
const DAVE: usize = 3;

fn frames(w: &World, receiver: usize, sender: usize) -> usize {
    w.received(receiver, sender).audio_frames
}

#[test]
fn only_the_loudest_are_heard_and_a_new_speaker_gets_through() {
    let mut w = World::with_loudest_audio(2);
    for name in ["alice", "bob", "carol", "dave"] {
        w.join(name);
    }
    let levels = |w: &mut World, l: [i8; 4]| {
        for (p, level) in w.people.iter_mut().zip(l) {
            p.audio_level = level;
        }
    };
    levels(&mut w, [-127, -20, -30, -127]);
    w.connect_all();
    w.run_for(Duration::from_secs(3));

    // Two seconds of bob and carol talking: alice hears both, nobody hears dave's silence.
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    assert!(frames(&w, ALICE, BOB) >= 90, "alice hears bob: {}", frames(&w, ALICE, BOB));
    assert!(frames(&w, ALICE, CAROL) >= 90, "alice hears carol: {}", frames(&w, ALICE, CAROL));
    assert!(frames(&w, DAVE, BOB) >= 90 && frames(&w, BOB, CAROL) >= 90);
    for r in [ALICE, BOB, CAROL] {
        assert_eq!(frames(&w, r, DAVE), 0, "dave's silence is not routed to {r}");
    }
    assert_eq!(frames(&w, BOB, ALICE), 0, "alice's silence is not routed");
    let not_routed = w.sfu.metrics().audio_not_routed_total.get();
    assert!(not_routed >= 150, "counted: {not_routed}");

    // Dave starts talking, louder than both: heard from his first words.
    levels(&mut w, [-127, -20, -30, -10]);
    w.run_for(Duration::from_millis(100));
    assert!(frames(&w, ALICE, DAVE) >= 3, "dave heard within 100 ms: {}", frames(&w, ALICE, DAVE));

    // Bob falls silent: after his pause has faded he is no longer routed; dave and carol are.
    levels(&mut w, [-127, -127, -30, -10]);
    w.run_for(Duration::from_secs(4));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    assert!(frames(&w, ALICE, DAVE) >= 90, "alice hears dave: {}", frames(&w, ALICE, DAVE));
    assert!(frames(&w, ALICE, CAROL) >= 90, "alice hears carol: {}", frames(&w, ALICE, CAROL));
    assert_eq!(frames(&w, ALICE, BOB), 0, "bob's silence is no longer routed");

    // Bob speaks again, louder than all: his audio resumes without a gap in sequence numbers
    // (the receiver's jitter buffer sees a pause, not 300 lost packets).
    levels(&mut w, [-127, -5, -30, -10]);
    w.run_for(Duration::from_secs(2));
    assert!(frames(&w, ALICE, BOB) >= 90, "alice hears bob again: {}", frames(&w, ALICE, BOB));
    assert_eq!(w.received(ALICE, BOB).audio_gaps, 0, "no sequence gap after bob's audio resumed");
}

#[test]
fn without_the_setting_everyone_is_heard() {
    let mut w = World::new();
    for name in ["alice", "bob", "carol", "dave"] {
        w.join(name);
    }
    for p in &mut w.people {
        p.audio_level = -127;
    }
    w.people[BOB].audio_level = -20;
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    for s in [BOB, CAROL, DAVE] {
        assert!(frames(&w, ALICE, s) >= 90, "alice hears {s}: {}", frames(&w, ALICE, s));
    }
    assert_eq!(w.sfu.metrics().audio_not_routed_total.get(), 0);
}

#[test]
fn loudest_only_routing_starts_when_the_conference_grows_past_its_size() {
    // k = 1 above 3 endpoints (the default is 3 above 20: the same rule, larger).
    let mut w = World::with_loudest_audio_above(1, 3);
    for name in ["alice", "bob", "carol"] {
        w.join(name);
    }
    for (p, level) in w.people.iter_mut().zip([-20, -40, -127]) {
        p.audio_level = level;
    }
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    assert!(frames(&w, ALICE, CAROL) >= 90, "three people: even carol's silence is routed");
    assert!(frames(&w, ALICE, BOB) >= 90 && frames(&w, BOB, ALICE) >= 90);
    assert_eq!(w.sfu.metrics().audio_not_routed_total.get(), 0);

    w.join("dave");
    w.people[DAVE].audio_level = -127;
    w.connect_all();
    w.run_for(Duration::from_secs(2));
    w.reset_counts();
    w.run_for(Duration::from_secs(2));
    assert!(frames(&w, BOB, ALICE) >= 90, "four people: the loudest, alice, is heard");
    assert!(frames(&w, DAVE, ALICE) >= 90, "by the newcomer too");
    for r in [ALICE, BOB, DAVE] {
        assert_eq!(frames(&w, r, CAROL), 0, "carol's silence is left out for {r}");
    }
    assert!(w.sfu.metrics().audio_not_routed_total.get() > 0);
}
