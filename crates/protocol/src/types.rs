use serde::{Deserialize, Serialize};

use crate::{CallMode, CallState, CallUserState, StateReason};

/// Milliseconds since the Unix epoch, UTC. All times on the wire use it.
pub type UnixMillis = u64;

/// Now, as the wire counts time. A clock set before 1970 reads as 0 rather than failing:
/// a time is never worth stopping a call for.
pub fn now_unix_ms() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as UnixMillis)
}

/// Shown by a client that is in the background when the invitation arrives; stored with the
/// invitation so a device that logs in later still gets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushConfig {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub payload: String,
}

/// One member of a call and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallUserInfo {
    pub user_id: String,
    pub state: CallUserState,
    /// What the user sent with its last accept, reject, join or quit.
    #[serde(default)]
    pub extended_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<StateReason>,
    /// Who invited this user (the caller for the first invitees).
    pub inviter: String,
    /// When the user's state last changed.
    pub update_time: UnixMillis,
}

/// A whole call, as the list query and `callJoin` return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInfo {
    pub call_id: String,
    pub caller: String,
    pub caller_name: String,
    pub mode: CallMode,
    pub state: CallState,
    pub create_time: UnixMillis,
    /// 0 while the call has not ended.
    pub end_time: UnixMillis,
    pub extended_data: String,
    pub call_user_list: Vec<CallUserInfo>,
}

/// What an invitee's devices (`callInvitationReceived`) and the caller's other devices
/// (`callInvitationCreated`) are told about a new invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvitationInfo {
    pub call_id: String,
    pub caller: String,
    pub caller_name: String,
    /// Who sent this invitation: the caller, or the member who used `callingInvite`.
    pub inviter: String,
    pub mode: CallMode,
    /// Timeout in seconds of this invitation.
    pub timeout: u32,
    pub create_time: UnixMillis,
    /// When this invitation times out for the recipient (absent for the caller's devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<UnixMillis>,
    pub extended_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_config: Option<PushConfig>,
    pub call_user_list: Vec<CallUserInfo>,
}

/// Why an invitee named in a request could not be invited or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InviteeError {
    /// Not a valid user ID.
    InvalidUserId,
    /// You cannot invite yourself.
    IsSelf,
    /// Named twice in the same request.
    Duplicate,
    /// Already ringing or in this call.
    AlreadyInCall,
    /// Inviting this user would exceed the member cap.
    CallFull,
    /// (callCancel) not a member of this call.
    NotInvited,
    /// (callCancel) already answered, timed out or cancelled.
    NotPending,
    /// (callCancel) invited by someone else.
    NotYourInvitee,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInvitee {
    pub user_id: String,
    pub reason: InviteeError,
}

/// Why the server closed a session by itself. Sent as a `sessionClosed` event just before
/// the socket closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CloseReason {
    /// The same user logged in again with the same device ID (a reconnect).
    Replaced,
    /// Nothing was received for longer than the heartbeat timeout.
    HeartbeatTimeout,
    /// No successful `login` within the login timeout after connecting.
    LoginTimeout,
    /// Frames were queued faster than this connection read them.
    SlowConsumer,
    /// The connection kept sending after being rate limited.
    Flooding,
    /// The server is shutting down.
    ServerShutdown,
    /// The user logged out.
    LoggedOut,
    /// The server could not store a change and stopped. The requests that made it got no
    /// answer; none of their effects survive a restart.
    StorageFailed,
}
