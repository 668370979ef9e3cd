//! One method per call request. Each checks, in this order: membership (`callNotFound`,
//! so strangers learn nothing), mode, the seed's state table (`stateForbidden` with the
//! state), then whether the call is still live (`callEnded`); only then does it change
//! anything.

use std::sync::Arc;

use beckon_protocol::limits::MAX_CALL_MEMBERS;
use beckon_protocol::{
    is_valid_id, CallAnswer, CallCancel, CallCancelResult, CallEndResult, CallIdResult,
    CallInvitationCancelled, CallInvite, CallInviteResult, CallMode, CallReject, CallState,
    CallUserState, CallingInvite, ErrorCode, ErrorInvitee, InviteeError, Relay, RelayEvent,
    ResponseBody, ServerMessage, StateReason,
};

use super::hub::Refusal;
use super::table::{self, Api, Event};
use super::timers::TimerKey;
use super::{Call, Hub, Invite, Member, Seq, SessionId};

/// Splits requested invitees into those to invite and those refused, with why. `more`
/// adds the request's own reasons; it is asked only about valid, new, distinct users.
fn screen_invitees(
    actor: &str,
    requested: Vec<String>,
    mut more: impl FnMut(&str) -> Option<InviteeError>,
) -> (Vec<String>, Vec<ErrorInvitee>) {
    let mut invitees: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for user in requested {
        let reason = if !is_valid_id(&user) {
            Some(InviteeError::InvalidUserId)
        } else if user == actor {
            Some(InviteeError::IsSelf)
        } else if invitees.contains(&user) {
            Some(InviteeError::Duplicate)
        } else {
            more(&user)
        };
        match reason {
            Some(reason) => errors.push(ErrorInvitee {
                user_id: user,
                reason,
            }),
            None => invitees.push(user),
        }
    }
    (invitees, errors)
}

/// The requester, resolved from its session.
struct Actor {
    user: Arc<str>,
    name: Arc<str>,
    device: Arc<str>,
    session: SessionId,
}

impl Hub {
    fn actor(&self, session: SessionId) -> Result<Actor, Refusal> {
        let s = self
            .presence
            .get(session)
            .ok_or_else(|| Refusal::new(ErrorCode::NotLoggedIn, "log in first"))?;
        Ok(Actor {
            user: s.user_id.clone(),
            name: s.user_name.clone(),
            device: s.device_id.clone(),
            session,
        })
    }

    /// Finds the call and checks the actor may make `api` on it.
    fn checked(&self, call_id: &str, user: &str, api: Option<Api>) -> Result<Seq, Refusal> {
        let not_found = || {
            Refusal::new(
                ErrorCode::CallNotFound,
                format!("no call `{call_id}` that you are a member of"),
            )
        };
        let seq = *self.call_ids.get(call_id).ok_or_else(not_found)?;
        let call = &self.calls[&seq];
        let member = call.member(user).ok_or_else(not_found)?;
        if let Some(api) = api {
            let advanced_only =
                matches!(api, Api::CallingInvite | Api::Quit | Api::End | Api::Join);
            if advanced_only && call.mode == CallMode::Normal {
                return Err(Refusal::new(
                    ErrorCode::AdvancedModeOnly,
                    format!("{api:?} needs an advanced-mode call; this one is normal"),
                ));
            }
            if !table::api_allowed(api, member.state) {
                return Err(Refusal {
                    code: ErrorCode::StateForbidden,
                    message: format!(
                        "{api:?} is not allowed in state `{}`",
                        member.state.as_str()
                    ),
                    state: Some(member.state),
                });
            }
        }
        if !call.is_live() {
            return Err(Refusal::new(ErrorCode::CallEnded, "the call has ended"));
        }
        Ok(seq)
    }

    pub(super) fn call_invite(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallInvite,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        if self.in_call(&actor.user) {
            return Err(Refusal::new(
                ErrorCode::AlreadyInCall,
                "you are already in a call; end or leave it first",
            ));
        }
        let (invitees, errors) = screen_invitees(&actor.user, r.invitees, |_| None);
        if invitees.is_empty() {
            return Err(Refusal::new(
                ErrorCode::NoValidInvitees,
                "none of the invitees can be invited (yourself, duplicates or invalid IDs)",
            ));
        }
        let invite = Invite::new(
            now,
            r.timeout,
            r.extended_data.clone(),
            r.push_config.clone(),
        );
        let timeout = invite.timeout_secs;
        let seq = self.next_seq;
        self.next_seq += 1;
        let call_id: Arc<str> = Arc::from(self.new_id());
        // Sized once: grown by push, a call's Vec would carry up to twice the room it
        // needs for as long as it is in memory.
        let mut members = Vec::with_capacity(1 + invitees.len());
        members.push(Member {
            user_id: actor.user.clone(),
            state: CallUserState::Accepted,
            reason: None,
            extended_data: Box::default(),
            inviter: actor.user.clone(),
            update_time: now,
            invite: Invite {
                deadline: 0,
                ..invite.clone()
            },
            device: Some(actor.device.clone()),
        });
        for user in &invitees {
            members.push(self.new_invitee(user, &actor.user, &invite, now));
        }
        let call = Call {
            seq,
            id: call_id.clone(),
            caller: actor.user.clone(),
            caller_name: actor.name.clone(),
            mode: r.mode,
            state: CallState::Started,
            create_time: now,
            end_time: 0,
            extended_data: r.extended_data.into_boxed_str(),
            answered: false,
            members,
        };
        self.call_ids.insert(call_id.clone(), seq);
        self.calls.insert(seq, Box::new(call));
        self.index_member(&actor.user, seq);
        self.start_ringing(seq, &invitees, invite.deadline);
        let call = &self.calls[&seq];
        let created = ServerMessage::CallInvitationCreated(call.creation_info());
        let result = CallInviteResult {
            call_id: call_id.to_string(),
            timeout,
            create_time: now,
            call_user_list: call.members[1..].iter().map(Member::info).collect(),
            error_invitees: errors,
        };
        let to = self.sessions_of([&*actor.user], Some(session));
        self.send(to, created);
        Ok(ResponseBody::CallInvite(result))
    }

    fn new_invitee(&self, user: &str, inviter: &Arc<str>, invite: &Invite, now: u64) -> Member {
        let state = if self.presence.is_online(user) {
            CallUserState::Received
        } else {
            CallUserState::Inviting
        };
        Member {
            user_id: self.user_id(user),
            state,
            reason: None,
            extended_data: Box::default(),
            inviter: inviter.clone(),
            update_time: now,
            invite: invite.clone(),
            device: None,
        }
    }

    /// New invitees of call `seq`: indexed, their timeout armed, stored, and rung.
    fn start_ringing(&mut self, seq: Seq, invitees: &[String], deadline: u64) {
        for user in invitees {
            let members = &self.calls[&seq].members;
            let Some(i) = members.iter().position(|m| *m.user_id == **user) else {
                continue;
            };
            let id = members[i].user_id.clone();
            self.index_member(&id, seq);
            self.add_timer(deadline, TimerKey::invitee(seq, i));
        }
        self.mark_dirty(seq);
        self.deliver_invitations(seq, invitees);
    }

    /// Rings every online device of `users`. The inviter's response is queued after these
    /// (the handler returns before `answer` runs), but both leave in the same durable batch.
    fn deliver_invitations(&mut self, seq: Seq, users: &[String]) {
        for user in users {
            let call = &self.calls[&seq];
            let Some(member) = call.member(user) else {
                continue;
            };
            let msg = ServerMessage::CallInvitationReceived(call.invitation_for(member));
            let to = self.sessions_of([user.as_str()], None);
            self.send(to, msg);
        }
    }

    pub(super) fn call_cancel(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallCancel,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        // A cancel that lost the race to an accept must say so, even though that accept
        // may also have ended the call: check `answered` before liveness.
        let seq = match self.checked(&r.call_id, &actor.user, None) {
            Err(e) if e.code == ErrorCode::CallEnded => {
                let seq = self.call_ids[r.call_id.as_str()];
                if self.calls[&seq].answered {
                    return Err(Refusal::new(
                        ErrorCode::CallAlreadyAccepted,
                        "the invitation was already accepted and can no longer be cancelled",
                    ));
                }
                return Err(e);
            }
            other => other?,
        };
        let call = &self.calls[&seq];
        if call.answered && call.mode == CallMode::Normal {
            return Err(Refusal::new(
                ErrorCode::CallAlreadyAccepted,
                "the invitation was already accepted and can no longer be cancelled",
            ));
        }
        if !call.answered && call.caller != actor.user {
            return Err(Refusal::new(
                ErrorCode::NotInviter,
                "only the caller can cancel this invitation",
            ));
        }
        let listed: Vec<String> = if r.invitees.is_empty() {
            call.members[1..]
                .iter()
                .filter(|m| m.state.is_pending() && m.inviter == actor.user)
                .map(|m| m.user_id.to_string())
                .collect()
        } else {
            r.invitees.clone()
        };
        let mut errors = Vec::new();
        let mut cancel = Vec::new();
        for user in listed {
            let reason = match call.member(&user) {
                None => Some(InviteeError::NotInvited),
                Some(m) if !m.state.is_pending() => Some(InviteeError::NotPending),
                Some(m) if m.inviter != actor.user => Some(InviteeError::NotYourInvitee),
                Some(_) if cancel.contains(&user) => Some(InviteeError::Duplicate),
                Some(_) => None,
            };
            match reason {
                Some(reason) => errors.push(ErrorInvitee {
                    user_id: user,
                    reason,
                }),
                None => cancel.push(user),
            }
        }
        if cancel.is_empty() {
            let others = |e: &ErrorInvitee| e.reason == InviteeError::NotYourInvitee;
            return Err(if !errors.is_empty() && errors.iter().all(others) {
                Refusal::new(
                    ErrorCode::NotInviter,
                    "only the member who sent an invitation may cancel it",
                )
            } else if call.answered {
                Refusal::new(
                    ErrorCode::CallAlreadyAccepted,
                    "nothing to cancel: the call was accepted",
                )
            } else {
                Refusal::new(
                    ErrorCode::NoValidInvitees,
                    "none of the listed invitees is still pending",
                )
            });
        }
        self.cancel_invitees(
            now,
            seq,
            &cancel,
            StateReason::CancelledByInviter,
            &actor.user,
            r.extended_data,
            Some((&*actor.user, session)),
        );
        self.check_auto_end(now, seq, Some(session));
        Ok(ResponseBody::CallCancel(CallCancelResult {
            call_id: r.call_id,
            error_invitees: errors,
        }))
    }

    /// Moves pending `users` to cancelled and tells them, then the listeners.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cancel_invitees(
        &mut self,
        now: u64,
        seq: Seq,
        users: &[String],
        reason: StateReason,
        inviter: &str,
        extended_data: String,
        actor: Option<(&str, SessionId)>,
    ) {
        let call_id = self.calls[&seq].id.clone();
        let mut told = Vec::new();
        for user in users {
            let before =
                self.set_member_state(seq, user, CallUserState::Cancelled, Some(reason), now);
            if before.is_some_and(|s| table::receives(Event::Cancelled, s)) {
                told.push(user.clone());
            }
        }
        self.mark_dirty(seq);
        let to = self.sessions_of(told.iter().map(String::as_str), None);
        self.send(
            to,
            ServerMessage::CallInvitationCancelled(CallInvitationCancelled {
                call_id: call_id.to_string(),
                inviter: inviter.to_string(),
                extended_data,
                reason,
            }),
        );
        self.state_changed(seq, users, actor, &[]);
    }

    pub(super) fn call_accept(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallAnswer,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::Accept))?;
        self.enter_call(now, seq, &actor, r.extended_data);
        self.check_auto_end(now, seq, Some(session));
        Ok(ResponseBody::CallAccept(CallIdResult {
            call_id: r.call_id,
        }))
    }

    /// Accept and join: the member is in the call, on this device.
    fn enter_call(&mut self, now: u64, seq: Seq, actor: &Actor, extended_data: String) {
        self.set_member_state(seq, &actor.user, CallUserState::Accepted, None, now);
        let call = self.calls.get_mut(&seq).expect("checked call");
        call.answered = true;
        let m = call.member_mut(&actor.user).expect("checked member");
        m.extended_data = extended_data.into_boxed_str();
        m.device = Some(actor.device.clone());
        self.mark_dirty(seq);
        self.state_changed(
            seq,
            &[actor.user.to_string()],
            Some((&*actor.user, actor.session)),
            &[],
        );
    }

    pub(super) fn call_reject(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallReject,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::Reject))?;
        let reason = Some(r.reason.into());
        self.set_member_state(seq, &actor.user, CallUserState::Rejected, reason, now);
        let call = self.calls.get_mut(&seq).expect("checked call");
        let m = call.member_mut(&actor.user).expect("checked member");
        m.extended_data = r.extended_data.into_boxed_str();
        self.mark_dirty(seq);
        self.state_changed(
            seq,
            &[actor.user.to_string()],
            Some((&*actor.user, session)),
            &[],
        );
        self.check_auto_end(now, seq, Some(session));
        Ok(ResponseBody::CallReject(CallIdResult {
            call_id: r.call_id,
        }))
    }

    pub(super) fn calling_invite(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallingInvite,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::CallingInvite))?;
        let call = &self.calls[&seq];
        let mut distinct = call.members.len();
        let (invitees, errors) = screen_invitees(&actor.user, r.invitees, |user| {
            match call.member(user) {
                Some(m) if m.state.is_pending() || m.state == CallUserState::Accepted => {
                    Some(InviteeError::AlreadyInCall)
                }
                // A former member comes back without taking a new place.
                Some(_) => None,
                None if distinct >= MAX_CALL_MEMBERS => Some(InviteeError::CallFull),
                None => {
                    distinct += 1;
                    None
                }
            }
        });
        if invitees.is_empty() {
            let full = errors.iter().any(|e| e.reason == InviteeError::CallFull);
            return Err(if full {
                Refusal::new(
                    ErrorCode::CallFull,
                    format!("a call holds at most {MAX_CALL_MEMBERS} users"),
                )
            } else {
                Refusal::new(
                    ErrorCode::NoValidInvitees,
                    "none of the invitees can be invited",
                )
            });
        }
        let invite = Invite::new(now, r.timeout, r.extended_data, r.push_config);
        let timeout = invite.timeout_secs;
        for user in &invitees {
            let member = self.new_invitee(user, &actor.user, &invite, now);
            let call = self.calls.get_mut(&seq).expect("checked call");
            match call.member_mut(user) {
                Some(old) => *old = member,
                None => call.members.push(member),
            }
        }
        self.start_ringing(seq, &invitees, invite.deadline);
        self.state_changed(seq, &invitees, Some((&*actor.user, session)), &invitees);
        let call = &self.calls[&seq];
        let list = call
            .members
            .iter()
            .filter(|m| invitees.iter().any(|u| **u == *m.user_id))
            .map(Member::info)
            .collect();
        Ok(ResponseBody::CallingInvite(CallInviteResult {
            call_id: r.call_id,
            timeout,
            create_time: call.create_time,
            call_user_list: list,
            error_invitees: errors,
        }))
    }

    pub(super) fn call_join(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallAnswer,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::Join))?;
        self.enter_call(now, seq, &actor, r.extended_data);
        Ok(ResponseBody::CallJoin(self.calls[&seq].info()))
    }

    pub(super) fn call_quit(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallAnswer,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::Quit))?;
        self.quit(now, seq, &actor.user, None, r.extended_data, Some(session));
        Ok(ResponseBody::CallQuit(CallIdResult { call_id: r.call_id }))
    }

    /// An accepted member leaves; the call may end if that leaves nobody to talk to.
    pub(super) fn quit(
        &mut self,
        now: u64,
        seq: Seq,
        user: &str,
        reason: Option<StateReason>,
        extended_data: String,
        session: Option<SessionId>,
    ) {
        self.set_member_state(seq, user, CallUserState::Quit, reason, now);
        let call = self.calls.get_mut(&seq).expect("known call");
        let m = call.member_mut(user).expect("known member");
        m.extended_data = extended_data.into_boxed_str();
        m.device = None;
        self.mark_dirty(seq);
        let user = user.to_string();
        self.state_changed(
            seq,
            std::slice::from_ref(&user),
            session.map(|s| (user.as_str(), s)),
            &[],
        );
        self.check_auto_end(now, seq, session);
    }

    pub(super) fn call_end(
        &mut self,
        now: u64,
        session: SessionId,
        r: CallAnswer,
    ) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, Some(Api::End))?;
        self.end_call(
            now,
            seq,
            Some(&actor.user),
            Some(session),
            r.extended_data,
            true,
        );
        Ok(ResponseBody::CallEnd(CallEndResult {
            call_id: r.call_id,
            end_time: now,
        }))
    }

    pub(super) fn relay(&mut self, session: SessionId, r: Relay) -> Result<ResponseBody, Refusal> {
        let actor = self.actor(session)?;
        let seq = self.checked(&r.call_id, &actor.user, None)?;
        let call = &self.calls[&seq];
        let me = call.member(&actor.user).expect("checked member");
        if me.state != CallUserState::Accepted {
            return Err(Refusal {
                code: ErrorCode::StateForbidden,
                message: format!("relay needs you accepted, not `{}`", me.state.as_str()),
                state: Some(me.state),
            });
        }
        let target = call
            .member(&r.to_user_id)
            .filter(|m| m.user_id != actor.user)
            .filter(|m| m.state == CallUserState::Accepted)
            .and_then(|m| m.device.as_deref())
            .and_then(|d| self.presence.device_session(&r.to_user_id, d));
        let Some(target) = target else {
            return Err(Refusal::new(
                ErrorCode::RelayTargetUnavailable,
                format!("`{}` is not in the call on an online device", r.to_user_id),
            ));
        };
        let msg = ServerMessage::Relay(RelayEvent {
            call_id: r.call_id,
            from_user_id: actor.user.to_string(),
            from_device_id: actor.device.to_string(),
            payload: r.payload,
        });
        self.send(vec![target], msg);
        Ok(ResponseBody::Relay)
    }
}
