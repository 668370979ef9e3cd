use serde::{Deserialize, Serialize};

/// A user's state within one call, as in ZIM's `ZIMCallUserState`.
///
/// The state decides which requests the user may make and which events the user gets;
/// the server's `core::table` holds that mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum CallUserState {
    /// Invited, but no device of the user has been told yet (offline).
    Inviting,
    /// Invited, and at least one device of the user has been told.
    Received,
    /// In the call: the caller from the start, an invitee once it accepted or joined.
    Accepted,
    Rejected,
    Cancelled,
    Timeout,
    /// Left an advanced-mode call after having been in it.
    Quit,
}

impl CallUserState {
    /// Still waiting for this user's answer.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Inviting | Self::Received)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inviting => "inviting",
            Self::Received => "received",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Timeout => "timeout",
            Self::Quit => "quit",
        }
    }

    pub const ALL: [CallUserState; 7] = [
        Self::Inviting,
        Self::Received,
        Self::Accepted,
        Self::Rejected,
        Self::Cancelled,
        Self::Timeout,
        Self::Quit,
    ];
}

/// Normal mode ends once every invitee answered; advanced mode lives until `callEnd`
/// (or until nobody is left in it) and allows inviting more people, quitting and joining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallMode {
    #[default]
    Normal,
    Advanced,
}

/// The call as a whole (ZIM's `callState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallState {
    Started,
    Ended,
}

/// Why an invitee rejected: lets the caller's UI say "busy" rather than "declined".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectReason {
    #[default]
    Declined,
    Busy,
}

/// Why a member's state last changed, when the state alone does not say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub enum StateReason {
    /// Rejected by the user.
    Declined,
    /// Rejected because the user was busy (usually automatically, by the client).
    Busy,
    /// Cancelled by the inviter with `callCancel`.
    CancelledByInviter,
    /// Cancelled because the caller logged out or lost its connection before anyone accepted.
    CallerGone,
    /// Quit because the device that was in the call lost its connection for good.
    ConnectionLost,
}

impl From<RejectReason> for StateReason {
    fn from(r: RejectReason) -> Self {
        match r {
            RejectReason::Declined => StateReason::Declined,
            RejectReason::Busy => StateReason::Busy,
        }
    }
}
