//! Sessions coming and going, and deadlines: what happens to calls when a device logs in,
//! logs out or disappears, and when an invitation runs out of time.

use std::sync::Arc;

use beckon_protocol::limits::MAX_DEVICES_PER_USER;
use beckon_protocol::{
    CallInvitationTimeout, CallMode, CallUserState, CloseReason, ErrorCode, LoginResult,
    ResponseBody, ServerMessage, StateReason, PROTOCOL_VERSION,
};

use super::hub::Refusal;
use super::presence::Session;
use super::table::{self, Event};
use super::{Hub, LoginInput, Out, Seq, SessionId};

impl Hub {
    pub(super) fn login(&mut self, now: u64, login: LoginInput) {
        let LoginInput {
            session,
            req,
            user_id,
            user_name,
            device_id,
            ice,
            started,
        } = login;
        if self.presence.get(session).is_some() {
            let r = Refusal::new(ErrorCode::AlreadyLoggedIn, "this connection is logged in");
            return self.answer(
                session,
                req,
                beckon_protocol::RequestKind::Login.as_str(),
                started,
                Err(r),
            );
        }
        let device_id = device_id.unwrap_or_else(|| self.new_id());
        // A login from a device that is already online is that device reconnecting before
        // the server noticed it left: the new connection takes over, the old one closes.
        let replaced = self.presence.device_session(&user_id, &device_id);
        let devices = self.presence.sessions_of(&user_id).len() - usize::from(replaced.is_some());
        if devices >= MAX_DEVICES_PER_USER {
            let r = Refusal::new(
                ErrorCode::TooManyDevices,
                format!("at most {MAX_DEVICES_PER_USER} devices per user may be online"),
            );
            return self.answer(
                session,
                req,
                beckon_protocol::RequestKind::Login.as_str(),
                started,
                Err(r),
            );
        }
        if let Some(old) = replaced {
            self.presence.remove(old);
            self.push_out(Out::Close {
                session: old,
                reason: CloseReason::Replaced,
            });
        }
        self.device_back(&user_id, &device_id);
        self.presence.add(
            session,
            Session {
                user_id: self.user_id(&user_id),
                user_name: Arc::from(user_name.as_str()),
                device_id: Arc::from(device_id.as_str()),
            },
        );
        self.push_out(Out::LoggedIn {
            session,
            user_id: user_id.clone(),
            device_id: device_id.clone(),
        });
        let hb = self.config.heartbeat_timeout_ms;
        let result = LoginResult {
            user_id: user_id.clone(),
            user_name,
            device_id,
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: hb / beckon_protocol::limits::HEARTBEATS_PER_TIMEOUT,
            heartbeat_timeout_ms: hb,
            server_time: now,
            ice,
        };
        self.answer(
            session,
            req,
            beckon_protocol::RequestKind::Login.as_str(),
            started,
            Ok(ResponseBody::Login(result)),
        );
        self.ring_new_session(now, session, &user_id);
    }

    /// Every invitation still ringing for this user rings on the new device too; an
    /// invitee that was offline is now `received`, and the members are told.
    fn ring_new_session(&mut self, now: u64, session: SessionId, user: &str) {
        let seqs = self
            .live_by_user
            .get(user)
            .map(|s| s.as_slice().to_vec())
            .unwrap_or_default();
        for seq in seqs {
            let call = &self.calls[&seq];
            let Some(member) = call.member(user) else {
                continue;
            };
            if !member.state.is_pending() || member.invite.deadline <= now {
                continue;
            }
            let was_inviting = member.state == CallUserState::Inviting;
            if was_inviting {
                self.set_member_state(seq, user, CallUserState::Received, None, now);
                self.mark_dirty(seq);
            }
            // Built after the state change, so the list shows this user as received.
            let call = &self.calls[&seq];
            let Some(member) = call.member(user) else {
                continue;
            };
            let msg = ServerMessage::CallInvitationReceived(call.invitation_for(member));
            self.send(vec![session], msg);
            if was_inviting {
                let user = user.to_string();
                self.state_changed(
                    seq,
                    std::slice::from_ref(&user),
                    Some((&user, session)),
                    &[],
                );
            }
        }
    }

    pub(super) fn finish_logout(&mut self, now: u64, session: SessionId) {
        let Some(s) = self.presence.remove(session) else {
            return;
        };
        self.push_out(Out::Close {
            session,
            reason: CloseReason::LoggedOut,
        });
        if self
            .presence
            .device_session(&s.user_id, &s.device_id)
            .is_none()
        {
            self.device_gone(now, &s.user_id, &s.device_id);
        }
    }

    pub(super) fn disconnected(&mut self, now: u64, session: SessionId, last_seen: u64) {
        let Some(s) = self.presence.remove(session) else {
            return; // replaced or logged out: already handled
        };
        // The device gets one heartbeat timeout, counted from its last frame, to come back
        // (a network blip, a laptop lid). A silent connection has used it up already.
        let at = (last_seen + self.config.heartbeat_timeout_ms).max(now);
        self.device_left(s.user_id.to_string(), s.device_id.to_string(), at);
    }

    /// The device a member was in the call on is gone for good. Before anyone accepted,
    /// a gone caller cancels the invitation for everyone (the seed's rule); in advanced
    /// mode an accepted member quits, so nobody is left "in a call" with a dead device.
    pub(super) fn device_gone(&mut self, now: u64, user: &str, device: &str) {
        let seqs = self
            .live_by_user
            .get(user)
            .map(|s| s.as_slice().to_vec())
            .unwrap_or_default();
        for seq in seqs {
            let Some(call) = self.calls.get(&seq) else {
                continue;
            };
            let Some(member) = call.member(user) else {
                continue;
            };
            if !call.is_live() || member.device.as_deref() != Some(device) {
                continue;
            }
            if &*call.caller == user && !call.answered {
                let pending: Vec<String> = call
                    .members
                    .iter()
                    .filter(|m| m.state.is_pending())
                    .map(|m| m.user_id.to_string())
                    .collect();
                let caller = call.caller.clone();
                let advanced = call.mode == CallMode::Advanced;
                self.cancel_invitees(
                    now,
                    seq,
                    &pending,
                    StateReason::CallerGone,
                    &caller,
                    String::new(),
                    None,
                );
                // The seed: the invitation is cancelled. Nobody else ever answered, so the
                // caller was alone in it, and its device can no longer send `callEnd`.
                self.end_call(now, seq, None, None, String::new(), advanced);
            } else if call.mode == CallMode::Advanced && member.state == CallUserState::Accepted {
                self.quit(
                    now,
                    seq,
                    user,
                    Some(StateReason::ConnectionLost),
                    String::new(),
                    None,
                );
            }
        }
    }

    pub(super) fn invitee_deadline(&mut self, now: u64, seq: Seq, user: &str) {
        let Some(call) = self.calls.get_mut(&seq) else {
            return;
        };
        if !call.is_live() {
            return;
        }
        let call_id = call.id.clone();
        let Some(m) = call.member_mut(user) else {
            return;
        };
        // A later callingInvite may have moved the deadline; only the current one counts.
        if !m.state.is_pending() || m.invite.deadline > now {
            return;
        }
        let told = table::receives(Event::Timeout, m.state);
        self.set_member_state(seq, user, CallUserState::Timeout, None, now);
        self.mark_dirty(seq);
        if told {
            let to = self.sessions_of([user], None);
            self.send(
                to,
                ServerMessage::CallInvitationTimeout(CallInvitationTimeout {
                    call_id: call_id.to_string(),
                }),
            );
        }
        self.state_changed(seq, &[user.to_string()], None, &[]);
        self.check_auto_end(now, seq, None);
    }
}
