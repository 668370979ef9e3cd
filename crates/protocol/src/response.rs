use serde::{Deserialize, Serialize};

use crate::limits::{DEFAULT_HEARTBEAT_TIMEOUT_MS, HEARTBEATS_PER_TIMEOUT};
use crate::{
    CallInfo, CallMode, CallUserInfo, CloseReason, ErrorBody, ErrorInvitee, IceConfig,
    InvitationInfo, StateReason, UnixMillis,
};

/// A server-to-client frame: a response, an error, or an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    Response(Response),
    Error(ErrorBody),
    CallInvitationReceived(InvitationInfo),
    CallInvitationCreated(InvitationInfo),
    CallInvitationCancelled(CallInvitationCancelled),
    CallInvitationTimeout(CallInvitationTimeout),
    CallInvitationEnded(CallInvitationEnded),
    CallUserStateChanged(CallUserStateChanged),
    Relay(RelayEvent),
    SessionClosed(SessionClosed),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    pub id: u64,
    pub result: ResponseBody,
}

/// Tagged with the request's `type`, so a client can check it got the answer it expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ResponseBody {
    Login(LoginResult),
    Logout,
    Heartbeat(HeartbeatResult),
    CallInvite(CallInviteResult),
    CallCancel(CallCancelResult),
    CallAccept(CallIdResult),
    CallReject(CallIdResult),
    CallingInvite(CallInviteResult),
    CallJoin(CallInfo),
    CallQuit(CallIdResult),
    CallEnd(CallEndResult),
    QueryCallInvitationList(CallList),
    Relay,
    QueryIceConfig(IceConfig),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    pub user_id: String,
    pub user_name: String,
    pub device_id: String,
    pub protocol_version: u32,
    /// Send any frame (a `heartbeat` will do) at least this often. Defaulted, as is the
    /// timeout, so a client still understands a server that does not send them.
    #[serde(default = "default_heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Silence longer than this ends the session (and cancels calls this device started
    /// that nobody accepted yet). A device gone this long counts as gone.
    #[serde(default = "default_heartbeat_timeout_ms")]
    pub heartbeat_timeout_ms: u64,
    pub server_time: UnixMillis,
    /// STUN and TURN servers for this user's calls, TURN credentials minted for it.
    /// Defaulted (none) so a client still understands a server from before the field.
    #[serde(default)]
    pub ice: IceConfig,
}

fn default_heartbeat_timeout_ms() -> u64 {
    DEFAULT_HEARTBEAT_TIMEOUT_MS
}

fn default_heartbeat_interval_ms() -> u64 {
    DEFAULT_HEARTBEAT_TIMEOUT_MS / HEARTBEATS_PER_TIMEOUT
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResult {
    pub server_time: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInviteResult {
    pub call_id: String,
    /// Seconds.
    pub timeout: u32,
    pub create_time: UnixMillis,
    /// The invitees just invited, with their first state: `received` if a device of theirs
    /// was told, `inviting` if they are offline (they get it if they log in in time).
    pub call_user_list: Vec<CallUserInfo>,
    pub error_invitees: Vec<ErrorInvitee>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallCancelResult {
    pub call_id: String,
    pub error_invitees: Vec<ErrorInvitee>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallIdResult {
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallEndResult {
    pub call_id: String,
    pub end_time: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallList {
    /// Newest first.
    pub call_list: Vec<CallInfo>,
    /// Pass back to get the next page; 0 when there is none.
    pub next_flag: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInvitationCancelled {
    pub call_id: String,
    pub inviter: String,
    pub extended_data: String,
    pub reason: StateReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInvitationTimeout {
    pub call_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInvitationEnded {
    pub call_id: String,
    pub caller: String,
    pub mode: CallMode,
    /// Who ended it; empty when the server ended it because nobody was left.
    pub operated_user_id: String,
    pub extended_data: String,
    pub end_time: UnixMillis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallUserStateChanged {
    pub call_id: String,
    /// Only the members whose state just changed.
    pub call_user_list: Vec<CallUserInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayEvent {
    pub call_id: String,
    pub from_user_id: String,
    pub from_device_id: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionClosed {
    pub reason: CloseReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_answer_without_heartbeat_timing_gets_the_defaults() {
        let old = r#"{"type":"response","id":1,"result":{"type":"login","userId":"a",
            "userName":"A","deviceId":"d","protocolVersion":1,"serverTime":5}}"#;
        let ServerMessage::Response(Response {
            result: ResponseBody::Login(l),
            ..
        }) = serde_json::from_str(old).unwrap()
        else {
            panic!("not a login answer")
        };
        assert_eq!(l.heartbeat_timeout_ms, DEFAULT_HEARTBEAT_TIMEOUT_MS);
        assert_eq!(
            l.heartbeat_interval_ms * HEARTBEATS_PER_TIMEOUT,
            DEFAULT_HEARTBEAT_TIMEOUT_MS
        );
        assert_eq!(l.ice, IceConfig::default());
        assert!(l.ice.ice_servers.is_empty());
        assert_eq!(l.ice.ice_transport_policy, crate::IceTransportPolicy::All);
        assert_eq!(l.ice.expires_at, None);
    }
}
