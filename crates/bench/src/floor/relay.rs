//! What both floors do with a request, whatever carries it: the part of Beckon's protocol
//! the bench uses (login, heartbeat, callInvite, callAccept, callReject, callCancel),
//! routed between live connections through an in-memory map and nothing else. No storage,
//! no timers, no rate limits, one device per user: the least a relay must do to serve the
//! bench's phases, which is what makes it a floor for Beckon's costs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use beckon_protocol::limits::{
    DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_TIMEOUT_SECS, HEARTBEATS_PER_TIMEOUT,
    OUTBOUND_QUEUE_FRAMES,
};
use beckon_protocol::{
    CallAnswer, CallCancel, CallCancelResult, CallIdResult, CallInvitationCancelled, CallInvite,
    CallInviteResult, CallMode, CallReject, CallUserInfo, CallUserState, CallUserStateChanged,
    ErrorBody, ErrorCode, HeartbeatResult, IceConfig, InvitationInfo, Login, LoginResult,
    PushConfig, Request, RequestBody, Response, ResponseBody, ServerMessage, StateReason,
    PROTOCOL_VERSION,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The frames waiting for one connection. Bounded like Beckon's per-connection queue, and
/// handled the same way when full: the connection is cut rather than allowed to grow.
pub type Outbox = mpsc::Receiver<String>;

#[derive(Default)]
pub struct Relay {
    users: Mutex<HashMap<String, Peer>>,
    calls: Mutex<HashMap<String, Call>>,
    next_call: AtomicU64,
    next_conn: AtomicU64,
}

#[derive(Clone)]
struct Peer {
    conn: u64,
    tx: mpsc::Sender<String>,
    cut: CancellationToken,
}

impl Peer {
    /// Queues without waiting, as Beckon does: a connection that is not reading is cut.
    fn offer(&self, text: String) {
        if self.tx.try_send(text).is_err() {
            self.cut.cancel();
        }
    }
}

/// A call while some invitee has not answered; forgotten once nobody is pending, as a
/// normal-mode call ends then.
struct Call {
    caller: String,
    caller_name: String,
    mode: CallMode,
    create_time: u64,
    timeout: u32,
    extended_data: String,
    push_config: Option<PushConfig>,
    /// The caller first, then the invitees.
    members: Vec<CallUserInfo>,
}

/// One connection's side of the relay.
pub struct Session {
    me: Peer,
    user: Option<(String, String)>,
}

impl Session {
    /// Cancelled when the relay could not queue a frame for this connection.
    pub fn cut(&self) -> CancellationToken {
        self.me.cut.clone()
    }
}

impl Relay {
    pub fn open(&self) -> (Session, Outbox) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
        let me = Peer {
            conn: self.next_conn.fetch_add(1, Ordering::Relaxed),
            tx,
            cut: CancellationToken::new(),
        };
        (Session { me, user: None }, rx)
    }

    /// Forgets the connection, and the calls its user was in: nothing would end them.
    pub fn close(&self, session: &Session) {
        let Some((user, _)) = &session.user else {
            return;
        };
        {
            let mut users = lock(&self.users);
            if users.get(user).is_some_and(|p| p.conn == session.me.conn) {
                users.remove(user);
            }
        }
        lock(&self.calls).retain(|_, c| c.members.iter().all(|m| &m.user_id != user));
    }

    /// Handles one text frame; returns the answer for the sender. Events for others are
    /// queued on their connections before the answer is returned, as in Beckon, where the
    /// invitee's ring and the caller's answer leave in the same batch.
    pub fn handle(&self, session: &mut Session, text: &str) -> String {
        let request: Request = match serde_json::from_str(text) {
            Ok(r) => r,
            Err(e) => return error(None, ErrorCode::InvalidRequest, e.to_string()),
        };
        let id = request.id;
        let result = match request.body {
            RequestBody::Heartbeat => Ok(ResponseBody::Heartbeat(HeartbeatResult {
                server_time: now_ms(),
            })),
            RequestBody::Login(login) => self.login(session, login),
            body => match session.user.clone() {
                None => Err((ErrorCode::NotLoggedIn, "log in first")),
                Some((user, name)) => self.call_request(&user, &name, body),
            },
        };
        let msg = match result {
            Ok(result) => ServerMessage::Response(Response { id, result }),
            Err((code, text)) => ServerMessage::Error(ErrorBody::new(Some(id), code, text)),
        };
        encode(&msg)
    }

    fn login(&self, session: &mut Session, login: Login) -> Answer {
        if session.user.is_some() {
            return Err((ErrorCode::AlreadyLoggedIn, "already logged in"));
        }
        let device_id = login
            .device_id
            .unwrap_or_else(|| format!("d{}", session.me.conn));
        // A second login of the same user replaces the first, as a reconnect does.
        lock(&self.users).insert(login.user_id.clone(), session.me.clone());
        session.user = Some((login.user_id.clone(), login.user_name.clone()));
        Ok(ResponseBody::Login(LoginResult {
            user_id: login.user_id,
            user_name: login.user_name,
            device_id,
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: DEFAULT_HEARTBEAT_TIMEOUT_MS / HEARTBEATS_PER_TIMEOUT,
            heartbeat_timeout_ms: DEFAULT_HEARTBEAT_TIMEOUT_MS,
            server_time: now_ms(),
            ice: IceConfig::default(),
        }))
    }

    fn call_request(&self, user: &str, name: &str, body: RequestBody) -> Answer {
        match body {
            RequestBody::CallInvite(invite) => self.invite(user, name, invite),
            RequestBody::CallAccept(CallAnswer {
                call_id,
                extended_data,
            }) => self
                .answer(user, &call_id, CallUserState::Accepted, None, extended_data)
                .map(|_| ResponseBody::CallAccept(CallIdResult { call_id })),
            RequestBody::CallReject(CallReject {
                call_id,
                extended_data,
                reason,
            }) => {
                let reason = Some(reason.into());
                self.answer(
                    user,
                    &call_id,
                    CallUserState::Rejected,
                    reason,
                    extended_data,
                )
                .map(|_| ResponseBody::CallReject(CallIdResult { call_id }))
            }
            RequestBody::CallCancel(cancel) => self.cancel(user, cancel),
            _ => Err((
                ErrorCode::UnknownType,
                "the floor relays only what the bench sends",
            )),
        }
    }

    fn invite(&self, user: &str, name: &str, r: CallInvite) -> Answer {
        let now = now_ms();
        let call_id = self.new_call_id();
        let timeout = r.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS);
        let member = |user_id: &str, state| CallUserInfo {
            user_id: user_id.to_owned(),
            state,
            extended_data: String::new(),
            reason: None,
            inviter: user.to_owned(),
            update_time: now,
        };
        let mut members = Vec::with_capacity(1 + r.invitees.len());
        members.push(member(user, CallUserState::Accepted));
        let mut ring = Vec::new();
        {
            let users = lock(&self.users);
            for invitee in &r.invitees {
                if invitee == user || members.iter().any(|m| &m.user_id == invitee) {
                    continue;
                }
                // Offline invitees are listed as `inviting` but never rung: the floor
                // keeps nothing for later.
                let state = match users.get(invitee) {
                    Some(peer) => {
                        ring.push((peer.clone(), members.len()));
                        CallUserState::Received
                    }
                    None => CallUserState::Inviting,
                };
                members.push(member(invitee, state));
            }
        }
        if members.len() == 1 {
            return Err((ErrorCode::NoValidInvitees, "nobody to invite"));
        }
        let call = Call {
            caller: user.to_owned(),
            caller_name: name.to_owned(),
            mode: r.mode,
            create_time: now,
            timeout,
            extended_data: r.extended_data,
            push_config: r.push_config,
            members,
        };
        let result = CallInviteResult {
            call_id: call_id.clone(),
            timeout,
            create_time: now,
            call_user_list: call.members[1..].to_vec(),
            error_invitees: Vec::new(),
        };
        for (peer, i) in &ring {
            let info = call.invitation(&call.members[*i], call_id.clone());
            peer.offer(encode(&ServerMessage::CallInvitationReceived(info)));
        }
        if !ring.is_empty() {
            lock(&self.calls).insert(call_id, call);
        }
        Ok(ResponseBody::CallInvite(result))
    }

    /// An invitee's accept or reject: its new state goes to the caller.
    fn answer(
        &self,
        user: &str,
        call_id: &str,
        state: CallUserState,
        reason: Option<StateReason>,
        extended_data: String,
    ) -> Result<(), (ErrorCode, &'static str)> {
        let (caller, changed) = {
            let mut calls = lock(&self.calls);
            let Some(call) = calls.get_mut(call_id) else {
                return Err((ErrorCode::CallNotFound, "no such call ringing"));
            };
            let Some(m) = call.members[1..].iter_mut().find(|m| m.user_id == user) else {
                return Err((ErrorCode::CallNotFound, "not invited to this call"));
            };
            if m.state != CallUserState::Received {
                return Err((ErrorCode::StateForbidden, "already answered"));
            }
            m.state = state;
            m.reason = reason;
            m.extended_data = extended_data;
            m.update_time = now_ms();
            let changed = m.clone();
            let caller = call.caller.clone();
            if !call.members.iter().any(|m| m.state.is_pending()) {
                calls.remove(call_id);
            }
            (caller, changed)
        };
        let msg = ServerMessage::CallUserStateChanged(CallUserStateChanged {
            call_id: call_id.to_owned(),
            call_user_list: vec![changed],
        });
        self.send(&caller, encode(&msg));
        Ok(())
    }

    /// The caller gives up: every invitee still ringing is told.
    fn cancel(&self, user: &str, r: CallCancel) -> Answer {
        let Some(call) = lock(&self.calls).remove(&r.call_id) else {
            return Err((ErrorCode::CallNotFound, "no such call ringing"));
        };
        if call.caller != user {
            lock(&self.calls).insert(r.call_id, call);
            return Err((ErrorCode::NotInviter, "only the caller can cancel"));
        }
        let msg = encode(&ServerMessage::CallInvitationCancelled(
            CallInvitationCancelled {
                call_id: r.call_id.clone(),
                inviter: user.to_owned(),
                extended_data: r.extended_data,
                reason: StateReason::CancelledByInviter,
            },
        ));
        for m in call.members[1..].iter().filter(|m| m.state.is_pending()) {
            self.send(&m.user_id, msg.clone());
        }
        Ok(ResponseBody::CallCancel(CallCancelResult {
            call_id: r.call_id,
            error_invitees: Vec::new(),
        }))
    }

    fn send(&self, user: &str, text: String) {
        let peer = lock(&self.users).get(user).cloned();
        if let Some(peer) = peer {
            peer.offer(text);
        }
    }

    /// Shaped and sized like Beckon's random UUIDs, so frames weigh the same.
    fn new_call_id(&self) -> String {
        let n = self.next_call.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

impl Call {
    fn invitation(&self, invitee: &CallUserInfo, call_id: String) -> InvitationInfo {
        InvitationInfo {
            call_id,
            caller: self.caller.clone(),
            caller_name: self.caller_name.clone(),
            inviter: invitee.inviter.clone(),
            mode: self.mode,
            timeout: self.timeout,
            create_time: self.create_time,
            expire_time: Some(self.create_time + u64::from(self.timeout) * 1000),
            extended_data: self.extended_data.clone(),
            push_config: self.push_config.clone(),
            call_user_list: self.members.clone(),
        }
    }
}

type Answer = Result<ResponseBody, (ErrorCode, &'static str)>;

fn error(id: Option<u64>, code: ErrorCode, text: String) -> String {
    encode(&ServerMessage::Error(ErrorBody::new(id, code, text)))
}

fn encode(msg: &ServerMessage) -> String {
    // The protocol's types hold only strings, numbers and enums: they always encode.
    serde_json::to_string(msg).unwrap_or_default()
}

/// A poisoned map is still a consistent map: every critical section above only inserts,
/// removes or assigns.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

use beckon_protocol::now_unix_ms as now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: u64, body: RequestBody) -> String {
        serde_json::to_string(&Request { id, body }).unwrap()
    }

    fn login(relay: &Relay, user: &str) -> (Session, Outbox) {
        let (mut s, outbox) = relay.open();
        let body = RequestBody::Login(Login {
            user_id: user.into(),
            user_name: user.into(),
            token: None,
            device_id: None,
        });
        let answer = relay.handle(&mut s, &request(1, body));
        assert!(answer.contains(r#""type":"login""#), "{answer}");
        (s, outbox)
    }

    fn next(outbox: &mut Outbox) -> ServerMessage {
        serde_json::from_str(&outbox.try_recv().expect("a queued frame")).unwrap()
    }

    #[test]
    fn an_invitation_rings_the_invitee_and_its_answer_reaches_the_caller() {
        let relay = Relay::default();
        let (mut caller, mut caller_out) = login(&relay, "u0");
        let (mut invitee, mut invitee_out) = login(&relay, "u1");
        let invite = RequestBody::CallInvite(CallInvite {
            invitees: vec!["u1".into()],
            timeout: Some(60),
            mode: CallMode::Normal,
            extended_data: String::new(),
            push_config: None,
        });
        let answer: ServerMessage =
            serde_json::from_str(&relay.handle(&mut caller, &request(2, invite))).unwrap();
        let ServerMessage::Response(Response {
            id: 2,
            result: ResponseBody::CallInvite(result),
        }) = answer
        else {
            panic!("not a callInvite answer: {answer:?}")
        };
        assert_eq!(result.call_user_list[0].state, CallUserState::Received);
        let ServerMessage::CallInvitationReceived(info) = next(&mut invitee_out) else {
            panic!("the invitee was not rung")
        };
        assert_eq!(
            (info.call_id.as_str(), info.caller.as_str()),
            (result.call_id.as_str(), "u0")
        );

        let reject = RequestBody::CallReject(CallReject {
            call_id: info.call_id.clone(),
            extended_data: String::new(),
            reason: Default::default(),
        });
        let answer = relay.handle(&mut invitee, &request(2, reject.clone()));
        assert!(answer.contains(r#""type":"callReject""#), "{answer}");
        let ServerMessage::CallUserStateChanged(change) = next(&mut caller_out) else {
            panic!("the caller was not told")
        };
        assert_eq!(change.call_user_list[0].state, CallUserState::Rejected);
        // Nobody is pending: the call is gone, and a second answer finds nothing.
        let again = relay.handle(&mut invitee, &request(3, reject));
        assert!(again.contains(r#""type":"error""#), "{again}");
        assert!(caller_out.try_recv().is_err() && invitee_out.try_recv().is_err());
    }

    #[test]
    fn a_cancel_reaches_the_invitee_and_a_closed_connection_is_forgotten() {
        let relay = Relay::default();
        let (mut caller, _caller_out) = login(&relay, "u0");
        let (invitee, mut invitee_out) = login(&relay, "u1");
        let invite = RequestBody::CallInvite(CallInvite {
            invitees: vec!["u1".into(), "u1".into(), "u0".into()],
            timeout: None,
            mode: CallMode::Normal,
            extended_data: String::new(),
            push_config: None,
        });
        relay.handle(&mut caller, &request(2, invite));
        let ServerMessage::CallInvitationReceived(info) = next(&mut invitee_out) else {
            panic!("the invitee was not rung")
        };
        assert_eq!(
            info.call_user_list.len(),
            2,
            "duplicates and self are skipped"
        );
        let cancel = RequestBody::CallCancel(CallCancel {
            call_id: info.call_id,
            invitees: Vec::new(),
            extended_data: String::new(),
        });
        relay.handle(&mut caller, &request(3, cancel));
        assert!(matches!(
            next(&mut invitee_out),
            ServerMessage::CallInvitationCancelled(_)
        ));
        relay.close(&invitee);
        assert!(!lock(&relay.users).contains_key("u1"));
        assert!(lock(&relay.calls).is_empty());
    }

    #[test]
    fn a_full_queue_cuts_the_connection_instead_of_growing() {
        let relay = Relay::default();
        let (session, _outbox) = login(&relay, "u1");
        for _ in 0..=OUTBOUND_QUEUE_FRAMES {
            relay.send("u1", "{}".into());
        }
        assert!(session.cut().is_cancelled());
    }
}
