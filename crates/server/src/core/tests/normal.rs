//! Normal mode, and invitees that are offline when invited.

use super::*;

// ---------------------------------------------------------------------------------------
// Normal mode
// ---------------------------------------------------------------------------------------

#[test]
fn invite_rings_every_invitee_device_and_the_callers_other_devices() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(9, "erin", "e1");
    d.drain();

    let r = d.invite(1, &["bob", "carol", "alice", "bob", "bad id"], Normal, 30);
    assert_eq!(r.timeout, 30);
    assert_eq!(r.create_time, T0);
    assert_eq!(
        pairs(&r.call_user_list),
        owned(&[("bob", Received), ("carol", Inviting)])
    );
    assert_eq!(
        r.error_invitees,
        vec![
            ErrorInvitee {
                user_id: "alice".into(),
                reason: InviteeError::IsSelf
            },
            ErrorInvitee {
                user_id: "bob".into(),
                reason: InviteeError::Duplicate
            },
            ErrorInvitee {
                user_id: "bad id".into(),
                reason: InviteeError::InvalidUserId
            },
        ]
    );
    let id = r.call_id;
    d.assert_written(&id);

    // The acting session only gets its response.
    assert!(d.events_for(1).is_empty());
    // The caller's other device learns of the call it made.
    match d.one_event(2) {
        ServerMessage::CallInvitationCreated(c) => {
            assert_eq!(c.call_id, id);
            assert_eq!(c.caller, "alice");
            assert_eq!(c.inviter, "alice");
            assert_eq!(c.expire_time, None);
            assert_eq!(
                pairs(&c.call_user_list),
                owned(&[("alice", Accepted), ("bob", Received), ("carol", Inviting)])
            );
        }
        other => panic!("expected callInvitationCreated, got {other:?}"),
    }
    // Every device of the invitee rings.
    for s in [3, 4] {
        let inv = d.expect_received(s, &id);
        assert_eq!(inv.caller, "alice");
        assert_eq!(inv.caller_name, "alice name");
        assert_eq!(inv.inviter, "alice");
        assert_eq!(inv.mode, Normal);
        assert_eq!(inv.timeout, 30);
        assert_eq!(inv.create_time, T0);
        assert_eq!(inv.expire_time, Some(T0 + 30_000));
        assert_eq!(
            pairs(&inv.call_user_list),
            owned(&[("alice", Accepted), ("bob", Received), ("carol", Inviting)])
        );
    }
    // No callUserStateChanged for the first invitees, nothing for strangers.
    d.assert_quiet();
    assert_eq!(d.call(&id).state, CallState::Started);
    assert_eq!(d.call(&id).members[0].device.as_deref(), Some("a1"));
}

#[test]
fn invite_refusals() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    assert_eq!(
        d.err(1, invite_body(&["alice", "bad id"], Normal, 30)).code,
        ErrorCode::NoValidInvitees
    );
    assert!(d.last_writes.is_empty());

    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    // An invitee that is only ringing may call someone else.
    let other = d.invite(5, &["dave"], Normal, 30).call_id;
    d.ok(3, accept(&id));
    // The caller and bob are now in a live call.
    for s in [1, 3] {
        assert_eq!(
            d.err(s, invite_body(&["dave"], Normal, 30)).code,
            ErrorCode::AlreadyInCall
        );
    }
    d.ok(5, reject(&id, RejectReason::Busy));
    assert_eq!(d.call(&id).state, CallState::Ended);
    d.ok(5, cancel(&other, &[]));
    // Once the call is over both are free again.
    let again = d.invite(1, &["bob"], Normal, 30).call_id;
    d.ok(3, reject(&again, RejectReason::Declined));
    d.invite(3, &["alice"], Normal, 30);
}

#[test]
fn a_request_before_login_is_refused() {
    let mut d = Driver::new();
    assert_eq!(
        d.err(1, invite_body(&["bob"], Normal, 30)).code,
        ErrorCode::NotLoggedIn
    );
    d.login(1, "alice", "a1");
    assert_eq!(
        d.login_step(1, "alice", Some("a1")).0.unwrap_err().code,
        ErrorCode::AlreadyLoggedIn
    );
}

#[test]
fn accept_tells_members_and_stops_the_other_devices() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    d.drain();

    d.now += 1_000;
    d.ok(3, accept_with(&id, "hi"));
    d.assert_written(&id);
    assert!(d.events_for(3).is_empty());
    for s in [1, 2, 4, 5] {
        let c = d.expect_changed(s, &id, &[("bob", Accepted)]);
        assert_eq!(c.call_user_list[0].extended_data, "hi");
        assert_eq!(c.call_user_list[0].update_time, T0 + 1_000);
    }
    d.assert_quiet();
    assert_eq!(d.state(&id, "bob"), Accepted);
    assert_eq!(
        d.call(&id).member("bob").unwrap().device.as_deref(),
        Some("b1")
    );
    assert!(d.call(&id).is_live(), "carol still rings");

    d.ok(5, reject_with(&id, RejectReason::Declined, "no"));
    d.assert_written(&id);
    assert!(d.events_for(5).is_empty());
    for s in [1, 2, 3, 4] {
        let c = d.expect_changed(s, &id, &[("carol", Rejected)]);
        assert_eq!(c.call_user_list[0].reason, Some(StateReason::Declined));
        assert_eq!(c.call_user_list[0].extended_data, "no");
    }
    // Nobody pending: a normal call ends, without an event.
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert_eq!(d.call(&id).end_time, T0 + 1_000);
    d.assert_quiet();
}

#[test]
fn reject_on_one_device_stops_the_other() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    let id = d.invite(1, &["bob"], Normal, 30).call_id;
    d.drain();
    d.ok(4, reject_with(&id, RejectReason::Busy, "meeting"));
    d.assert_written(&id);
    assert!(d.events_for(4).is_empty());
    for s in [1, 3] {
        let c = d.expect_changed(s, &id, &[("bob", Rejected)]);
        assert_eq!(c.call_user_list[0].reason, Some(StateReason::Busy));
        assert_eq!(c.call_user_list[0].extended_data, "meeting");
    }
    assert_eq!(d.call(&id).state, CallState::Ended);
    d.assert_quiet();
    // The other device answering late learns why.
    let e = d.err(3, accept(&id));
    assert_eq!(e.code, ErrorCode::StateForbidden);
    assert_eq!(e.state, Some(Rejected));
    assert!(d.last_writes.is_empty());
}

#[test]
fn two_devices_accepting_one_wins() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    d.ok(3, accept(&id));
    let e = d.err(4, accept(&id));
    assert_eq!(e.code, ErrorCode::StateForbidden);
    assert_eq!(e.state, Some(Accepted));
    let e = d.err(4, reject(&id, RejectReason::Declined));
    assert_eq!(e.state, Some(Accepted));
    assert_eq!(
        d.call(&id).member("bob").unwrap().device.as_deref(),
        Some("b1")
    );
}

#[test]
fn cancel_tells_the_pending_invitees_and_ends_the_call() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    d.login(6, "carol", "c2");
    let id = d.invite(1, &["bob", "carol", "dave"], Normal, 30).call_id;
    d.ok(3, reject(&id, RejectReason::Declined));
    d.drain();

    let r = d.ok(1, cancel_with(&id, &[], "sorry"));
    let ResponseBody::CallCancel(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(r.call_id, id);
    assert!(r.error_invitees.is_empty());
    d.assert_written(&id);
    assert!(d.events_for(1).is_empty());
    for s in [5, 6] {
        let c = d.expect_cancelled(s, &id);
        assert_eq!(c.inviter, "alice");
        assert_eq!(c.extended_data, "sorry");
        assert_eq!(c.reason, StateReason::CancelledByInviter);
    }
    d.expect_changed(2, &id, &[("carol", Cancelled), ("dave", Cancelled)]);
    // bob already rejected: he hears nothing more.
    d.assert_quiet();
    for u in ["carol", "dave"] {
        let m = d.call(&id).member(u).unwrap();
        assert_eq!(m.state, Cancelled);
        assert_eq!(m.reason, Some(StateReason::CancelledByInviter));
    }
    assert_eq!(d.call(&id).state, CallState::Ended);

    // An accept that crossed the cancel loses.
    let e = d.err(5, accept(&id));
    assert_eq!(e.code, ErrorCode::StateForbidden);
    assert_eq!(e.state, Some(Cancelled));
}

#[test]
fn cancel_refusals_and_partial_cancels() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    d.login(9, "erin", "e1");
    let id = d.invite(1, &["bob", "carol", "dave"], Normal, 30).call_id;

    assert_eq!(d.err(3, cancel(&id, &[])).code, ErrorCode::NotInviter);
    assert_eq!(d.err(9, cancel(&id, &[])).code, ErrorCode::CallNotFound);
    assert_eq!(
        d.err(1, cancel(&id, &["erin"])).code,
        ErrorCode::NoValidInvitees
    );
    assert!(d.last_writes.is_empty());

    d.ok(5, reject(&id, RejectReason::Declined));
    assert_eq!(
        d.err(1, cancel(&id, &["carol"])).code,
        ErrorCode::NoValidInvitees
    );
    let r = d.ok(1, cancel(&id, &["carol", "erin", "dave", "dave"]));
    let ResponseBody::CallCancel(r) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        r.error_invitees
            .iter()
            .map(|e| (e.user_id.as_str(), e.reason))
            .collect::<Vec<_>>(),
        vec![
            ("carol", InviteeError::NotPending),
            ("erin", InviteeError::NotInvited),
            ("dave", InviteeError::Duplicate),
        ]
    );
    assert_eq!(d.state(&id, "dave"), Cancelled);
    assert_eq!(d.state(&id, "bob"), Received);
    assert!(d.call(&id).is_live());

    // A second call: once someone accepted, the caller can no longer cancel.
    let id = {
        d.ok(3, reject(&id, RejectReason::Declined));
        d.invite(1, &["bob", "carol"], Normal, 30).call_id
    };
    d.ok(3, accept(&id));
    assert_eq!(
        d.err(1, cancel(&id, &[])).code,
        ErrorCode::CallAlreadyAccepted
    );
    assert_eq!(
        d.err(1, cancel(&id, &["carol"])).code,
        ErrorCode::CallAlreadyAccepted
    );
    assert_eq!(d.state(&id, "carol"), Received);
}

/// Protocol §9, "Races": a cancel that loses to an accept gets 3009 callAlreadyAccepted,
/// never 3004 callEnded, even when that accept ended the call (a one-to-one normal call
/// ends at the accept, because nobody is pending any more).
#[test]
fn cancel_losing_to_an_accept_in_a_one_to_one_call_is_call_already_accepted() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 30).call_id;
    d.ok(3, accept(&id));
    assert_eq!(
        d.err(1, cancel(&id, &[])).code,
        ErrorCode::CallAlreadyAccepted
    );
}

#[test]
fn timeout_tells_the_invitee_devices_and_the_listeners() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    let id = d.invite(1, &["bob", "carol"], Normal, 10).call_id;
    d.drain();

    d.advance(9_999);
    d.assert_quiet();
    assert!(d.last_writes.is_empty());
    assert_eq!(d.state(&id, "bob"), Received);

    d.advance(1);
    d.assert_written(&id);
    for s in [3, 4] {
        match d.one_event(s) {
            ServerMessage::CallInvitationTimeout(t) => assert_eq!(t.call_id, id),
            other => panic!("expected callInvitationTimeout, got {other:?}"),
        }
    }
    for s in [1, 2] {
        let events = d.events_for(s);
        let mut got: Vec<_> = events.iter().flat_map(changed_pairs).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, owned(&[("bob", Timeout), ("carol", Timeout)]));
    }
    d.assert_quiet();
    for u in ["bob", "carol"] {
        let m = d.call(&id).member(u).unwrap();
        assert_eq!(m.state, Timeout);
        assert_eq!(m.update_time, T0 + 10_000);
    }
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert_eq!(d.call(&id).end_time, T0 + 10_000);
    let e = d.err(3, accept(&id));
    assert_eq!(e.state, Some(Timeout));
}

#[test]
fn members_that_rejected_hear_no_more_changes() {
    // Advanced, so the call outlives carol's timeout: the accepted members hear of it,
    // dave, who rejected, does not.
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    d.login(7, "dave", "d1");
    let id = d.invite(1, &["bob", "carol", "dave"], Advanced, 10).call_id;
    d.ok(3, accept(&id));
    d.ok(7, reject(&id, RejectReason::Declined));
    d.drain();
    d.advance(10_000);
    assert!(d.events_for(5).len() == 1, "carol's own timeout");
    d.expect_changed(1, &id, &[("carol", Timeout)]);
    d.expect_changed(3, &id, &[("carol", Timeout)]);
    d.assert_quiet();
    assert!(d.call(&id).is_live(), "two accepted members remain");
}

// ---------------------------------------------------------------------------------------
// Offline invitees
// ---------------------------------------------------------------------------------------

#[test]
fn offline_invitee_logging_in_before_the_deadline_gets_the_invitation() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    assert_eq!(d.state(&id, "carol"), Inviting);
    d.drain();

    d.advance(5_000);
    d.login(5, "carol", "c1");
    let inv = d.expect_received(5, &id);
    assert_eq!(inv.expire_time, Some(T0 + 30_000));
    assert_eq!(inv.timeout, 30);
    assert_eq!(inv.inviter, "alice");
    assert_eq!(d.state(&id, "carol"), Received);
    assert_eq!(d.call(&id).member("carol").unwrap().update_time, T0 + 5_000);
    d.assert_written(&id);
    d.expect_changed(1, &id, &[("carol", Received)]);
    d.expect_changed(3, &id, &[("carol", Received)]);
    d.assert_quiet();

    // A second device of an invitee that already received it rings too, silently for the
    // others.
    d.advance(1_000);
    d.login(6, "carol", "c2");
    d.expect_received(6, &id);
    d.assert_quiet();
    assert!(d.last_writes.is_empty());

    // Both of carol's devices stop ringing when one answers.
    d.ok(6, accept(&id));
    d.expect_changed(5, &id, &[("carol", Accepted)]);
}

/// Protocol §5.1: the invitation a device gets when its user logs in is built after the
/// user moved from `inviting` to `received`, so its member list agrees with what the other
/// members are told.
#[test]
fn invitation_delivered_at_login_shows_the_invitee_as_received() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    let id = d.invite(1, &["carol"], Normal, 30).call_id;
    d.login(5, "carol", "c1");
    let inv = d.expect_received(5, &id);
    assert_eq!(
        pairs(&inv.call_user_list),
        owned(&[("alice", Accepted), ("carol", Received)])
    );
}

#[test]
fn offline_invitee_logging_in_after_the_deadline_gets_nothing() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    let id = d.invite(1, &["carol"], Normal, 10).call_id;
    d.drain();
    d.advance(10_000);
    d.expect_changed(1, &id, &[("carol", Timeout)]);
    assert_eq!(d.call(&id).state, CallState::Ended);

    d.advance(5_000);
    d.login(5, "carol", "c1");
    d.assert_quiet();
    assert_eq!(d.state(&id, "carol"), Timeout);
    assert!(d.last_writes.is_empty());
}

#[test]
fn offline_invitee_logging_in_after_the_deadline_but_before_its_tick_does_not_ring() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    let id = d.invite(1, &["carol"], Normal, 10).call_id;
    d.drain();
    // The login reaches the hub in the same round as the deadline, before the tick.
    d.now += 10_000;
    d.login(5, "carol", "c1");
    let events = d.events_for(5);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ServerMessage::CallInvitationReceived(_))),
        "{events:?}"
    );
    assert_eq!(d.state(&id, "carol"), Timeout);
    assert_eq!(d.call(&id).state, CallState::Ended);
}
