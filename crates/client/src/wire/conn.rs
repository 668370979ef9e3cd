//! The one task that owns a connection's socket. Owning it in one place means writes never
//! interleave, answers are matched to requests in arrival order, and there is exactly one
//! spot that decides what happens to waiting requests when the connection ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon_protocol::{ResponseBody, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{ClosedBy, WireError};

/// How long a closing handshake may take before the socket is simply dropped: a server
/// that never answers our close frame must not keep the task (and `close()`) alive.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Waiting requests are swept for abandoned (timed-out) entries only once the map has
/// grown past this, so the sweep costs nothing in the common case.
const PRUNE_MIN: usize = 64;

pub(super) type Reply = oneshot::Sender<Result<ResponseBody, WireError>>;

pub(super) enum Command {
    Request { id: u64, text: String, reply: Reply },
    Raw(Message),
    Close,
}

/// When the connection last wrote a frame; the server counts any frame as a sign of life,
/// so a client only needs a heartbeat after being quiet for a while.
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    last_sent_ms: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Self {
        Activity {
            started: Instant::now(),
            last_sent_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_sent_ms.store(ms, Ordering::Relaxed);
    }

    pub(super) fn since_last_send(&self) -> Duration {
        let last = Duration::from_millis(self.last_sent_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

struct Conn {
    pending: HashMap<u64, Reply>,
    prune_at: usize,
    /// `None` once the application dropped its `Events`: pushed frames are then discarded
    /// instead of blocking the connection forever.
    events: Option<mpsc::Sender<ServerMessage>>,
}

pub(super) async fn run<S>(
    mut ws: WebSocketStream<S>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ServerMessage>,
    activity: Arc<Activity>,
    closed: watch::Sender<Option<ClosedBy>>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut conn = Conn {
        pending: HashMap::new(),
        prune_at: PRUNE_MIN,
        events: Some(events),
    };
    let by = loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Request { id, text, reply }) => {
                    conn.insert(id, reply);
                    if let Err(e) = ws.send(Message::text(text)).await {
                        break ClosedBy::Lost(format!("write failed: {e}"));
                    }
                    activity.touch();
                }
                Some(Command::Raw(msg)) => {
                    if let Err(e) = ws.send(msg).await {
                        break ClosedBy::Lost(format!("write failed: {e}"));
                    }
                    activity.touch();
                }
                // Every handle dropped counts as a close: nobody can use the connection any more.
                Some(Command::Close) | None => {
                    conn.close_gracefully(&mut ws).await;
                    break ClosedBy::Client;
                }
            },
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => conn.dispatch(&text).await,
                Some(Ok(Message::Close(frame))) => {
                    conn.drain_after_close(&mut ws).await;
                    break ClosedBy::Server {
                        code: frame.as_ref().map(|f| u16::from(f.code)),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    };
                }
                Some(Ok(Message::Binary(b))) => {
                    tracing::warn!(len = b.len(), "ignoring binary frame from server");
                }
                // Pings are answered by tungstenite itself.
                Some(Ok(_)) => {}
                Some(Err(e)) => break ClosedBy::Lost(e.to_string()),
                None => break ClosedBy::Lost("connection ended without a close frame".into()),
            },
        }
    };
    tracing::debug!(%by, pending = conn.pending.len(), "connection ended");
    for (_, reply) in conn.pending.drain() {
        let _ = reply.send(Err(WireError::Closed(by.clone())));
    }
    // Set before `commands` is dropped, so a request whose command is dropped unprocessed
    // can already read why.
    closed.send_replace(Some(by));
}

impl Conn {
    fn insert(&mut self, id: u64, reply: Reply) {
        self.pending.insert(id, reply);
        if self.pending.len() >= self.prune_at {
            self.pending.retain(|_, r| !r.is_closed());
            self.prune_at = (self.pending.len() * 2).max(PRUNE_MIN);
        }
    }

    async fn dispatch(&mut self, text: &str) {
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(ServerMessage::Response(r)) => match self.pending.remove(&r.id) {
                Some(reply) => {
                    let _ = reply.send(Ok(r.result));
                }
                None => self.push(ServerMessage::Response(r)).await,
            },
            Ok(ServerMessage::Error(e)) => match e.id.and_then(|id| self.pending.remove(&id)) {
                Some(reply) => {
                    let _ = reply.send(Err(WireError::Server(e)));
                }
                None => self.push(ServerMessage::Error(e)).await,
            },
            Ok(event) => self.push(event).await,
            Err(err) => {
                // Enough of the frame to find the request an undecodable answer was meant for.
                let id = serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("id")?.as_u64());
                match id.and_then(|id| self.pending.remove(&id)) {
                    Some(reply) => {
                        let e = unknown_error(text).unwrap_or_else(|| {
                            WireError::Protocol(format!(
                                "undecodable answer ({err}): {}",
                                excerpt(text)
                            ))
                        });
                        let _ = reply.send(Err(e));
                    }
                    None => tracing::warn!(%err, frame = excerpt(text), "undecodable frame"),
                }
            }
        }
    }

    async fn push(&mut self, msg: ServerMessage) {
        if let Some(tx) = &self.events {
            if tx.send(msg).await.is_err() {
                self.events = None;
            }
        }
    }

    /// Sends our close frame and keeps reading until the server answers it, so answers and
    /// events already on the way are still delivered.
    async fn close_gracefully<S>(&mut self, ws: &mut WebSocketStream<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            if ws.close(None).await.is_err() {
                return;
            }
            while let Some(Ok(frame)) = ws.next().await {
                if let Message::Text(text) = frame {
                    self.dispatch(&text).await;
                }
            }
        })
        .await;
    }

    /// After the server's close frame, reading on lets tungstenite send the close reply.
    async fn drain_after_close<S>(&mut self, ws: &mut WebSocketStream<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = ws.next().await {}
        })
        .await;
    }
}

/// An `error` frame whose code this client does not know still says what went wrong.
fn unknown_error(text: &str) -> Option<WireError> {
    #[derive(serde::Deserialize)]
    struct Lenient {
        #[serde(rename = "type")]
        kind: String,
        code: u16,
        #[serde(default)]
        name: String,
        #[serde(default)]
        message: String,
    }
    let e: Lenient = serde_json::from_str(text).ok()?;
    (e.kind == "error").then_some(WireError::UnknownServerError {
        code: e.code,
        name: e.name,
        message: e.message,
    })
}

fn excerpt(text: &str) -> &str {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
