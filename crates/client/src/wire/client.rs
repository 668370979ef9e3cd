use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beckon_protocol::{Request, RequestBody, ResponseBody};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::conn::{self, Activity, Command};
use super::{ClosedBy, Events, WireError};

/// Commands queued for the connection task. Small: the task drains it as fast as the
/// socket takes frames, and a full queue makes callers wait instead of piling up memory.
const COMMAND_QUEUE: usize = 64;
/// How long [`WireClient::close`] waits for the connection task to finish.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Knobs for one connection. The defaults suit tests and tools; an application with its own
/// timeouts may turn the request timeout off.
#[derive(Debug, Clone)]
pub struct WireConfig {
    /// Pushed frames buffered for [`Events`] before the connection stops reading.
    pub event_buffer: usize,
    /// How long a request waits for its answer; `None` waits until the connection ends.
    pub request_timeout: Option<Duration>,
    /// Limit on the TCP connect plus WebSocket handshake.
    pub connect_timeout: Duration,
}

impl Default for WireConfig {
    fn default() -> Self {
        WireConfig {
            event_buffer: 1024,
            request_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A cheap, cloneable handle to one WebSocket connection to a Beckon server.
///
/// It does exactly what the protocol says and no more: no reconnect, no automatic
/// heartbeat, no call bookkeeping. Requests get ids from a counter starting at 1, so a frame
/// sent with [`WireClient::send_raw`] should use an id far above any this client will assign
/// (say 1 << 40) to keep its answer out of the way of real requests.
///
/// The connection closes when [`WireClient::close`] is called or every handle is dropped.
#[derive(Debug, Clone)]
pub struct WireClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::Sender<Command>,
    next_id: AtomicU64,
    closed: watch::Receiver<Option<ClosedBy>>,
    activity: Arc<Activity>,
    request_timeout: Option<Duration>,
}

impl WireClient {
    /// Connects to `url` (for example `ws://127.0.0.1:8080/ws`) with default settings.
    /// Only `ws://` is supported; put TLS in front of the server with a proxy.
    pub async fn connect(url: &str) -> Result<(WireClient, Events), WireError> {
        Self::connect_with(url, WireConfig::default()).await
    }

    pub async fn connect_with(
        url: &str,
        config: WireConfig,
    ) -> Result<(WireClient, Events), WireError> {
        let handshake = tokio_tungstenite::connect_async_with_config(url, None, true);
        let (ws, _) = tokio::time::timeout(config.connect_timeout, handshake)
            .await
            .map_err(|_| WireError::Timeout(config.connect_timeout))??;
        Ok(Self::start(ws, &config))
    }

    /// Runs the WebSocket handshake over a stream the caller already connected, for when the
    /// TCP socket needs options `connect` does not offer (a bound source address, say).
    /// Disable Nagle on it first, or small frames wait for the delayed ACK.
    pub async fn connect_over<S>(
        url: &str,
        stream: S,
        config: WireConfig,
    ) -> Result<(WireClient, Events), WireError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let handshake = tokio_tungstenite::client_async(url, stream);
        let (ws, _) = tokio::time::timeout(config.connect_timeout, handshake)
            .await
            .map_err(|_| WireError::Timeout(config.connect_timeout))??;
        Ok(Self::start(ws, &config))
    }

    fn start<S>(ws: WebSocketStream<S>, config: &WireConfig) -> (WireClient, Events)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_QUEUE);
        let (ev_tx, ev_rx) = mpsc::channel(config.event_buffer.max(1));
        let (closed_tx, closed_rx) = watch::channel(None);
        let activity = Arc::new(Activity::new());
        tokio::spawn(conn::run(ws, cmd_rx, ev_tx, activity.clone(), closed_tx));
        let inner = Inner {
            commands: cmd_tx,
            next_id: AtomicU64::new(1),
            closed: closed_rx,
            activity,
            request_timeout: config.request_timeout,
        };
        (
            WireClient {
                inner: Arc::new(inner),
            },
            Events::new(ev_rx),
        )
    }

    /// Sends one request and waits for its answer. A server refusal is
    /// [`WireError::Server`]; a connection that ends first fails the request at once with
    /// [`WireError::Closed`].
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
        match self.inner.request_timeout {
            Some(d) => tokio::time::timeout(d, exchange)
                .await
                .unwrap_or(Err(WireError::Timeout(d))),
            None => exchange.await,
        }
    }

    /// Sends a text frame exactly as given, for testing how the server treats bad input.
    /// Its answer, if any, arrives on [`Events`].
    pub async fn send_raw(&self, text: String) -> Result<(), WireError> {
        self.send_message(Message::text(text)).await
    }

    /// Sends a binary frame, which the protocol does not allow (for tests).
    pub async fn send_raw_binary(&self, bytes: Vec<u8>) -> Result<(), WireError> {
        self.send_message(Message::binary(bytes)).await
    }

    async fn send_message(&self, msg: Message) -> Result<(), WireError> {
        self.inner
            .commands
            .send(Command::Raw(msg))
            .await
            .map_err(|_| self.closed_error())
    }

    /// Starts the closing handshake and waits (a few seconds at most) until the connection
    /// has ended; waiting requests then fail with [`WireError::Closed`].
    pub async fn close(&self) {
        let _ = self.inner.commands.send(Command::Close).await;
        let _ = tokio::time::timeout(CLOSE_WAIT, self.closed()).await;
    }

    /// Waits until the connection has ended, however that happens, and says how.
    pub async fn closed(&self) -> ClosedBy {
        let mut rx = self.inner.closed.clone();
        let by = match rx.wait_for(Option::is_some).await {
            Ok(by) => by.clone(),
            Err(_) => None,
        };
        by.unwrap_or_else(task_gone)
    }

    /// How the connection ended, or `None` while it is open.
    pub fn closed_by(&self) -> Option<ClosedBy> {
        self.inner.closed.borrow().clone()
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.borrow().is_some()
    }

    /// Time since this connection last wrote a frame. The server treats any frame as a sign
    /// of life, so a heartbeat is only needed once this nears the heartbeat interval.
    pub fn since_last_send(&self) -> Duration {
        self.inner.activity.since_last_send()
    }

    fn closed_error(&self) -> WireError {
        WireError::Closed(self.closed_by().unwrap_or_else(task_gone))
    }
}

/// The task always records why it ended before it goes; this covers it having panicked.
fn task_gone() -> ClosedBy {
    ClosedBy::Lost("connection task ended unexpectedly".into())
}
