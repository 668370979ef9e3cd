use serde::{Deserialize, Serialize};

use crate::CallUserState;

macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $name:ident = $code:literal, $wire:literal, $retry:literal; )*) => {
        /// Every error the server can answer with. The number is the stable contract;
        /// the name is for people reading frames.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $name, )*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            pub fn code(self) -> u16 {
                match self { $(ErrorCode::$name => $code,)* }
            }

            /// camelCase name, as sent in the `name` field.
            pub fn name(self) -> &'static str {
                match self { $(ErrorCode::$name => $wire,)* }
            }

            /// Whether the same request may succeed if sent again later unchanged.
            pub fn is_retryable(self) -> bool {
                match self { $(ErrorCode::$name => $retry,)* }
            }

            pub fn from_code(code: u16) -> Option<ErrorCode> {
                match code { $($code => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// The frame is not valid JSON.
    MalformedJson = 1001, "malformedJson", false;
    /// `type` is missing or names no request.
    UnknownType = 1002, "unknownType", false;
    /// A field is missing, has the wrong type, or is out of its allowed range.
    InvalidRequest = 1003, "invalidRequest", false;
    /// The frame is larger than `limits::MAX_FRAME_BYTES`.
    FrameTooLarge = 1004, "frameTooLarge", false;
    /// Binary frames are not part of the protocol.
    BinaryFrame = 1005, "binaryFrame", false;
    /// Too many requests on this connection; slow down.
    RateLimited = 1006, "rateLimited", true;
    /// Only `login` and `heartbeat` are allowed before login.
    NotLoggedIn = 1007, "notLoggedIn", false;
    /// `login` on a connection that is already logged in.
    AlreadyLoggedIn = 1008, "alreadyLoggedIn", false;
    /// The token is missing, malformed, or its signature does not verify.
    AuthFailed = 2001, "authFailed", false;
    /// The token's expiry has passed: get a new one.
    TokenExpired = 2002, "tokenExpired", false;
    /// The token was issued for another user ID.
    TokenUserMismatch = 2003, "tokenUserMismatch", false;
    /// The user already has `limits::MAX_DEVICES_PER_USER` devices online.
    TooManyDevices = 2004, "tooManyDevices", true;
    /// No such call, or you are not a member of it (the two are not told apart).
    CallNotFound = 3001, "callNotFound", false;
    /// The seed's state table forbids this request in your current state (see `state`).
    StateForbidden = 3002, "stateForbidden", false;
    /// You are already in a call (Accepted in a call that has not ended).
    AlreadyInCall = 3003, "alreadyInCall", true;
    /// The call has ended.
    CallEnded = 3004, "callEnded", false;
    /// callingInvite, callJoin, callQuit and callEnd exist only in advanced mode.
    AdvancedModeOnly = 3005, "advancedModeOnly", false;
    /// The call would have more than `limits::MAX_CALL_MEMBERS` users.
    CallFull = 3006, "callFull", false;
    /// None of the invitees could be invited (see the message for why).
    NoValidInvitees = 3007, "noValidInvitees", false;
    /// Only the member who sent an invitation may cancel it (before any accept: the caller).
    NotInviter = 3008, "notInviter", false;
    /// The invitation cannot be cancelled: someone already accepted it.
    CallAlreadyAccepted = 3009, "callAlreadyAccepted", false;
    /// Relay needs both you and the target Accepted in a live call, and the target online.
    RelayTargetUnavailable = 3010, "relayTargetUnavailable", true;
    /// The server failed in a way that is not your fault.
    Internal = 4001, "internal", true;
    /// The server is shutting down; reconnect later.
    ShuttingDown = 4002, "shuttingDown", true;
    /// The server is over capacity right now; retry with backoff.
    Overloaded = 4003, "overloaded", true;
    /// What the answer needs is damaged in the server's database: asking again gives the
    /// same error until the operator repairs it.
    StoredDataCorrupt = 4004, "storedDataCorrupt", false;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = u16::deserialize(d)?;
        ErrorCode::from_code(code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {code}")))
    }
}

/// The payload of an `error` frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The request's id; absent when the frame was too broken to carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    pub code: ErrorCode,
    /// The code's camelCase name, repeated for readability.
    pub name: String,
    /// A sentence for people: what was wrong, and with which field.
    pub message: String,
    /// With `stateForbidden`: the caller's current state in the call, so a client can tell
    /// "cancelled", "answered on another device" and "timed out" apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<CallUserState>,
}

impl ErrorBody {
    pub fn new(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            id,
            code,
            name: code.name().to_string(),
            message: message.into(),
            state: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert_eq!(ErrorCode::from_code(c.code()), Some(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), c);
        }
        assert!(serde_json::from_str::<ErrorCode>("9999").is_err());
    }
}
