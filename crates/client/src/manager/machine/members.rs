//! How the server's member lists move the call along: the view's members, who was
//! reached, and what a call that nobody else is left in came to.

use beckon_protocol::{CallInviteResult, CallUserInfo, CallUserState, StateReason};

use super::{Machine, Op};
use crate::manager::extras;
use crate::manager::model::*;

impl Machine {
    /// Invitees the server would not invite leave the call view, with a notice saying why.
    pub(super) fn drop_refused(&mut self, r: &CallInviteResult) {
        if r.error_invitees.is_empty() {
            return;
        }
        let message = r
            .error_invitees
            .iter()
            .map(|e| format!("{}: {:?}", e.user_id, e.reason))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(call) = self.call.as_mut() {
            call.view
                .peers
                .retain(|p| !r.error_invitees.iter().any(|e| e.user_id == p.user_id));
        }
        self.emit(Notice::Error {
            message: format!("could not invite {message}"),
        });
    }

    /// A request's answer may be older than an event already applied: it only fills in
    /// members still shown as just invited.
    pub(super) fn apply_placeholders(&mut self, list: &[CallUserInfo]) {
        let Some(call) = self.call.as_mut() else {
            return;
        };
        for u in list {
            if u.state == CallUserState::Received {
                call.reached.insert(u.user_id.clone());
            }
            match call.view.peers.iter_mut().find(|p| p.user_id == u.user_id) {
                Some(p) if p.state == CallUserState::Inviting => p.state = u.state,
                Some(_) => {}
                None if u.user_id != self.me => call.view.peers.push(Member {
                    user_id: u.user_id.clone(),
                    name: extras::member_name(u),
                    state: u.state,
                    reason: u.reason,
                }),
                None => {}
            }
        }
        call.view.group |= call.view.peers.len() > 1;
    }

    pub(super) fn on_members(&mut self, list: &[CallUserInfo]) {
        let me = self.me.clone();
        let Some(call) = self.call.as_mut() else {
            return;
        };
        let mut accepted_by = None;
        let mut my_reason = None;
        for u in list {
            if u.user_id == me {
                call.my_state = u.state;
                my_reason = u.reason;
                continue;
            }
            if u.state == CallUserState::Received {
                call.reached.insert(u.user_id.clone());
            }
            match call.view.peers.iter_mut().find(|p| p.user_id == u.user_id) {
                Some(p) => {
                    p.state = u.state;
                    p.reason = u.reason;
                    if let Some(name) = extras::answer_name(&u.extended_data) {
                        p.name = name;
                    }
                }
                None => call.view.peers.push(Member {
                    user_id: u.user_id.clone(),
                    name: extras::member_name(u),
                    state: u.state,
                    reason: u.reason,
                }),
            }
            if u.state == CallUserState::Accepted && accepted_by.is_none() {
                accepted_by = Some(u.user_id.clone());
            }
        }
        call.view.group |= call.view.peers.len() > 1;
        let (phase, mine, accepting) = (call.phase, call.my_state, call.accept_op.is_some());
        match phase {
            Phase::Incoming if !accepting => match mine {
                CallUserState::Accepted => return self.finish(Outcome::AnsweredElsewhere),
                CallUserState::Rejected => return self.finish(Outcome::DeclinedElsewhere),
                CallUserState::Cancelled => return self.finish(Outcome::CancelledByCaller),
                CallUserState::Timeout => return self.finish(Outcome::Missed),
                _ => {}
            },
            // The server took this user out (another device hung up, or its device is
            // gone): the call is over here too, whether it was answered yet or not.
            Phase::InCall | Phase::Outgoing if matches!(mine, CallUserState::Quit) => {
                let outcome = if my_reason == Some(StateReason::ConnectionLost) {
                    Outcome::ConnectionLost
                } else {
                    Outcome::Left
                };
                return self.finish(outcome);
            }
            Phase::Outgoing => {
                if let Some(by) = accepted_by {
                    self.start_talking();
                    self.emit(Notice::Accepted { by });
                    return;
                }
            }
            _ => {}
        }
        if !self.settle_if_over() {
            self.changed();
        }
    }

    /// Ends the call once nobody else is in it or still being called: a call nobody took,
    /// or a 1:1 call the other side left. The server would keep either with this user alone
    /// in it (and busy), so it is ended there too. A group call stays: the user may invite
    /// more people into it, and leaves it by hanging up.
    pub(super) fn settle_if_over(&mut self) -> bool {
        let Some(call) = self.call.as_ref() else {
            return false;
        };
        if call.view.call_id.is_none() || call.invite_op.is_some() {
            return false;
        }
        let live = call
            .view
            .peers
            .iter()
            .any(|p| p.state.is_pending() || p.state == CallUserState::Accepted);
        if live {
            return false;
        }
        let outcome = match call.phase {
            Phase::Outgoing => self.unanswered_outcome(),
            Phase::InCall if !call.view.group => Outcome::EndedByPeer { by: None },
            _ => return false,
        };
        self.end_on_server();
        self.finish(outcome);
        true
    }

    /// This user is alone in the call on the server: end it there.
    pub(super) fn end_on_server(&mut self) {
        if let Some(call_id) = self.call.as_ref().and_then(|c| c.view.call_id.clone()) {
            self.send(Op::End { call_id });
        }
    }

    /// Why nobody picked up, from how each callee's invitation ended.
    pub(super) fn unanswered_outcome(&self) -> Outcome {
        let Some(call) = self.call.as_ref() else {
            return Outcome::NoAnswer;
        };
        let peers = &call.view.peers;
        let rejected = |r: Option<StateReason>| {
            peers
                .iter()
                .any(|p| p.state == CallUserState::Rejected && p.reason == r)
        };
        if rejected(Some(StateReason::Declined)) || rejected(None) {
            Outcome::Declined
        } else if rejected(Some(StateReason::Busy)) {
            Outcome::Busy
        } else if peers.iter().any(|p| p.state == CallUserState::Cancelled) {
            Outcome::Cancelled
        } else if peers.iter().any(|p| call.reached.contains(&p.user_id)) {
            Outcome::NoAnswer
        } else {
            Outcome::Unreachable
        }
    }
}
