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

mod advanced;
mod normal;
mod persistence;
mod random;
mod sessions;
mod timers;

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
            ice: beckon_protocol::IceConfig::default(),
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
            self.last_writes
                .iter()
                .filter(|c| &*c.id == call_id)
                .count(),
            1,
            "the change to {call_id} was not written"
        );
        let written = self.last_writes.iter().find(|c| &*c.id == call_id).unwrap();
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
