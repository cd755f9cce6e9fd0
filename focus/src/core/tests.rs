//! Behaviour of the core in virtual time: each test drives [`Focus`] with the inputs the
//! driver would give it and checks the stanzas that come out.

use super::*;
use proto::colibri::{BridgeStats, ColibriEvent, ColibriRequest, ColibriResponse};
use proto::session::{reason, Action, SdpType, Transport};
use std::time::{Duration, Instant};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER: &str = "v=0\r\no=- 2 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

struct Sim {
    focus: Focus,
    now: Instant,
    out: Vec<Output>,
    /// Bridges that answer health checks by themselves (all, unless a test removes one).
    healthy: Vec<String>,
}

fn room(s: &str) -> RoomName {
    RoomName::new(s).unwrap()
}
fn ep(s: &str) -> EndpointId {
    EndpointId::new(s).unwrap()
}
fn br(s: &str) -> BridgeId {
    BridgeId::new(s).unwrap()
}

impl Sim {
    fn new() -> Sim {
        Sim::with(Settings { muc_domain: "conference.meet.lan".into(), ..Settings::default() })
    }
    fn with(settings: Settings) -> Sim {
        Sim { focus: Focus::new(settings), now: Instant::now(), out: Vec::new(), healthy: Vec::new() }
    }
    fn input(&mut self, i: Input) {
        self.focus.handle_input(self.now, i);
        self.collect();
    }
    fn collect(&mut self) {
        let mut health = Vec::new();
        while let Some(o) = self.focus.poll_output() {
            match o {
                Output::Colibri { id, bridge, request: ColibriRequest::Health }
                    if self.healthy.iter().any(|h| h == bridge.as_str()) =>
                {
                    health.push((id, bridge))
                }
                o => self.out.push(o),
            }
        }
        for (id, bridge) in health {
            let stats = self.focus.pool.get(&bridge).map(|e| e.stats.clone()).unwrap_or_default();
            let body = ResultBody::Colibri(ColibriResponse::Health { stats });
            self.focus.handle_input(self.now, Input::IqResult { id, from: Addr::Bridge(bridge), body });
            self.collect();
        }
    }
    /// Advances virtual time by `d`, running every timeout on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.focus.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.focus.handle_timeout(self.now);
            self.collect();
        }
        self.now = end;
        self.focus.handle_timeout(self.now);
        self.collect();
    }
    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn bridge(&mut self, id: &str, stress: f64) {
        if !self.healthy.iter().any(|h| h == id) {
            self.healthy.push(id.to_string());
        }
        let stats = BridgeStats { stress, ..Default::default() };
        self.input(Input::Bridge { bridge: id.into(), presence: BridgePresence::Available(Ok(stats)) });
    }

    /// Conference request + self-presence: the room is joined.
    fn open_room(&mut self, name: &str) {
        self.input(Input::ConferenceRequest {
            from: "u@meet.lan/r".into(),
            id: "c1".into(),
            room: format!("{name}@conference.meet.lan"),
        });
        self.input(Input::Occupant {
            room: room(name),
            nick: "focus".into(),
            presence: OccupantPresence { available: true, ..Default::default() },
        });
    }

    fn join(&mut self, r: &str, nick: &str) {
        let presence = OccupantPresence { available: true, display_name: format!("Name {nick}"), ..Default::default() };
        self.input(Input::Occupant { room: room(r), nick: nick.into(), presence });
    }
    fn leave(&mut self, r: &str, nick: &str) {
        self.input(Input::Occupant { room: room(r), nick: nick.into(), presence: OccupantPresence::default() });
    }

    /// Finds the session IQ with `action` sent to `nick`, removing it from the outputs.
    fn session_iq(&mut self, nick: &str, action: Action) -> (String, Jingle) {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, Output::SessionIq { nick: n, jingle, .. } if n.as_str() == nick && jingle.action == action))
            .unwrap_or_else(|| panic!("no {action} to {nick} in {:#?}", self.out));
        match self.out.remove(i) {
            Output::SessionIq { id, jingle, .. } => (id, jingle),
            _ => unreachable!("position matched a SessionIq"),
        }
    }
    fn has_session_iq(&self, nick: &str, action: Action) -> bool {
        self.out.iter().any(
            |o| matches!(o, Output::SessionIq { nick: n, jingle, .. } if n.as_str() == nick && jingle.action == action),
        )
    }
    fn colibri(&mut self, pred: impl Fn(&BridgeId, &ColibriRequest) -> bool) -> (String, BridgeId, ColibriRequest) {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, Output::Colibri { bridge, request, .. } if pred(bridge, request)))
            .unwrap_or_else(|| panic!("no matching colibri request in {:#?}", self.out));
        match self.out.remove(i) {
            Output::Colibri { id, bridge, request } => (id, bridge, request),
            _ => unreachable!("position matched a Colibri"),
        }
    }
    fn reply_to(&mut self, id: &str) -> Result<Reply, StanzaError> {
        let i = self
            .out
            .iter()
            .position(|o| matches!(o, Output::Reply { id: i, .. } if i == id))
            .unwrap_or_else(|| panic!("no reply to {id} in {:#?}", self.out));
        match self.out.remove(i) {
            Output::Reply { body, .. } => body,
            _ => unreachable!("position matched a Reply"),
        }
    }

    fn ack_participant(&mut self, r: &str, nick: &str, id: &str) {
        self.input(Input::IqResult { id: id.into(), from: Addr::Occupant(room(r), ep(nick)), body: ResultBody::Empty });
    }
    fn ack_bridge(&mut self, bridge: &BridgeId, id: &str, body: ResultBody) {
        self.input(Input::IqResult { id: id.into(), from: Addr::Bridge(bridge.clone()), body });
    }

    /// Runs one participant's bridge session to Active; returns (sid, bridge).
    fn connect(&mut self, r: &str, nick: &str) -> (String, BridgeId) {
        let (iq, j) = self.session_iq(nick, Action::SessionInitiate);
        assert_eq!(j.transport, Some(Transport::Bridge));
        self.ack_participant(r, nick, &iq);
        let accept = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
        let accept_id = format!("acc-{nick}-{}", j.sid);
        self.input(Input::SessionIq { room: room(r), nick: nick.into(), id: accept_id.clone(), jingle: Ok(accept) });
        let (cid, bridge, _) =
            self.colibri(|_, rq| matches!(rq, ColibriRequest::Allocate { endpoint, .. } if endpoint.as_str() == nick));
        self.ack_bridge(&bridge, &cid, ResultBody::Colibri(ColibriResponse::Allocated { answer: ANSWER.into() }));
        match self.reply_to(&accept_id) {
            Ok(Reply::Jingle(a)) => assert_eq!(a.sdp(SdpType::Answer).unwrap(), ANSWER),
            other => panic!("accept not answered with the bridge's answer: {other:?}"),
        }
        (j.sid, bridge)
    }

    /// The bridge reports that `nick`'s transport failed (event id "f1").
    fn endpoint_failed(&mut self, bridge: &BridgeId, r: &str, nick: &str) {
        let event = ColibriEvent::EndpointFailed {
            conference: proto::ConferenceId::new(r).unwrap(),
            endpoint: ep(nick),
            reason: "ICE timeout".into(),
        };
        self.input(Input::BridgeEvent { bridge: bridge.clone(), id: "f1".into(), event: Ok(event) });
    }

    fn offer_event(
        &mut self,
        bridge: &BridgeId,
        r: &str,
        nick: &str,
        added: &[&str],
        removed: &[&str],
    ) -> Result<Reply, StanzaError> {
        let id = format!("ev{}", self.out.len() + 1000);
        let event = ColibriEvent::Offer {
            conference: proto::ConferenceId::new(r).unwrap(),
            endpoint: ep(nick),
            offer: OFFER.into(),
            added: added.iter().map(|a| ep(a)).collect(),
            removed: removed.iter().map(|a| ep(a)).collect(),
        };
        self.input(Input::BridgeEvent { bridge: bridge.clone(), id: id.clone(), event: Ok(event) });
        self.reply_to(&id)
    }

    fn notifications(&mut self) -> Vec<Notification> {
        let mut n = Vec::new();
        self.out.retain(|o| match o {
            Output::Notify(x) => {
                n.push(x.clone());
                false
            }
            _ => true,
        });
        n
    }
}

#[test]
fn conference_request_joins_the_room_and_answers_ready_after_self_presence() {
    let mut s = Sim::new();
    s.input(Input::ConferenceRequest {
        from: "u@meet.lan/r".into(),
        id: "c1".into(),
        room: "Standup@conference.meet.lan".into(),
    });
    assert_eq!(s.take(), vec![Output::JoinRoom(room("standup"))], "joins first, answers later");
    s.input(Input::Occupant {
        room: room("standup"),
        nick: "focus".into(),
        presence: OccupantPresence { available: true, ..Default::default() },
    });
    assert_eq!(s.reply_to("c1"), Ok(Reply::ConferenceReady { room: room("standup") }));
    s.input(Input::ConferenceRequest { from: "v@meet.lan/r".into(), id: "c2".into(), room: "standup".into() });
    assert_eq!(s.reply_to("c2"), Ok(Reply::ConferenceReady { room: room("standup") }), "already joined: at once");
    assert!(s.out.is_empty());
}

#[test]
fn malformed_room_name_gets_bad_request_and_changes_nothing() {
    let mut s = Sim::new();
    for bad in ["../etc@conference.meet.lan", "a b", "", "x@evil.example", ".hidden", "<script>"] {
        s.input(Input::ConferenceRequest { from: "u@meet.lan/r".into(), id: "c".into(), room: bad.into() });
        match s.reply_to("c") {
            Err(e) => assert_eq!(e.condition, Condition::BadRequest, "{bad}"),
            ok => panic!("{bad:?} accepted: {ok:?}"),
        }
        assert!(s.out.is_empty(), "nothing else happens for {bad:?}: {:?}", s.out);
    }
    assert_eq!(s.focus.stats(s.now).rooms, 0);
}

#[test]
fn room_join_that_never_completes_fails_the_request() {
    let mut s = Sim::new();
    s.input(Input::ConferenceRequest { from: "u@meet.lan/r".into(), id: "c1".into(), room: "r1".into() });
    s.take();
    s.advance(Duration::from_secs(11));
    assert_eq!(s.reply_to("c1").unwrap_err().condition, Condition::RemoteServerTimeout);
    assert_eq!(s.focus.stats(s.now).rooms, 0);
}

#[test]
fn participant_gets_a_bridge_session_on_the_least_stressed_bridge() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.6);
    s.bridge("jvb-b", 0.2);
    s.open_room("r1");
    s.take();
    s.join("r1", "aaaa1111");
    let (_, bridge) = s.connect("r1", "aaaa1111");
    assert_eq!(bridge, br("jvb-b"));
    let st = s.focus.stats(s.now);
    assert_eq!(st.bridge_sessions_active, 1);
}

#[test]
fn conference_stays_on_its_bridge() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.bridge("jvb-b", 0.5);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (_, b1) = s.connect("r1", "aaaa1111");
    s.bridge("jvb-b", 0.0); // now less stressed, but the conference stays put
    s.join("r1", "bbbb2222");
    let (_, b2) = s.connect("r1", "bbbb2222");
    assert_eq!(b1, br("jvb-a"));
    assert_eq!(b2, br("jvb-a"));
    // a new room goes to the least stressed one
    s.open_room("r2");
    s.join("r2", "cccc3333");
    let (_, b3) = s.connect("r2", "cccc3333");
    assert_eq!(b3, br("jvb-b"));
}

#[test]
fn unparsable_session_accept_gets_bad_request_and_the_session_survives() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (iq, j) = s.session_iq("aaaa1111", Action::SessionInitiate);
    s.ack_participant("r1", "aaaa1111", &iq);
    s.take();
    // no description, garbage SDP, an answer instead of an offer, unreadable jingle
    let bads = [
        Ok(Jingle::new(Action::SessionAccept, j.sid.clone())),
        Ok(Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, "hello")),
        Ok(Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Answer, OFFER)),
        Err("unknown jingle action \"dance\"".to_string()),
    ];
    for (n, bad) in bads.into_iter().enumerate() {
        let id = format!("bad{n}");
        s.input(Input::SessionIq { room: room("r1"), nick: "aaaa1111".into(), id: id.clone(), jingle: bad });
        assert_eq!(s.reply_to(&id).unwrap_err().condition, Condition::BadRequest);
        assert!(s.out.is_empty(), "nothing sent to a bridge: {:?}", s.out);
    }
    // a wrong sid is an unknown session
    let other = Jingle::new(Action::SessionAccept, "nope").with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "aaaa1111".into(), id: "w".into(), jingle: Ok(other) });
    assert_eq!(s.reply_to("w").unwrap_err().condition, Condition::ItemNotFound);
    // the good one still works
    let good = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "aaaa1111".into(), id: "ok".into(), jingle: Ok(good) });
    let (cid, b, _) = s.colibri(|_, r| matches!(r, ColibriRequest::Allocate { .. }));
    s.ack_bridge(&b, &cid, ResultBody::Colibri(ColibriResponse::Allocated { answer: ANSWER.into() }));
    assert!(matches!(s.reply_to("ok"), Ok(Reply::Jingle(_))));
}

#[test]
fn session_iq_from_a_stranger_is_refused() {
    let mut s = Sim::new();
    s.open_room("r1");
    let j = Jingle::new(Action::SessionAccept, "x").with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "zzzz0000".into(), id: "i".into(), jingle: Ok(j.clone()) });
    assert_eq!(s.reply_to("i").unwrap_err().condition, Condition::ItemNotFound);
    s.input(Input::SessionIq { room: room("nosuch"), nick: "zzzz0000".into(), id: "k".into(), jingle: Ok(j) });
    assert_eq!(s.reply_to("k").unwrap_err().condition, Condition::ItemNotFound);
}

#[test]
fn bridge_refusing_the_offer_is_the_participants_error_not_a_bridge_failure() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (iq, j) = s.session_iq("aaaa1111", Action::SessionInitiate);
    s.ack_participant("r1", "aaaa1111", &iq);
    let accept = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "aaaa1111".into(), id: "a1".into(), jingle: Ok(accept) });
    let (cid, b, _) = s.colibri(|_, r| matches!(r, ColibriRequest::Allocate { .. }));
    s.input(Input::IqError {
        id: cid,
        from: Addr::Bridge(b.clone()),
        error: StanzaError::new(Condition::BadRequest, "no DTLS fingerprint"),
    });
    let e = s.reply_to("a1").unwrap_err();
    assert_eq!(e.condition, Condition::BadRequest);
    assert!(e.text.contains("fingerprint"));
    assert!(s.focus.pool.usable(&b, s.now), "the bridge is not blamed");
    assert_eq!(s.focus.stats(s.now).counters.bridge_failures, 0);
}

#[test]
fn bridge_answering_garbage_is_marked_failed_and_the_offer_goes_to_another_bridge() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.bridge("jvb-b", 0.5);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (iq, j) = s.session_iq("aaaa1111", Action::SessionInitiate);
    s.ack_participant("r1", "aaaa1111", &iq);
    let accept = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "aaaa1111".into(), id: "a1".into(), jingle: Ok(accept) });
    let (cid, b, _) = s.colibri(|_, r| matches!(r, ColibriRequest::Allocate { .. }));
    assert_eq!(b, br("jvb-a"));
    s.ack_bridge(&b, &cid, ResultBody::Unparsable("expected value at line 1 column 1".into()));
    assert!(!s.focus.pool.usable(&br("jvb-a"), s.now));
    let (cid2, b2, rq) = s.colibri(|_, r| matches!(r, ColibriRequest::Allocate { .. }));
    assert_eq!(b2, br("jvb-b"));
    assert!(matches!(rq, ColibriRequest::Allocate { offer, .. } if offer == OFFER), "same offer re-sent");
    s.ack_bridge(&b2, &cid2, ResultBody::Colibri(ColibriResponse::Allocated { answer: ANSWER.into() }));
    assert!(matches!(s.reply_to("a1"), Ok(Reply::Jingle(_))), "the participant never noticed");
    // an allocation answer that is JSON but not SDP is garbage too
    s.open_room("r2");
    s.join("r2", "bbbb2222");
    let (iq, j) = s.session_iq("bbbb2222", Action::SessionInitiate);
    s.ack_participant("r2", "bbbb2222", &iq);
    let accept = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r2"), nick: "bbbb2222".into(), id: "a2".into(), jingle: Ok(accept) });
    let (cid, b, _) = s.colibri(|_, r| matches!(r, ColibriRequest::Allocate { .. }));
    assert_eq!(b, br("jvb-b"));
    s.ack_bridge(&b, &cid, ResultBody::Colibri(ColibriResponse::Allocated { answer: "garbage".into() }));
    assert!(!s.focus.pool.usable(&br("jvb-b"), s.now));
    let e = s.reply_to("a2").unwrap_err();
    assert_eq!(e.condition, Condition::ServiceUnavailable, "no bridge left");
}

#[test]
fn bridge_offers_are_relayed_as_source_add_and_remove_and_answers_go_back() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (sid, b) = s.connect("r1", "aaaa1111");
    assert_eq!(s.offer_event(&b, "r1", "aaaa1111", &["bbbb2222"], &[]), Ok(Reply::Empty));
    let (iq, j) = s.session_iq("aaaa1111", Action::SourceAdd);
    assert_eq!(j.sid, sid);
    assert_eq!(j.sdp(SdpType::Offer).unwrap(), OFFER);
    let ans = Jingle::new(Action::SourceAdd, sid.clone()).with_sdp(SdpType::Answer, ANSWER);
    s.input(Input::IqResult {
        id: iq,
        from: Addr::Occupant(room("r1"), ep("aaaa1111")),
        body: ResultBody::Jingle(ans),
    });
    let (_, to, rq) = s.colibri(|_, r| matches!(r, ColibriRequest::Answer { .. }));
    assert_eq!(to, b);
    assert!(
        matches!(rq, ColibriRequest::Answer { answer, endpoint, .. } if answer == ANSWER && endpoint == ep("aaaa1111"))
    );
    s.offer_event(&b, "r1", "aaaa1111", &[], &["bbbb2222"]).unwrap();
    s.session_iq("aaaa1111", Action::SourceRemove);
}

#[test]
fn renegotiations_are_sent_one_at_a_time_and_the_newest_offer_wins() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (sid, b) = s.connect("r1", "aaaa1111");
    for n in 0..20 {
        let nick = format!("peer{n:04}");
        s.offer_event(&b, "r1", "aaaa1111", &[nick.as_str()], &[]).unwrap();
    }
    let (iq, _) = s.session_iq("aaaa1111", Action::SourceAdd);
    assert!(!s.has_session_iq("aaaa1111", Action::SourceAdd), "one in flight only");
    let ans = Jingle::new(Action::SourceAdd, sid.clone()).with_sdp(SdpType::Answer, ANSWER);
    s.input(Input::IqResult {
        id: iq,
        from: Addr::Occupant(room("r1"), ep("aaaa1111")),
        body: ResultBody::Jingle(ans),
    });
    s.session_iq("aaaa1111", Action::SourceAdd);
    assert!(!s.has_session_iq("aaaa1111", Action::SourceAdd), "19 waiting offers became one");
    assert_eq!(s.focus.stats(s.now).counters.offers_coalesced, 18);
}

#[test]
fn unparsable_answer_fails_only_that_participant() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.join("r1", "bbbb2222");
    s.join("r1", "cccc3333");
    let (_, b) = s.connect("r1", "aaaa1111");
    s.connect("r1", "bbbb2222");
    s.connect("r1", "cccc3333");
    s.offer_event(&b, "r1", "aaaa1111", &["bbbb2222"], &[]).unwrap();
    let (iq, _) = s.session_iq("aaaa1111", Action::SourceAdd);
    s.input(Input::IqResult {
        id: iq,
        from: Addr::Occupant(room("r1"), ep("aaaa1111")),
        body: ResultBody::Unparsable("bad".into()),
    });
    let (_, t) = s.session_iq("aaaa1111", Action::SessionTerminate);
    assert_eq!(t.reason.as_deref(), Some(reason::FAILED));
    s.colibri(|_, r| matches!(r, ColibriRequest::Expire { endpoint, .. } if endpoint == &ep("aaaa1111")));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "nobody else touched: {:?}", s.out);
    let st = s.focus.stats(s.now);
    assert_eq!(st.bridge_sessions_active, 2);
    assert_eq!(st.counters.participant_failures, 1);
    assert!(s.focus.pool.usable(&b, s.now));
}

#[test]
fn participant_that_never_answers_is_given_up_alone() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.connect("r1", "aaaa1111");
    s.join("r1", "bbbb2222");
    s.join("r1", "cccc3333");
    s.connect("r1", "cccc3333");
    s.session_iq("bbbb2222", Action::SessionInitiate); // never answered
    s.advance(Duration::from_secs(11));
    let (_, t) = s.session_iq("bbbb2222", Action::SessionTerminate);
    assert_eq!(t.reason.as_deref(), Some(reason::FAILED));
    // another one acknowledges but never sends session-accept
    s.join("r1", "dddd4444");
    let (iq, _) = s.session_iq("dddd4444", Action::SessionInitiate);
    s.ack_participant("r1", "dddd4444", &iq);
    s.advance(Duration::from_secs(19));
    assert!(!s.has_session_iq("dddd4444", Action::SessionTerminate));
    s.advance(Duration::from_secs(2));
    s.session_iq("dddd4444", Action::SessionTerminate);
    // a source-add that is never answered
    let b = br("jvb-a");
    s.offer_event(&b, "r1", "aaaa1111", &["cccc3333"], &[]).unwrap();
    s.session_iq("aaaa1111", Action::SourceAdd);
    s.advance(Duration::from_secs(11));
    s.session_iq("aaaa1111", Action::SessionTerminate);
    let st = s.focus.stats(s.now);
    assert_eq!(st.bridge_sessions_active, 1, "cccc3333 unaffected");
    assert_eq!(st.counters.participant_failures, 3);
}

#[test]
fn leaving_expires_the_endpoint_and_the_last_leave_ends_the_conference() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.join("r1", "bbbb2222");
    s.join("r1", "cccc3333");
    s.connect("r1", "aaaa1111");
    s.connect("r1", "bbbb2222");
    s.connect("r1", "cccc3333");
    s.advance(Duration::from_secs(11));
    s.take();
    s.notifications();
    s.leave("r1", "cccc3333");
    s.colibri(|_, r| matches!(r, ColibriRequest::Expire { endpoint, .. } if endpoint == &ep("cccc3333")));
    assert_eq!(
        s.notifications(),
        vec![Notification::ParticipantLeft { room: room("r1"), participant: ep("cccc3333") }]
    );
    s.leave("r1", "aaaa1111");
    s.take();
    s.leave("r1", "bbbb2222");
    s.colibri(|_, r| matches!(r, ColibriRequest::ExpireConference { .. }));
    assert!(s.out.contains(&Output::LeaveRoom(room("r1"))));
    assert_eq!(
        s.notifications(),
        vec![
            Notification::ParticipantLeft { room: room("r1"), participant: ep("bbbb2222") },
            Notification::RoomEnded { room: room("r1") }
        ]
    );
    assert_eq!(s.focus.stats(s.now).rooms, 0);
}

#[test]
fn last_leave_right_after_someone_was_told_ready_keeps_focus_in_the_room() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.connect("r1", "aaaa1111");
    s.advance(Duration::from_secs(30));
    // b asks while a is still there, then a leaves before b's presence arrives
    s.input(Input::ConferenceRequest { from: "b@meet.lan/r".into(), id: "c2".into(), room: "r1".into() });
    assert!(matches!(s.reply_to("c2"), Ok(Reply::ConferenceReady { .. })));
    s.take();
    s.leave("r1", "aaaa1111");
    assert!(!s.out.contains(&Output::LeaveRoom(room("r1"))), "b is about to join: focus stays");
    s.colibri(|_, r| matches!(r, ColibriRequest::ExpireConference { .. }));
    assert!(s.notifications().contains(&Notification::RoomEnded { room: room("r1") }));
    s.join("r1", "bbbb2222");
    assert!(s.notifications().contains(&Notification::RoomCreated { room: room("r1") }), "a new conference");
    s.connect("r1", "bbbb2222");
    // without a recent request, the last leave makes focus leave
    s.advance(Duration::from_secs(30));
    s.take();
    s.leave("r1", "bbbb2222");
    assert!(s.out.contains(&Output::LeaveRoom(room("r1"))));
}

#[test]
fn notifications_follow_the_room_lifecycle() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    assert!(s.notifications().is_empty(), "a request alone creates nothing");
    s.join("r1", "aaaa1111");
    s.join("r1", "aaaa1111"); // a presence update is no new join
    assert_eq!(
        s.notifications(),
        vec![
            Notification::RoomCreated { room: room("r1") },
            Notification::ParticipantJoined {
                room: room("r1"),
                participant: ep("aaaa1111"),
                display_name: "Name aaaa1111".into()
            }
        ]
    );
    let json = serde_json::to_value(Notification::RoomEnded { room: room("r1") }).unwrap();
    assert_eq!(json, serde_json::json!({"event": "room_ended", "room": "r1"}));
}

#[test]
fn room_nobody_enters_is_left_after_the_idle_timeout() {
    let mut s = Sim::new();
    s.open_room("r1");
    s.take();
    s.advance(Duration::from_secs(61));
    assert_eq!(s.take(), vec![Output::LeaveRoom(room("r1"))]);
}

#[test]
fn bad_occupant_nicks_are_not_participants() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.take();
    s.join("r1", "has space");
    s.join("r1", "");
    assert!(s.take().is_empty());
    assert_eq!(s.focus.stats(s.now).participants, 0);
}

fn three_on(s: &mut Sim, bridge_load: &[(&str, f64)]) -> BridgeId {
    for (b, l) in bridge_load {
        s.bridge(b, *l);
    }
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.join("r1", "bbbb2222");
    s.join("r1", "cccc3333");
    let (_, b) = s.connect("r1", "aaaa1111");
    s.connect("r1", "bbbb2222");
    s.connect("r1", "cccc3333");
    s.take();
    b
}

fn assert_moved(s: &mut Sim, from: &BridgeId, to: &str) {
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        let (_, t) = s.session_iq(nick, Action::SessionTerminate);
        assert_eq!(t.reason.as_deref(), Some(reason::MOVING));
    }
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        let (_, b) = s.connect("r1", nick);
        assert_ne!(&b, from);
        assert_eq!(b, br(to));
    }
}

#[test]
fn failover_when_the_bridge_leaves_the_pool() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.3)]);
    s.input(Input::Bridge { bridge: "jvb-a".into(), presence: BridgePresence::Unavailable });
    assert_moved(&mut s, &b, "jvb-b");
    assert_eq!(s.focus.stats(s.now).counters.moves, 3);
}

#[test]
fn failover_when_the_health_check_fails_and_the_bridge_is_avoided_for_a_minute() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.3)]);
    // health checks go out every 10 s; jvb-b answers, jvb-a stops answering
    s.advance(Duration::from_secs(1));
    s.healthy.retain(|h| h != "jvb-a");
    s.advance(Duration::from_secs(9));
    s.colibri(|b, r| matches!(r, ColibriRequest::Health) && b.as_str() == "jvb-a");
    s.advance(Duration::from_secs(4));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "still waiting for the answer");
    s.advance(Duration::from_secs(1));
    assert_moved(&mut s, &b, "jvb-b");
    // jvb-a keeps announcing itself, yet is avoided for a minute
    s.bridge("jvb-a", 0.0);
    s.open_room("r2");
    s.join("r2", "dddd4444");
    let (_, b2) = s.connect("r2", "dddd4444");
    assert_eq!(b2, br("jvb-b"));
    s.healthy.push("jvb-a".into());
    s.advance(Duration::from_secs(61));
    s.take();
    s.open_room("r3");
    s.join("r3", "eeee5555");
    let (_, b3) = s.connect("r3", "eeee5555");
    assert_eq!(b3, br("jvb-a"), "usable again after a minute");
}

#[test]
fn bridge_failing_three_health_checks_in_a_row_leaves_the_pool_until_it_announces_itself() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.bridge("jvb-b", 0.2);
    s.advance(Duration::from_secs(1));
    s.healthy.retain(|h| h != "jvb-b");
    s.advance(Duration::from_secs(40));
    s.take();
    assert_eq!(s.focus.pool.ids(), vec![br("jvb-a")]);
    assert_eq!(s.focus.stats(s.now).counters.bridge_failures, 1, "one failure, then it was known bad");
    s.bridge("jvb-b", 0.2);
    assert_eq!(s.focus.pool.ids(), vec![br("jvb-a"), br("jvb-b")]);
}

#[test]
fn failover_when_a_colibri_request_fails() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.3)]);
    s.offer_event(&b, "r1", "aaaa1111", &["bbbb2222"], &[]).unwrap();
    let (iq, j) = s.session_iq("aaaa1111", Action::SourceAdd);
    let ans = Jingle::new(Action::SourceAdd, j.sid).with_sdp(SdpType::Answer, ANSWER);
    s.input(Input::IqResult {
        id: iq,
        from: Addr::Occupant(room("r1"), ep("aaaa1111")),
        body: ResultBody::Jingle(ans),
    });
    let (cid, _, _) = s.colibri(|_, r| matches!(r, ColibriRequest::Answer { .. }));
    s.input(Input::IqError {
        id: cid,
        from: Addr::Bridge(b.clone()),
        error: StanzaError::new(Condition::InternalServerError, "boom"),
    });
    assert_moved(&mut s, &b, "jvb-b");
}

#[test]
fn draining_bridge_hands_its_conferences_over() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.3)]);
    s.input(Input::BridgeEvent { bridge: b.clone(), id: "d1".into(), event: Ok(ColibriEvent::Draining) });
    assert_eq!(s.reply_to("d1"), Ok(Reply::Empty));
    s.colibri(|to, r| to == &b && matches!(r, ColibriRequest::ExpireConference { .. }));
    assert_moved(&mut s, &b, "jvb-b");
}

#[test]
fn no_bridge_then_a_bridge_appears() {
    let mut s = Sim::new();
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    assert!(!s.has_session_iq("aaaa1111", Action::SessionInitiate), "no session without a bridge");
    s.bridge("jvb-a", 0.1);
    let (_, b) = s.connect("r1", "aaaa1111");
    assert_eq!(b, br("jvb-a"));
}

#[test]
fn garbage_from_a_bridge_outside_answers_is_refused_without_harm() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.input(Input::Bridge {
        bridge: "bad bridge".into(),
        presence: BridgePresence::Available(Ok(BridgeStats::default())),
    });
    s.input(Input::Bridge {
        bridge: "jvb-c".into(),
        presence: BridgePresence::Available(Err("expected value".into())),
    });
    assert_eq!(s.focus.pool.ids(), vec![br("jvb-a")]);
    s.input(Input::BridgeEvent { bridge: br("jvb-a"), id: "e1".into(), event: Err("unknown op".into()) });
    assert_eq!(s.reply_to("e1").unwrap_err().condition, Condition::BadRequest);
    // an offer for an endpoint that is not there
    assert_eq!(s.offer_event(&br("jvb-a"), "r9", "aaaa1111", &[], &[]).unwrap_err().condition, Condition::ItemNotFound);
    // an answer to an id we never sent, and an answer from the wrong address
    s.input(Input::IqResult { id: "nope".into(), from: Addr::Bridge(br("jvb-a")), body: ResultBody::Empty });
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (iq, _) = s.session_iq("aaaa1111", Action::SessionInitiate);
    s.input(Input::IqError {
        id: iq.clone(),
        from: Addr::Bridge(br("jvb-a")),
        error: StanzaError::new(Condition::Other, "spoof"),
    });
    assert_eq!(s.focus.stats(s.now).counters.participant_failures, 0, "spoofed answer ignored");
    s.ack_participant("r1", "aaaa1111", &iq);
}

#[test]
fn transport_failure_reported_by_the_bridge_starts_a_new_session() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1)]);
    s.endpoint_failed(&b, "r1", "bbbb2222");
    assert_eq!(s.reply_to("f1"), Ok(Reply::Empty));
    let (_, t) = s.session_iq("bbbb2222", Action::SessionTerminate);
    assert_eq!(t.reason.as_deref(), Some(reason::MOVING));
    s.connect("r1", "bbbb2222");
}

fn two_in_room(s: &mut Sim) -> BridgeId {
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    let (_, b) = s.connect("r1", "aaaa1111");
    s.advance(Duration::from_millis(100));
    s.join("r1", "bbbb2222");
    s.connect("r1", "bbbb2222");
    s.take();
    b
}

/// Two in a room who went P2P (both accepted the offer) and whose bridge session was released;
/// returns the first joiner's session-initiate.
fn two_in_p2p(s: &mut Sim) -> Jingle {
    two_in_room(s);
    s.advance(Duration::from_secs(4));
    let (ia, ja) = s.session_iq("aaaa1111", Action::SessionInitiate);
    let (ib, _) = s.session_iq("bbbb2222", Action::SessionInitiate);
    s.ack_participant("r1", "aaaa1111", &ia);
    s.ack_participant("r1", "bbbb2222", &ib);
    s.advance(Duration::from_secs(3));
    s.take();
    ja
}

#[test]
fn two_participants_go_p2p_after_the_room_settles_and_the_bridge_is_released() {
    let mut s = Sim::new();
    let b = two_in_room(&mut s);
    s.advance(Duration::from_secs(2));
    assert!(!s.has_session_iq("aaaa1111", Action::SessionInitiate), "not yet settled");
    s.advance(Duration::from_secs(2));
    let (ia, ja) = s.session_iq("aaaa1111", Action::SessionInitiate);
    let (ib, jb) = s.session_iq("bbbb2222", Action::SessionInitiate);
    assert_eq!((ja.transport, jb.transport), (Some(Transport::P2p), Some(Transport::P2p)));
    assert_eq!((ja.initiator, jb.initiator), (Some(true), Some(false)), "the earlier joiner offers");
    assert_eq!((ja.peer.as_deref(), jb.peer.as_deref()), (Some("bbbb2222"), Some("aaaa1111")));
    assert_eq!(ja.sid, jb.sid);
    s.ack_participant("r1", "aaaa1111", &ia);
    s.ack_participant("r1", "bbbb2222", &ib);
    assert!(!s.has_session_iq("aaaa1111", Action::SessionTerminate), "bridge media kept while P2P connects");
    s.advance(Duration::from_secs(2));
    for nick in ["aaaa1111", "bbbb2222"] {
        let (_, t) = s.session_iq(nick, Action::SessionTerminate);
        assert_eq!(t.reason.as_deref(), Some(reason::P2P));
        assert_ne!(t.sid, ja.sid, "the bridge session ends, not the P2P one");
    }
    s.colibri(|to, r| to == &b && matches!(r, ColibriRequest::ExpireConference { .. }));
    assert_eq!(s.focus.stats(s.now).p2p_rooms, 1);
}

#[test]
fn third_participant_moves_everyone_to_the_bridge_and_p2p_returns_at_two() {
    let mut s = Sim::new();
    two_in_p2p(&mut s);
    s.join("r1", "cccc3333");
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        s.connect("r1", nick);
    }
    assert_eq!(s.focus.stats(s.now).p2p_rooms, 0);
    assert_eq!(s.focus.stats(s.now).bridge_sessions_active, 3);
    s.advance(Duration::from_secs(30));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "no P2P with three: {:?}", s.out);
    s.leave("r1", "cccc3333");
    s.take();
    s.advance(Duration::from_secs(4));
    let (_, j) = s.session_iq("aaaa1111", Action::SessionInitiate);
    assert_eq!(j.transport, Some(Transport::P2p), "back to P2P a few seconds after settling at two");
}

#[test]
fn p2p_refused_by_one_peer_keeps_both_on_the_bridge() {
    let mut s = Sim::new();
    two_in_room(&mut s);
    s.advance(Duration::from_secs(4));
    let (ia, _) = s.session_iq("aaaa1111", Action::SessionInitiate);
    let (ib, _) = s.session_iq("bbbb2222", Action::SessionInitiate);
    s.ack_participant("r1", "aaaa1111", &ia);
    s.input(Input::IqError {
        id: ib,
        from: Addr::Occupant(room("r1"), ep("bbbb2222")),
        error: StanzaError::new(Condition::FeatureNotImplemented, "no p2p here"),
    });
    for nick in ["aaaa1111", "bbbb2222"] {
        let (_, t) = s.session_iq(nick, Action::SessionTerminate);
        assert_eq!((t.transport, t.reason.as_deref()), (Some(Transport::P2p), Some(reason::FAILED)));
    }
    s.advance(Duration::from_secs(30));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "no new attempt: {:?}", s.out);
    let st = s.focus.stats(s.now);
    assert_eq!((st.p2p_rooms, st.bridge_sessions_active), (0, 2));
}

#[test]
fn peer_reporting_a_failed_p2p_connection_brings_both_back_to_the_bridge() {
    let mut s = Sim::new();
    let ja = two_in_p2p(&mut s);
    assert_eq!(s.focus.stats(s.now).bridge_sessions_active, 0, "bridge released");
    let mut t = Jingle::new(Action::SessionTerminate, ja.sid.clone());
    t.transport = Some(Transport::P2p);
    t.reason = Some(reason::FAILED.into());
    s.input(Input::SessionIq { room: room("r1"), nick: "bbbb2222".into(), id: "t1".into(), jingle: Ok(t) });
    assert_eq!(s.reply_to("t1"), Ok(Reply::Empty));
    for nick in ["aaaa1111", "bbbb2222"] {
        let (_, t) = s.session_iq(nick, Action::SessionTerminate);
        assert_eq!(t.sid, ja.sid);
        s.connect("r1", nick);
    }
    s.advance(Duration::from_secs(30));
    let st = s.focus.stats(s.now);
    assert_eq!((st.p2p_rooms, st.bridge_sessions_active), (0, 2), "no new P2P attempt with the same pair");
}

#[test]
fn p2p_disabled_keeps_two_on_the_bridge() {
    let mut s = Sim::with(Settings { p2p_enabled: false, ..Settings::default() });
    two_in_room(&mut s);
    s.advance(Duration::from_secs(30));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })));
}

#[test]
fn peer_leaving_p2p_puts_the_other_back_on_the_bridge() {
    let mut s = Sim::new();
    two_in_p2p(&mut s);
    s.leave("r1", "bbbb2222");
    let (_, b) = s.connect("r1", "aaaa1111");
    assert_eq!(b, br("jvb-a"));
}

#[test]
fn burst_of_fifty_joins_sends_each_participant_at_most_one_renegotiation_at_a_time() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("big");
    let nicks: Vec<String> = (0..50).map(|n| format!("p{n:07}")).collect();
    for n in &nicks {
        s.join("big", n);
    }
    for n in &nicks {
        s.connect("big", n);
    }
    // the bridge announces every join to everyone (it batches too, but be pessimistic)
    let b = br("jvb-a");
    for n in &nicks {
        for other in &nicks {
            if n != other {
                s.offer_event(&b, "big", n, &[other.as_str()], &[]).unwrap();
            }
        }
    }
    let sent = s
        .out
        .iter()
        .filter(|o| matches!(o, Output::SessionIq { jingle, .. } if jingle.action == Action::SourceAdd))
        .count();
    assert_eq!(sent, 50, "2450 bridge offers became 50 source-adds in flight");
}

#[test]
fn reconnect_forgets_participants_that_left_while_the_bus_was_down() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    s.join("r1", "aaaa1111");
    s.join("r1", "bbbb2222");
    s.join("r1", "cccc3333");
    s.connect("r1", "aaaa1111");
    s.connect("r1", "bbbb2222");
    s.connect("r1", "cccc3333");
    s.take();
    s.input(Input::Reconnected);
    assert_eq!(s.take(), vec![Output::JoinRoom(room("r1"))]);
    // signal announces who is there now, then our self-presence
    s.join("r1", "aaaa1111");
    s.join("r1", "cccc3333");
    s.input(Input::Occupant {
        room: room("r1"),
        nick: "focus".into(),
        presence: OccupantPresence { available: true, ..Default::default() },
    });
    s.colibri(|_, r| matches!(r, ColibriRequest::Expire { endpoint, .. } if endpoint == &ep("bbbb2222")));
    assert!(s
        .notifications()
        .contains(&Notification::ParticipantLeft { room: room("r1"), participant: ep("bbbb2222") }));
    let st = s.focus.stats(s.now);
    assert_eq!((st.participants, st.bridge_sessions_active), (2, 2), "the others keep their sessions");
}

#[test]
fn reconnect_rejoins_every_room() {
    let mut s = Sim::new();
    s.open_room("r1");
    s.open_room("r2");
    s.take();
    s.input(Input::Reconnected);
    assert_eq!(s.take(), vec![Output::JoinRoom(room("r1")), Output::JoinRoom(room("r2"))]);
}

/// The P2P `session-terminate`s sent so far, as (nick, sid), removed from the outputs.
fn p2p_terminates(s: &mut Sim) -> Vec<(String, String)> {
    let mut n = Vec::new();
    s.out.retain(|o| match o {
        Output::SessionIq { nick, jingle, .. }
            if jingle.action == Action::SessionTerminate && jingle.transport == Some(Transport::P2p) =>
        {
            n.push((nick.to_string(), jingle.sid.clone()));
            false
        }
        _ => true,
    });
    n.sort();
    n
}

#[test]
fn third_joining_while_p2p_is_set_up_ends_the_p2p_session_for_both() {
    // fast three-way join: the third arrives just as the room's P2P timer fired
    let mut s = Sim::new();
    two_in_room(&mut s);
    s.advance(Duration::from_secs(3));
    let (ia, ja) = s.session_iq("aaaa1111", Action::SessionInitiate);
    let (ib, _) = s.session_iq("bbbb2222", Action::SessionInitiate);
    assert_eq!(ja.transport, Some(Transport::P2p));
    s.ack_participant("r1", "aaaa1111", &ia);
    s.join("r1", "cccc3333");
    s.ack_participant("r1", "bbbb2222", &ib);
    s.connect("r1", "cccc3333");
    assert_eq!(
        p2p_terminates(&mut s),
        vec![("aaaa1111".to_string(), ja.sid.clone()), ("bbbb2222".to_string(), ja.sid.clone())],
        "both pages are told their P2P session is over"
    );
    s.advance(Duration::from_secs(30));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "bridge sessions kept, no P2P: {:?}", s.out);
    let st = s.focus.stats(s.now);
    assert_eq!((st.p2p_rooms, st.bridge_sessions_active), (0, 3));
}

#[test]
fn reload_in_a_room_of_three_does_not_leave_a_p2p_session_behind() {
    // a reload: the old page leaves, the room is at two long enough for P2P to start, the
    // new page (new nick) arrives while P2P is being set up
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    s.open_room("r1");
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        s.join("r1", nick);
        s.connect("r1", nick);
    }
    s.advance(Duration::from_secs(10));
    s.take();
    s.leave("r1", "cccc3333");
    s.advance(Duration::from_millis(3100));
    let (ia, ja) = s.session_iq("aaaa1111", Action::SessionInitiate);
    assert_eq!(ja.transport, Some(Transport::P2p));
    s.ack_participant("r1", "aaaa1111", &ia);
    s.join("r1", "dddd4444");
    s.connect("r1", "dddd4444");
    let terminated = p2p_terminates(&mut s);
    assert_eq!(terminated, vec![("aaaa1111".to_string(), ja.sid.clone()), ("bbbb2222".to_string(), ja.sid.clone())]);
    s.advance(Duration::from_secs(30));
    let st = s.focus.stats(s.now);
    assert_eq!((st.p2p_rooms, st.bridge_sessions_active), (0, 3));
}

#[test]
fn third_joining_after_the_bridge_release_sends_no_p2p_terminate() {
    let mut s = Sim::new();
    two_in_p2p(&mut s);
    s.join("r1", "cccc3333");
    assert_eq!(p2p_terminates(&mut s), vec![], "pages keep P2P media until the bridge's flows");
}

#[test]
fn new_offer_on_an_active_session_is_an_ice_restart_on_the_same_bridge() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.5)]);
    s.take();
    // a renegotiation is in flight when the page's ICE fails
    s.offer_event(&b, "r1", "bbbb2222", &["cccc3333"], &[]).unwrap();
    let (_, add) = s.session_iq("bbbb2222", Action::SourceAdd);
    let restart = Jingle::new(Action::SessionAccept, add.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq {
        room: room("r1"),
        nick: "bbbb2222".into(),
        id: "restart1".into(),
        jingle: Ok(restart.clone()),
    });
    let (cid, to, rq) = s.colibri(|_, rq| matches!(rq, ColibriRequest::Allocate { .. }));
    assert_eq!(to, b, "re-allocated on the same bridge (replaces the endpoint there)");
    assert!(matches!(rq, ColibriRequest::Allocate { endpoint, .. } if endpoint == ep("bbbb2222")));
    // a second offer while this one is allocated is refused
    s.input(Input::SessionIq { room: room("r1"), nick: "bbbb2222".into(), id: "restart2".into(), jingle: Ok(restart) });
    assert_eq!(s.reply_to("restart2").map_err(|e| e.condition), Err(Condition::UnexpectedRequest));
    s.ack_bridge(&b, &cid, ResultBody::Colibri(ColibriResponse::Allocated { answer: ANSWER.into() }));
    match s.reply_to("restart1") {
        Ok(Reply::Jingle(a)) => {
            assert_eq!((a.sid.as_str(), a.sdp(SdpType::Answer).unwrap()), (add.sid.as_str(), ANSWER))
        }
        other => panic!("restart not answered with the bridge's answer: {other:?}"),
    }
    assert!(!s.has_session_iq("bbbb2222", Action::SessionTerminate), "no terminate, no new session");
    // the bridge's next offer reaches the page (the old renegotiation does not block it)
    s.offer_event(&b, "r1", "bbbb2222", &["cccc3333"], &[]).unwrap();
    s.session_iq("bbbb2222", Action::SourceAdd);
    assert_eq!(s.focus.stats(s.now).bridge_sessions_active, 3);
}

#[test]
fn page_behind_a_long_outage_gets_one_clean_move_not_moving_then_failed() {
    // the bridge gives up the page's transport during a ~35 s outage; the new initiate waits
    // in the page's connection until the link is back
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1)]);
    s.endpoint_failed(&b, "r1", "bbbb2222");
    let (_, t) = s.session_iq("bbbb2222", Action::SessionTerminate);
    assert_eq!(t.reason.as_deref(), Some(reason::MOVING));
    let (iq, j) = s.session_iq("bbbb2222", Action::SessionInitiate);
    s.take();
    s.advance(Duration::from_secs(25));
    assert!(!s.has_session_iq("bbbb2222", Action::SessionTerminate), "not given up while unreachable: {:?}", s.out);
    // the link is back: the page answers the initiate (late) and sends its offer
    s.ack_participant("r1", "bbbb2222", &iq);
    let accept = Jingle::new(Action::SessionAccept, j.sid.clone()).with_sdp(SdpType::Offer, OFFER);
    s.input(Input::SessionIq { room: room("r1"), nick: "bbbb2222".into(), id: "late".into(), jingle: Ok(accept) });
    let (cid, to, _) = s.colibri(|_, rq| matches!(rq, ColibriRequest::Allocate { .. }));
    s.ack_bridge(&to, &cid, ResultBody::Colibri(ColibriResponse::Allocated { answer: ANSWER.into() }));
    assert!(matches!(s.reply_to("late"), Ok(Reply::Jingle(_))));
    assert!(!s.has_session_iq("bbbb2222", Action::SessionTerminate));
    assert_eq!(s.focus.stats(s.now).bridge_sessions_active, 3);
}

#[test]
fn page_that_never_comes_back_after_a_move_is_given_up_after_the_grace() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1)]);
    s.endpoint_failed(&b, "r1", "bbbb2222");
    s.take();
    s.advance(Settings::default().unreachable_grace + Duration::from_secs(11));
    let (_, t) = s.session_iq("bbbb2222", Action::SessionTerminate);
    assert_eq!(t.reason.as_deref(), Some(reason::FAILED));
}

/// Signal restarted: focus is back on the bus before the bridge; the participants it no
/// longer sees in the room are expired on the bridge once the bridge is back.
#[test]
fn after_a_resync_endpoints_of_departed_participants_are_expired_when_the_bridge_is_back() {
    let mut s = Sim::new();
    s.bridge("jvb-a", 0.1);
    let b = br("jvb-a");
    s.open_room("r1");
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        s.join("r1", nick);
        s.connect("r1", nick);
    }
    s.take();
    s.input(Input::Reconnected);
    s.take();
    // the pages rejoin with new nicks; only one made it before our self-presence
    s.join("r1", "dddd4444");
    s.input(Input::Occupant {
        room: room("r1"),
        nick: "focus".into(),
        presence: OccupantPresence { available: true, ..Default::default() },
    });
    let mut gone = Vec::new();
    while let Some(i) =
        s.out.iter().position(|o| matches!(o, Output::Colibri { request: ColibriRequest::Expire { .. }, .. }))
    {
        let Output::Colibri { id, request: ColibriRequest::Expire { endpoint, .. }, .. } = s.out.remove(i) else {
            unreachable!()
        };
        // the bridge is not on the bus yet: signal bounces the IQ
        s.input(Input::IqError {
            id,
            from: Addr::Bridge(b.clone()),
            error: StanzaError::new(Condition::ServiceUnavailable, "no such component"),
        });
        gone.push(endpoint.to_string());
    }
    gone.sort();
    assert_eq!(gone, ["aaaa1111", "bbbb2222", "cccc3333"]);
    s.connect("r1", "dddd4444");
    s.join("r1", "eeee5555");
    s.connect("r1", "eeee5555");
    s.take();
    // the bridge is back on the bus and announces itself
    s.bridge("jvb-a", 0.1);
    let mut again = Vec::new();
    while let Some(i) = s.out.iter().position(|o| {
        matches!(
            o,
            Output::Colibri { request: ColibriRequest::Expire { .. } | ColibriRequest::ExpireConference { .. }, .. }
        )
    }) {
        let Output::Colibri { id, request, .. } = s.out.remove(i) else { unreachable!() };
        match request {
            ColibriRequest::Expire { endpoint, .. } => again.push(endpoint.to_string()),
            other => panic!("the live conference must not be expired: {other:?}"),
        }
        s.ack_bridge(&b, &id, ResultBody::Colibri(ColibriResponse::Done));
    }
    again.sort();
    assert_eq!(again, ["aaaa1111", "bbbb2222", "cccc3333"], "the endpoints from before the restart are expired");
    s.bridge("jvb-a", 0.1);
    assert!(
        s.out.iter().all(|o| !matches!(o, Output::Colibri { request: ColibriRequest::Expire { .. }, .. })),
        "delivered once: {:?}",
        s.out
    );
    assert_eq!(s.focus.stats(s.now).bridge_sessions_active, 2);
}

#[test]
fn bridge_cut_off_from_the_bus_gets_the_expires_of_what_moved_off_it_when_it_is_back() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.5)]);
    s.take();
    // jvb-a is cut off from the bus: its health checks fail and its sessions move to jvb-b
    s.healthy.retain(|h| h != "jvb-a");
    s.advance(Duration::from_secs(35));
    for nick in ["aaaa1111", "bbbb2222", "cccc3333"] {
        let (_, t) = s.session_iq(nick, Action::SessionTerminate);
        assert_eq!(t.reason.as_deref(), Some(reason::MOVING));
    }
    s.connect("r1", "aaaa1111");
    s.leave("r1", "bbbb2222");
    s.take();
    // jvb-a is back (it never stopped forwarding): it must drop what moved away
    s.bridge("jvb-a", 0.1);
    let mut expired = Vec::new();
    while let Some(i) = s.out.iter().position(|o| {
        matches!(
            o,
            Output::Colibri { request: ColibriRequest::Expire { .. } | ColibriRequest::ExpireConference { .. }, .. }
        )
    }) {
        let Output::Colibri { id, bridge, request } = s.out.remove(i) else { unreachable!() };
        assert_eq!(bridge, b);
        expired.push(match request {
            ColibriRequest::Expire { endpoint, .. } => endpoint.to_string(),
            ColibriRequest::ExpireConference { conference } => format!("conference {conference}"),
            _ => unreachable!(),
        });
        s.ack_bridge(&b, &id, ResultBody::Colibri(ColibriResponse::Done));
    }
    expired.sort();
    assert_eq!(expired, ["aaaa1111", "bbbb2222", "cccc3333", "conference r1"]);
}

fn set_forced(s: &mut Sim, nick: &str, audio: bool, video: bool) {
    let presence = OccupantPresence {
        available: true,
        display_name: format!("Name {nick}"),
        audio_muted: audio,
        video_muted: video,
        forced: ForcedMute { audio, video },
    };
    s.input(Input::Occupant { room: room("r1"), nick: nick.into(), presence });
}

fn force_mute_to(s: &mut Sim, bridge: &BridgeId, nick: &str) -> (bool, bool) {
    let (_, _, rq) = s.colibri(|b, rq| {
        b == bridge && matches!(rq, ColibriRequest::ForceMute { endpoint, .. } if endpoint.as_str() == nick)
    });
    match rq {
        ColibriRequest::ForceMute { audio, video, .. } => (audio, video),
        _ => unreachable!("matched a ForceMute"),
    }
}

#[test]
fn a_moderators_mute_is_stated_to_the_bridge_and_lifted_when_the_person_unmutes() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1)]);
    set_forced(&mut s, "bbbb2222", true, false);
    assert_eq!(force_mute_to(&mut s, &b, "bbbb2222"), (true, false));
    // an unrelated presence change (a raised hand) states nothing new
    set_forced(&mut s, "bbbb2222", true, false);
    assert!(!s.out.iter().any(|o| matches!(o, Output::Colibri { request: ColibriRequest::ForceMute { .. }, .. })));
    set_forced(&mut s, "bbbb2222", false, false);
    assert_eq!(force_mute_to(&mut s, &b, "bbbb2222"), (false, false));
}

#[test]
fn a_muted_person_moved_to_another_bridge_stays_muted_there() {
    let mut s = Sim::new();
    let b = three_on(&mut s, &[("jvb-a", 0.1), ("jvb-b", 0.3)]);
    set_forced(&mut s, "cccc3333", true, true);
    force_mute_to(&mut s, &b, "cccc3333");
    s.input(Input::Bridge { bridge: "jvb-a".into(), presence: BridgePresence::Unavailable });
    assert_moved(&mut s, &b, "jvb-b");
    assert_eq!(force_mute_to(&mut s, &br("jvb-b"), "cccc3333"), (true, true), "the new endpoint is muted too");
    assert!(
        !s.out.iter().any(|o| matches!(o, Output::Colibri { request: ColibriRequest::ForceMute { endpoint, .. }, .. } if endpoint.as_str() != "cccc3333")),
        "nobody else is muted"
    );
}

#[test]
fn a_moderators_mute_takes_a_pair_off_p2p_where_no_bridge_could_stop_it() {
    let mut s = Sim::new();
    two_in_p2p(&mut s);
    set_forced(&mut s, "bbbb2222", true, false);
    for nick in ["aaaa1111", "bbbb2222"] {
        s.connect("r1", nick);
    }
    assert_eq!(s.focus.stats(s.now).p2p_rooms, 0);
    assert_eq!(force_mute_to(&mut s, &br("jvb-a"), "bbbb2222"), (true, false));
    s.advance(Duration::from_secs(30));
    assert!(s.out.iter().all(|o| !matches!(o, Output::SessionIq { .. })), "no P2P while muted: {:?}", s.out);
    set_forced(&mut s, "bbbb2222", false, false);
    s.take();
    s.advance(Duration::from_secs(4));
    let (_, j) = s.session_iq("aaaa1111", Action::SessionInitiate);
    assert_eq!(j.transport, Some(Transport::P2p), "P2P again once the mute is lifted");
}
