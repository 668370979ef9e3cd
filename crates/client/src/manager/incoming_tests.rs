//! The manager's state machine for calls to this user: ringing, busy and do not disturb,
//! how a ringing call ends, accepting and declining. No network.

use beckon_protocol::*;

use super::machine::*;
use super::machine_tests::{changed, ended, invitation, user, H, VIDEO};
use super::model::*;
use crate::sdk::Event;

#[test]
fn do_not_disturb_declines_as_busy_without_ringing_until_turned_off() {
    let mut h = H::new();
    h.intent(Intent::DoNotDisturb { on: true }).unwrap();
    assert!(h.m.snapshot().do_not_disturb);
    h.ev(Event::InvitationReceived(invitation("c1", "carol", VIDEO)));
    assert_eq!(h.m.phase(), Phase::Free, "it must not ring");
    assert_eq!(
        h.last_op().1,
        Op::Reject {
            call_id: "c1".into(),
            reason: RejectReason::Busy
        }
    );
    assert!(matches!(
        &h.updates.last().unwrap().notice,
        Notice::RejectedBusy { caller_id, .. } if caller_id == "carol"
    ));

    h.intent(Intent::DoNotDisturb { on: false }).unwrap();
    assert!(!h.m.snapshot().do_not_disturb);
    h.ev(Event::InvitationReceived(invitation("c2", "carol", VIDEO)));
    assert_eq!(h.m.phase(), Phase::Incoming);
}

#[test]
fn busy_auto_reject_in_every_busy_phase() {
    for phase in [Phase::Outgoing, Phase::Incoming, Phase::InCall] {
        let mut h = H::new();
        match phase {
            Phase::Outgoing => h.outgoing(&["bob"]),
            Phase::Incoming => h.incoming("c1", VIDEO),
            _ => {
                h.outgoing(&["bob"]);
                h.ev(changed(
                    "c1",
                    vec![user("bob", CallUserState::Accepted, None)],
                ));
            }
        }
        assert_eq!(h.m.phase(), phase);
        h.ev(Event::InvitationReceived(invitation("c2", "carol", VIDEO)));
        assert_eq!(
            h.last_op().1,
            Op::Reject {
                call_id: "c2".into(),
                reason: RejectReason::Busy
            }
        );
        assert!(matches!(
            &h.updates.last().unwrap().notice,
            Notice::RejectedBusy { caller_id, call_type: CallType::Video, .. } if caller_id == "carol"
        ));
        assert_eq!(h.m.phase(), phase, "the current call is untouched");
    }
}

#[test]
fn free_user_rings_with_type_and_name_from_extended_data() {
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    let call = h.call();
    assert_eq!(h.m.phase(), Phase::Incoming);
    assert_eq!(call.call_type, CallType::Video);
    assert_eq!(call.caller_name, "Alice");
    assert_eq!(call.direction, Direction::Incoming);
    assert_eq!(call.ring_until, Some(h.now + 30_000));
}

#[test]
fn foreign_extended_data_still_rings() {
    let mut h = H::new();
    h.incoming("c1", "busy");
    assert_eq!(h.call().call_type, CallType::Voice);
    assert_eq!(h.call().caller_name, "Alice (server)");
}

#[test]
fn incoming_endings() {
    let cases: Vec<(Event, Outcome)> = vec![
        (
            Event::InvitationCancelled(CallInvitationCancelled {
                call_id: "c1".into(),
                inviter: "alice".into(),
                extended_data: String::new(),
                reason: StateReason::CancelledByInviter,
            }),
            Outcome::CancelledByCaller,
        ),
        (
            Event::InvitationTimeout(CallInvitationTimeout {
                call_id: "c1".into(),
            }),
            Outcome::Missed,
        ),
        (
            changed("c1", vec![user("me", CallUserState::Accepted, None)]),
            Outcome::AnsweredElsewhere,
        ),
        (
            changed(
                "c1",
                vec![user(
                    "me",
                    CallUserState::Rejected,
                    Some(StateReason::Declined),
                )],
            ),
            Outcome::DeclinedElsewhere,
        ),
        (ended("c1", "alice"), Outcome::CancelledByCaller),
    ];
    for (ev, want) in cases {
        let mut h = H::new();
        h.incoming("c1", VIDEO);
        h.ev(ev);
        assert_eq!(h.m.phase(), Phase::Free);
        assert_eq!(h.outcome(), Some(want));
    }
}

#[test]
fn accept_then_talk() {
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.intent(Intent::Accept { call_id: None }).unwrap();
    let (op, req) = h.last_op();
    assert_eq!(
        req,
        Op::Accept {
            call_id: "c1".into()
        }
    );
    assert!(h.call().working);
    assert!(
        h.intent(Intent::Accept { call_id: None }).is_err(),
        "one accept at a time"
    );
    h.done(op, OpResult::Done);
    assert_eq!(h.m.phase(), Phase::InCall);
    assert!(h.call().started_at.is_some());
}

#[test]
fn an_accept_that_loses_a_race_says_why() {
    for (state, want) in [
        (CallUserState::Cancelled, Outcome::CancelledByCaller),
        (CallUserState::Accepted, Outcome::AnsweredElsewhere),
        (CallUserState::Timeout, Outcome::Missed),
    ] {
        let mut h = H::new();
        h.incoming("c1", VIDEO);
        h.intent(Intent::Accept { call_id: None }).unwrap();
        let (op, _) = h.last_op();
        // The other device's accept is reported while ours is on its way: wait for ours.
        h.ev(changed(
            "c1",
            vec![user("me", CallUserState::Accepted, None)],
        ));
        assert_eq!(h.m.phase(), Phase::Incoming);
        h.done(
            op,
            OpResult::Failed {
                message: "3002".into(),
                state: Some(state),
            },
        );
        assert_eq!(h.outcome(), Some(want));
    }
}

#[test]
fn decline_rejects_with_the_declined_reason() {
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.intent(Intent::Decline { call_id: None }).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Reject {
            call_id: "c1".into(),
            reason: RejectReason::Declined
        }
    );
    assert_eq!(h.outcome(), Some(Outcome::Rejected));
}
