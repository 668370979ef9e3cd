//! Advanced mode: inviting more people, quitting, joining, ending, relay, and when the
//! call ends.

use super::*;

#[test]
fn advanced_requests_are_refused_in_normal_mode() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    d.ok(3, accept(&id));
    for body in [
        calling_invite(&id, &["dave"], None),
        join(&id),
        quit(&id),
        end(&id),
    ] {
        assert_eq!(d.err(1, body).code, ErrorCode::AdvancedModeOnly);
    }
}

#[test]
fn calling_invite_grows_the_call_to_ten_members_and_no_further() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.ok(5, reject(&id, RejectReason::Declined));
    d.drain();

    let e = d.err(5, calling_invite(&id, &["dave"], None));
    assert_eq!(e.code, ErrorCode::StateForbidden);
    assert_eq!(e.state, Some(Rejected));
    assert_eq!(
        d.err(1, calling_invite(&id, &["bob", "alice", "bad id"], None))
            .code,
        ErrorCode::NoValidInvitees
    );

    // A rejected member may be invited again, by any member in the call.
    d.now += 1_000;
    let r = d.ok(3, calling_invite(&id, &["carol"], Some(45)));
    let ResponseBody::CallingInvite(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(r.timeout, 45);
    assert_eq!(r.create_time, T0);
    assert_eq!(pairs(&r.call_user_list), owned(&[("carol", Received)]));
    d.assert_written(&id);
    let inv = d.expect_received(5, &id);
    assert_eq!(inv.inviter, "bob");
    assert_eq!(inv.expire_time, Some(T0 + 1_000 + 45_000));
    assert_eq!(inv.mode, Advanced);
    for s in [1, 2] {
        d.expect_changed(s, &id, &[("carol", Received)]);
    }
    d.assert_quiet();
    let carol = d.call(&id).member("carol").unwrap();
    assert_eq!(&*carol.inviter, "bob");
    assert_eq!(carol.reason, None);

    // Seven more: ten distinct users in all.
    let seven = ["dave", "erin", "frank", "grace", "heidi", "ivan", "judy"];
    let r = d.ok(1, calling_invite(&id, &seven, None));
    let ResponseBody::CallingInvite(r) = r else {
        panic!("{r:?}")
    };
    assert!(r.error_invitees.is_empty());
    assert_eq!(r.timeout, 90, "the default timeout");
    let want: Vec<_> = seven.iter().map(|u| (*u, Inviting)).collect();
    assert_eq!(pairs(&r.call_user_list), owned(&want));
    for s in [2, 3, 5] {
        d.expect_changed(s, &id, &want);
    }
    d.assert_quiet();
    assert_eq!(d.call(&id).members.len(), 10);

    // The eleventh is refused.
    let e = d.err(1, calling_invite(&id, &["kim"], None));
    assert_eq!(e.code, ErrorCode::CallFull);
    let e = d.err(1, calling_invite(&id, &["kim", "carol"], None));
    assert_eq!(e.code, ErrorCode::CallFull);
    assert!(d.last_writes.is_empty());
    d.assert_quiet();

    // A former member still counts as one of the ten and may come back.
    d.ok(5, reject(&id, RejectReason::Declined));
    d.drain();
    let r = d.ok(3, calling_invite(&id, &["kim", "carol", "carol"], None));
    let ResponseBody::CallingInvite(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        r.error_invitees
            .iter()
            .map(|e| (e.user_id.as_str(), e.reason))
            .collect::<Vec<_>>(),
        vec![
            ("kim", InviteeError::CallFull),
            ("carol", InviteeError::Duplicate)
        ]
    );
    assert_eq!(d.state(&id, "carol"), Received);
    assert_eq!(d.call(&id).members.len(), 10);
    assert!(d.call(&id).member("kim").is_none());
}

#[test]
fn a_reinvited_member_times_out_at_its_new_deadline_only() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 10).call_id;
    d.ok(3, accept(&id));
    d.ok(5, reject(&id, RejectReason::Declined));
    d.advance(5_000);
    d.ok(1, calling_invite(&id, &["carol"], Some(20)));
    d.drain();
    // The first invitation's deadline passes: carol still rings.
    d.advance_to(T0 + 10_000);
    assert_eq!(d.state(&id, "carol"), Received);
    d.assert_quiet();
    d.advance_to(T0 + 25_000);
    assert_eq!(d.state(&id, "carol"), Timeout);
    assert!(matches!(
        d.one_event(5),
        ServerMessage::CallInvitationTimeout(_)
    ));
}

#[test]
fn quit_and_join() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    d.login(9, "erin", "e1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.drain();

    d.ok(3, quit(&id));
    d.assert_written(&id);
    assert!(d.events_for(3).is_empty());
    for s in [1, 4, 5] {
        d.expect_changed(s, &id, &[("bob", Quit)]);
    }
    d.assert_quiet();
    assert_eq!(d.call(&id).member("bob").unwrap().device, None);
    assert!(d.call(&id).is_live(), "alice is in it and carol rings");
    // bob is no longer busy.
    let other = d.invite(3, &["erin"], Normal, 30).call_id;
    d.ok(3, cancel(&other, &[]));
    d.drain();

    // Back in, from the other device.
    let r = d.ok(4, join(&id));
    let ResponseBody::CallJoin(info) = r else {
        panic!("{r:?}")
    };
    assert_eq!(info.call_id, id);
    assert_eq!(info.state, CallState::Started);
    assert_eq!(info_of(info, "bob").state, Accepted);
    d.assert_written(&id);
    assert!(d.events_for(4).is_empty());
    for s in [1, 3, 5] {
        d.expect_changed(s, &id, &[("bob", Accepted)]);
    }
    d.assert_quiet();
    assert_eq!(
        d.call(&id).member("bob").unwrap().device.as_deref(),
        Some("b2")
    );

    // Strangers learn nothing; members in the wrong state are told theirs.
    assert_eq!(d.err(9, join(&id)).code, ErrorCode::CallNotFound);
    assert_eq!(d.err(9, quit(&id)).code, ErrorCode::CallNotFound);
    let e = d.err(4, join(&id));
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Accepted))
    );
    let e = d.err(5, join(&id));
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Received))
    );
    let e = d.err(5, quit(&id));
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Received))
    );

    // A member that rejected may still join.
    d.ok(5, reject(&id, RejectReason::Declined));
    d.ok(5, join(&id));
    assert_eq!(d.state(&id, "carol"), Accepted);
}

#[test]
fn end_tells_the_pending_and_accepted_members_only() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    d.login(6, "dave", "d1");
    d.login(7, "erin", "e1");
    d.login(8, "frank", "f1");
    d.login(9, "grace", "g1");
    let id = d
        .invite(1, &["bob", "carol", "dave", "erin", "grace"], Advanced, 60)
        .call_id;
    d.ok(3, accept(&id));
    d.ok(6, reject(&id, RejectReason::Declined));
    d.ok(7, accept(&id));
    d.ok(7, quit(&id));
    d.ok(1, calling_invite(&id, &["frank"], Some(1)));
    d.advance(1_000);
    d.ok(1, cancel(&id, &["grace"]));
    let states: Vec<_> = d.call(&id).members.iter().map(|m| m.state).collect();
    assert_eq!(
        states,
        [Accepted, Accepted, Received, Rejected, Quit, Cancelled, Timeout]
    );
    // bob is busy while the call lives.
    assert_eq!(
        d.err(3, invite_body(&["kim"], Normal, 30)).code,
        ErrorCode::AlreadyInCall
    );
    d.drain();

    d.now += 500;
    let r = d.ok(1, end_with(&id, "bye"));
    assert_eq!(
        r,
        ResponseBody::CallEnd(beckon_protocol::CallEndResult {
            call_id: id.clone(),
            end_time: T0 + 1_500
        })
    );
    d.assert_written(&id);
    assert!(d.events_for(1).is_empty());
    for s in [2, 3, 5] {
        let e = d.expect_ended(s, &id);
        assert_eq!(e.operated_user_id, "alice");
        assert_eq!(e.caller, "alice");
        assert_eq!(e.mode, Advanced);
        assert_eq!(e.extended_data, "bye");
        assert_eq!(e.end_time, T0 + 1_500);
    }
    d.assert_quiet();
    // Everyone keeps the state they had.
    let after: Vec<_> = d.call(&id).members.iter().map(|m| m.state).collect();
    assert_eq!(after, states);
    assert_eq!(d.call(&id).state, CallState::Ended);

    assert_eq!(d.err(5, accept(&id)).code, ErrorCode::CallEnded);
    assert_eq!(d.err(3, quit(&id)).code, ErrorCode::CallEnded);
    assert_eq!(d.err(6, join(&id)).code, ErrorCode::CallEnded);
    d.invite(3, &["kim"], Normal, 30);
}

/// The seed: an advanced call lives until `callEnd`, and until then its accepted members may
/// invite others. A member left alone is still in it, so the call does not end by itself.
#[test]
fn a_member_left_alone_keeps_the_call_until_it_leaves() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    d.login(6, "dave", "d1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.ok(5, reject(&id, RejectReason::Declined));
    d.drain();

    d.ok(3, quit(&id));
    assert!(d.call(&id).is_live(), "alice is still in it");
    for s in [1, 2, 4] {
        d.expect_changed(s, &id, &[("bob", Quit)]);
    }
    d.assert_quiet();
    // Alone, alice is still in a call: she may invite into it, not start another.
    assert_eq!(
        d.err(1, invite_body(&["kim"], Normal, 30)).code,
        ErrorCode::AlreadyInCall
    );
    d.ok(1, calling_invite(&id, &["dave"], None));
    d.ok(6, reject(&id, RejectReason::Declined));
    assert!(d.call(&id).is_live());
    d.drain();

    // The last accepted member leaves: nobody could end the call or invite any more.
    d.now += 1_000;
    d.ok(1, quit(&id));
    d.assert_written(&id);
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert_eq!(d.call(&id).end_time, d.now);
    let own = d.events_for(1);
    assert!(own.is_empty(), "the acting session got {own:?}");
    // alice's other device and bob, quit both, hear of her quit, not of the end; carol and
    // dave (rejected) hear nothing.
    for s in [2, 3, 4] {
        d.expect_changed(s, &id, &[("alice", Quit)]);
    }
    d.assert_quiet();
    d.invite(1, &["kim"], Normal, 30);
}

#[test]
fn a_one_to_one_call_lives_on_after_the_invitee_rejects() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob"], Advanced, 60).call_id;
    d.drain();

    d.ok(3, reject(&id, RejectReason::Busy));
    assert!(d.call(&id).is_live());
    for s in [1, 2] {
        d.expect_changed(s, &id, &[("bob", Rejected)]);
    }
    d.assert_quiet();

    // The caller invites someone else into the same call, and talks with her.
    d.ok(1, calling_invite(&id, &["carol"], None));
    d.expect_received(5, &id);
    d.ok(5, accept(&id));
    d.drain();
    d.ok(5, end(&id));
    assert_eq!(d.call(&id).state, CallState::Ended);
    for s in [1, 2] {
        assert_eq!(d.expect_ended(s, &id).operated_user_id, "carol");
    }
    d.assert_quiet();
}

#[test]
fn a_one_to_one_call_lives_on_after_the_invitee_times_out_until_call_end() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Advanced, 10).call_id;
    d.drain();

    d.advance(10_000);
    assert_eq!(d.state(&id, "bob"), Timeout);
    assert!(d.call(&id).is_live());
    assert!(matches!(
        d.one_event(3),
        ServerMessage::CallInvitationTimeout(_)
    ));
    for s in [1, 2] {
        d.expect_changed(s, &id, &[("bob", Timeout)]);
    }
    d.assert_quiet();

    // Nothing more happens by itself: no deadline is left.
    d.advance(3_600_000);
    assert!(d.call(&id).is_live());
    d.assert_quiet();

    d.ok(1, end(&id));
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert_eq!(d.expect_ended(2, &id).operated_user_id, "alice");
    d.assert_quiet();
}

#[test]
fn a_call_whose_invitations_were_all_cancelled_lives_on_until_call_end() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.drain();

    d.ok(1, cancel(&id, &[]));
    assert!(d.call(&id).is_live());
    for s in [3, 5] {
        d.expect_cancelled(s, &id);
    }
    d.assert_quiet();
    // Still the caller's call: bob may be invited back into it.
    d.ok(1, calling_invite(&id, &["bob"], None));
    d.expect_received(3, &id);
    d.ok(1, end(&id));
    assert_eq!(d.expect_ended(3, &id).operated_user_id, "alice");
    d.assert_quiet();
}

/// Protocol §3.5: a caller whose device is gone before anyone accepted cancels the call,
/// also when every invitee already answered and the caller was alone in it.
#[test]
fn a_caller_alone_in_an_unanswered_call_ends_it_when_its_device_is_gone() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Advanced, 60).call_id;
    d.ok(3, reject(&id, RejectReason::Declined));
    d.drain();

    d.disconnect(1, T0);
    d.advance(HB - 1);
    assert!(d.call(&id).is_live(), "alice may still come back");
    d.advance(1);
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert_eq!(d.state(&id, "alice"), Accepted, "members keep their states");
    assert_eq!(d.expect_ended(2, &id).operated_user_id, "");
    d.assert_quiet();
}

#[test]
fn nobody_in_the_call_ends_it_and_the_ringing_members_are_told() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Advanced, 60).call_id;
    d.drain();
    d.ok(1, quit(&id));
    assert_eq!(d.call(&id).state, CallState::Ended);
    let events = d.events_for(3);
    assert_eq!(
        events.iter().map(kind).collect::<Vec<_>>(),
        ["callUserStateChanged", "callInvitationEnded"]
    );
    assert_eq!(changed_pairs(&events[0]), owned(&[("alice", Quit)]));
    d.assert_quiet();
}

#[test]
fn advanced_cancel_after_an_accept_is_for_the_inviters_own_invitees() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.ok(3, calling_invite(&id, &["carol"], None));
    d.drain();

    assert_eq!(
        d.err(1, cancel(&id, &[])).code,
        ErrorCode::CallAlreadyAccepted
    );
    // carol is bob's invitee, not alice's.
    assert_eq!(
        d.err(1, cancel(&id, &["carol"])).code,
        ErrorCode::NotInviter
    );
    d.assert_quiet();
    d.ok(3, cancel(&id, &[]));
    let c = d.expect_cancelled(5, &id);
    assert_eq!(c.inviter, "bob");
    assert_eq!(c.reason, StateReason::CancelledByInviter);
    d.expect_changed(1, &id, &[("carol", Cancelled)]);
    d.assert_quiet();
    assert!(d.call(&id).is_live(), "alice and bob are still in it");
}

/// Protocol §1.5, the recipients rule: an event goes to every device of its recipients
/// except the session whose request caused it, also when the server ends the call because
/// of that request. The acting session has its response, which does not say the call
/// ended; the same user's other devices, `quit` now, learn of the quit only.
#[test]
fn the_session_whose_quit_ends_the_call_gets_only_its_response() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.ok(3, calling_invite(&id, &["carol"], None));
    d.ok(1, quit(&id));
    d.drain();
    d.ok(3, quit(&id));
    assert_eq!(d.call(&id).state, CallState::Ended);
    let own = d.events_for(3);
    assert!(own.is_empty(), "the acting session got {own:?}");
    d.expect_changed(4, &id, &[("bob", Quit)]);
    // carol still rang, so she is told both; alice (quit) only of bob's quit.
    let ringing = d.events_for(5);
    assert_eq!(
        ringing.iter().map(kind).collect::<Vec<_>>(),
        ["callUserStateChanged", "callInvitationEnded"]
    );
    d.expect_changed(1, &id, &[("bob", Quit)]);
    d.assert_quiet();
}

#[test]
fn an_accepted_member_whose_device_is_gone_quits() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 120).call_id;
    d.ok(3, accept(&id));
    d.drain();

    d.disconnect(3, T0);
    d.advance(HB - 1);
    assert_eq!(d.state(&id, "bob"), Accepted);
    d.advance(1);
    d.assert_written(&id);
    let m = d.call(&id).member("bob").unwrap();
    assert_eq!(
        (m.state, m.reason),
        (Quit, Some(StateReason::ConnectionLost))
    );
    for s in [1, 4, 5] {
        d.expect_changed(s, &id, &[("bob", Quit)]);
    }
    d.assert_quiet();
    assert!(d.call(&id).is_live(), "alice is in it and carol rings");

    // bob comes back on his other device; then alice's in-call device leaves: she quits,
    // and bob, alone once carol rejects, keeps the call until his device leaves too.
    d.ok(4, join(&id));
    d.drain();
    d.logout(1);
    assert_eq!(d.state(&id, "alice"), Quit);
    assert!(d.call(&id).is_live());
    d.ok(5, reject(&id, RejectReason::Declined));
    assert!(d.call(&id).is_live(), "bob is still in it");
    d.logout(4);
    let m = d.call(&id).member("bob").unwrap();
    assert_eq!(
        (m.state, m.reason),
        (Quit, Some(StateReason::ConnectionLost))
    );
    assert_eq!(d.call(&id).state, CallState::Ended);
}

#[test]
fn relay_needs_both_sides_in_the_call() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    d.login(9, "erin", "e1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.drain();

    let payload = serde_json::json!({"sdp": "x"});
    assert_eq!(
        d.ok(2, relay(&id, "bob", payload.clone())),
        ResponseBody::Relay
    );
    match d.one_event(3) {
        ServerMessage::Relay(r) => {
            assert_eq!(r.from_user_id, "alice");
            assert_eq!(r.from_device_id, "a2");
            assert_eq!(r.payload, payload);
        }
        other => panic!("{other:?}"),
    }
    d.ok(3, relay(&id, "alice", payload.clone()));
    assert!(matches!(d.one_event(1), ServerMessage::Relay(_)));
    d.assert_quiet();
    assert_eq!(
        d.err(1, relay(&id, "carol", payload.clone())).code,
        ErrorCode::RelayTargetUnavailable
    );
    let e = d.err(5, relay(&id, "alice", payload.clone()));
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Received))
    );
    assert_eq!(
        d.err(9, relay(&id, "alice", payload)).code,
        ErrorCode::CallNotFound
    );
    assert!(d.last_writes.is_empty());
}
