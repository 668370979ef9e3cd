//! One call and its members, with the queries the hub needs. Mutations live in the hub,
//! which alone decides what a change means for other members and for storage.

use std::sync::{Arc, OnceLock};

use beckon_protocol::{
    CallInfo, CallMode, CallState, CallUserInfo, CallUserState, InvitationInfo, PushConfig,
    StateReason,
};

/// A call's key in memory and storage: assigned in creation order, so it also orders the
/// history list newest-first without a separate index on time.
pub type Seq = u64;

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// User IDs and names are `Arc<str>`: one allocation per user, shared by every call,
    /// member, index and session that names them.
    pub user_id: Arc<str>,
    pub state: CallUserState,
    pub reason: Option<StateReason>,
    /// From the member's last accept, reject, join or quit.
    pub extended_data: Box<str>,
    pub inviter: Arc<str>,
    pub update_time: u64,
    /// The invitation this member got (the first one, or a later `callingInvite`).
    pub invite: Invite,
    /// The device that is in the call for this member (the caller's creating device, the
    /// accepting or joining device). Relay goes there; losing it may end participation.
    pub device: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Invite {
    pub time: u64,
    pub timeout_secs: u32,
    /// Absolute deadline in Unix ms: persisted, so a restart fires it at the same moment.
    pub deadline: u64,
    /// Shared by every invitee of one invitation.
    pub extended_data: Arc<str>,
    /// Boxed: rarely set, and unboxed it would be most of every member's size.
    pub push: Option<Box<PushConfig>>,
}

impl Invite {
    /// An invitation sent at `now`; `timeout` in seconds, the protocol default if absent.
    pub fn new(
        now: u64,
        timeout: Option<u32>,
        extended_data: String,
        push: Option<PushConfig>,
    ) -> Self {
        let timeout_secs = timeout.unwrap_or(beckon_protocol::limits::DEFAULT_TIMEOUT_SECS);
        Invite {
            time: now,
            timeout_secs,
            deadline: now + u64::from(timeout_secs) * 1000,
            extended_data: shared_text(extended_data),
            push: push.map(Box::new),
        }
    }
}

/// Invitation data is usually empty, and an `Arc` of nothing still allocates its counts:
/// empty data shares one allocation.
fn shared_text(text: String) -> Arc<str> {
    static EMPTY: OnceLock<Arc<str>> = OnceLock::new();
    if text.is_empty() {
        EMPTY.get_or_init(|| Arc::from("")).clone()
    } else {
        Arc::from(text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub seq: Seq,
    pub id: Arc<str>,
    pub caller: Arc<str>,
    pub caller_name: Arc<str>,
    pub mode: CallMode,
    pub state: CallState,
    pub create_time: u64,
    pub end_time: u64,
    pub extended_data: Box<str>,
    /// Someone other than the caller accepted at some point: from then on the invitation
    /// can no longer be cancelled, and the caller leaving no longer cancels it.
    pub answered: bool,
    /// Caller first, then invitees in invitation order.
    pub members: Vec<Member>,
}

impl Call {
    pub fn member(&self, user: &str) -> Option<&Member> {
        self.members.iter().find(|m| &*m.user_id == user)
    }

    pub fn member_mut(&mut self, user: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| &*m.user_id == user)
    }

    pub fn is_live(&self) -> bool {
        self.state == CallState::Started
    }

    pub fn count(&self, pred: impl Fn(CallUserState) -> bool) -> usize {
        self.members.iter().filter(|m| pred(m.state)).count()
    }

    pub fn info(&self) -> CallInfo {
        CallInfo {
            call_id: self.id.to_string(),
            caller: self.caller.to_string(),
            caller_name: self.caller_name.to_string(),
            mode: self.mode,
            state: self.state,
            create_time: self.create_time,
            end_time: self.end_time,
            extended_data: self.extended_data.to_string(),
            call_user_list: self.members.iter().map(Member::info).collect(),
        }
    }

    /// What `member` is told when it is invited (or its device logs in while it rings).
    pub fn invitation_for(&self, member: &Member) -> InvitationInfo {
        InvitationInfo {
            call_id: self.id.to_string(),
            caller: self.caller.to_string(),
            caller_name: self.caller_name.to_string(),
            inviter: member.inviter.to_string(),
            mode: self.mode,
            timeout: member.invite.timeout_secs,
            create_time: self.create_time,
            expire_time: Some(member.invite.deadline),
            extended_data: member.invite.extended_data.to_string(),
            push_config: member.invite.push.as_deref().cloned(),
            call_user_list: self.members.iter().map(Member::info).collect(),
        }
    }

    /// What the caller's other devices are told when the call is created.
    pub fn creation_info(&self) -> InvitationInfo {
        let caller = &self.members[0];
        InvitationInfo {
            expire_time: None,
            ..self.invitation_for(caller)
        }
    }
}

impl Member {
    pub fn info(&self) -> CallUserInfo {
        CallUserInfo {
            user_id: self.user_id.to_string(),
            state: self.state,
            extended_data: self.extended_data.to_string(),
            reason: self.reason,
            inviter: self.inviter.to_string(),
            update_time: self.update_time,
        }
    }

    /// Only `Hub::set_member_state` calls this, so a member's timeout follows its state.
    pub(super) fn set_state(
        &mut self,
        state: CallUserState,
        reason: Option<StateReason>,
        now: u64,
    ) {
        self.state = state;
        self.reason = reason;
        self.update_time = now;
    }
}
