//! Timers follow what they guard: after thousands of settled invitations and returning
//! devices, the hub holds no more timers than there are pending invitations and away
//! devices (at 10,000 invitations a second, stale ones used to pile up by the tens of
//! thousands until their deadlines passed).

use super::*;

/// What may legitimately have a timer: each pending member of a live call, and each
/// device in its grace period.
fn timers_owed(hub: &Hub) -> usize {
    let pending: usize = hub
        .calls
        .values()
        .filter(|c| c.is_live())
        .map(|c| c.count(CallUserState::is_pending))
        .sum();
    pending + hub.away.len()
}

#[test]
fn settled_invitations_leave_no_timers_behind() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "bob", "b1");
    d.login(3, "carol", "c1");
    // Carol keeps one invitation ringing throughout, so "bounded" is not trivially zero.
    let ringing = d.invite(3, &["dave"], Normal, 60);
    for round in 0..3_000u64 {
        let r = d.invite(1, &["bob"], Normal, 60);
        let call = r.call_id;
        match round % 3 {
            0 => {
                d.ok(2, reject(&call, RejectReason::Declined));
            }
            1 => {
                d.ok(1, cancel(&call, &[]));
            }
            _ => {
                d.ok(2, accept(&call));
            }
        }
        d.drain();
        assert_no_stale_timers(&d, round);
        d.advance(1);
    }
    assert_eq!(d.state(&ringing.call_id, "dave"), Inviting);
    assert_eq!(d.hub.pending_timers(), 1);
}

#[test]
fn ended_calls_and_returning_devices_leave_no_timers_behind() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "bob", "b1");
    let mut bob = 2;
    for round in 0..1_000u64 {
        // An advanced call ended while two invitees still ring.
        let r = d.invite(1, &["bob", "carol"], Advanced, 60);
        d.ok(1, end(&r.call_id));
        // Bob's device drops and comes back, on a new connection, within its grace period.
        d.disconnect(bob, d.now);
        bob = 10 + round;
        d.login(bob, "bob", "b1");
        d.drain();
        assert_no_stale_timers(&d, round);
        d.advance(1);
    }
    assert_eq!(d.hub.pending_timers(), 0);
}

/// No more timers than pending invitations and away devices: nothing left over.
fn assert_no_stale_timers(d: &Driver, round: u64) {
    assert!(
        d.hub.pending_timers() <= timers_owed(&d.hub),
        "round {round}: {} timers for {} pending invitations and away devices",
        d.hub.pending_timers(),
        timers_owed(&d.hub)
    );
}
