use std::time::Duration;

use beckon_protocol::ServerMessage;
use tokio::sync::mpsc;

/// The frames the server pushed on one connection, in arrival order: every event, plus any
/// `response` or `error` frame that matched no waiting request (for example the answer to
/// a frame sent with [`WireClient::send_raw`](super::WireClient::send_raw), or an error
/// about a frame too broken to carry an id).
///
/// The buffer is bounded: while it is full the connection stops reading the socket, so
/// answers to requests stall too. Keep reading it, or drop it if you do not care about
/// events (pushed events are then discarded).
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<ServerMessage>,
}

impl Events {
    pub(super) fn new(rx: mpsc::Receiver<ServerMessage>) -> Self {
        Events { rx }
    }

    /// The next pushed frame; `None` once the connection has ended and every frame that
    /// arrived before (a final `sessionClosed` included) has been handed out.
    pub async fn next(&mut self) -> Option<ServerMessage> {
        self.rx.recv().await
    }

    /// Like [`Events::next`], but gives up after `d` so a test or a bench loop cannot hang
    /// on an event that never comes. `None` means either the time ran out or the stream ended.
    pub async fn next_timeout(&mut self, d: Duration) -> Option<ServerMessage> {
        tokio::time::timeout(d, self.rx.recv()).await.ok().flatten()
    }

    /// A frame that has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<ServerMessage> {
        self.rx.try_recv().ok()
    }
}
