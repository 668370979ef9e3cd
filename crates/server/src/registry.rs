//! The live connections, by session id: where the storage thread delivers frames once a
//! batch is durable. Each connection owns a queue bounded in frames and in bytes, and all
//! queues together share a byte budget; a client whose queue cannot take a frame is not
//! reading, and it is disconnected rather than allowed to grow server memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use beckon_protocol::limits::{OUTBOUND_QUEUE_BYTES, OUTBOUND_QUEUE_FRAMES, OUTBOUND_SHARE_BYTES};
use beckon_protocol::CloseReason;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::SessionId;
use crate::metrics as m;

/// What a connection task receives from the rest of the server.
#[derive(Debug)]
pub enum Frame {
    Text(Utf8Bytes),
    LoggedIn { user_id: String, device_id: String },
    Close(CloseReason),
}

impl Frame {
    fn bytes(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            _ => 0,
        }
    }
}

/// Bytes queued for all connections, against the server's budget.
struct Total {
    budget: usize,
    queued: AtomicUsize,
}

/// The sending side of one connection's queue; cloned wherever something is queued for it.
#[derive(Clone)]
pub struct SessionHandle {
    tx: mpsc::Sender<Frame>,
    queued: Arc<AtomicUsize>,
    total: Arc<Total>,
    /// Cancelled when the queue overflowed: the connection closes at once.
    pub overflowed: CancellationToken,
}

/// The receiving side, owned by the connection task. Dropping it gives back the bytes of
/// whatever is still queued.
pub struct Queue {
    rx: mpsc::Receiver<Frame>,
    queued: Arc<AtomicUsize>,
    total: Arc<Total>,
}

impl SessionHandle {
    /// Queues without waiting; never blocks the storage thread on a slow client. A frame
    /// that does not fit cuts the connection.
    pub fn offer(&self, frame: Frame) {
        self.push(frame);
    }

    /// [`offer`](Self::offer), telling whether the frame was queued.
    pub fn push(&self, frame: Frame) -> bool {
        let bytes = frame.bytes();
        let mine = self.queued.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let all = self.total.queued.fetch_add(bytes, Ordering::Relaxed) + bytes;
        // Over the total budget only connections that are behind are cut: one that keeps
        // up holds next to nothing.
        let fits = mine <= OUTBOUND_QUEUE_BYTES
            && (all <= self.total.budget || mine <= OUTBOUND_SHARE_BYTES);
        if fits && self.tx.try_send(frame).is_ok() {
            metrics::gauge!(m::OUTBOUND_BYTES).increment(bytes as f64);
            return true;
        }
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
        self.total.queued.fetch_sub(bytes, Ordering::Relaxed);
        if !self.tx.is_closed() {
            self.overflowed.cancel();
        }
        false
    }
}

impl Queue {
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.rx.recv().await?;
        self.release(frame.bytes());
        Some(frame)
    }

    /// The next frame if one is queued already, without waiting.
    pub fn try_recv(&mut self) -> Option<Frame> {
        let frame = self.rx.try_recv().ok()?;
        self.release(frame.bytes());
        Some(frame)
    }

    fn release(&self, bytes: usize) {
        self.queued.fetch_sub(bytes, Ordering::Relaxed);
        self.total.queued.fetch_sub(bytes, Ordering::Relaxed);
        metrics::gauge!(m::OUTBOUND_BYTES).decrement(bytes as f64);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Closed first, so nothing lands after the drain.
        self.rx.close();
        while let Ok(frame) = self.rx.try_recv() {
            self.release(frame.bytes());
        }
    }
}

pub struct Registry {
    sessions: RwLock<HashMap<SessionId, SessionHandle>>,
    total: Arc<Total>,
}

impl Registry {
    /// `budget`: bytes queued for all connections together.
    pub fn new(budget: usize) -> Registry {
        Registry {
            sessions: RwLock::default(),
            total: Arc::new(Total {
                budget,
                queued: AtomicUsize::new(0),
            }),
        }
    }

    /// A new connection's queue, registered under `id`.
    pub fn open(&self, id: SessionId) -> (SessionHandle, Queue) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
        let queued = Arc::new(AtomicUsize::new(0));
        let handle = SessionHandle {
            tx,
            queued: queued.clone(),
            total: self.total.clone(),
            overflowed: CancellationToken::new(),
        };
        if let Ok(mut map) = self.sessions.write() {
            map.insert(id, handle.clone());
        }
        let queue = Queue {
            rx,
            queued,
            total: self.total.clone(),
        };
        (handle, queue)
    }

    pub fn remove(&self, id: SessionId) {
        if let Ok(mut map) = self.sessions.write() {
            map.remove(&id);
        }
    }

    /// Bytes queued for all connections.
    pub fn queued_bytes(&self) -> usize {
        self.total.queued.load(Ordering::Relaxed)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Frame {
        Frame::Text("x".repeat(n).into())
    }

    #[test]
    fn a_queue_is_bounded_in_bytes_and_gives_them_back_when_dropped() {
        let registry = Registry::new(usize::MAX);
        let (h, queue) = registry.open(1);
        let big = OUTBOUND_QUEUE_BYTES / 4;
        for _ in 0..4 {
            assert!(h.push(text(big)));
        }
        assert!(!h.overflowed.is_cancelled());
        assert!(!h.push(text(1)), "one byte past the bound");
        assert!(h.overflowed.is_cancelled());
        assert_eq!(registry.queued_bytes(), 4 * big);
        drop(queue);
        assert_eq!(registry.queued_bytes(), 0);
        assert!(!h.push(text(1)));
        assert_eq!(registry.queued_bytes(), 0);
    }

    #[test]
    fn past_the_total_budget_only_a_backlog_is_cut() {
        let registry = Registry::new(OUTBOUND_SHARE_BYTES * 2);
        let (behind, _q1) = registry.open(1);
        let (current, _q2) = registry.open(2);
        assert!(behind.push(text(OUTBOUND_SHARE_BYTES)));
        assert!(behind.push(text(OUTBOUND_SHARE_BYTES)));
        assert!(
            current.push(text(100)),
            "the budget is spent, but this one keeps up"
        );
        assert!(!behind.push(text(100)), "this one is behind");
        assert!(behind.overflowed.is_cancelled());
        assert!(!current.overflowed.is_cancelled());
    }
}
