use std::time::Duration;

use beckon_protocol::{CallUserState, ErrorBody, ErrorCode};

use crate::wire::{ClosedBy, WireError};

/// Why an SDK call failed.
///
/// [`Error::is_retryable`] says whether the same call may succeed later unchanged, so an
/// application can choose between "try again" and "tell the user" without matching details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused the request; `code` is its numbered reason.
    #[error("{} {}: {}", .0.code.code(), .0.name, .0.message)]
    Server(ErrorBody),
    /// The client is not connected right now (connecting, reconnecting, or stopped), so the
    /// request was not sent. It fails at once instead of waiting for a connection.
    #[error("not connected to the server ({0})")]
    NotConnected(String),
    /// The connection dropped while the request was on its way; it may or may not have
    /// been applied.
    #[error("connection lost before the answer: {0}")]
    ConnectionLost(ClosedBy),
    /// No answer in time; the request may still be applied.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The first connection or login failed.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// A refusal with a code this client does not know (from a newer server).
    #[error("{code} {name}: {message}")]
    UnknownServerError {
        code: u16,
        name: String,
        message: String,
    },
    /// The server sent something this client does not understand. Retrying will not help.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Server(body) => Some(body.code),
            _ => None,
        }
    }

    /// With `stateForbidden`: where this user stands in the call, which tells "already
    /// cancelled", "answered elsewhere" and "timed out" apart.
    pub fn state(&self) -> Option<CallUserState> {
        match self {
            Error::Server(body) => body.state,
            _ => None,
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Server(body) => body.code.is_retryable(),
            Error::NotConnected(_)
            | Error::ConnectionLost(_)
            | Error::Timeout(_)
            | Error::Connect(_) => true,
            Error::UnknownServerError { code, .. } => *code >= 4000,
            Error::Protocol(_) => false,
        }
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Server(body) => Error::Server(body),
            WireError::Closed(by) => Error::ConnectionLost(by),
            WireError::Timeout(d) => Error::Timeout(d),
            WireError::Protocol(p) => Error::Protocol(p),
            WireError::UnknownServerError {
                code,
                name,
                message,
            } => Error::UnknownServerError {
                code,
                name,
                message,
            },
            other => Error::Connect(other.to_string()),
        }
    }
}
