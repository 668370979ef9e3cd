//! What the manager shows the application: a full snapshot after every change, so a UI
//! renders from the snapshot alone and never keeps call state of its own.

use beckon_protocol::{CallUserState, StateReason};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CallType {
    Voice,
    Video,
}

/// The seed's busy diagram: every phase but `Free` is busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Phase {
    Free,
    /// Calling someone, waiting for an answer.
    Outgoing,
    /// Being called: ringing.
    Incoming,
    InCall,
}

impl Phase {
    pub fn is_busy(self) -> bool {
        self != Phase::Free
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Direction {
    Outgoing,
    Incoming,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Member {
    pub user_id: String,
    /// The display name when known (the caller's), else the user ID.
    pub name: String,
    /// `inviting` means no device of the user has been reached yet (offline).
    pub state: CallUserState,
    pub reason: Option<StateReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CallView {
    /// `None` for the moment between pressing "call" and the server's answer.
    pub call_id: Option<String>,
    pub direction: Direction,
    pub call_type: CallType,
    pub caller_id: String,
    pub caller_name: String,
    /// Everyone in the call but this user, in the order they joined it.
    pub peers: Vec<Member>,
    /// More than two people were ever part of this call: hang-up means "leave", and the
    /// UI offers "end for everyone" separately.
    pub group: bool,
    /// Local Unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub created_at: u64,
    /// When the talking started (the first accept), local Unix milliseconds.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub started_at: Option<u64>,
    /// When the ringing stops by itself, local Unix milliseconds: the invitation's timeout
    /// as the server gave it (with the invitation, or in its answer to ours).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub ring_until: Option<u64>,
    /// An accept or invite request is on its way.
    pub working: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "state"
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Connection {
    Connecting,
    Connected,
    Reconnecting { attempt: u32, reason: String },
    Disconnected { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Snapshot {
    pub user_id: String,
    pub user_name: String,
    pub phase: Phase,
    pub call: Option<CallView>,
    pub connection: Connection,
    /// Invitations are declined as busy without ringing.
    pub do_not_disturb: bool,
}

/// How a call ended for this user. Each is something a UI says differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Outcome {
    /// Outgoing: the callee declined.
    Declined,
    /// Outgoing: the callee was busy (rejected automatically).
    Busy,
    /// Outgoing: the callee was reached but did not answer in time.
    NoAnswer,
    /// Outgoing: no device of the callee was online for the whole ringing time.
    Unreachable,
    /// Incoming: the caller cancelled (or went offline) before you answered.
    CancelledByCaller,
    /// Incoming: you did not answer in time.
    Missed,
    /// Incoming: another of your devices answered.
    AnsweredElsewhere,
    /// Incoming: another of your devices declined.
    DeclinedElsewhere,
    /// The other side hung up, or everyone else left. `by` names who ended it for
    /// everyone when someone did; `None` when the others left, or the server did not say.
    EndedByPeer { by: Option<String> },
    /// This device lost its connection for too long to stay in the call.
    ConnectionLost,
    /// You cancelled your outgoing call.
    Cancelled,
    /// You declined the incoming call.
    Rejected,
    /// You hung up (in a group call: ended it for everyone).
    HungUp,
    /// You left a group call; the others go on.
    Left,
    /// The server refused the request; `message` says why.
    Failed { message: String },
    /// The call's audio and video could not be carried, so this device ended it.
    MediaFailed { problem: MediaProblem },
}

/// Why the manager is telling the application something; the snapshot says the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum Notice {
    /// The current call or the connection changed; render the snapshot.
    Changed,
    /// The call became a conversation: `by` accepted (this user, for an incoming call).
    Accepted { by: String },
    /// The call is over; the snapshot is already free. `call` is how it looked last.
    Finished { outcome: Outcome, call: CallView },
    /// Someone called while this user was busy and was told "busy" automatically.
    RejectedBusy {
        call_id: String,
        caller_id: String,
        caller_name: String,
        call_type: CallType,
    },
    /// An invitation settled while this device was offline, so it never rang here.
    MissedWhileAway {
        call_id: String,
        caller_id: String,
        caller_name: String,
        call_type: CallType,
        /// Whether another device of this user answered it.
        answered: bool,
    },
    /// A request the user made failed without ending the call (inviting more people).
    Error { message: String },
    /// Another member's media module sent this one something (an SDP description, an ICE
    /// candidate), for the current call. Passed on untouched, in the order it came.
    Signal {
        call_id: String,
        from_user_id: String,
        #[cfg_attr(feature = "ts", ts(type = "unknown"))]
        payload: serde_json::Value,
    },
}

/// Why the application ended a call itself: a call nobody can hear is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum MediaProblem {
    /// Media never connected (no route, or the TURN server refused the credentials).
    CouldNotConnect,
    /// Media connected, then stopped and did not come back.
    ConnectionLost,
}

/// One item of the manager's event stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Update {
    pub notice: Notice,
    pub snapshot: Snapshot,
}

/// Why an action was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
#[non_exhaustive]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum ActionError {
    #[error("not possible while {phase:?}")]
    NotNow { phase: Phase },
    #[error("{message}")]
    InvalidUsers { message: String },
    #[error("call {call_id} is no longer ringing")]
    NotRinging { call_id: String },
    #[error("the call manager has stopped")]
    Stopped,
}
