use std::time::Duration;

use beckon_protocol::{ErrorBody, ErrorCode};

/// Why a request or a connection attempt failed.
///
/// Every variant says whether trying again can help ([`WireError::is_retryable`]), so
/// callers can decide between backing off and giving up without matching on details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The server refused the request; the body says why (and, for `stateForbidden`, the
    /// caller's state in the call).
    #[error("server refused the request: {} {}: {}", .0.code.code(), .0.name, .0.message)]
    Server(ErrorBody),
    /// The connection is gone, so the request was not answered (it may or may not have
    /// been applied if it was already sent).
    #[error("connection closed: {0}")]
    Closed(ClosedBy),
    /// No answer within the configured request timeout. The request may still be applied.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The TCP connection could not be made.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The WebSocket handshake or URL was refused. Boxed because tungstenite's error is large
    /// and this path is rare.
    #[error("WebSocket error: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The server refused the request with an error code this client does not know (a
    /// newer server). Codes from 4000 up are server-side conditions worth retrying.
    #[error("server refused the request: {code} {name}: {message}")]
    UnknownServerError {
        code: u16,
        name: String,
        message: String,
    },
    /// The server sent something this client cannot make sense of: an undecodable frame,
    /// or an answer of the wrong kind. A bug on one side; retrying will not fix it.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl WireError {
    /// The server's error code, when the server refused the request.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            WireError::Server(body) => Some(body.code),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later (after reconnecting, for
    /// the connection errors). A timed-out or closed request may already have been applied,
    /// so only retry what is safe to repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            WireError::Server(body) => body.code.is_retryable(),
            WireError::Closed(by) => !matches!(by, ClosedBy::Client),
            WireError::Timeout(_) | WireError::Io(_) => true,
            WireError::WebSocket(e) => matches!(
                **e,
                tokio_tungstenite::tungstenite::Error::Io(_)
                    | tokio_tungstenite::tungstenite::Error::ConnectionClosed
                    | tokio_tungstenite::tungstenite::Error::AlreadyClosed
            ),
            WireError::UnknownServerError { code, .. } => *code >= 4000,
            WireError::Protocol(_) => false,
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for WireError {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        WireError::WebSocket(Box::new(e))
    }
}

/// How a connection ended. Kept so that every request failing afterwards, and
/// [`WireClient::closed`](super::WireClient::closed), can say why instead of a bare "closed".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClosedBy {
    /// The server sent a WebSocket close frame (`code` is absent if the frame had none).
    Server { code: Option<u16>, reason: String },
    /// [`WireClient::close`](super::WireClient::close) was called, or every handle was dropped.
    Client,
    /// The connection broke without a close frame (reset, EOF, write failure).
    Lost(String),
}

impl std::fmt::Display for ClosedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClosedBy::Server {
                code: Some(code),
                reason,
            } => write!(f, "server closed with code {code} ({reason:?})"),
            ClosedBy::Server { code: None, .. } => write!(f, "server closed without a code"),
            ClosedBy::Client => write!(f, "closed by this client"),
            ClosedBy::Lost(why) => write!(f, "connection lost: {why}"),
        }
    }
}
