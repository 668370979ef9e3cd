//! The live connections, by session id: where the storage thread delivers frames once a
//! batch is durable. Each connection owns a queue bounded in frames and in bytes, and all
//! queues together share a byte budget; a client whose queue cannot take a frame is not
//! reading, and it is disconnected rather than allowed to grow server memory.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use beckon_protocol::limits::{OUTBOUND_QUEUE_BYTES, OUTBOUND_QUEUE_FRAMES, OUTBOUND_SHARE_BYTES};
use beckon_protocol::CloseReason;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::core::SessionId;
use crate::metrics as m;

/// What a connection task receives from the rest of the server. Small, because a queue
/// that has held a few frames keeps their slots.
#[derive(Debug)]
pub enum Frame {
    Text(Utf8Bytes),
    /// The user and device that the session logged in as.
    LoggedIn(Box<(String, String)>),
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

/// One connection's queue. Not a tokio channel: that allocates a block of 32 slots
/// up front, about 2 KiB for every idle connection; this holds nothing while empty.
struct Slots {
    frames: Mutex<Frames>,
    ready: Notify,
    /// Bytes of the frames in `frames`.
    queued: AtomicUsize,
}

#[derive(Default)]
struct Frames {
    queue: VecDeque<Frame>,
    /// The receiver is gone: nothing more is taken.
    closed: bool,
}

/// Slots a drained queue keeps; more are given back, so a burst does not stay.
const KEPT_SLOTS: usize = 4;

impl Slots {
    fn try_push(&self, frame: Frame) -> Result<(), Frame> {
        let Ok(mut f) = self.frames.lock() else {
            return Err(frame);
        };
        if f.closed || f.queue.len() >= OUTBOUND_QUEUE_FRAMES {
            return Err(frame);
        }
        f.queue.push_back(frame);
        drop(f);
        self.ready.notify_one();
        Ok(())
    }

    fn try_pop(&self) -> Option<Frame> {
        let mut f = self.frames.lock().ok()?;
        let frame = f.queue.pop_front();
        if f.queue.is_empty() && f.queue.capacity() > KEPT_SLOTS {
            f.queue.shrink_to(KEPT_SLOTS);
        }
        frame
    }

    fn is_closed(&self) -> bool {
        self.frames.lock().map_or(true, |f| f.closed)
    }

    /// Closes the queue and returns what was left in it.
    fn close(&self) -> VecDeque<Frame> {
        match self.frames.lock() {
            Ok(mut f) => {
                f.closed = true;
                std::mem::take(&mut f.queue)
            }
            Err(_) => VecDeque::new(),
        }
    }
}

/// The sending side of one connection's queue; cloned wherever something is queued for it.
#[derive(Clone)]
pub struct SessionHandle {
    slots: Arc<Slots>,
    total: Arc<Total>,
    /// Cancelled when the queue overflowed: the connection closes at once.
    pub overflowed: CancellationToken,
}

/// The receiving side, owned by the connection task. Dropping it gives back the bytes of
/// whatever is still queued.
pub struct Queue {
    slots: Arc<Slots>,
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
        let mine = self.slots.queued.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let all = self.total.queued.fetch_add(bytes, Ordering::Relaxed) + bytes;
        // Over the total budget only connections that are behind are cut: one that keeps
        // up holds next to nothing.
        let fits = mine <= OUTBOUND_QUEUE_BYTES
            && (all <= self.total.budget || mine <= OUTBOUND_SHARE_BYTES);
        if fits && self.slots.try_push(frame).is_ok() {
            metrics::gauge!(m::OUTBOUND_BYTES).increment(bytes as f64);
            return true;
        }
        self.slots.queued.fetch_sub(bytes, Ordering::Relaxed);
        self.total.queued.fetch_sub(bytes, Ordering::Relaxed);
        if !self.slots.is_closed() {
            self.overflowed.cancel();
        }
        false
    }
}

impl Queue {
    /// The next frame, once there is one. The connection holds a handle to its own
    /// queue, so it never ends by itself; `Option` keeps the shape of a channel.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(frame) = self.try_recv() {
                return Some(frame);
            }
            // A frame pushed since `try_recv` left a permit: this returns at once.
            self.slots.ready.notified().await;
        }
    }

    /// The next frame if one is queued already, without waiting.
    pub fn try_recv(&mut self) -> Option<Frame> {
        let frame = self.slots.try_pop()?;
        self.release(frame.bytes());
        Some(frame)
    }

    fn release(&self, bytes: usize) {
        self.slots.queued.fetch_sub(bytes, Ordering::Relaxed);
        self.total.queued.fetch_sub(bytes, Ordering::Relaxed);
        metrics::gauge!(m::OUTBOUND_BYTES).decrement(bytes as f64);
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Closed first, so nothing lands after the drain.
        for frame in self.slots.close() {
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
        let slots = Arc::new(Slots {
            frames: Mutex::default(),
            ready: Notify::new(),
            queued: AtomicUsize::new(0),
        });
        let handle = SessionHandle {
            slots: slots.clone(),
            total: self.total.clone(),
            overflowed: CancellationToken::new(),
        };
        if let Ok(mut map) = self.sessions.write() {
            map.insert(id, handle.clone());
        }
        let queue = Queue {
            slots,
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

    /// Runs `f` on every session's handle; returns how many there were.
    pub fn for_each(&self, mut f: impl FnMut(&SessionHandle)) -> usize {
        match self.sessions.read() {
            Ok(map) => {
                map.values().for_each(&mut f);
                map.len()
            }
            Err(_) => 0,
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
