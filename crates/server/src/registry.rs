//! The live connections, by session id: where the storage thread delivers frames once a
//! batch is durable. Each connection owns a bounded queue; a full queue means the client
//! is not reading, and it is disconnected rather than allowed to grow server memory.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::extract::ws::Utf8Bytes;
use beckon_protocol::CloseReason;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::SessionId;

/// What a connection task receives from the rest of the server.
#[derive(Debug)]
pub enum Frame {
    Text(Utf8Bytes),
    LoggedIn { user_id: String, device_id: String },
    Close(CloseReason),
}

#[derive(Clone)]
pub struct SessionHandle {
    pub tx: mpsc::Sender<Frame>,
    /// Cancelled when the queue overflowed: the connection closes at once.
    pub overflowed: CancellationToken,
}

impl SessionHandle {
    /// Queues without waiting; never blocks the storage thread on a slow client.
    pub fn offer(&self, frame: Frame) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(frame) {
            self.overflowed.cancel();
        }
    }
}

#[derive(Default)]
pub struct Registry {
    sessions: RwLock<HashMap<SessionId, SessionHandle>>,
}

impl Registry {
    pub fn insert(&self, id: SessionId, handle: SessionHandle) {
        if let Ok(mut map) = self.sessions.write() {
            map.insert(id, handle);
        }
    }

    pub fn remove(&self, id: SessionId) {
        if let Ok(mut map) = self.sessions.write() {
            map.remove(&id);
        }
    }

    /// Runs `f` with the handles of `ids` under one read lock.
    pub fn with_sessions(&self, ids: &[SessionId], mut f: impl FnMut(&SessionHandle)) {
        if let Ok(map) = self.sessions.read() {
            for id in ids {
                if let Some(h) = map.get(id) {
                    f(h);
                }
            }
        }
    }
}
