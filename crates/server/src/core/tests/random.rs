//! Random operations against invariants: a property test over the whole hub.

use super::*;

/// Users that log in: u0..u7. Invitees come from all of `NAMES`: u8..u10 never log in, and
/// the last one is not a valid ID.
const NAMES: [&str; 12] = [
    "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "bad id",
];
const ONLINE_USERS: usize = 8;
const MAX_TIMEOUT_SECS: u32 = 60;

#[derive(Debug, Clone)]
enum Op {
    Login {
        user: usize,
        device: usize,
    },
    Logout {
        s: usize,
    },
    Disconnect {
        s: usize,
        silent_ms: u64,
    },
    Invite {
        s: usize,
        invitees: Vec<usize>,
        advanced: bool,
        timeout: u32,
    },
    Accept {
        s: usize,
        call: usize,
    },
    Reject {
        s: usize,
        call: usize,
        busy: bool,
    },
    Cancel {
        s: usize,
        call: usize,
        invitees: Vec<usize>,
    },
    CallingInvite {
        s: usize,
        call: usize,
        invitees: Vec<usize>,
        timeout: u32,
    },
    Join {
        s: usize,
        call: usize,
    },
    Quit {
        s: usize,
        call: usize,
    },
    End {
        s: usize,
        call: usize,
    },
    Relay {
        s: usize,
        call: usize,
        to: usize,
    },
    Advance {
        ms: u64,
    },
    Restart,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let user = 0..ONLINE_USERS;
    let name = 0..NAMES.len();
    let timeout = 1..=MAX_TIMEOUT_SECS;
    prop_oneof![
        10 => (user.clone(), 0..2usize).prop_map(|(user, device)| Op::Login { user, device }),
        2 => any::<usize>().prop_map(|s| Op::Logout { s }),
        3 => (any::<usize>(), 0..40_000u64)
            .prop_map(|(s, silent_ms)| Op::Disconnect { s, silent_ms }),
        10 => (
            any::<usize>(),
            prop::collection::vec(name.clone(), 1..5),
            any::<bool>(),
            timeout.clone()
        )
            .prop_map(|(s, invitees, advanced, timeout)| Op::Invite {
                s,
                invitees,
                advanced,
                timeout
            }),
        12 => (any::<usize>(), any::<usize>()).prop_map(|(s, call)| Op::Accept { s, call }),
        5 => (any::<usize>(), any::<usize>(), any::<bool>())
            .prop_map(|(s, call, busy)| Op::Reject { s, call, busy }),
        4 => (any::<usize>(), any::<usize>(), prop::collection::vec(name.clone(), 0..3))
            .prop_map(|(s, call, invitees)| Op::Cancel { s, call, invitees }),
        6 => (
            any::<usize>(),
            any::<usize>(),
            prop::collection::vec(name, 1..10),
            timeout
        )
            .prop_map(|(s, call, invitees, timeout)| Op::CallingInvite {
                s,
                call,
                invitees,
                timeout
            }),
        8 => (any::<usize>(), any::<usize>()).prop_map(|(s, call)| Op::Join { s, call }),
        4 => (any::<usize>(), any::<usize>()).prop_map(|(s, call)| Op::Quit { s, call }),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(s, call)| Op::End { s, call }),
        2 => (any::<usize>(), any::<usize>(), user)
            .prop_map(|(s, call, to)| Op::Relay { s, call, to }),
        6 => (0..5_000u64).prop_map(|ms| Op::Advance { ms }),
        2 => (0..70_000u64).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Restart),
    ]
}

fn any_state(_: CallUserState) -> bool {
    true
}

fn in_call(s: CallUserState) -> bool {
    s == Accepted
}

fn out_of_call(s: CallUserState) -> bool {
    matches!(s, Quit | Rejected | Timeout | Cancelled)
}

/// Session 0 never logs in: requests on it must be refused with notLoggedIn.
const NEVER_LOGGED_IN: SessionId = 0;

struct Model {
    d: Driver,
    /// Every call ID an invite returned, oldest first.
    calls: Vec<String>,
    next_session: SessionId,
}

impl Model {
    /// A random known call, most often a live one; sometimes an unknown ID.
    fn pick_call(&self, c: usize) -> String {
        if self.calls.is_empty() || c % 16 == 15 {
            return "no-such-call".to_string();
        }
        let live: Vec<&String> = self
            .calls
            .iter()
            .filter(|id| {
                self.d
                    .hub
                    .call_ids
                    .get(id.as_str())
                    .is_some_and(|seq| self.d.hub.calls[seq].is_live())
            })
            .collect();
        if !live.is_empty() && c % 4 < 3 {
            return live[(c / 16) % live.len()].clone();
        }
        self.calls[(c / 16) % self.calls.len()].clone()
    }

    /// An online session, most often of a member of `call` in one of the states `fits`
    /// (those the request is meant for); sometimes any session, or one not logged in.
    fn pick_session(
        &self,
        s: usize,
        call: Option<&str>,
        fits: impl Fn(CallUserState) -> bool,
    ) -> SessionId {
        let online: Vec<SessionId> = self.d.online.keys().copied().collect();
        if online.is_empty() || s % 32 == 31 {
            return NEVER_LOGGED_IN;
        }
        if let Some(call) = call.and_then(|id| self.d.hub.call_ids.get(id)) {
            let fitting: Vec<SessionId> = online
                .iter()
                .copied()
                .filter(|sid| {
                    let user = &self.d.online[sid].0;
                    self.d.hub.calls[call]
                        .member(user)
                        .is_some_and(|m| fits(m.state))
                })
                .collect();
            if !fitting.is_empty() && s % 5 < 4 {
                return fitting[(s / 32) % fitting.len()];
            }
        }
        online[(s / 32) % online.len()]
    }

    fn user_of(&self, session: SessionId) -> Option<String> {
        self.d.online.get(&session).map(|(u, _)| u.clone())
    }

    /// Independently of the hub's index: is `user` Accepted in a call that has not ended?
    fn busy(&self, user: &str) -> bool {
        self.d.hub.calls.values().any(|c| {
            c.is_live()
                && c.member(user)
                    .is_some_and(|m| m.state == CallUserState::Accepted)
        })
    }

    fn is_online(&self, user: &str) -> bool {
        self.d.online.values().any(|(u, _)| u == user)
    }

    fn request(
        &mut self,
        s: usize,
        call: Option<&str>,
        fits: impl Fn(CallUserState) -> bool,
        body: RequestBody,
    ) {
        let session = self.pick_session(s, call, fits);
        let (result, step) = self.d.req_step(session, body);
        if !self.d.online.contains_key(&session) && session == NEVER_LOGGED_IN {
            assert_eq!(result.unwrap_err().code, ErrorCode::NotLoggedIn);
        }
        self.check_step(session, false, &step);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Login { user, device } => {
                let session = self.next_session;
                self.next_session += 1;
                let user = NAMES[user];
                let device = format!("{user}-d{device}");
                let (result, step) = self.d.login_step(session, user, Some(&device));
                result.expect("at most two devices per user: never over the cap");
                self.check_step(session, true, &step);
            }
            Op::Logout { s } => self.request(s, None, any_state, RequestBody::Logout),
            Op::Disconnect { s, silent_ms } => {
                let session = self.pick_session(s, None, any_state);
                let step = self
                    .d
                    .disconnect(session, self.d.now.saturating_sub(silent_ms));
                self.check_step(NEVER_LOGGED_IN, false, &step);
            }
            Op::Invite {
                s,
                invitees,
                advanced,
                timeout,
            } => {
                let session = self.pick_session(s, None, any_state);
                let invitees: Vec<&str> = invitees.iter().map(|i| NAMES[*i]).collect();
                let mode = if advanced { Advanced } else { Normal };
                let user = self.user_of(session);
                let busy = user.as_deref().is_some_and(|u| self.busy(u));
                let valid: BTreeSet<&str> = invitees
                    .iter()
                    .copied()
                    .filter(|i| beckon_protocol::is_valid_id(i) && Some(*i) != user.as_deref())
                    .collect();
                let (result, step) = self
                    .d
                    .req_step(session, invite_body(&invitees, mode, timeout));
                match (&user, result) {
                    (None, r) => assert_eq!(r.unwrap_err().code, ErrorCode::NotLoggedIn),
                    (Some(_), Err(e)) if busy => assert_eq!(e.code, ErrorCode::AlreadyInCall),
                    (Some(u), r) if busy => panic!("{u} is in a call but could invite: {r:?}"),
                    (Some(_), Err(e)) if valid.is_empty() => {
                        assert_eq!(e.code, ErrorCode::NoValidInvitees)
                    }
                    (Some(u), Err(e)) => panic!("{u} is free but could not invite: {e:?}"),
                    (Some(_), Ok(ResponseBody::CallInvite(r))) => {
                        let want: Vec<(String, CallUserState)> = r
                            .call_user_list
                            .iter()
                            .map(|m| {
                                let online = self.is_online(&m.user_id);
                                (m.user_id.clone(), if online { Received } else { Inviting })
                            })
                            .collect();
                        assert_eq!(pairs(&r.call_user_list), want);
                        let got: BTreeSet<&str> =
                            r.call_user_list.iter().map(|m| &*m.user_id).collect();
                        assert_eq!(got, valid);
                        self.calls.push(r.call_id);
                    }
                    (Some(_), Ok(other)) => panic!("callInvite answered with {other:?}"),
                }
                self.check_step(session, false, &step);
            }
            Op::Accept { s, call } => {
                let id = self.pick_call(call);
                self.request(s, Some(&id), CallUserState::is_pending, accept(&id));
            }
            Op::Reject { s, call, busy } => {
                let id = self.pick_call(call);
                let reason = if busy {
                    RejectReason::Busy
                } else {
                    RejectReason::Declined
                };
                self.request(s, Some(&id), CallUserState::is_pending, reject(&id, reason));
            }
            Op::Cancel { s, call, invitees } => {
                let id = self.pick_call(call);
                let invitees: Vec<&str> = invitees.iter().map(|i| NAMES[*i]).collect();
                self.request(s, Some(&id), in_call, cancel(&id, &invitees));
            }
            Op::CallingInvite {
                s,
                call,
                invitees,
                timeout,
            } => {
                let id = self.pick_call(call);
                let invitees: Vec<&str> = invitees.iter().map(|i| NAMES[*i]).collect();
                let body = calling_invite(&id, &invitees, Some(timeout));
                self.request(s, Some(&id), in_call, body);
            }
            Op::Join { s, call } => {
                let id = self.pick_call(call);
                self.request(s, Some(&id), out_of_call, join(&id));
            }
            Op::Quit { s, call } => {
                let id = self.pick_call(call);
                self.request(s, Some(&id), in_call, quit(&id));
            }
            Op::End { s, call } => {
                let id = self.pick_call(call);
                self.request(s, Some(&id), in_call, end(&id));
            }
            Op::Relay { s, call, to } => {
                let id = self.pick_call(call);
                let body = relay(&id, NAMES[to], serde_json::json!({ "n": 1 }));
                self.request(s, Some(&id), in_call, body);
            }
            Op::Advance { ms } => {
                let step = self.d.advance(ms);
                self.check_step(NEVER_LOGGED_IN, false, &step);
            }
            Op::Restart => {
                let step = self.d.restart();
                self.check_step(NEVER_LOGGED_IN, false, &step);
            }
        }
        self.d.drain();
        self.check_invariants();
    }

    /// Who got what in one step.
    fn check_step(&self, actor: SessionId, login: bool, step: &Step) {
        for (s, msg) in &step.events {
            assert!(
                self.d.online.contains_key(s),
                "event to session {s}, which is not online: {msg:?}"
            );
            let user = &self.d.online[s].0;
            let call_id = serde_json::to_value(msg).unwrap()["callId"]
                .as_str()
                .map(str::to_string);
            if let Some(call_id) = call_id {
                let seq = self.d.hub.call_ids[call_id.as_str()];
                assert!(
                    self.d.hub.calls[&seq].member(user).is_some(),
                    "{user} got an event about a call it is not in: {msg:?}"
                );
            }
            if *s != actor || actor == NEVER_LOGGED_IN {
                continue;
            }
            match msg {
                // A device that logs in rings for every invitation still pending.
                ServerMessage::CallInvitationReceived(_) if login => {}
                // Relaying to yourself reaches your own in-call device.
                ServerMessage::Relay(r) if r.from_user_id == *user => {}
                other => panic!("the acting session {s} got an event: {other:?}"),
            }
        }
    }

    fn check_invariants(&self) {
        let d = &self.d;
        let hub = &d.hub;
        assert_eq!(hub.online_sessions(), d.online.len());
        let mut live_by_user: BTreeMap<String, BTreeSet<Seq>> = BTreeMap::new();
        let mut live_pending = 0;
        for (seq, call) in &hub.calls {
            assert_eq!(call.seq, *seq);
            assert_eq!(hub.call_ids.get(&call.id), Some(seq));
            let pending = call.count(CallUserState::is_pending);
            let accepted = call.count(|s| s == Accepted);
            let users: BTreeSet<&str> = call.members.iter().map(|m| &*m.user_id).collect();
            assert_eq!(users.len(), call.members.len(), "a user is a member once");
            assert!(call.members.len() <= beckon_protocol::limits::MAX_CALL_MEMBERS);
            if !call.is_live() {
                assert!(call.end_time >= call.create_time);
                continue;
            }
            live_pending += pending;
            match call.mode {
                Normal => assert!(
                    pending > 0,
                    "live normal call with nobody pending: {call:?}"
                ),
                Advanced => assert!(
                    accepted >= 1,
                    "live advanced call with nobody accepted ({pending} pending): {call:?}"
                ),
            }
            for m in &call.members {
                live_by_user
                    .entry(m.user_id.to_string())
                    .or_default()
                    .insert(*seq);
                if m.state.is_pending() {
                    assert!(
                        m.invite.deadline > d.now,
                        "pending past its deadline: {m:?}"
                    );
                }
                if m.state == Inviting {
                    assert!(!self.is_online(&m.user_id), "online but inviting: {m:?}");
                }
                if m.state == Accepted {
                    assert!(m.device.is_some(), "accepted without a device: {m:?}");
                }
            }
        }
        assert_eq!(hub.call_ids.len(), hub.calls.len());
        // Exactly one timer per pending invitation of a live call and per away device:
        // none left behind by a settled invitation or a returning device, none missing.
        assert_eq!(
            hub.pending_timers(),
            live_pending + hub.away.len(),
            "timers out of step with pending invitations and away devices"
        );
        let index: BTreeMap<String, BTreeSet<Seq>> = hub
            .live_by_user
            .iter()
            .map(|(u, seqs)| {
                let set: BTreeSet<Seq> = seqs.iter().copied().collect();
                assert_eq!(
                    set.len(),
                    seqs.iter().count(),
                    "{u} indexed twice in one call"
                );
                (u.to_string(), set)
            })
            .collect();
        assert_eq!(index, live_by_user);
        // Storage, replayed, holds what memory holds; what memory let go had ended.
        for (seq, call) in &hub.calls {
            assert_eq!(d.store.get(seq), Some(&**call), "storage diverged");
        }
        for (seq, call) in &d.store {
            if !hub.calls.contains_key(seq) {
                assert!(!call.is_live(), "a live call left memory: {call:?}");
            }
        }
    }

    /// Everyone leaves and every deadline passes: nobody may be left in a call.
    fn wind_down(&mut self) {
        let sessions: Vec<SessionId> = self.d.online.keys().copied().collect();
        for (i, s) in sessions.into_iter().enumerate() {
            if !self.d.online.contains_key(&s) {
                continue;
            }
            if i % 2 == 0 {
                self.d.logout(s);
            } else {
                self.d.disconnect(s, self.d.now);
            }
            self.check_invariants();
        }
        self.d.advance(u64::from(MAX_TIMEOUT_SECS) * 1000 + HB + 1);
        self.check_invariants();
        assert_eq!(self.d.hub.live_calls(), 0, "{:?}", self.d.hub.calls);
        assert!(self.d.hub.live_by_user.is_empty());
        for user in NAMES {
            assert!(!self.d.hub.in_call(user));
        }
    }
}

fn run_ops(logins: Vec<(usize, usize)>, ops: Vec<Op>) {
    let mut m = Model {
        d: Driver::with_config(HubConfig {
            heartbeat_timeout_ms: HB,
            ended_retention_ms: 120_000,
            max_ended_in_memory: 50_000,
        }),
        calls: Vec::new(),
        next_session: 1,
    };
    for (user, device) in logins {
        m.apply(Op::Login { user, device });
    }
    for op in ops {
        m.apply(op);
    }
    m.wind_down();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_the_invariants(
        logins in prop::collection::vec((0..ONLINE_USERS, 0..2usize), 0..8),
        ops in prop::collection::vec(op_strategy(), 1..100),
    ) {
        run_ops(logins, ops);
    }
}
