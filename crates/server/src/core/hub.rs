use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use beckon_protocol::{
    CallInvitationEnded, CallMode, CallState, CallUserState, CallUserStateChanged, ErrorBody,
    ErrorCode, IceConfig, RequestBody, Response, ResponseBody, ServerMessage, StateReason,
};

use serde::{Deserialize, Serialize};

use super::presence::Presence;
use super::seqs::Seqs;
use super::table::{self, Event};
use super::timers::{TimerKey, Timers};
use super::{node_of, Batch, Call, NodeId, Out, Seq, SessionId};

#[derive(Debug, Clone)]
pub struct HubConfig {
    /// How long a device may be silent or away before it counts as gone.
    pub heartbeat_timeout_ms: u64,
    /// How long an ended call stays in memory, so late requests on it get a precise answer
    /// ("already accepted on another device") rather than "not found".
    pub ended_retention_ms: u64,
    /// At most this many ended calls stay in memory, however young: at thousands of calls
    /// a second, time alone would let them pile up.
    pub max_ended_in_memory: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            heartbeat_timeout_ms: beckon_protocol::limits::DEFAULT_HEARTBEAT_TIMEOUT_MS,
            ended_retention_ms: 60_000,
            max_ended_in_memory: 50_000,
        }
    }
}

/// A login whose credentials the connection already checked.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginInput {
    pub session: SessionId,
    pub req: u64,
    pub user_id: String,
    pub user_name: String,
    pub device_id: Option<String>,
    /// Minted by the connection, so the hub neither holds the TURN secret nor spends its
    /// time on HMACs.
    pub ice: IceConfig,
    /// When the request arrived, to time it; in a cluster, when it reached the leader.
    #[serde(skip, default = "Instant::now")]
    pub started: Instant,
}

/// What the hub takes. Also what cluster nodes send the leader ([`crate::cluster`]):
/// the request was parsed and checked by the node's connection, and the hub applies it
/// as if its own connection had.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "camelCase")]
pub enum Input {
    Login(LoginInput),
    /// Any other request that needs call state (everything but heartbeat, history and ICE).
    Request {
        session: SessionId,
        req: u64,
        body: RequestBody,
        #[serde(skip, default = "Instant::now")]
        started: Instant,
    },
    /// The connection ended without logout; `last_seen` is when it last sent anything.
    #[serde(rename_all = "camelCase")]
    Disconnected {
        session: SessionId,
        last_seen: u64,
    },
    /// A cluster node stopped answering: each of its sessions ended as if disconnected,
    /// at `last_seen`, the node's last sign of life.
    NodeGone {
        node: NodeId,
        last_seen: u64,
    },
}

/// A request's refusal, turned into an `error` frame.
#[derive(Debug)]
pub(super) struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub state: Option<CallUserState>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            state: None,
        }
    }
}

#[derive(Debug)]
pub struct Stats {
    pub started: usize,
    /// Ended calls still held for late requests (see `HubConfig::ended_retention_ms`).
    pub recently_ended: usize,
    pub members: [(CallUserState, usize); 7],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: 0,
            recently_ended: 0,
            members: CallUserState::ALL.map(|s| (s, 0)),
        }
    }
}

pub struct Hub {
    pub(super) config: HubConfig,
    /// Boxed: a map keeps spare room for growth, and a spare slot is then 16 bytes, not
    /// a whole call.
    pub(super) calls: HashMap<Seq, Box<Call>>,
    pub(super) call_ids: HashMap<Arc<str>, Seq>,
    /// Live calls each user is a member of: for login delivery and the "in a call" check.
    pub(super) live_by_user: HashMap<Arc<str>, Seqs>,
    pub(super) presence: Presence,
    /// Devices that left without logging out, with the moment they count as gone. Only
    /// the latest departure counts: a device that came back and left again gets a new
    /// grace period. Its older timer went when it came back; were one left, it would find
    /// a different deadline here and do nothing.
    pub(super) away: HashMap<(String, String), u64>,
    pub(super) timers: Timers,
    /// Ended calls still in memory, in the order they ended.
    ended: VecDeque<(u64, Seq)>,
    pub(super) next_seq: Seq,
    new_id: Box<dyn FnMut() -> String + Send>,
    dirty: BTreeSet<Seq>,
    out: Vec<Out>,
}

impl Hub {
    /// `new_id` makes call and device IDs: random in production, predictable in tests.
    pub fn new(config: HubConfig, new_id: Box<dyn FnMut() -> String + Send>) -> Hub {
        Hub {
            config,
            calls: HashMap::new(),
            call_ids: HashMap::new(),
            live_by_user: HashMap::new(),
            presence: Presence::default(),
            away: HashMap::new(),
            timers: Timers::default(),
            ended: VecDeque::new(),
            next_seq: 1,
            new_id,
            dirty: BTreeSet::new(),
            out: Vec::new(),
        }
    }

    /// Loads calls from storage after a restart. Nobody is online yet, so every device
    /// bound to a call gets the usual grace period to come back before it counts as gone;
    /// deadlines that passed while the server was down fire on the first tick.
    pub fn restore(&mut self, calls: Vec<Call>, now: u64) {
        let mut ended = Vec::new();
        for mut call in calls {
            self.next_seq = self.next_seq.max(call.seq + 1);
            if call.is_live() {
                // Rows come back with a string each; share one per user again.
                call.caller = self.user_id(&call.caller);
                for m in &mut call.members {
                    m.user_id = self.user_id(&m.user_id);
                    m.inviter = self.user_id(&m.inviter);
                    self.live_by_user.entry(m.user_id.clone()).or_default();
                }
                for (i, m) in call.members.iter().enumerate() {
                    self.live_by_user
                        .entry(m.user_id.clone())
                        .or_default()
                        .push(call.seq);
                    if m.state.is_pending() {
                        self.timers
                            .add(m.invite.deadline, TimerKey::invitee(call.seq, i));
                    }
                    if let Some(device) = &m.device {
                        self.device_left(
                            m.user_id.to_string(),
                            device.to_string(),
                            now + self.config.heartbeat_timeout_ms,
                        );
                    }
                }
            } else {
                ended.push((call.end_time, call.seq));
            }
            self.call_ids.insert(call.id.clone(), call.seq);
            self.calls.insert(call.seq, Box::new(call));
        }
        ended.sort_unstable();
        self.ended.extend(ended);
    }

    pub fn set_next_seq(&mut self, seq: Seq) {
        self.next_seq = self.next_seq.max(seq);
    }

    pub fn handle(&mut self, now: u64, input: Input) {
        match input {
            Input::Login(login) => self.login(now, login),
            Input::Request {
                session,
                req,
                body,
                started,
            } => {
                let kind = body.kind();
                let result = if self.presence.get(session).is_none() {
                    Err(Refusal::new(ErrorCode::NotLoggedIn, "log in first"))
                } else {
                    self.request(now, session, body)
                };
                self.answer(session, req, kind.as_str(), started, result);
                // Logout closes only after its answer is queued.
                if kind == beckon_protocol::RequestKind::Logout {
                    self.finish_logout(now, session);
                }
            }
            Input::Disconnected { session, last_seen } => {
                self.disconnected(now, session, last_seen)
            }
            Input::NodeGone { node, last_seen } => {
                for session in self
                    .presence
                    .ids()
                    .filter(|s| node_of(*s) == node)
                    .collect::<Vec<_>>()
                {
                    self.disconnected(now, session, last_seen);
                }
            }
        }
    }

    fn request(
        &mut self,
        now: u64,
        session: SessionId,
        body: RequestBody,
    ) -> Result<ResponseBody, Refusal> {
        match body {
            RequestBody::CallInvite(r) => self.call_invite(now, session, r),
            RequestBody::CallCancel(r) => self.call_cancel(now, session, r),
            RequestBody::CallAccept(r) => self.call_accept(now, session, r),
            RequestBody::CallReject(r) => self.call_reject(now, session, r),
            RequestBody::CallingInvite(r) => self.calling_invite(now, session, r),
            RequestBody::CallJoin(r) => self.call_join(now, session, r),
            RequestBody::CallQuit(r) => self.call_quit(now, session, r),
            RequestBody::CallEnd(r) => self.call_end(now, session, r),
            RequestBody::Relay(r) => self.relay(session, r),
            RequestBody::Logout => Ok(ResponseBody::Logout),
            RequestBody::Login(_)
            | RequestBody::Heartbeat
            | RequestBody::QueryIceConfig
            | RequestBody::QueryCallInvitationList(_) => Err(Refusal::new(
                ErrorCode::Internal,
                "this request is served by the connection, not the hub",
            )),
        }
    }

    pub(super) fn answer(
        &mut self,
        session: SessionId,
        req: u64,
        kind: &'static str,
        started: Instant,
        result: Result<ResponseBody, Refusal>,
    ) {
        let msg = match result {
            Ok(result) => ServerMessage::Response(Response { id: req, result }),
            Err(r) => ServerMessage::Error(ErrorBody {
                state: r.state,
                ..ErrorBody::new(Some(req), r.code, r.message)
            }),
        };
        self.out.push(Out::Send {
            to: vec![session],
            msg,
            timing: Some((kind, started)),
        });
    }

    /// Fires every deadline due at `now`.
    pub fn tick(&mut self, now: u64) {
        while let Some((at, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Invitee { seq, member } => {
                    let user = self
                        .calls
                        .get(&seq)
                        .and_then(|c| c.members.get(member as usize))
                        .map(|m| m.user_id.clone());
                    if let Some(user) = user {
                        self.invitee_deadline(now, seq, &user);
                    }
                }
                TimerKey::DeviceGone(k) => {
                    let k = *k;
                    if self.away.get(&k) == Some(&at) {
                        self.away.remove(&k);
                        self.device_gone(now, &k.0, &k.1);
                    }
                }
            }
        }
        self.evict_ended(now);
    }

    /// Drops ended calls past their retention, oldest first (their history stays stored).
    fn evict_ended(&mut self, now: u64) {
        while let Some(&(end_time, seq)) = self.ended.front() {
            let expired = end_time + self.config.ended_retention_ms <= now;
            if !expired && self.ended.len() <= self.config.max_ended_in_memory {
                break;
            }
            self.ended.pop_front();
            if let Some(call) = self.calls.remove(&seq) {
                self.call_ids.remove(&call.id);
            }
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.next_deadline()
    }

    /// Everything produced since the last call, writes first-class: the runtime must make
    /// `writes` durable before releasing `outs`.
    pub fn take_batch(&mut self) -> Batch {
        let writes = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|seq| self.calls.get(&seq).map(|c| Call::clone(c)))
            .collect();
        Batch {
            writes,
            outs: std::mem::take(&mut self.out),
        }
    }

    pub fn live_calls(&self) -> usize {
        self.calls.values().filter(|c| c.is_live()).count()
    }

    /// Calls in memory by call state, and members of live calls by user state: what an
    /// operator watches to see how many people are ringing or talking right now.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        for call in self.calls.values() {
            if call.is_live() {
                stats.started += 1;
                for m in &call.members {
                    let i = CallUserState::ALL
                        .iter()
                        .position(|s| *s == m.state)
                        .unwrap_or(0);
                    stats.members[i].1 += 1;
                }
            } else {
                stats.recently_ended += 1;
            }
        }
        stats
    }

    pub fn online_sessions(&self) -> usize {
        self.presence.len()
    }

    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    // ---- helpers shared by requests and lifecycle ----

    pub(super) fn new_id(&mut self) -> String {
        (self.new_id)()
    }

    pub(super) fn mark_dirty(&mut self, seq: Seq) {
        self.dirty.insert(seq);
    }

    pub(super) fn send(&mut self, to: Vec<SessionId>, msg: ServerMessage) {
        if !to.is_empty() {
            self.out.push(Out::Send {
                to,
                msg,
                timing: None,
            });
        }
    }

    pub(super) fn push_out(&mut self, out: Out) {
        self.out.push(out);
    }

    /// Every session of `users`, but not `except` (the session that caused the event).
    pub(super) fn sessions_of<'a>(
        &self,
        users: impl IntoIterator<Item = &'a str>,
        except: Option<SessionId>,
    ) -> Vec<SessionId> {
        let mut out = Vec::new();
        for user in users {
            for &s in self.presence.sessions_of(user) {
                if Some(s) != except && !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Tells the members who listen for state changes (and the acting user's own other
    /// devices, so they stop ringing) that `changed` members have new states.
    pub(super) fn state_changed(
        &mut self,
        seq: Seq,
        changed: &[String],
        actor: Option<(&str, SessionId)>,
        skip: &[String],
    ) {
        let Some(call) = self.calls.get(&seq) else {
            return;
        };
        let list = call
            .members
            .iter()
            .filter(|m| changed.iter().any(|c| **c == *m.user_id))
            .map(|m| m.info())
            .collect::<Vec<_>>();
        if list.is_empty() {
            return;
        }
        let mut users: Vec<&str> = call
            .members
            .iter()
            .filter(|m| table::receives(Event::UserStateChanged, m.state))
            .filter(|m| !skip.iter().any(|c| **c == *m.user_id))
            .map(|m| &*m.user_id)
            .collect();
        if let Some((user, _)) = actor {
            users.push(user);
        }
        let to = self.sessions_of(users, actor.map(|(_, s)| s));
        let msg = ServerMessage::CallUserStateChanged(CallUserStateChanged {
            call_id: call.id.to_string(),
            call_user_list: list,
        });
        self.send(to, msg);
    }

    /// Ends the call when the model says it is over. Normal mode: once nobody is pending,
    /// the seed's "all invitees answered". Advanced mode: the seed extends the call's life
    /// to `callEnd`, during which members may invite others, so a member left alone keeps
    /// it (and can still invite); only a call with nobody `accepted` left ends by itself,
    /// because nobody could send `callEnd` or invite any more.
    /// `actor` is the session whose request caused this; it learns from its response.
    pub(super) fn check_auto_end(&mut self, now: u64, seq: Seq, actor: Option<SessionId>) {
        let Some(call) = self.calls.get(&seq) else {
            return;
        };
        if !call.is_live() {
            return;
        }
        match call.mode {
            CallMode::Normal if call.count(CallUserState::is_pending) == 0 => {
                self.end_call(now, seq, None, actor, String::new(), false)
            }
            CallMode::Advanced if call.count(|s| s == CallUserState::Accepted) == 0 => {
                self.end_call(now, seq, None, actor, String::new(), true)
            }
            _ => {}
        }
    }

    /// Marks the call ended; members keep their states (as in ZIM). With `notify`, members
    /// still ringing or in the call get `callInvitationEnded`.
    pub(super) fn end_call(
        &mut self,
        now: u64,
        seq: Seq,
        operator: Option<&str>,
        except: Option<SessionId>,
        extended_data: String,
        notify: bool,
    ) {
        let Some(call) = self.calls.get_mut(&seq) else {
            return;
        };
        call.state = CallState::Ended;
        call.end_time = now;
        // Members keep their states, but nobody's invitation can time out any more.
        for (i, m) in call.members.iter().enumerate() {
            self.timers.remove_invitee(seq, i, m);
        }
        let members: Vec<Arc<str>> = call.members.iter().map(|m| m.user_id.clone()).collect();
        for user in &members {
            if let Some(list) = self.live_by_user.get_mut(user) {
                list.retain(|s| *s != seq);
                if list.is_empty() {
                    self.live_by_user.remove(user);
                }
            }
        }
        self.mark_dirty(seq);
        self.ended.push_back((now, seq));
        if !notify {
            return;
        }
        let call = &self.calls[&seq];
        let users = call
            .members
            .iter()
            .filter(|m| table::receives(Event::Ended, m.state))
            .map(|m| &*m.user_id);
        let to = self.sessions_of(users, except);
        let msg = ServerMessage::CallInvitationEnded(CallInvitationEnded {
            call_id: call.id.to_string(),
            caller: call.caller.to_string(),
            mode: call.mode,
            operated_user_id: operator.map(str::to_string).unwrap_or_default(),
            extended_data,
            end_time: now,
        });
        self.send(to, msg);
    }

    /// True when `user` is in a call that has not ended: it may not start another.
    pub(super) fn in_call(&self, user: &str) -> bool {
        self.live_by_user.get(user).is_some_and(|seqs| {
            seqs.iter().any(|seq| {
                self.calls[seq]
                    .member(user)
                    .is_some_and(|m| m.state == CallUserState::Accepted)
            })
        })
    }

    /// The one allocation of `user`'s ID: the one presence or the call index already
    /// holds, when there is one.
    pub(super) fn user_id(&self, user: &str) -> Arc<str> {
        self.presence
            .user_id(user)
            .or_else(|| self.live_by_user.get_key_value(user).map(|(id, _)| id))
            .cloned()
            .unwrap_or_else(|| Arc::from(user))
    }

    pub(super) fn index_member(&mut self, user: &Arc<str>, seq: Seq) {
        let list = self.live_by_user.entry(user.clone()).or_default();
        if !list.contains(&seq) {
            list.push(seq);
        }
    }

    /// Starts the grace period of a device that left without logging out.
    pub(super) fn device_left(&mut self, user: String, device: String, at: u64) {
        let key = (user, device);
        let before = self.away.insert(key.clone(), at);
        let timer = TimerKey::DeviceGone(Box::new(key));
        if let Some(before) = before.filter(|b| *b != at) {
            self.timers.remove(before, timer.clone());
        }
        self.timers.add(at, timer);
    }

    /// The device is back before its grace period ran out: it is not gone after all.
    pub(super) fn device_back(&mut self, user: &str, device: &str) {
        let key = (user.to_string(), device.to_string());
        if let Some(at) = self.away.remove(&key) {
            self.timers.remove(at, TimerKey::DeviceGone(Box::new(key)));
        }
    }

    pub(super) fn add_timer(&mut self, at: u64, key: TimerKey) {
        self.timers.add(at, key);
    }

    /// Moves `user`'s state in call `seq` and returns the state it had, or `None` if there
    /// is no such member. Every member state change goes through here, so a member that
    /// stops being pending loses its timeout in this one place.
    pub(super) fn set_member_state(
        &mut self,
        seq: Seq,
        user: &str,
        state: CallUserState,
        reason: Option<StateReason>,
        now: u64,
    ) -> Option<CallUserState> {
        let call = self.calls.get_mut(&seq)?;
        let i = call.members.iter().position(|m| &*m.user_id == user)?;
        let m = &mut call.members[i];
        let before = m.state;
        if !state.is_pending() {
            self.timers.remove_invitee(seq, i, m);
        }
        m.set_state(state, reason, now);
        Some(before)
    }
}
