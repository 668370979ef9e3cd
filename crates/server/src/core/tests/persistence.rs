//! What is written, and what a restart restores.

use super::*;

#[test]
fn every_state_change_is_written_and_refusals_write_nothing() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol", "dave"], Advanced, 30).call_id;
    d.assert_written(&id);
    d.ok(3, accept(&id));
    d.assert_written(&id);
    d.err(3, accept(&id));
    assert!(d.last_writes.is_empty());
    d.ok(5, reject(&id, RejectReason::Busy));
    d.assert_written(&id);
    d.login(7, "dave", "d1");
    d.assert_written(&id);
    d.ok(1, calling_invite(&id, &["carol"], Some(5)));
    d.assert_written(&id);
    d.advance(5_000);
    d.assert_written(&id);
    assert_eq!(d.state(&id, "carol"), Timeout);
    d.ok(1, cancel(&id, &["dave"]));
    d.assert_written(&id);
    d.ok(3, quit(&id));
    d.assert_written(&id);
    assert!(d.call(&id).is_live(), "alice is still in it");
    d.ok(1, quit(&id));
    d.assert_written(&id);
    assert_eq!(d.call(&id).state, CallState::Ended, "nobody is in it");
    d.err(3, join(&id));
    assert!(d.last_writes.is_empty());

    let id = d.invite(1, &["bob", "carol"], Advanced, 30).call_id;
    d.ok(3, accept(&id));
    d.ok(5, reject(&id, RejectReason::Declined));
    d.ok(5, join(&id));
    d.assert_written(&id);
    d.err(5, join(&id));
    assert!(d.last_writes.is_empty());
    d.disconnect(5, d.now);
    d.advance(HB);
    d.assert_written(&id);
    assert_eq!(d.state(&id, "carol"), Quit);
    d.ok(1, end(&id));
    d.assert_written(&id);

    // Storage, replayed, holds exactly what the hub holds.
    for (seq, call) in &d.hub.calls {
        assert_eq!(d.store.get(seq), Some(&**call));
    }
    assert_eq!(d.store.len(), d.hub.calls.len());
}

#[test]
fn restore_keeps_states_and_fires_a_pending_deadline_at_its_original_time() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.advance(10_000);

    let before = d.call(&id).clone();
    let step = d.restart();
    assert!(step.writes.is_empty() && step.events.is_empty());
    assert_eq!(d.call(&id), &before);
    assert_eq!(d.hub.online_sessions(), 0);
    assert_eq!(d.hub.live_calls(), 1);

    // Both accepted members come back within the heartbeat timeout of the restart.
    d.advance(5_000);
    d.login(11, "alice", "a1");
    d.login(13, "bob", "b1");
    // Busy in the restored call.
    assert_eq!(
        d.err(11, invite_body(&["kim"], Normal, 30)).code,
        ErrorCode::AlreadyInCall
    );
    d.advance(5_000);
    d.login(15, "carol", "c1");
    let inv = d.expect_received(15, &id);
    assert_eq!(inv.expire_time, Some(T0 + 60_000));
    d.expect_changed(11, &id, &[("carol", Received)]);
    d.expect_changed(13, &id, &[("carol", Received)]);

    d.advance_to(T0 + 10_000 + HB + 1);
    assert_eq!(d.state(&id, "alice"), Accepted);
    assert_eq!(d.state(&id, "bob"), Accepted);
    d.assert_quiet();

    d.advance_to(T0 + 59_999);
    assert_eq!(d.state(&id, "carol"), Received);
    d.advance(1);
    assert_eq!(d.state(&id, "carol"), Timeout);
    d.assert_written(&id);
    assert!(matches!(
        d.one_event(15),
        ServerMessage::CallInvitationTimeout(_)
    ));
    d.expect_changed(11, &id, &[("carol", Timeout)]);
    d.expect_changed(13, &id, &[("carol", Timeout)]);
    assert!(d.call(&id).is_live());

    // New calls do not reuse a restored seq.
    let new = d.invite(15, &["kim"], Normal, 30).call_id;
    assert!(d.call(&new).seq > d.call(&id).seq);
}

#[test]
fn restore_fires_an_expired_deadline_on_the_first_tick() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    let id = d.invite(1, &["carol"], Normal, 10).call_id;
    // The server is down through the deadline.
    d.now += 100_000;
    let step = d.restart();
    assert_eq!(step.writes.len(), 1);
    let call = d.call(&id);
    assert_eq!(call.member("carol").unwrap().state, Timeout);
    assert_eq!(call.member("carol").unwrap().update_time, T0 + 100_000);
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(&step.writes[0], call);
}

#[test]
fn restore_then_the_caller_never_returns() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.advance(5_000);
    d.restart();
    d.advance(1_000);
    d.login(3, "bob", "b1");
    d.expect_received(3, &id);
    d.assert_written(&id);
    d.advance_to(T0 + 5_000 + HB - 1);
    assert_eq!(d.state(&id, "bob"), Received);
    d.advance(1);
    let c = d.expect_cancelled(3, &id);
    assert_eq!(c.reason, StateReason::CallerGone);
    assert_eq!(d.call(&id).state, CallState::Ended);
}

#[test]
fn restored_ended_calls_still_answer_precisely_until_evicted() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 30).call_id;
    d.ok(3, accept(&id));
    d.advance(1_000);
    d.restart();
    d.login(13, "bob", "b1");
    d.assert_quiet();
    let e = d.err(13, accept(&id));
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Accepted))
    );
    // Not busy: the call ended.
    d.invite(13, &["alice"], Normal, 30);
    d.advance_to(T0 + 599_999);
    assert!(d.hub.call_ids.contains_key(id.as_str()));
    d.advance(1);
    assert!(
        !d.hub.call_ids.contains_key(id.as_str()),
        "evicted after the retention"
    );
    assert_eq!(d.err(13, accept(&id)).code, ErrorCode::CallNotFound);
}
