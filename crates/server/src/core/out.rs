use std::time::Instant;

use beckon_protocol::{CloseReason, ServerMessage};

use super::Call;

/// Identifies one WebSocket connection for the lifetime of the process. In a cluster the
/// top 16 bits are the node that holds the connection ([`node_of`]), so the hub can tell
/// which sessions a dead node took with it, and frames route by node without a table.
pub type SessionId = u64;

/// A node of a cluster, numbered by the database at start; 0 is a server on its own.
pub type NodeId = u16;

const NODE_SHIFT: u32 = 48;

/// The first session ID of `node`; each later one adds 1.
pub fn first_session(node: NodeId) -> SessionId {
    (u64::from(node) << NODE_SHIFT) | 1
}

/// The node holding `session`.
pub fn node_of(session: SessionId) -> NodeId {
    (session >> NODE_SHIFT) as NodeId
}

/// Something the runtime must do, in order, once the batch that produced it is durable.
// `Send` is by far the most common variant; boxing it would cost an allocation per
// message to save a few bytes on the rare others.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Out {
    /// Serialize `msg` once and queue it on every session in `to`.
    Send {
        to: Vec<SessionId>,
        msg: ServerMessage,
        /// For responses: the request's kind and arrival, to record its latency.
        timing: Option<(&'static str, Instant)>,
    },
    /// The session is now logged in as this user and device (the connection needs it for
    /// requests it serves itself, such as the history query).
    LoggedIn {
        session: SessionId,
        user_id: String,
        device_id: String,
    },
    /// Tell the session why, then close it.
    Close {
        session: SessionId,
        reason: CloseReason,
    },
}

/// What one round of the hub produced.
#[derive(Debug, Default)]
pub struct Batch {
    /// Full snapshots of every call that changed; storage upserts them in one transaction.
    pub writes: Vec<Call>,
    pub outs: Vec<Out>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.outs.is_empty()
    }
}
