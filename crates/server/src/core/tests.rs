//! The call state machine driven directly: numbered sessions, a fake clock in ms, and the
//! batches the hub hands back. No sockets, no storage, no real time.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use beckon_protocol::CallUserState::{self, *};
use beckon_protocol::{
    CallAnswer, CallCancel, CallInfo, CallInvitationCancelled, CallInvitationEnded, CallInvite,
    CallInviteResult, CallMode, CallReject, CallState, CallUserInfo, CallUserStateChanged,
    CallingInvite, CloseReason, ErrorBody, ErrorCode, ErrorInvitee, InvitationInfo, InviteeError,
    LoginResult, RejectReason, Relay, RequestBody, ResponseBody, ServerMessage, StateReason,
};
use proptest::prelude::*;

use super::LoginInput;
use super::{Call, Hub, HubConfig, Input, Out, Seq, SessionId};

/// A plausible Unix time in ms, so nothing accidentally works because time starts at 0.
const T0: u64 = 1_700_000_000_000;
const HB: u64 = 30_000;

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

/// What one input (and the tick after it) produced.
#[derive(Debug, Default)]
struct Step {
    /// `response` and `error` frames, with their recipients.
    answers: Vec<(Vec<SessionId>, ServerMessage)>,
    /// Every other frame, one entry per recipient session.
    events: Vec<(SessionId, ServerMessage)>,
    writes: Vec<Call>,
}

struct Driver {
    hub: Hub,
    config: HubConfig,
    ids: Arc<AtomicU64>,
    now: u64,
    next_req: u64,
    /// Tick after every input at the same time, as the runtime's hub task does.
    auto_tick: bool,
    /// Logged-in sessions as the connections know them: session -> (user, device).
    online: BTreeMap<SessionId, (String, String)>,
    /// Events not yet looked at, per session.
    inbox: HashMap<SessionId, Vec<ServerMessage>>,
    closed: HashMap<SessionId, CloseReason>,
    /// Every write so far, replayed by seq: what storage would hold.
    store: BTreeMap<Seq, Call>,
    last_writes: Vec<Call>,
}

fn new_hub(config: &HubConfig, ids: &Arc<AtomicU64>) -> Hub {
    let ids = ids.clone();
    Hub::new(
        config.clone(),
        Box::new(move || format!("id{:05}", ids.fetch_add(1, Ordering::Relaxed))),
    )
}

impl Driver {
    fn new() -> Driver {
        Driver::with_config(HubConfig {
            heartbeat_timeout_ms: HB,
            ended_retention_ms: 600_000,
            max_ended_in_memory: 50_000,
        })
    }

    fn with_config(config: HubConfig) -> Driver {
        let ids = Arc::new(AtomicU64::new(1));
        Driver {
            hub: new_hub(&config, &ids),
            config,
            ids,
            now: T0,
            next_req: 1,
            auto_tick: true,
            online: BTreeMap::new(),
            inbox: HashMap::new(),
            closed: HashMap::new(),
            store: BTreeMap::new(),
            last_writes: Vec::new(),
        }
    }

    fn input(&mut self, input: Input) -> Step {
        self.hub.handle(self.now, input);
        self.flush()
    }

    /// Ticks (if `auto_tick`), takes the batch, files its frames and replays its writes.
    fn flush(&mut self) -> Step {
        if self.auto_tick {
            self.hub.tick(self.now);
        }
        let batch = self.hub.take_batch();
        let mut step = Step::default();
        for call in &batch.writes {
            self.store.insert(call.seq, call.clone());
        }
        for out in batch.outs {
            match out {
                Out::Send { to, msg, .. } => match msg {
                    ServerMessage::Response(_) | ServerMessage::Error(_) => {
                        step.answers.push((to, msg))
                    }
                    msg => {
                        for s in to {
                            self.inbox.entry(s).or_default().push(msg.clone());
                            step.events.push((s, msg.clone()));
                        }
                    }
                },
                Out::LoggedIn {
                    session,
                    user_id,
                    device_id,
                } => {
                    self.online.insert(session, (user_id, device_id));
                }
                Out::Close { session, reason } => {
                    self.online.remove(&session);
                    self.closed.insert(session, reason);
                }
            }
        }
        self.last_writes = batch.writes.clone();
        step.writes = batch.writes;
        step
    }

    /// The one answer `step` holds, which must be for `session` and request `id`.
    fn answer_of(step: &Step, session: SessionId, id: u64) -> Result<ResponseBody, ErrorBody> {
        assert_eq!(
            step.answers.len(),
            1,
            "exactly one answer per request: {:?}",
            step.answers
        );
        let (to, msg) = &step.answers[0];
        assert_eq!(to, &vec![session], "the answer goes to the requester only");
        match msg {
            ServerMessage::Response(r) => {
                assert_eq!(r.id, id);
                Ok(r.result.clone())
            }
            ServerMessage::Error(e) => {
                assert_eq!(e.id, Some(id));
                Err(e.clone())
            }
            other => unreachable!("{other:?}"),
        }
    }

    fn req_step(
        &mut self,
        session: SessionId,
        body: RequestBody,
    ) -> (Result<ResponseBody, ErrorBody>, Step) {
        let id = self.next_req;
        self.next_req += 1;
        let step = self.input(Input::Request {
            session,
            req: id,
            body,
            started: Instant::now(),
        });
        (Self::answer_of(&step, session, id), step)
    }

    fn req(&mut self, session: SessionId, body: RequestBody) -> Result<ResponseBody, ErrorBody> {
        self.req_step(session, body).0
    }

    fn ok(&mut self, session: SessionId, body: RequestBody) -> ResponseBody {
        let kind = body.kind();
        self.req(session, body)
            .unwrap_or_else(|e| panic!("{kind} by session {session} refused: {e:?}"))
    }

    fn err(&mut self, session: SessionId, body: RequestBody) -> ErrorBody {
        let kind = body.kind();
        match self.req(session, body) {
            Ok(r) => panic!("{kind} by session {session} should be refused, got {r:?}"),
            Err(e) => e,
        }
    }

    fn login_step(
        &mut self,
        session: SessionId,
        user: &str,
        device: Option<&str>,
    ) -> (Result<LoginResult, ErrorBody>, Step) {
        let id = self.next_req;
        self.next_req += 1;
        let step = self.input(Input::Login(LoginInput {
            session,
            req: id,
            user_id: user.to_string(),
            user_name: format!("{user} name"),
            device_id: device.map(str::to_string),
            started: Instant::now(),
        }));
        let answer = Self::answer_of(&step, session, id).map(|r| match r {
            ResponseBody::Login(l) => l,
            other => panic!("login answered with {other:?}"),
        });
        (answer, step)
    }

    fn login(&mut self, session: SessionId, user: &str, device: &str) -> LoginResult {
        self.login_step(session, user, Some(device))
            .0
            .unwrap_or_else(|e| panic!("login of {user}/{device} refused: {e:?}"))
    }

    fn logout(&mut self, session: SessionId) {
        assert_eq!(self.ok(session, RequestBody::Logout), ResponseBody::Logout);
        assert_eq!(self.closed.get(&session), Some(&CloseReason::LoggedOut));
    }

    /// The connection ended without logout; it last sent a frame at `last_seen`.
    fn disconnect(&mut self, session: SessionId, last_seen: u64) -> Step {
        let step = self.input(Input::Disconnected { session, last_seen });
        assert!(step.answers.is_empty());
        self.online.remove(&session);
        step
    }

    fn advance(&mut self, ms: u64) -> Step {
        self.now += ms;
        let step = self.flush();
        assert!(step.answers.is_empty());
        step
    }

    fn advance_to(&mut self, at: u64) -> Step {
        assert!(at >= self.now, "the clock goes forward");
        self.advance(at - self.now)
    }

    /// A crash and restart: a fresh hub restored from what storage holds (live calls and
    /// calls that ended within the retention), every connection gone, then the first tick.
    fn restart(&mut self) -> Step {
        let since = self.now.saturating_sub(self.config.ended_retention_ms);
        let calls: Vec<Call> = self
            .store
            .values()
            .filter(|c| c.is_live() || c.end_time >= since)
            .cloned()
            .collect();
        let next_seq = self.store.keys().max().map_or(1, |s| s + 1);
        self.hub = new_hub(&self.config, &self.ids);
        self.hub.restore(calls, self.now);
        self.hub.set_next_seq(next_seq);
        for s in std::mem::take(&mut self.online).into_keys() {
            self.closed.insert(s, CloseReason::ServerShutdown);
        }
        self.inbox.clear();
        self.flush()
    }

    fn invite(
        &mut self,
        session: SessionId,
        invitees: &[&str],
        mode: CallMode,
        timeout: u32,
    ) -> CallInviteResult {
        match self.ok(session, invite_body(invitees, mode, timeout)) {
            ResponseBody::CallInvite(r) => r,
            other => panic!("callInvite answered with {other:?}"),
        }
    }

    /// The events `session` got since the last look.
    fn events_for(&mut self, session: SessionId) -> Vec<ServerMessage> {
        self.inbox.remove(&session).unwrap_or_default()
    }

    fn drain(&mut self) {
        self.inbox.clear();
    }

    fn one_event(&mut self, session: SessionId) -> ServerMessage {
        let events = self.events_for(session);
        assert_eq!(events.len(), 1, "session {session} got {events:?}");
        events.into_iter().next().unwrap()
    }

    fn expect_changed(
        &mut self,
        session: SessionId,
        call_id: &str,
        want: &[(&str, CallUserState)],
    ) -> CallUserStateChanged {
        match self.one_event(session) {
            ServerMessage::CallUserStateChanged(c) => {
                assert_eq!(c.call_id, call_id);
                assert_eq!(pairs(&c.call_user_list), owned(want), "session {session}");
                c
            }
            other => panic!("session {session}: expected callUserStateChanged, got {other:?}"),
        }
    }

    fn expect_received(&mut self, session: SessionId, call_id: &str) -> InvitationInfo {
        match self.one_event(session) {
            ServerMessage::CallInvitationReceived(i) => {
                assert_eq!(i.call_id, call_id);
                i
            }
            other => panic!("session {session}: expected callInvitationReceived, got {other:?}"),
        }
    }

    fn expect_cancelled(&mut self, session: SessionId, call_id: &str) -> CallInvitationCancelled {
        match self.one_event(session) {
            ServerMessage::CallInvitationCancelled(c) => {
                assert_eq!(c.call_id, call_id);
                c
            }
            other => panic!("session {session}: expected callInvitationCancelled, got {other:?}"),
        }
    }

    fn expect_ended(&mut self, session: SessionId, call_id: &str) -> CallInvitationEnded {
        match self.one_event(session) {
            ServerMessage::CallInvitationEnded(e) => {
                assert_eq!(e.call_id, call_id);
                e
            }
            other => panic!("session {session}: expected callInvitationEnded, got {other:?}"),
        }
    }

    /// No session has an event waiting.
    fn assert_quiet(&mut self) {
        let pending: Vec<_> = self.inbox.iter().filter(|(_, v)| !v.is_empty()).collect();
        assert!(pending.is_empty(), "unexpected events: {pending:?}");
    }

    fn call(&self, call_id: &str) -> &Call {
        &self.hub.calls[&self.hub.call_ids[call_id]]
    }

    fn state(&self, call_id: &str, user: &str) -> CallUserState {
        self.call(call_id)
            .member(user)
            .unwrap_or_else(|| panic!("{user} is no member of {call_id}"))
            .state
    }

    /// The last batch wrote exactly this call, as it now is in memory.
    fn assert_written(&self, call_id: &str) {
        let call = self.call(call_id);
        assert_eq!(
            self.last_writes.iter().filter(|c| c.id == call_id).count(),
            1,
            "the change to {call_id} was not written"
        );
        let written = self.last_writes.iter().find(|c| c.id == call_id).unwrap();
        assert_eq!(written, call);
    }
}

// ---- request bodies ----

fn strings(users: &[&str]) -> Vec<String> {
    users.iter().map(|u| u.to_string()).collect()
}

fn invite_body(invitees: &[&str], mode: CallMode, timeout: u32) -> RequestBody {
    RequestBody::CallInvite(CallInvite {
        invitees: strings(invitees),
        timeout: Some(timeout),
        mode,
        extended_data: String::new(),
        push_config: None,
    })
}

fn cancel(call_id: &str, invitees: &[&str]) -> RequestBody {
    cancel_with(call_id, invitees, "")
}

fn cancel_with(call_id: &str, invitees: &[&str], extended_data: &str) -> RequestBody {
    RequestBody::CallCancel(CallCancel {
        call_id: call_id.to_string(),
        invitees: strings(invitees),
        extended_data: extended_data.to_string(),
    })
}

fn answer(call_id: &str, extended_data: &str) -> CallAnswer {
    CallAnswer {
        call_id: call_id.to_string(),
        extended_data: extended_data.to_string(),
    }
}

fn accept(call_id: &str) -> RequestBody {
    RequestBody::CallAccept(answer(call_id, ""))
}

fn accept_with(call_id: &str, extended_data: &str) -> RequestBody {
    RequestBody::CallAccept(answer(call_id, extended_data))
}

fn reject(call_id: &str, reason: RejectReason) -> RequestBody {
    reject_with(call_id, reason, "")
}

fn reject_with(call_id: &str, reason: RejectReason, extended_data: &str) -> RequestBody {
    RequestBody::CallReject(CallReject {
        call_id: call_id.to_string(),
        extended_data: extended_data.to_string(),
        reason,
    })
}

fn calling_invite(call_id: &str, invitees: &[&str], timeout: Option<u32>) -> RequestBody {
    RequestBody::CallingInvite(CallingInvite {
        call_id: call_id.to_string(),
        invitees: strings(invitees),
        timeout,
        extended_data: String::new(),
        push_config: None,
    })
}

fn join(call_id: &str) -> RequestBody {
    RequestBody::CallJoin(answer(call_id, ""))
}

fn quit(call_id: &str) -> RequestBody {
    RequestBody::CallQuit(answer(call_id, ""))
}

fn end(call_id: &str) -> RequestBody {
    end_with(call_id, "")
}

fn end_with(call_id: &str, extended_data: &str) -> RequestBody {
    RequestBody::CallEnd(answer(call_id, extended_data))
}

fn relay(call_id: &str, to: &str, payload: serde_json::Value) -> RequestBody {
    RequestBody::Relay(Relay {
        call_id: call_id.to_string(),
        to_user_id: to.to_string(),
        payload,
    })
}

// ---- reading results ----

fn pairs(list: &[CallUserInfo]) -> Vec<(String, CallUserState)> {
    list.iter().map(|u| (u.user_id.clone(), u.state)).collect()
}

fn owned(want: &[(&str, CallUserState)]) -> Vec<(String, CallUserState)> {
    want.iter().map(|(u, s)| (u.to_string(), *s)).collect()
}

fn changed_pairs(m: &ServerMessage) -> Vec<(String, CallUserState)> {
    match m {
        ServerMessage::CallUserStateChanged(c) => pairs(&c.call_user_list),
        other => panic!("expected callUserStateChanged, got {other:?}"),
    }
}

/// The frame's `type`, as on the wire.
fn kind(m: &ServerMessage) -> String {
    serde_json::to_value(m).unwrap()["type"]
        .as_str()
        .unwrap()
        .to_string()
}

fn info_of(call: CallInfo, user: &str) -> CallUserInfo {
    call.call_user_list
        .into_iter()
        .find(|u| u.user_id == user)
        .unwrap()
}

use CallMode::{Advanced, Normal};

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

/// semantics.md, "Races": of a cancel and an accept that cross, the loser of the cancel
/// gets 3009 callAlreadyAccepted. In a one-to-one normal call the accept also ends the
/// call (nobody is pending), and `checked()` tests liveness before `call_cancel` looks at
/// `answered`, so the caller gets 3004 callEnded instead.
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

/// The invitation a device gets when its user logs in is built before the user's state
/// moves from `inviting` to `received`, so its member list shows the user as `inviting`
/// while everyone else is told `received`.
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

// ---------------------------------------------------------------------------------------
// Sessions coming and going
// ---------------------------------------------------------------------------------------

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

/// A device that disconnects, comes back, then disconnects again gets a fresh grace
/// period counted from its last frame. The timer of the first disconnect is still queued
/// and `tick` only checks that the device is offline when it fires, so it ends the
/// device's participation early.
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

// ---------------------------------------------------------------------------------------
// Advanced mode
// ---------------------------------------------------------------------------------------

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
    assert_eq!(carol.inviter, "bob");
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

#[test]
fn the_last_member_left_alone_ends_the_call() {
    let mut d = Driver::new();
    d.login(1, "alice", "a1");
    d.login(2, "alice", "a2");
    d.login(3, "bob", "b1");
    d.login(4, "bob", "b2");
    d.login(5, "carol", "c1");
    let id = d.invite(1, &["bob", "carol"], Advanced, 60).call_id;
    d.ok(3, accept(&id));
    d.ok(5, reject(&id, RejectReason::Declined));
    assert!(d.call(&id).is_live(), "two accepted");
    d.drain();

    d.ok(3, quit(&id));
    d.assert_written(&id);
    assert_eq!(d.call(&id).state, CallState::Ended);
    assert!(d.events_for(3).is_empty());
    d.expect_changed(4, &id, &[("bob", Quit)]);
    for s in [1, 2] {
        let events = d.events_for(s);
        assert_eq!(
            events.iter().map(kind).collect::<Vec<_>>(),
            ["callUserStateChanged", "callInvitationEnded"]
        );
        let ServerMessage::CallInvitationEnded(e) = &events[1] else {
            unreachable!()
        };
        assert_eq!(e.operated_user_id, "", "the server ended it");
    }
    d.assert_quiet();
    assert_eq!(d.state(&id, "alice"), Accepted);
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

/// The recipients rule: an event goes to every device of its recipients except the
/// session whose request caused it. A cancel that leaves one member alone auto-ends the
/// call, and `check_auto_end` passes no operator to `end_call`, so the cancelling session
/// gets `callInvitationEnded` on top of its response. (Debatable: the response does not
/// tell it the call ended. Reported rather than fixed.)
#[test]

fn the_session_whose_cancel_ends_the_call_gets_only_its_response() {
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
    d.ok(3, cancel(&id, &[]));
    assert_eq!(d.call(&id).state, CallState::Ended);
    let own = d.events_for(3);
    assert!(own.is_empty(), "the acting session got {own:?}");
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

    // bob comes back on his other device; then alice's in-call device leaves: she quits
    // and bob is alone with carol ringing, which keeps the call alive.
    d.ok(4, join(&id));
    d.drain();
    d.logout(1);
    assert_eq!(d.state(&id, "alice"), Quit);
    assert!(d.call(&id).is_live());
    d.ok(5, reject(&id, RejectReason::Declined));
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

// ---------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------

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
    assert_eq!(d.call(&id).state, CallState::Ended, "alice was left alone");
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
        assert_eq!(d.store.get(seq), Some(call));
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
    assert!(d.hub.call_ids.contains_key(&id));
    d.advance(1);
    assert!(
        !d.hub.call_ids.contains_key(&id),
        "evicted after the retention"
    );
    assert_eq!(d.err(13, accept(&id)).code, ErrorCode::CallNotFound);
}

// ---------------------------------------------------------------------------------------
// Random operations
// ---------------------------------------------------------------------------------------

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
                    .get(*id)
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
                        let got: BTreeSet<&str> = r
                            .call_user_list
                            .iter()
                            .map(|m| m.user_id.as_str())
                            .collect();
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
                let seq = self.d.hub.call_ids[&call_id];
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
                // See `the_session_whose_cancel_ends_the_call_gets_only_its_response`.
                ServerMessage::CallInvitationEnded(e) if e.operated_user_id.is_empty() => {}
                other => panic!("the acting session {s} got an event: {other:?}"),
            }
        }
    }

    fn check_invariants(&self) {
        let d = &self.d;
        let hub = &d.hub;
        assert_eq!(hub.online_sessions(), d.online.len());
        let mut live_by_user: BTreeMap<String, BTreeSet<Seq>> = BTreeMap::new();
        for (seq, call) in &hub.calls {
            assert_eq!(call.seq, *seq);
            assert_eq!(hub.call_ids.get(&call.id), Some(seq));
            let pending = call.count(CallUserState::is_pending);
            let accepted = call.count(|s| s == Accepted);
            let users: BTreeSet<&str> = call.members.iter().map(|m| m.user_id.as_str()).collect();
            assert_eq!(users.len(), call.members.len(), "a user is a member once");
            assert!(call.members.len() <= beckon_protocol::limits::MAX_CALL_MEMBERS);
            if !call.is_live() {
                assert!(call.end_time >= call.create_time);
                continue;
            }
            match call.mode {
                Normal => assert!(
                    pending > 0,
                    "live normal call with nobody pending: {call:?}"
                ),
                Advanced => assert!(
                    accepted >= 1 && !(accepted == 1 && pending == 0),
                    "live advanced call with {accepted} accepted, {pending} pending: {call:?}"
                ),
            }
            for m in &call.members {
                live_by_user
                    .entry(m.user_id.clone())
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
        let index: BTreeMap<String, BTreeSet<Seq>> = hub
            .live_by_user
            .iter()
            .map(|(u, seqs)| {
                let set: BTreeSet<Seq> = seqs.iter().copied().collect();
                assert_eq!(set.len(), seqs.len(), "{u} indexed twice in one call");
                (u.clone(), set)
            })
            .collect();
        assert_eq!(index, live_by_user);
        // Storage, replayed, holds what memory holds; what memory let go had ended.
        for (seq, call) in &hub.calls {
            assert_eq!(d.store.get(seq), Some(call), "storage diverged");
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
