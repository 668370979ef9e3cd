use serde::{Deserialize, Serialize};

use crate::{CallMode, PushConfig, RejectReason};

/// A client-to-server frame: `{"type": "...", "id": 7, ...fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the client; echoed in the one response or error for this request.
    pub id: u64,
    #[serde(flatten)]
    pub body: RequestBody,
}

/// The request kinds. Their `type` names come from the variant names alone, in two
/// derives that must agree: serde's for the wire and strum's for [`RequestKind`] (logs,
/// metrics labels, choosing the body to parse). A test checks every variant both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "camelCase")]
#[strum_discriminants(
    name(RequestKind),
    derive(
        Hash,
        strum::IntoStaticStr,
        strum::EnumString,
        strum::Display,
        strum::VariantArray
    ),
    strum(serialize_all = "camelCase")
)]
pub enum RequestBody {
    Login(Login),
    Logout,
    Heartbeat,
    CallInvite(CallInvite),
    CallCancel(CallCancel),
    CallAccept(CallAnswer),
    CallReject(CallReject),
    CallingInvite(CallingInvite),
    CallJoin(CallAnswer),
    CallQuit(CallAnswer),
    CallEnd(CallAnswer),
    QueryCallInvitationList(QueryCallInvitationList),
    Relay(Relay),
    /// Fresh TURN credentials, before the ones from `login` expire.
    QueryIceConfig,
}

impl RequestBody {
    pub fn kind(&self) -> RequestKind {
        self.into()
    }
}

impl RequestKind {
    /// Every kind, for tools that must cover them all without depending on strum.
    pub const ALL: &'static [RequestKind] = <RequestKind as strum::VariantArray>::VARIANTS;

    /// The `type` tag on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Login {
    pub user_id: String,
    /// Display name shown to the people this user calls.
    pub user_name: String,
    /// Signed token from `beckon-server token`; may be omitted when the server runs open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Stable per installation. A login with the same user and device replaces the older
    /// session (a reconnect) instead of counting as another device. Generated if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallInvite {
    pub invitees: Vec<String>,
    /// Seconds, 1 to 600; 90 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub mode: CallMode,
    #[serde(default)]
    pub extended_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_config: Option<PushConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallCancel {
    pub call_id: String,
    /// Invitees to cancel; empty means every invitee still pending that you invited.
    #[serde(default)]
    pub invitees: Vec<String>,
    #[serde(default)]
    pub extended_data: String,
}

/// The body of callAccept, callJoin, callQuit and callEnd.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallAnswer {
    pub call_id: String,
    #[serde(default)]
    pub extended_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReject {
    pub call_id: String,
    #[serde(default)]
    pub extended_data: String,
    #[serde(default)]
    pub reason: RejectReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallingInvite {
    pub call_id: String,
    pub invitees: Vec<String>,
    /// Seconds, 1 to 600; 90 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub extended_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_config: Option<PushConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCallInvitationList {
    /// 1 to 100.
    pub count: u32,
    /// 0 for the first page; then the `nextFlag` of the previous answer.
    #[serde(default)]
    pub next_flag: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relay {
    pub call_id: String,
    pub to_user_id: String,
    /// Any JSON value; forwarded untouched to the target's device in the call.
    pub payload: serde_json::Value,
}
