//! The client for the TCP floor: Beckon's JSON in length-prefixed frames. It works as
//! beckon-client's `WireClient` does (one task owns the socket, requests are matched to
//! answers by id, events go to a bounded queue), so the bench spends on it what it spends
//! on a WebSocket connection, less the WebSocket framing.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon_client::{ClosedBy, WireError};
use beckon_protocol::{Request, RequestBody, ResponseBody, ServerMessage};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

/// As beckon-client's command queue: the caller waits when the task is behind.
const COMMAND_QUEUE: usize = 64;
/// How long [`TcpWire::close`] waits for the task to finish.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// Waiting requests are swept for timed-out entries once the map has grown past this.
const PRUNE_MIN: usize = 64;

pub type Events = mpsc::Receiver<ServerMessage>;
type Reply = oneshot::Sender<Result<ResponseBody, WireError>>;

enum Command {
    Request { id: u64, text: String, reply: Reply },
    Close,
}

#[derive(Debug, Clone)]
pub struct TcpWire {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    next_id: AtomicU64,
    closed: watch::Receiver<Option<ClosedBy>>,
    started: Instant,
    /// Milliseconds after `started` of the last frame written.
    last_sent_ms: Arc<AtomicU64>,
    request_timeout: Duration,
}

impl TcpWire {
    /// Starts the connection's task on `tcp`, already connected (and with Nagle off).
    pub fn start(
        tcp: TcpStream,
        event_buffer: usize,
        request_timeout: Duration,
    ) -> (TcpWire, Events) {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(event_buffer.max(1));
        let (closed_tx, closed_rx) = watch::channel(None);
        let started = Instant::now();
        let last_sent_ms = Arc::new(AtomicU64::new(0));
        let framed = crate::floor::tcp_framed(tcp);
        tokio::spawn(run(
            framed,
            cmd_rx,
            ev_tx,
            (started, last_sent_ms.clone()),
            closed_tx,
        ));
        let inner = Inner {
            commands: cmd_tx,
            next_id: AtomicU64::new(1),
            closed: closed_rx,
            started,
            last_sent_ms,
            request_timeout,
        };
        (
            TcpWire {
                inner: Arc::new(inner),
            },
            ev_rx,
        )
    }

    pub async fn request(&self, body: RequestBody) -> Result<ResponseBody, WireError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let text = serde_json::to_string(&Request { id, body })
            .map_err(|e| WireError::Protocol(format!("cannot encode request: {e}")))?;
        let (reply, answer) = oneshot::channel();
        let exchange = async {
            self.inner
                .commands
                .send(Command::Request { id, text, reply })
                .await
                .map_err(|_| self.closed_error())?;
            answer.await.unwrap_or_else(|_| Err(self.closed_error()))
        };
        let d = self.inner.request_timeout;
        tokio::time::timeout(d, exchange)
            .await
            .unwrap_or(Err(WireError::Timeout(d)))
    }

    pub async fn close(&self) {
        let _ = self.inner.commands.send(Command::Close).await;
        let mut closed = self.inner.closed.clone();
        let _ = tokio::time::timeout(CLOSE_WAIT, closed.wait_for(Option::is_some)).await;
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.borrow().is_some()
    }

    pub fn since_last_send(&self) -> Duration {
        let last = Duration::from_millis(self.inner.last_sent_ms.load(Ordering::Relaxed));
        self.inner.started.elapsed().saturating_sub(last)
    }

    fn closed_error(&self) -> WireError {
        let by = self.inner.closed.borrow().clone();
        WireError::Closed(by.unwrap_or_else(|| ClosedBy::Lost("connection task ended".into())))
    }
}

async fn run(
    mut io: Framed<TcpStream, LengthDelimitedCodec>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ServerMessage>,
    (started, last_sent_ms): (Instant, Arc<AtomicU64>),
    closed: watch::Sender<Option<ClosedBy>>,
) {
    let mut pending: HashMap<u64, Reply> = HashMap::new();
    let mut prune_at = PRUNE_MIN;
    let mut events = Some(events);
    let by = loop {
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Request { id, text, reply }) => {
                    pending.insert(id, reply);
                    if pending.len() >= prune_at {
                        pending.retain(|_, r| !r.is_closed());
                        prune_at = (pending.len() * 2).max(PRUNE_MIN);
                    }
                    if let Err(e) = io.send(Bytes::from(text.into_bytes())).await {
                        break ClosedBy::Lost(format!("write failed: {e}"));
                    }
                    let ms = started.elapsed().as_millis() as u64;
                    last_sent_ms.store(ms, Ordering::Relaxed);
                }
                Some(Command::Close) | None => {
                    let close = SinkExt::<Bytes>::close(&mut io);
                    let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
                    break ClosedBy::Client;
                }
            },
            frame = io.next() => match frame {
                Some(Ok(bytes)) => match serde_json::from_slice::<ServerMessage>(&bytes) {
                    Ok(msg) => dispatch(msg, &mut pending, &mut events).await,
                    Err(e) => warn_undecodable(&e),
                },
                Some(Err(e)) => break ClosedBy::Lost(e.to_string()),
                None => break ClosedBy::Lost("connection ended".into()),
            },
        }
    };
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(WireError::Closed(by.clone())));
    }
    closed.send_replace(Some(by));
}

/// Answers go to their requests; everything else is an event.
async fn dispatch(
    msg: ServerMessage,
    pending: &mut HashMap<u64, Reply>,
    events: &mut Option<mpsc::Sender<ServerMessage>>,
) {
    let msg = match msg {
        ServerMessage::Response(r) => match pending.remove(&r.id) {
            Some(reply) => {
                let _ = reply.send(Ok(r.result));
                return;
            }
            None => ServerMessage::Response(r),
        },
        ServerMessage::Error(e) => match e.id.and_then(|id| pending.remove(&id)) {
            Some(reply) => {
                let _ = reply.send(Err(WireError::Server(e)));
                return;
            }
            None => ServerMessage::Error(e),
        },
        event => event,
    };
    if let Some(tx) = events {
        if tx.send(msg).await.is_err() {
            *events = None;
        }
    }
}

/// The bench has no logger; a frame it cannot read is a bug in the floor, said once.
fn warn_undecodable(e: &serde_json::Error) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| eprintln!("tcp client: undecodable frame from the floor: {e}"));
}
