//! The call manager's state machine: the seed's busy diagram (Free, Outgoing, Incoming,
//! InCall) as plain code. It is fed intents, client events, request results and clock
//! ticks, and answers with effects (requests to send, updates to emit). No sockets, no
//! clock of its own: the driver does the I/O, the tests do without.
//!
//! Every call is made in advanced mode, because only there does a call stay "in progress"
//! on the server after the accept, so a 1:1 hang-up can end it for both sides (`callEnd`)
//! and a group member can leave without ending it for the others (`callQuit`). The price:
//! the server keeps an advanced call until `callEnd` or until nobody is in it, so when the
//! other side of a 1:1 call leaves, or nobody took an outgoing call, the machine ends it.

use std::collections::{HashMap, HashSet};

use beckon_protocol::{CallInviteResult, CallUserState, RejectReason};

use super::extras;
use super::model::*;
use crate::sdk::{ConnectionState, Event, HeartbeatTiming};

mod members;
mod ops;

pub use ops::{Effect, Intent, MachineConfig, Op, OpId, OpResult};

/// What to do with the answer to a request made for a call the user already left.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Orphan {
    /// A call was created after the user cancelled it: cancel it.
    CancelInvite,
    /// An accept went through after the user hung up: end the call.
    EndAccepted(String),
}

/// Early events are kept while the call ID is not known yet; more than this is a flood.
const EARLY_MAX: usize = 64;

#[derive(Debug, Clone)]
struct Call {
    view: CallView,
    phase: Phase,
    my_state: CallUserState,
    invite_op: Option<OpId>,
    accept_op: Option<OpId>,
    more_ops: Vec<OpId>,
    /// Members a device of which was ever told (to tell "no answer" from "unreachable").
    reached: HashSet<String>,
    /// Events that may belong to this call, seen before its ID was known.
    early: Vec<Event>,
    /// Outgoing: the local time after which the server must have timed everyone out.
    deadline: Option<u64>,
    /// The call ended while this user's accept was on its way: whether the user was in it
    /// (ended by the peer) or not (cancelled) is known only from the accept's answer.
    ended_while_accepting: bool,
}

#[derive(Debug, Clone)]
pub struct Machine {
    me: String,
    my_name: String,
    cfg: MachineConfig,
    call: Option<Call>,
    connection: Connection,
    down_since: Option<u64>,
    /// A connection down this long means the server has given this device up (its
    /// heartbeat timeout, from the last login): an outgoing call was cancelled and an
    /// in-call user quit.
    lost_after_ms: u64,
    next_op: OpId,
    orphans: HashMap<OpId, Orphan>,
    out: Vec<Effect>,
    /// The time of the input being handled.
    now: u64,
}

impl Machine {
    pub fn new(me: impl Into<String>, my_name: impl Into<String>, cfg: MachineConfig) -> Self {
        Machine {
            me: me.into(),
            my_name: my_name.into(),
            cfg,
            call: None,
            connection: Connection::Connecting,
            down_since: None,
            lost_after_ms: HeartbeatTiming::default().timeout.as_millis() as u64,
            next_op: 1,
            orphans: HashMap::new(),
            out: Vec::new(),
            now: 0,
        }
    }

    pub fn phase(&self) -> Phase {
        self.call.as_ref().map_or(Phase::Free, |c| c.phase)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            user_id: self.me.clone(),
            user_name: self.my_name.clone(),
            phase: self.phase(),
            call: self.call.as_ref().map(|c| c.view.clone()),
            connection: self.connection.clone(),
            do_not_disturb: self.cfg.do_not_disturb,
        }
    }

    /// Requests whose answers the machine still waits for (for the property test).
    #[cfg(test)]
    pub(crate) fn awaited_ops(&self) -> Vec<OpId> {
        let mut ops: Vec<OpId> = self.orphans.keys().copied().collect();
        if let Some(c) = &self.call {
            ops.extend(c.invite_op);
            ops.extend(c.accept_op);
            ops.extend(c.more_ops.iter().copied());
        }
        ops
    }

    /// Whether the current call still waits for this request (false: orphaned or unknown).
    #[cfg(test)]
    pub(crate) fn owns_op(&self, op: OpId) -> bool {
        self.call.as_ref().is_some_and(|c| {
            c.invite_op == Some(op) || c.accept_op == Some(op) || c.more_ops.contains(&op)
        })
    }

    pub fn intent(&mut self, intent: Intent, now: u64) -> Result<Vec<Effect>, ActionError> {
        self.now = now;
        let phase = self.phase();
        let not_now = ActionError::NotNow { phase };
        if let Intent::Accept { call_id: Some(id) } | Intent::Decline { call_id: Some(id) } =
            &intent
        {
            if !self.is_current(id) {
                return Err(ActionError::NotRinging {
                    call_id: id.clone(),
                });
            }
        }
        match (intent, phase) {
            // Any time: it decides only how the next invitations are met.
            (Intent::DoNotDisturb { on }, _) => {
                self.cfg.do_not_disturb = on;
                self.emit(Notice::Changed);
            }
            (Intent::Call { users, call_type }, Phase::Free) => {
                let users = self.clean_users(users)?;
                self.start_outgoing(users, call_type, now);
            }
            (Intent::Cancel | Intent::HangUp, Phase::Outgoing) => self.cancel_outgoing(),
            (Intent::Accept { .. }, Phase::Incoming) => {
                let call = self.call.as_mut().ok_or(not_now.clone())?;
                if call.accept_op.is_some() {
                    return Err(not_now);
                }
                let call_id = call.view.call_id.clone().unwrap_or_default();
                let op = self.send(Op::Accept { call_id });
                let call = self.call.as_mut().expect("checked above");
                call.accept_op = Some(op);
                call.view.working = true;
                self.changed();
            }
            (Intent::Decline { .. } | Intent::Cancel | Intent::HangUp, Phase::Incoming) => {
                let call = self.call.as_ref().ok_or(not_now.clone())?;
                let call_id = call.view.call_id.clone().unwrap_or_default();
                if call.accept_op.is_some() {
                    // Too late to decline: the accept is on its way; `finish` ends it.
                    self.finish(Outcome::HungUp);
                } else {
                    self.send(Op::Reject {
                        call_id,
                        reason: RejectReason::Declined,
                    });
                    self.finish(Outcome::Rejected);
                }
            }
            (Intent::HangUp, Phase::InCall) => {
                let group = self.call.as_ref().is_some_and(|c| c.view.group);
                self.leave_call(if group {
                    Outcome::Left
                } else {
                    Outcome::HungUp
                });
            }
            (Intent::Leave, Phase::InCall) => self.leave_call(Outcome::Left),
            (Intent::End, Phase::InCall) => self.leave_call(Outcome::HungUp),
            (Intent::MediaFailed { call_id, problem }, Phase::InCall) => {
                if !self.is_current(&call_id) {
                    return Err(not_now);
                }
                self.leave_call(Outcome::MediaFailed { problem });
            }
            (Intent::InviteMore { users }, Phase::InCall | Phase::Outgoing) => {
                let users = self.clean_users(users)?;
                self.invite_more(users, now)?;
            }
            _ => return Err(not_now),
        }
        Ok(self.take())
    }

    pub fn event(&mut self, ev: Event, now: u64) -> Vec<Effect> {
        self.now = now;
        match ev {
            Event::Connection(state) => self.on_connection(state, now),
            Event::InvitationReceived(info) => {
                if self.is_current(&info.call_id) {
                    // Already ringing or in it: a repeat, or the invitation to a call this
                    // user was invited back into.
                } else if self.phase().is_busy() || self.cfg.do_not_disturb {
                    let (call_type, name) = extras::decode(&info.extended_data);
                    self.send(Op::Reject {
                        call_id: info.call_id.clone(),
                        reason: RejectReason::Busy,
                    });
                    self.emit(Notice::RejectedBusy {
                        call_id: info.call_id,
                        caller_id: info.caller.clone(),
                        caller_name: name.unwrap_or(info.caller_name),
                        call_type,
                    });
                } else {
                    self.start_incoming(info, now);
                }
            }
            Event::MissedWhileAway(info) => {
                let (call_type, name) = extras::decode(&info.extended_data);
                let answered = info
                    .call_user_list
                    .iter()
                    .any(|u| u.user_id == self.me && u.state == CallUserState::Accepted);
                self.emit(Notice::MissedWhileAway {
                    call_id: info.call_id,
                    caller_id: info.caller,
                    caller_name: name.unwrap_or(info.caller_name),
                    call_type,
                    answered,
                });
            }
            Event::UserStateChanged(c) => {
                if self.is_current(&c.call_id) {
                    self.on_members(&c.call_user_list);
                } else {
                    self.keep_early(Event::UserStateChanged(c));
                }
            }
            Event::InvitationCancelled(c)
                if self.is_current(&c.call_id) && self.phase() == Phase::Incoming =>
            {
                self.finish(Outcome::CancelledByCaller);
            }
            Event::InvitationTimeout(t)
                if self.is_current(&t.call_id) && self.phase() == Phase::Incoming =>
            {
                self.finish(Outcome::Missed);
            }
            Event::InvitationEnded(e) => {
                let accepting = self.call.as_ref().is_some_and(|c| c.accept_op.is_some());
                if self.is_current(&e.call_id) && accepting {
                    if let Some(call) = self.call.as_mut() {
                        call.ended_while_accepting = true;
                    }
                } else if self.is_current(&e.call_id) {
                    let outcome = match self.phase() {
                        Phase::Incoming => Outcome::CancelledByCaller,
                        Phase::Outgoing => self.unanswered_outcome(),
                        _ if e.operated_user_id == self.me => Outcome::HungUp,
                        _ => Outcome::EndedByPeer {
                            by: Some(e.operated_user_id).filter(|by| !by.is_empty()),
                        },
                    };
                    self.finish(outcome);
                } else {
                    self.keep_early(Event::InvitationEnded(e));
                }
            }
            // Media negotiation belongs to the call it was sent in: anything for another call
            // (one that just ended, say) would set up media nobody is in.
            Event::Relay(r) if self.is_current(&r.call_id) && self.phase() != Phase::Free => {
                self.emit(Notice::Signal {
                    call_id: r.call_id,
                    from_user_id: r.from_user_id,
                    payload: r.payload,
                });
            }
            _ => {}
        }
        self.take()
    }

    pub fn done(&mut self, op: OpId, result: OpResult, now: u64) -> Vec<Effect> {
        self.now = now;
        if let Some(orphan) = self.orphans.remove(&op) {
            self.clean_up_orphan(orphan, result);
            return self.take();
        }
        let Some(call) = self.call.as_mut() else {
            return self.take();
        };
        if call.invite_op == Some(op) {
            call.invite_op = None;
            call.view.working = false;
            match result {
                OpResult::Invited(r) => self.on_invited(r, now),
                OpResult::Done => {}
                OpResult::Failed { message, .. } => self.finish(Outcome::Failed { message }),
            }
        } else if call.accept_op == Some(op) {
            call.accept_op = None;
            call.view.working = false;
            match result {
                OpResult::Failed { message, state } => {
                    let outcome = match state {
                        Some(CallUserState::Cancelled) => Outcome::CancelledByCaller,
                        Some(CallUserState::Timeout) => Outcome::Missed,
                        Some(CallUserState::Accepted) => Outcome::AnsweredElsewhere,
                        Some(CallUserState::Rejected) => Outcome::DeclinedElsewhere,
                        _ => Outcome::Failed { message },
                    };
                    // Without a state the answer may just have been lost with the
                    // connection, after the server accepted: quit, or the user stays in the
                    // call on the server (refused harmlessly if the accept never landed).
                    let outcome = if call.ended_while_accepting {
                        Outcome::CancelledByCaller
                    } else {
                        outcome
                    };
                    if let (None, Some(call_id)) = (state, call.view.call_id.clone()) {
                        self.send(Op::Quit { call_id });
                    }
                    self.finish(outcome);
                }
                _ if call.ended_while_accepting => self.finish(Outcome::EndedByPeer { by: None }),
                _ => {
                    call.my_state = CallUserState::Accepted;
                    self.start_talking();
                    let me = self.me.clone();
                    self.emit(Notice::Accepted { by: me });
                }
            }
        } else if let Some(i) = call.more_ops.iter().position(|o| *o == op) {
            call.more_ops.remove(i);
            call.view.working = !call.more_ops.is_empty();
            match result {
                OpResult::Invited(r) => {
                    self.drop_refused(&r);
                    self.apply_placeholders(&r.call_user_list);
                    self.changed();
                }
                OpResult::Done => self.changed(),
                OpResult::Failed { message, .. } => {
                    if let Some(call) = self.call.as_mut() {
                        call.view
                            .peers
                            .retain(|p| p.state != CallUserState::Inviting);
                    }
                    self.emit(Notice::Error { message });
                    self.settle_if_over();
                }
            }
        }
        self.take()
    }

    /// Local deadlines: the safety net for server events lost while disconnected.
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        self.now = now;
        let lost = self
            .down_since
            .is_some_and(|d| now.saturating_sub(d) >= self.lost_after_ms);
        match (self.phase(), &self.call) {
            (Phase::Outgoing | Phase::InCall, Some(_)) if lost => {
                self.finish(Outcome::ConnectionLost)
            }
            (Phase::Incoming, Some(c))
                if c.accept_op.is_none()
                    && c.view
                        .ring_until
                        .is_some_and(|r| now > r + self.cfg.grace_ms) =>
            {
                self.finish(Outcome::Missed)
            }
            (Phase::Outgoing, Some(c)) if c.deadline.is_some_and(|d| now > d) => {
                let outcome = self.unanswered_outcome();
                self.end_on_server();
                self.finish(outcome)
            }
            _ => {}
        }
        self.take()
    }

    fn clean_users(&self, users: Vec<String>) -> Result<Vec<String>, ActionError> {
        let mut seen = HashSet::new();
        let users: Vec<String> = users
            .into_iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty() && seen.insert(u.clone()))
            .collect();
        if users.is_empty() {
            return Err(ActionError::InvalidUsers {
                message: "enter a user ID to call".into(),
            });
        }
        if users.contains(&self.me) {
            return Err(ActionError::InvalidUsers {
                message: "you cannot call yourself".into(),
            });
        }
        if let Some(bad) = users.iter().find(|u| !beckon_protocol::is_valid_id(u)) {
            return Err(ActionError::InvalidUsers {
                message: format!("{bad:?} is not a valid user ID"),
            });
        }
        Ok(users)
    }

    fn start_outgoing(&mut self, users: Vec<String>, call_type: CallType, now: u64) {
        let extended_data = extras::encode(call_type, &self.my_name);
        let timeout = self.cfg.invite_timeout;
        let group = users.len() > 1;
        let peers = users.iter().map(|u| placeholder(u)).collect();
        let op = self.send(Op::Invite {
            users,
            extended_data,
            timeout,
        });
        self.call = Some(Call {
            view: CallView {
                call_id: None,
                direction: Direction::Outgoing,
                call_type,
                caller_id: self.me.clone(),
                caller_name: self.my_name.clone(),
                peers,
                group,
                created_at: now,
                started_at: None,
                ring_until: None,
                working: true,
            },
            phase: Phase::Outgoing,
            my_state: CallUserState::Accepted,
            invite_op: Some(op),
            accept_op: None,
            more_ops: Vec::new(),
            reached: HashSet::new(),
            early: Vec::new(),
            deadline: Some(now + u64::from(timeout) * 1000 + self.cfg.grace_ms),
            ended_while_accepting: false,
        });
        self.changed();
    }

    fn on_invited(&mut self, r: CallInviteResult, now: u64) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        call.view.call_id = Some(r.call_id.clone());
        call.view.ring_until = Some(now + u64::from(r.timeout) * 1000);
        self.drop_refused(&r);
        self.apply_placeholders(&r.call_user_list);
        let early = self
            .call
            .as_mut()
            .map(|c| std::mem::take(&mut c.early))
            .unwrap_or_default();
        self.changed();
        for ev in early {
            let effects = self.event(ev, now);
            self.out.extend(effects);
        }
        self.settle_if_over();
    }

    fn cancel_outgoing(&mut self) {
        let Some(call) = self.call.as_ref() else {
            return;
        };
        // Without a call ID the invite is still on its way; `finish` cancels it on arrival.
        if let Some(call_id) = call.view.call_id.clone() {
            self.send(Op::Cancel { call_id });
        }
        self.finish(Outcome::Cancelled);
    }

    fn start_incoming(&mut self, info: beckon_protocol::InvitationInfo, now: u64) {
        let (call_type, name) = extras::decode(&info.extended_data);
        let caller_name = name.unwrap_or_else(|| info.caller_name.clone());
        let peers: Vec<Member> = info
            .call_user_list
            .iter()
            .filter(|u| u.user_id != self.me)
            .map(|u| Member {
                user_id: u.user_id.clone(),
                name: if u.user_id == info.caller {
                    caller_name.clone()
                } else {
                    extras::member_name(u)
                },
                state: u.state,
                reason: u.reason,
            })
            .collect();
        let group = peers.len() > 1;
        self.call = Some(Call {
            view: CallView {
                call_id: Some(info.call_id.clone()),
                direction: Direction::Incoming,
                call_type,
                caller_id: info.caller.clone(),
                caller_name,
                peers,
                group,
                created_at: now,
                started_at: None,
                ring_until: Some(now + u64::from(info.timeout) * 1000),
                working: false,
            },
            phase: Phase::Incoming,
            my_state: CallUserState::Received,
            invite_op: None,
            accept_op: None,
            more_ops: Vec::new(),
            reached: HashSet::new(),
            early: Vec::new(),
            deadline: None,
            ended_while_accepting: false,
        });
        self.changed();
    }

    fn invite_more(&mut self, users: Vec<String>, _now: u64) -> Result<(), ActionError> {
        let phase = self.phase();
        let Some(call) = self.call.as_mut() else {
            return Err(ActionError::NotNow { phase });
        };
        let Some(call_id) = call.view.call_id.clone() else {
            return Err(ActionError::NotNow { phase });
        };
        let fresh: Vec<String> = users
            .into_iter()
            .filter(|u| {
                !call.view.peers.iter().any(|p| {
                    &p.user_id == u && (p.state.is_pending() || p.state == CallUserState::Accepted)
                })
            })
            .collect();
        if fresh.is_empty() {
            return Err(ActionError::InvalidUsers {
                message: "already in this call".into(),
            });
        }
        for u in &fresh {
            call.view.peers.retain(|p| &p.user_id != u);
            call.view.peers.push(placeholder(u));
        }
        call.view.group = true;
        call.view.working = true;
        let extended_data = extras::encode(call.view.call_type, &self.my_name);
        let timeout = self.cfg.invite_timeout;
        let op = self.send(Op::InviteMore {
            call_id,
            users: fresh,
            extended_data,
            timeout,
        });
        if let Some(call) = self.call.as_mut() {
            call.more_ops.push(op);
        }
        self.changed();
        Ok(())
    }

    fn leave_call(&mut self, outcome: Outcome) {
        let Some(call_id) = self.call.as_ref().and_then(|c| c.view.call_id.clone()) else {
            return;
        };
        // One member's media failing must not end a group call for the others.
        let group = self.call.as_ref().is_some_and(|c| c.view.group);
        match outcome {
            Outcome::Left => self.send(Op::Quit { call_id }),
            Outcome::MediaFailed { .. } if group => self.send(Op::Quit { call_id }),
            _ => self.send(Op::End { call_id }),
        };
        self.finish(outcome);
    }

    fn start_talking(&mut self) {
        if let Some(call) = self.call.as_mut() {
            call.phase = Phase::InCall;
            call.deadline = None;
            call.view.ring_until = None;
            call.view.started_at.get_or_insert(self.now);
        }
    }

    fn on_connection(&mut self, state: ConnectionState, now: u64) {
        // A manager put on a client that is already connected hears the client's earlier
        // "connecting" afterwards; it is old news and would only make the UI flicker.
        if state == ConnectionState::Connecting && self.connection == Connection::Connected {
            return;
        }
        self.connection = match &state {
            ConnectionState::Connecting => Connection::Connecting,
            ConnectionState::Connected { .. } => Connection::Connected,
            ConnectionState::Reconnecting {
                attempt, reason, ..
            } => Connection::Reconnecting {
                attempt: *attempt,
                reason: reason.clone(),
            },
            ConnectionState::Disconnected(r) => Connection::Disconnected {
                reason: r.to_string(),
            },
        };
        match state {
            ConnectionState::Connected { heartbeat, .. } => {
                self.down_since = None;
                self.lost_after_ms = heartbeat.timeout.as_millis() as u64;
            }
            ConnectionState::Disconnected(_) => {
                if self.call.is_some() {
                    return self.finish(Outcome::ConnectionLost);
                }
            }
            _ => {
                self.down_since.get_or_insert(now);
            }
        }
        self.changed();
    }

    fn clean_up_orphan(&mut self, orphan: Orphan, result: OpResult) {
        match (orphan, result) {
            (Orphan::CancelInvite, OpResult::Invited(r)) => {
                self.send(Op::Cancel { call_id: r.call_id });
            }
            // A failure without a state may be an answer lost after the server accepted.
            (
                Orphan::EndAccepted(call_id),
                OpResult::Done | OpResult::Failed { state: None, .. },
            ) => {
                self.send(Op::End { call_id });
            }
            _ => {}
        }
    }

    fn is_current(&self, call_id: &str) -> bool {
        self.call
            .as_ref()
            .and_then(|c| c.view.call_id.as_deref())
            .is_some_and(|id| id == call_id)
    }

    /// While the call ID is still unknown, events about unknown calls may be about ours.
    fn keep_early(&mut self, ev: Event) {
        if let Some(call) = self.call.as_mut() {
            if call.view.call_id.is_none() && call.early.len() < EARLY_MAX {
                call.early.push(ev);
            }
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(call) = self.call.take() {
            // Answers still on their way must not leave a call ringing or open on the
            // server for a user who has moved on.
            if let Some(op) = call.invite_op {
                self.orphans.insert(op, Orphan::CancelInvite);
            }
            if let (Some(op), Some(call_id)) = (call.accept_op, call.view.call_id.clone()) {
                self.orphans.insert(op, Orphan::EndAccepted(call_id));
            }
            self.emit(Notice::Finished {
                outcome,
                call: call.view,
            });
        }
    }

    fn send(&mut self, request: Op) -> OpId {
        let op = self.next_op;
        self.next_op += 1;
        self.out.push(Effect::Send { op, request });
        op
    }

    fn changed(&mut self) {
        self.emit(Notice::Changed);
    }

    fn emit(&mut self, notice: Notice) {
        let snapshot = self.snapshot();
        self.out
            .push(Effect::Emit(Box::new(Update { notice, snapshot })));
    }

    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }
}

fn placeholder(user: &str) -> Member {
    Member {
        user_id: user.to_owned(),
        name: user.to_owned(),
        state: CallUserState::Inviting,
        reason: None,
    }
}
