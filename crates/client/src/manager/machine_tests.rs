//! The manager's state machine, one behaviour per test, with no network.

use beckon_protocol::*;

use super::machine::*;
use super::model::*;
use crate::sdk::{ConnectionState, DisconnectReason, Event, HeartbeatTiming};

pub(super) struct H {
    pub m: Machine,
    pub now: u64,
    pub sent: Vec<(OpId, Op)>,
    pub updates: Vec<Update>,
}

impl H {
    pub fn new() -> H {
        let mut h = H {
            m: Machine::new("me", "Me", MachineConfig::default()),
            now: 1_000_000,
            sent: Vec::new(),
            updates: Vec::new(),
        };
        h.ev(connected(HeartbeatTiming::default()));
        h
    }

    pub fn take(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { op, request } => self.sent.push((op, request)),
                Effect::Emit(u) => self.updates.push(*u),
            }
        }
    }

    pub fn intent(&mut self, i: Intent) -> Result<(), ActionError> {
        let effects = self.m.intent(i, self.now)?;
        self.take(effects);
        Ok(())
    }

    pub fn ev(&mut self, e: Event) {
        let effects = self.m.event(e, self.now);
        self.take(effects);
    }

    pub fn done(&mut self, op: OpId, r: OpResult) {
        let effects = self.m.done(op, r, self.now);
        self.take(effects);
    }

    pub fn tick(&mut self, advance: u64) {
        self.now += advance;
        let effects = self.m.tick(self.now);
        self.take(effects);
    }

    pub(super) fn last_op(&self) -> (OpId, Op) {
        self.sent.last().cloned().expect("a request was sent")
    }

    pub(super) fn outcome(&self) -> Option<Outcome> {
        self.updates.iter().rev().find_map(|u| match &u.notice {
            Notice::Finished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
    }

    pub(super) fn call(&self) -> CallView {
        self.m.snapshot().call.expect("in a call")
    }

    /// me calls `users`; the server answers with call `c1`, everyone `received`.
    pub(super) fn outgoing(&mut self, users: &[&str]) {
        self.intent(Intent::Call {
            users: users.iter().map(|u| u.to_string()).collect(),
            call_type: CallType::Video,
        })
        .unwrap();
        let (op, req) = self.last_op();
        assert!(matches!(req, Op::Invite { .. }));
        self.done(op, OpResult::Invited(invited("c1", users)));
    }

    pub(super) fn incoming(&mut self, call_id: &str, data: &str) {
        self.ev(Event::InvitationReceived(invitation(
            call_id, "alice", data,
        )));
    }
}

pub(super) fn user(id: &str, state: CallUserState, reason: Option<StateReason>) -> CallUserInfo {
    CallUserInfo {
        user_id: id.into(),
        state,
        extended_data: String::new(),
        reason,
        inviter: "me".into(),
        update_time: 1,
    }
}

pub(super) fn invited(call_id: &str, users: &[&str]) -> CallInviteResult {
    CallInviteResult {
        call_id: call_id.into(),
        timeout: 60,
        create_time: 1,
        call_user_list: users
            .iter()
            .map(|u| user(u, CallUserState::Received, None))
            .collect(),
        error_invitees: vec![],
    }
}

pub(super) fn invitation(call_id: &str, caller: &str, data: &str) -> InvitationInfo {
    InvitationInfo {
        call_id: call_id.into(),
        caller: caller.into(),
        caller_name: "Alice (server)".into(),
        inviter: caller.into(),
        mode: CallMode::Advanced,
        timeout: 30,
        create_time: 1,
        expire_time: None,
        extended_data: data.into(),
        push_config: None,
        call_user_list: vec![
            user(caller, CallUserState::Accepted, None),
            user("me", CallUserState::Received, None),
        ],
    }
}

pub(super) fn changed(call_id: &str, users: Vec<CallUserInfo>) -> Event {
    Event::UserStateChanged(CallUserStateChanged {
        call_id: call_id.into(),
        call_user_list: users,
    })
}

pub(super) fn ended(call_id: &str, by: &str) -> Event {
    Event::InvitationEnded(CallInvitationEnded {
        call_id: call_id.into(),
        caller: "me".into(),
        mode: CallMode::Advanced,
        operated_user_id: by.into(),
        extended_data: String::new(),
        end_time: 2,
    })
}

pub(super) const VIDEO: &str = r#"{"type":"video_call","callerUserName":"Alice"}"#;

#[test]
fn outgoing_call_accepted_becomes_in_call() {
    let mut h = H::new();
    h.outgoing(&["bob"]);
    assert_eq!(h.m.phase(), Phase::Outgoing);
    assert_eq!(h.call().call_id.as_deref(), Some("c1"));
    // The server's answer says how long the invitees are rung (60 s in `invited`).
    assert_eq!(h.call().ring_until, Some(h.now + 60_000));
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    assert_eq!(h.m.phase(), Phase::InCall);
    assert_eq!(h.call().started_at, Some(h.now));
    assert_eq!(h.call().ring_until, None);
    assert!(matches!(&h.updates.last().unwrap().notice, Notice::Accepted { by } if by == "bob"));
}

#[test]
fn callees_are_shown_by_the_name_they_answer_with() {
    let mut h = H::new();
    h.outgoing(&["bob", "carol", "dave"]);
    assert_eq!(h.call().peers[0].name, "bob", "an ID until bob answers");
    let mut bob = user("bob", CallUserState::Accepted, None);
    bob.extended_data = r#"{"userName":"Bob Stone"}"#.into();
    // Carol's client is not Beckon: she stays shown by her ID.
    let mut carol = user(
        "carol",
        CallUserState::Rejected,
        Some(StateReason::Declined),
    );
    carol.extended_data = "no thanks".into();
    h.ev(changed("c1", vec![bob, carol]));
    let call = h.call();
    let names: Vec<&str> = call.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Bob Stone", "carol", "dave"]);
    // A later change without a name keeps the one already learned.
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    assert_eq!(h.call().peers[0].name, "Bob Stone");
}

#[test]
fn the_invitation_carries_type_and_my_name() {
    let mut h = H::new();
    h.outgoing(&["bob"]);
    let Op::Invite { extended_data, .. } = &h.sent[0].1 else {
        panic!()
    };
    assert_eq!(
        extended_data,
        r#"{"type":"video_call","callerUserName":"Me"}"#
    );
}

#[test]
fn each_unanswered_ending_has_its_own_outcome() {
    let cases = [
        (
            CallUserState::Rejected,
            Some(StateReason::Declined),
            true,
            Outcome::Declined,
        ),
        (
            CallUserState::Rejected,
            Some(StateReason::Busy),
            true,
            Outcome::Busy,
        ),
        (CallUserState::Timeout, None, true, Outcome::NoAnswer),
        (CallUserState::Timeout, None, false, Outcome::Unreachable),
    ];
    for (state, reason, reached, want) in cases {
        let mut h = H::new();
        h.intent(Intent::Call {
            users: vec!["bob".into()],
            call_type: CallType::Voice,
        })
        .unwrap();
        let (op, _) = h.last_op();
        let mut r = invited("c1", &["bob"]);
        if !reached {
            r.call_user_list[0].state = CallUserState::Inviting;
        }
        h.done(op, OpResult::Invited(r));
        h.ev(changed("c1", vec![user("bob", state, reason)]));
        assert_eq!(h.m.phase(), Phase::Free, "{want:?}");
        assert_eq!(h.outcome(), Some(want));
    }
}

#[test]
fn a_group_call_waits_for_the_last_callee() {
    let mut h = H::new();
    h.outgoing(&["bob", "carol"]);
    assert!(h.call().group);
    h.ev(changed(
        "c1",
        vec![user(
            "bob",
            CallUserState::Rejected,
            Some(StateReason::Busy),
        )],
    ));
    assert_eq!(h.m.phase(), Phase::Outgoing);
    h.ev(changed(
        "c1",
        vec![user("carol", CallUserState::Accepted, None)],
    ));
    assert_eq!(h.m.phase(), Phase::InCall);
}

#[test]
fn cancel_before_the_call_exists_cancels_it_when_it_does() {
    let mut h = H::new();
    h.intent(Intent::Call {
        users: vec!["bob".into()],
        call_type: CallType::Voice,
    })
    .unwrap();
    let (op, _) = h.last_op();
    h.intent(Intent::Cancel).unwrap();
    assert_eq!(h.m.phase(), Phase::Free);
    assert_eq!(h.outcome(), Some(Outcome::Cancelled));
    h.done(op, OpResult::Invited(invited("c9", &["bob"])));
    assert_eq!(
        h.last_op().1,
        Op::Cancel {
            call_id: "c9".into()
        }
    );
    assert_eq!(h.m.phase(), Phase::Free);
}

#[test]
fn cancel_after_the_call_exists() {
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.intent(Intent::Cancel).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Cancel {
            call_id: "c1".into()
        }
    );
    assert_eq!(h.outcome(), Some(Outcome::Cancelled));
}

#[test]
fn a_failed_invite_frees_the_user_with_the_reason() {
    let mut h = H::new();
    h.intent(Intent::Call {
        users: vec!["bob".into()],
        call_type: CallType::Voice,
    })
    .unwrap();
    let (op, _) = h.last_op();
    h.done(
        op,
        OpResult::Failed {
            message: "3003 alreadyInCall".into(),
            state: None,
        },
    );
    assert_eq!(h.m.phase(), Phase::Free);
    assert!(matches!(h.outcome(), Some(Outcome::Failed { message }) if message.contains("3003")));
}

#[test]
fn events_that_overtake_the_invite_answer_are_applied_after_it() {
    let mut h = H::new();
    h.intent(Intent::Call {
        users: vec!["bob".into()],
        call_type: CallType::Voice,
    })
    .unwrap();
    let (op, _) = h.last_op();
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.done(op, OpResult::Invited(invited("c1", &["bob"])));
    assert_eq!(h.m.phase(), Phase::InCall);
    assert_eq!(h.call().peers[0].state, CallUserState::Accepted);
}

#[test]
fn hang_up_ends_a_one_to_one_call_and_leaves_a_group_call() {
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.intent(Intent::HangUp).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::End {
            call_id: "c1".into()
        }
    );
    assert_eq!(h.outcome(), Some(Outcome::HungUp));

    let mut h = H::new();
    h.outgoing(&["bob", "carol"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.intent(Intent::HangUp).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Quit {
            call_id: "c1".into()
        }
    );
    assert_eq!(h.outcome(), Some(Outcome::Left));

    let mut h = H::new();
    h.outgoing(&["bob", "carol"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.intent(Intent::End).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::End {
            call_id: "c1".into()
        }
    );
}

#[test]
fn the_other_side_hanging_up_ends_the_call() {
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.intent(Intent::Accept { call_id: None }).unwrap();
    let (op, _) = h.last_op();
    h.done(op, OpResult::Done);
    h.ev(ended("c1", "alice"));
    // The banner names who ended it.
    assert_eq!(
        h.outcome(),
        Some(Outcome::EndedByPeer {
            by: Some("alice".into())
        })
    );
}

#[test]
fn invite_more_makes_a_group_call() {
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.intent(Intent::InviteMore {
        users: vec!["carol".into()],
    })
    .unwrap();
    let (op, req) = h.last_op();
    assert!(matches!(req, Op::InviteMore { ref users, .. } if users == &["carol".to_string()]));
    assert!(h.call().group);
    h.done(op, OpResult::Invited(invited("c1", &["carol"])));
    assert_eq!(h.call().peers[1].state, CallUserState::Received);
    h.intent(Intent::HangUp).unwrap();
    assert_eq!(
        h.last_op().1,
        Op::Quit {
            call_id: "c1".into()
        }
    );
}

#[test]
fn losing_the_connection() {
    // For good: the call is over at once.
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    h.ev(Event::Connection(ConnectionState::Disconnected(
        DisconnectReason::Replaced,
    )));
    assert_eq!(h.outcome(), Some(Outcome::ConnectionLost));

    // Briefly: the call survives a reconnect within the server's grace period.
    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.ev(changed(
        "c1",
        vec![user("bob", CallUserState::Accepted, None)],
    ));
    let down = ConnectionState::Reconnecting {
        attempt: 1,
        retry_in: Default::default(),
        reason: "x".into(),
    };
    h.ev(Event::Connection(down.clone()));
    h.tick(10_000);
    h.ev(connected(HeartbeatTiming::default()));
    h.tick(60_000);
    assert_eq!(h.m.phase(), Phase::InCall);

    // Too long: the server has given this device up.
    h.ev(Event::Connection(down));
    h.tick(31_000);
    assert_eq!(h.outcome(), Some(Outcome::ConnectionLost));

    // The server says so after a reconnect.
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.intent(Intent::Accept { call_id: None }).unwrap();
    let (op, _) = h.last_op();
    h.done(op, OpResult::Done);
    h.ev(changed(
        "c1",
        vec![user(
            "me",
            CallUserState::Quit,
            Some(StateReason::ConnectionLost),
        )],
    ));
    assert_eq!(h.outcome(), Some(Outcome::ConnectionLost));
}

pub(super) fn connected(heartbeat: HeartbeatTiming) -> Event {
    let device_id = "d".into();
    Event::Connection(ConnectionState::Connected {
        device_id,
        heartbeat,
    })
}

/// A call survives a drop for as long as the server keeps it: the server's heartbeat
/// timeout from the login answer, not a number of the client's own.
#[test]
fn a_dropped_call_is_lost_after_the_servers_heartbeat_timeout() {
    for (timeout_s, survives_ms, lost_ms) in [(60, 45_000, 15_001), (2, 1_500, 501)] {
        let mut h = H::new();
        let timeout = std::time::Duration::from_secs(timeout_s);
        h.ev(connected(HeartbeatTiming {
            interval: timeout / 3,
            timeout,
        }));
        h.outgoing(&["bob"]);
        h.ev(changed(
            "c1",
            vec![user("bob", CallUserState::Accepted, None)],
        ));
        h.ev(Event::Connection(ConnectionState::Reconnecting {
            attempt: 1,
            retry_in: Default::default(),
            reason: "x".into(),
        }));
        h.tick(survives_ms);
        assert_eq!(h.m.phase(), Phase::InCall, "lost before {timeout_s} s");
        h.tick(lost_ms);
        assert_eq!(h.outcome(), Some(Outcome::ConnectionLost));
    }
}

#[test]
fn local_deadlines_free_a_user_whose_timeout_event_was_lost() {
    let mut h = H::new();
    h.incoming("c1", VIDEO);
    h.tick(30_000);
    assert_eq!(h.m.phase(), Phase::Incoming, "within the grace");
    h.tick(6_000);
    assert_eq!(h.outcome(), Some(Outcome::Missed));

    let mut h = H::new();
    h.outgoing(&["bob"]);
    h.tick(66_000);
    assert_eq!(h.outcome(), Some(Outcome::NoAnswer));
}

#[test]
fn refused_intents_change_nothing() {
    let mut h = H::new();
    assert!(matches!(
        h.intent(Intent::Accept { call_id: None }),
        Err(ActionError::NotNow { phase: Phase::Free })
    ));
    assert!(matches!(
        h.intent(Intent::Call {
            users: vec!["me".into()],
            call_type: CallType::Voice
        }),
        Err(ActionError::InvalidUsers { .. })
    ));
    assert!(h
        .intent(Intent::Call {
            users: vec![" ".into()],
            call_type: CallType::Voice
        })
        .is_err());
    assert!(h
        .intent(Intent::Call {
            users: vec!["a b".into()],
            call_type: CallType::Voice
        })
        .is_err());
    h.outgoing(&["bob"]);
    assert!(h
        .intent(Intent::Call {
            users: vec!["carol".into()],
            call_type: CallType::Voice
        })
        .is_err());
    assert_eq!(h.m.phase(), Phase::Outgoing);
}

#[test]
fn missed_while_away_is_announced_without_ringing() {
    let mut h = H::new();
    let info = CallInfo {
        call_id: "c7".into(),
        caller: "alice".into(),
        caller_name: "Alice".into(),
        mode: CallMode::Advanced,
        state: CallState::Ended,
        create_time: 1,
        end_time: 2,
        extended_data: VIDEO.into(),
        call_user_list: vec![user("me", CallUserState::Timeout, None)],
    };
    h.ev(Event::MissedWhileAway(info));
    assert_eq!(h.m.phase(), Phase::Free);
    assert!(matches!(
        &h.updates.last().unwrap().notice,
        Notice::MissedWhileAway {
            answered: false,
            call_type: CallType::Video,
            ..
        }
    ));
}

#[test]
fn an_answer_meant_for_another_call_is_refused() {
    let mut h = H::new();
    h.incoming("c2", VIDEO);
    let err = h
        .intent(Intent::Accept {
            call_id: Some("c1".into()),
        })
        .unwrap_err();
    assert_eq!(
        err,
        ActionError::NotRinging {
            call_id: "c1".into()
        }
    );
    assert!(h
        .intent(Intent::Decline {
            call_id: Some("c1".into())
        })
        .is_err());
    assert_eq!(h.m.phase(), Phase::Incoming);
    h.intent(Intent::Accept {
        call_id: Some("c2".into()),
    })
    .unwrap();
}

#[test]
fn an_old_connecting_after_connected_does_not_flicker() {
    let mut h = H::new();
    h.ev(Event::Connection(ConnectionState::Connecting));
    assert_eq!(h.m.snapshot().connection, Connection::Connected);
}
