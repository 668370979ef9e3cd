//! Random orders of everything that can happen to a manager, checking that it never leaves
//! the user stuck busy: whatever came before, once the requests in flight are answered, the
//! user is free again either when the server ends the call or when time passes with the
//! connection gone, every invitation that arrives while busy is answered "busy", and a call
//! the user is done with is not left open on the server.

use beckon_protocol::*;
use proptest::prelude::*;

use super::machine::*;
use super::machine_tests::{changed, ended, invitation, user, H};
use super::model::*;
use crate::sdk::{ConnectionState, DisconnectReason, Event};

#[derive(Debug, Clone)]
enum Step {
    Intent(u8, u8),
    /// An event about the current call (or a made-up one): kind, member, state.
    Event(u8, u8, u8),
    Invitation(u8),
    /// Answer the n-th outstanding request: ok or failed (with a state).
    Answer(u8, bool, u8),
    Tick(u16),
    Connection(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..8, 0u8..3).prop_map(|(k, u)| Step::Intent(k, u)),
        4 => (0u8..5, 0u8..3, 0u8..7).prop_map(|(k, m, s)| Step::Event(k, m, s)),
        1 => (0u8..3).prop_map(Step::Invitation),
        3 => (0u8..4, any::<bool>(), 0u8..8).prop_map(|(n, ok, s)| Step::Answer(n, ok, s)),
        1 => (0u16..40_000).prop_map(Step::Tick),
        1 => (0u8..4).prop_map(Step::Connection),
    ]
}

const USERS: [&str; 3] = ["bob", "carol", "me"];

fn state(i: u8) -> CallUserState {
    CallUserState::ALL[usize::from(i) % CallUserState::ALL.len()]
}

fn current_id(h: &H) -> String {
    h.m.snapshot()
        .call
        .and_then(|c| c.call_id)
        .unwrap_or_else(|| "c1".into())
}

struct Run {
    h: H,
    /// Requests sent and not answered yet, in order.
    open: Vec<(OpId, Op)>,
    seen: usize,
    next_call: u32,
    /// Calls the server already said were over: nothing left to clean up.
    ended: std::collections::HashSet<String>,
}

impl Run {
    fn collect(&mut self) {
        self.open.extend(self.h.sent[self.seen..].iter().cloned());
        self.seen = self.h.sent.len();
    }

    fn answer(&mut self, n: usize, ok: bool, s: u8) {
        if self.open.is_empty() {
            return;
        }
        let (op, req) = self.open.remove(n % self.open.len());
        let result = match (&req, ok) {
            (Op::Invite { users, .. }, true) => {
                // Mostly the call the events talk about, sometimes another one.
                self.next_call += 1;
                let id = if self.next_call.is_multiple_of(3) {
                    format!("n{}", self.next_call)
                } else {
                    "c1".into()
                };
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                OpResult::Invited(super::machine_tests::invited(&id, &users))
            }
            (Op::InviteMore { call_id, users, .. }, true) => {
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                OpResult::Invited(super::machine_tests::invited(call_id, &users))
            }
            (_, true) => OpResult::Done,
            (_, false) => OpResult::Failed {
                message: "refused".into(),
                state: (s < 7).then(|| state(s)),
            },
        };
        let created = match (&req, &result) {
            (Op::Invite { .. }, OpResult::Invited(r)) => Some(r.call_id.clone()),
            _ => None,
        };
        let accepted = match (&req, &result) {
            (Op::Accept { call_id }, OpResult::Done) => Some(call_id.clone()),
            _ => None,
        };
        let orphaned = !self.h.m.owns_op(op);
        let sent_before = self.h.sent.len();
        self.h.done(op, result);
        // A call the user had already moved on from must not stay ringing or open.
        let sent = &self.h.sent[sent_before..];
        let gone = |id: &String| orphaned && !self.ended.contains(id);
        if let Some(id) = created.filter(gone) {
            assert!(
                sent.iter().any(|(_, o)| *o
                    == Op::Cancel {
                        call_id: id.clone()
                    }),
                "call {id} was created after the user left it, and not cancelled"
            );
        }
        if let Some(id) = accepted.filter(gone) {
            assert!(
                sent.iter().any(|(_, o)| *o
                    == Op::End {
                        call_id: id.clone()
                    }),
                "call {id} was accepted after the user left it, and not ended"
            );
        }
    }

    fn apply(&mut self, step: &Step) {
        let before = self.h.m.phase();
        let before_id = self.h.m.snapshot().call.and_then(|c| c.call_id);
        let sent_before = self.h.sent.len();
        match *step {
            Step::Intent(k, u) => {
                let users = vec![USERS[usize::from(u) % 2].to_string()];
                let intent = match k {
                    0 => Intent::Call {
                        users,
                        call_type: CallType::Voice,
                    },
                    1 => Intent::Call {
                        users: vec!["bob".into(), "carol".into()],
                        call_type: CallType::Video,
                    },
                    2 => Intent::Cancel,
                    3 => Intent::Accept { call_id: None },
                    4 => Intent::Decline { call_id: None },
                    5 => Intent::HangUp,
                    6 => Intent::InviteMore { users },
                    _ => Intent::Leave,
                };
                let _ = self.h.intent(intent);
            }
            Step::Event(k, m, s) => {
                let id = current_id(&self.h);
                let ev = match k {
                    0 => changed(&id, vec![user(USERS[usize::from(m)], state(s), None)]),
                    1 => {
                        self.ended.insert(id.clone());
                        ended(&id, USERS[usize::from(m)])
                    }
                    2 => Event::InvitationCancelled(CallInvitationCancelled {
                        call_id: id,
                        inviter: "alice".into(),
                        extended_data: String::new(),
                        reason: StateReason::CancelledByInviter,
                    }),
                    3 => Event::InvitationTimeout(CallInvitationTimeout { call_id: id }),
                    _ => changed("other", vec![user("bob", state(s), None)]),
                };
                self.h.ev(ev);
            }
            Step::Invitation(i) => {
                let id = if i == 0 {
                    "c1".to_string()
                } else {
                    format!("in{i}")
                };
                let busy = before.is_busy() && current_id(&self.h) != id;
                self.h
                    .ev(Event::InvitationReceived(invitation(&id, "alice", "")));
                if busy {
                    assert!(
                        self.h.sent[sent_before..].iter().any(|(_, op)| *op
                            == Op::Reject {
                                call_id: id.clone(),
                                reason: RejectReason::Busy
                            }),
                        "an invitation while {before:?} was not rejected as busy"
                    );
                    assert_eq!(self.h.m.phase(), before, "a busy reject changed the call");
                }
            }
            Step::Answer(n, ok, s) => self.answer(usize::from(n), ok, s),
            Step::Tick(ms) => self.h.tick(u64::from(ms)),
            Step::Connection(c) => {
                let s = match c {
                    0 => ConnectionState::Connected {
                        device_id: "d".into(),
                        heartbeat: Default::default(),
                    },
                    1 | 2 => ConnectionState::Reconnecting {
                        attempt: 1,
                        retry_in: Default::default(),
                        reason: "test".into(),
                    },
                    _ => ConnectionState::Disconnected(DisconnectReason::Stopped),
                };
                self.h.ev(Event::Connection(s));
            }
        }
        self.collect();
        self.check();
        self.check_not_left_open(step, before, before_id, sent_before);
    }

    /// The server keeps an advanced call while one member is in it, so a call this user was
    /// in there (calling or talking) and that the machine finished must be withdrawn, ended
    /// or left in the same step, unless the server ended it or took the user out of it.
    fn check_not_left_open(
        &self,
        step: &Step,
        before: Phase,
        before_id: Option<String>,
        sent_before: usize,
    ) {
        let Some(id) = before_id else {
            return;
        };
        let still = self.h.m.snapshot().call.and_then(|c| c.call_id);
        if !matches!(before, Phase::Outgoing | Phase::InCall) || still.as_ref() == Some(&id) {
            return;
        }
        let outcome = self.h.updates.iter().rev().find_map(|u| match &u.notice {
            Notice::Finished { outcome, .. } => Some(outcome.clone()),
            _ => None,
        });
        // The server ended the call, said this user is out of it, or gave its device up.
        let server_did = matches!(step, Step::Event(1, ..) | Step::Event(0, 2, _))
            || outcome == Some(Outcome::ConnectionLost);
        if server_did {
            return;
        }
        let left = self.h.sent[sent_before..].iter().any(|(_, op)| {
            matches!(op, Op::Cancel { call_id } | Op::End { call_id } | Op::Quit { call_id }
                if *call_id == id)
        });
        assert!(
            left,
            "call {id} finished ({outcome:?}) after {step:?} but left open"
        );
    }

    fn check(&self) {
        let snap = self.h.m.snapshot();
        assert_eq!(snap.phase == Phase::Free, snap.call.is_none(), "{snap:?}");
        for id in self.h.m.awaited_ops() {
            assert!(
                self.open.iter().any(|(o, _)| *o == id),
                "the machine waits for request {id}, which was never sent or already answered"
            );
        }
        if let Some(call) = &snap.call {
            if call.call_id.is_none() {
                assert!(
                    self.open
                        .iter()
                        .any(|(_, op)| matches!(op, Op::Invite { .. })),
                    "calling with no call ID and no invite on its way"
                );
            }
        }
        // Every update carries the snapshot as it was then; the last one is the current one.
        if let Some(u) = self.h.updates.last() {
            assert_eq!(u.snapshot.phase == Phase::Free, u.snapshot.call.is_none());
        }
    }

    /// Answers everything in flight (more requests may follow from the answers).
    fn settle(&mut self, ok: bool) {
        for _ in 0..10 {
            if self.open.is_empty() {
                return;
            }
            self.answer(0, ok, 7);
            self.collect();
            self.check();
        }
    }
}

fn run(steps: &[Step]) -> Run {
    let mut r = Run {
        h: H::new(),
        open: Vec::new(),
        seen: 0,
        next_call: 0,
        ended: Default::default(),
    };
    r.collect();
    for s in steps {
        r.apply(s);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_server_ending_the_call_always_frees_the_user(steps in prop::collection::vec(step(), 0..40), ok in any::<bool>()) {
        let mut r = run(&steps);
        r.settle(ok);
        if let Some(id) = r.h.m.snapshot().call.and_then(|c| c.call_id) {
            r.h.ev(ended(&id, "bob"));
        }
        prop_assert_eq!(r.h.m.phase(), Phase::Free);
    }

    #[test]
    fn time_without_a_connection_always_frees_the_user(steps in prop::collection::vec(step(), 0..40), ok in any::<bool>()) {
        let mut r = run(&steps);
        r.settle(ok);
        r.h.ev(Event::Connection(ConnectionState::Reconnecting {
            attempt: 1,
            retry_in: Default::default(),
            reason: "gone".into(),
        }));
        r.h.tick(700_000);
        r.h.tick(700_000);
        prop_assert_eq!(r.h.m.phase(), Phase::Free);
    }

    #[test]
    fn a_finished_call_is_announced_once_with_an_outcome(steps in prop::collection::vec(step(), 0..40)) {
        let r = run(&steps);
        // Every transition to free is a Finished notice, and no Finished leaves a call behind.
        let mut was_busy = false;
        for u in &r.h.updates {
            let free = u.snapshot.phase == Phase::Free;
            if let Notice::Finished { .. } = u.notice {
                prop_assert!(free, "finished but still busy");
                prop_assert!(was_busy, "finished twice");
            } else if was_busy && free {
                prop_assert!(false, "became free without saying how: {:?}", u.notice);
            }
            was_busy = !free;
        }
    }
}
