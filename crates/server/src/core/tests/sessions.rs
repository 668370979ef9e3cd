//! Sessions coming and going: replaced devices, the device cap, a caller or member
//! whose device leaves, and the grace period before a device counts as gone.

use super::*;

#[test]
fn same_device_logging_in_again_replaces_the_old_session() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.drain();

    let l = d.login(13, "bob", "b1");
    assert_eq!(l.device_id, "b1");
    assert_eq!(l.heartbeat_timeout_ms, HB);
    assert_eq!(l.heartbeat_interval_ms, HB / 3);
    assert_eq!(d.closed.get(&3), Some(&CloseReason::Replaced));
    d.expect_received(13, &id);
    d.assert_quiet();
    assert!(d.last_writes.is_empty(), "bob was already received");

    // The caller reconnects too; the old connections' ends change nothing.
    d.login(11, "alice", "a1");
    assert_eq!(d.closed.get(&1), Some(&CloseReason::Replaced));
    d.disconnect(1, T0);
    d.disconnect(3, T0);
    d.advance(2 * HB);
    assert_eq!(d.state(&id, "bob"), Received);
    d.assert_quiet();
    d.ok(13, accept(&id));
    d.expect_changed(11, &id, &[("bob", Accepted)]);
    assert_eq!(d.hub.online_sessions(), 2);
}

#[test]
fn generated_device_ids_and_the_device_cap() {
    let mut d = Driver::new();
    let l = d.login_step(1, "alice", None).0.unwrap();
    assert!(!l.device_id.is_empty());
    for i in 2..=10 {
        d.login(i, "alice", &format!("a{i}"));
    }
    assert_eq!(
        d.login_step(11, "alice", Some("a11")).0.unwrap_err().code,
        ErrorCode::TooManyDevices
    );
    // A reconnect of a device already online is not an 11th device.
    d.login(12, "alice", "a5");
    assert_eq!(d.hub.online_sessions(), 10);
}

#[test]
fn caller_logging_out_before_an_accept_cancels_every_pending_invitee() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    let id = d.invite(1, &["bob", "carol"], Normal, 30).call_id;
    d.drain();

    d.now += 2_000;
    d.logout(1);
    d.assert_written(&id);
    for s in [3, 4] {
        let c = d.expect_cancelled(s, &id);
        assert_eq!(c.reason, StateReason::CallerGone);
        assert_eq!(c.inviter, "alice");
    }
    d.expect_changed(2, &id, &[("bob", Cancelled), ("carol", Cancelled)]);
    d.assert_quiet();
    for u in ["bob", "carol"] {
        let m = d.call(&id).member(u).unwrap();
        assert_eq!(m.state, Cancelled);
        assert_eq!(m.reason, Some(StateReason::CallerGone));
        assert_eq!(m.update_time, T0 + 2_000);
    }
    assert_eq!(d.call(&id).state, CallState::Ended);
}

#[test]
fn another_device_of_the_caller_leaving_changes_nothing() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.drain();
    d.logout(2);
    d.advance(HB + 1);
    assert_eq!(d.state(&id, "bob"), Received);
    d.assert_quiet();
}

#[test]
fn caller_logging_out_after_an_accept_cancels_nothing() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Normal, 120).call_id;
    d.ok(3, accept(&id));
    d.drain();
    d.logout(1);
    d.advance(HB + 1);
    assert_eq!(d.state(&id, "carol"), Received);
    assert!(d.call(&id).is_live());
    d.assert_quiet();
}

#[test]
fn caller_reconnecting_within_the_heartbeat_timeout_cancels_nothing() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.drain();

    d.advance(5_000);
    d.disconnect(1, T0 + 2_000);
    d.advance(10_000);
    d.login(11, "alice", "a1");
    d.advance_to(T0 + 2_000 + HB + 1);
    d.advance(HB);
    assert_eq!(d.state(&id, "bob"), Received);
    assert!(d.call(&id).is_live());
    d.assert_quiet();
    // The reconnected session is the caller's device again: logging out now cancels.
    d.logout(11);
    d.expect_cancelled(3, &id);
}

#[test]
fn caller_gone_for_good_cancels_at_last_seen_plus_the_heartbeat_timeout() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob", "carol"], Normal, 120).call_id;
    d.drain();

    d.advance(6_000);
    let last_seen = T0 + 1_000;
    d.disconnect(1, last_seen);
    d.assert_quiet();
    d.advance_to(last_seen + HB - 1);
    assert_eq!(d.state(&id, "bob"), Received);
    d.assert_quiet();

    d.advance(1);
    d.assert_written(&id);
    let c = d.expect_cancelled(3, &id);
    assert_eq!(c.reason, StateReason::CallerGone);
    d.assert_quiet();
    for u in ["bob", "carol"] {
        let m = d.call(&id).member(u).unwrap();
        assert_eq!(m.state, Cancelled);
        assert_eq!(m.reason, Some(StateReason::CallerGone));
        assert_eq!(m.update_time, last_seen + HB);
    }
    assert_eq!(d.call(&id).state, CallState::Ended);
}

#[test]
fn caller_silent_for_longer_than_the_timeout_is_gone_at_once() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.drain();
    d.advance(HB + 10_000);
    // The connection closed for silence: its last frame was the invite.
    d.disconnect(1, T0);
    assert_eq!(d.state(&id, "bob"), Cancelled);
    d.expect_cancelled(3, &id);
}

/// Protocol §3.5: a device that disconnects, comes back, then disconnects again gets a
/// fresh grace period counted from its last frame; the first disconnect's timer, still
/// queued, no longer counts.
#[test]
fn a_second_disconnect_gets_its_own_grace_period() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(3, "bob", "b1");
    let id = d.invite(1, &["bob"], Normal, 120).call_id;
    d.advance(1_000);
    d.disconnect(1, T0 + 1_000); // gone at T0 + 31 s unless it returns
    d.advance(1_000);
    d.login(11, "alice", "a1"); // back
    d.advance_to(T0 + 20_000);
    d.disconnect(11, T0 + 20_000); // gone at T0 + 50 s unless it returns
    d.advance_to(T0 + 31_000);
    assert_eq!(
        d.state(&id, "bob"),
        Received,
        "only 11 s after alice's last frame"
    );
    d.advance_to(T0 + 50_000);
    assert_eq!(d.state(&id, "bob"), Cancelled);
}

#[test]
fn a_gone_node_takes_only_its_own_sessions_and_the_caller_gone_rule_applies() {
    use crate::core::{first_session, node_of};
    let (n1, n2) = (first_session(1), first_session(2));
    assert_eq!((node_of(n1), node_of(n2), node_of(7)), (1, 2, 0));
    let mut d = Driver::new();
    d.login(n1, "alice", "a1");
    d.login(n2, "bob", "b1");
    d.login(n2 + 1, "carol", "c1");
    let id = d.invite(n1, &["bob", "carol"], Normal, 120).call_id;
    d.drain();

    d.advance(6_000);
    let last_seen = T0 + 2_000;
    let step = d.input(Input::NodeGone { node: 1, last_seen });
    assert!(step.answers.is_empty());
    d.online.remove(&n1);
    assert_eq!(d.hub.online_sessions(), 2, "node 2's sessions stay");
    d.assert_quiet();

    d.advance_to(last_seen + HB);
    d.assert_written(&id);
    for s in [n2, n2 + 1] {
        assert_eq!(d.expect_cancelled(s, &id).reason, StateReason::CallerGone);
    }
    d.assert_quiet();
}
