//! The Beckon wire protocol.
//!
//! Every frame is one JSON text message, internally tagged by `type` with camelCase
//! fields. Clients send [`Request`]s (each with a client-chosen `id`); the server answers
//! every request with exactly one [`ServerMessage::Response`] or [`ServerMessage::Error`]
//! carrying the same `id`, and pushes events (the other [`ServerMessage`] variants) at any
//! time. `docs/protocol.md` is the human-readable form of this crate; keep them in step.

mod error;
mod ice;
pub mod limits;
mod request;
mod response;
mod state;
mod types;
mod validate;

pub use error::{ErrorBody, ErrorCode};
pub use ice::{IceConfig, IceServer, IceTransportPolicy};
pub use request::*;
pub use response::*;
pub use state::{CallMode, CallState, CallUserState, RejectReason, StateReason};
pub use types::*;
pub use validate::{is_valid_id, Invalid};

/// Bumped on any incompatible change; sent in the login response so clients can refuse
/// to talk to a server they do not understand.
pub const PROTOCOL_VERSION: u32 = 1;
