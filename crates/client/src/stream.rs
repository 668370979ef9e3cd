//! The one receiving end behind the wire's frames, the SDK's events and the manager's
//! updates: ordered, bounded, and readable with a limit so a loop cannot hang on it.

use std::time::Duration;

use tokio::sync::mpsc;

/// Items in arrival order. Bounded: while it is full its producer waits, so keep reading
/// it, or drop it to discard what comes.
#[derive(Debug)]
pub struct EventStream<T> {
    rx: mpsc::Receiver<T>,
}

impl<T> EventStream<T> {
    pub(crate) fn new(rx: mpsc::Receiver<T>) -> Self {
        EventStream { rx }
    }

    /// The next item; `None` once the producer has stopped and everything it sent before
    /// was handed out.
    pub async fn next(&mut self) -> Option<T> {
        self.rx.recv().await
    }

    /// Like [`EventStream::next`], but gives up after `d`, so a test or a tool cannot
    /// hang on an item that never comes. `None` means the time ran out or the stream ended.
    pub async fn next_timeout(&mut self, d: Duration) -> Option<T> {
        tokio::time::timeout(d, self.rx.recv()).await.ok().flatten()
    }

    /// An item that has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}
