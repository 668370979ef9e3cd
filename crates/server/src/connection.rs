//! One task per WebSocket connection. It parses and checks every frame, answers what needs
//! no call state (heartbeat, errors, the history query), forwards the rest to the hub, and
//! writes whatever the rest of the server queued for it. It never trusts the client: bad
//! frames get numbered errors, floods get rate limited then cut, silence gets timed out.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use beckon_protocol::limits::*;
use beckon_protocol::{
    CloseReason, ErrorBody, ErrorCode, HeartbeatResult, Request, RequestBody, Response,
    ResponseBody, ServerMessage,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::core::{Input, LoginInput, SessionId};
use crate::metrics as m;
use crate::pipeline::{closed_frame, encode, now_ms};
use crate::registry::{Frame, Registry, SessionHandle};
use crate::store::{self, ReadPool};

/// What every connection shares.
pub struct Shared {
    pub hub: mpsc::Sender<Input>,
    pub registry: Arc<Registry>,
    pub auth: Authenticator,
    pub reads: ReadPool,
    pub heartbeat_timeout: Duration,
    pub shutdown: CancellationToken,
    pub next_session: AtomicU64,
}

/// How long a request may wait for room in the hub's queue before `overloaded`.
const HUB_QUEUE_WAIT: Duration = Duration::from_secs(5);

struct Conn {
    session: SessionId,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Frame>,
    user: Option<String>,
    last_seen: u64,
    limiter: DefaultDirectRateLimiter,
    /// Refusals since the client last kept quiet for a second. A token refilling now and
    /// then does not reset it, so a sustained flood is cut however it is paced.
    refused: u32,
    last_refusal: Option<Instant>,
}

enum Flow {
    Continue,
    Close(Option<CloseReason>, u16),
}

pub async fn serve(mut socket: WebSocket, shared: Arc<Shared>) {
    let session = shared.next_session.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel(OUTBOUND_QUEUE_FRAMES);
    let overflowed = CancellationToken::new();
    shared.registry.insert(
        session,
        SessionHandle {
            tx: tx.clone(),
            overflowed: overflowed.clone(),
        },
    );
    metrics::gauge!(m::CONNECTIONS).increment(1.0);
    let quota = Quota::per_second(NonZeroU32::new(REQUESTS_PER_SEC).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(REQUEST_BURST).unwrap_or(NonZeroU32::MIN));
    let mut conn = Conn {
        session,
        shared: shared.clone(),
        tx,
        user: None,
        last_seen: now_ms(),
        limiter: RateLimiter::direct(quota),
        refused: 0,
        last_refusal: None,
    };
    let idle = tokio::time::sleep(shared.heartbeat_timeout);
    tokio::pin!(idle);
    let flow = loop {
        let flow = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(msg)) => {
                    conn.last_seen = now_ms();
                    idle.as_mut().reset(tokio::time::Instant::now() + shared.heartbeat_timeout);
                    conn.on_message(msg, &mut socket).await
                }
                // Too large for the hard limit, broken framing, or the peer vanished.
                Some(Err(e)) => {
                    tracing::debug!(session, error = %e, "websocket error");
                    Flow::Close(None, 1009)
                }
                None => Flow::Close(None, 1000),
            },
            Some(frame) = rx.recv() => match frame {
                Frame::Text(text) => send_queued(&mut socket, text, &overflowed).await,
                Frame::LoggedIn { user_id, device_id } => {
                    tracing::debug!(session, user = %user_id, device = %device_id, "logged in");
                    conn.user = Some(user_id);
                    Flow::Continue
                }
                Frame::Close(reason) => Flow::Close(Some(reason), 1000),
            },
            _ = &mut idle => Flow::Close(Some(CloseReason::HeartbeatTimeout), 1000),
            _ = overflowed.cancelled() => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
            _ = shared.shutdown.cancelled() => Flow::Close(Some(CloseReason::ServerShutdown), 1001),
        };
        if let Flow::Close(..) = flow {
            break flow;
        }
    };
    if let Flow::Close(reason, code) = flow {
        if let Some(reason) = reason {
            metrics::counter!(m::CLOSED, "reason" => format!("{reason:?}")).increment(1);
            // A slow consumer's queue is full; this one frame goes straight to the socket.
            if let Some(text) = closed_frame(reason) {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Text(text)))
                        .await;
            }
        }
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(""),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(close)).await;
        // Read (and drop) what the client still sends until it answers the close, for up to
        // a second: closing with unread data makes the kernel reset the connection, and the
        // client would lose the frames that told it why.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(msg)) = socket.recv().await {
                if let Message::Close(_) = msg {
                    break;
                }
            }
        })
        .await;
    }
    shared.registry.remove(session);
    metrics::gauge!(m::CONNECTIONS).decrement(1.0);
    let _ = shared
        .hub
        .send(Input::Disconnected {
            session,
            last_seen: conn.last_seen,
        })
        .await;
}

/// A write that cannot finish in this time means the client stopped reading; while the
/// task waits here it watches nothing else, so the wait must be bounded.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes a queued frame, giving up as soon as the queue behind it overflows: the client
/// is not reading, and waiting longer only holds more memory for it.
async fn send_queued(
    socket: &mut WebSocket,
    text: Utf8Bytes,
    overflowed: &CancellationToken,
) -> Flow {
    tokio::select! {
        flow = send(socket, text) => flow,
        _ = overflowed.cancelled() => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
    }
}

async fn send(socket: &mut WebSocket, text: Utf8Bytes) -> Flow {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await {
        Ok(Ok(())) => Flow::Continue,
        Ok(Err(_)) => Flow::Close(None, 1000),
        Err(_) => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
    }
}

impl Conn {
    async fn on_message(&mut self, msg: Message, socket: &mut WebSocket) -> Flow {
        if let Message::Text(_) | Message::Binary(_) = msg {
            if let Some(flow) = self.rate_limit(&msg, socket).await {
                return flow;
            }
        }
        match msg {
            Message::Text(text) => self.on_text(text.as_str(), socket).await,
            Message::Binary(_) => {
                self.reply_error(
                    socket,
                    None,
                    ErrorCode::BinaryFrame,
                    "send JSON text frames",
                )
                .await
            }
            Message::Ping(_) | Message::Pong(_) => Flow::Continue,
            Message::Close(_) => Flow::Close(None, 1000),
        }
    }

    async fn on_text(&mut self, text: &str, socket: &mut WebSocket) -> Flow {
        let started = Instant::now();
        if text.len() > MAX_FRAME_BYTES {
            let msg = format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                text.len()
            );
            return self
                .reply_error(socket, None, ErrorCode::FrameTooLarge, msg)
                .await;
        }
        let request = Request::parse(text);
        let request = match request {
            Ok(r) => r,
            Err(invalid) => {
                metrics::counter!(m::BAD_FRAMES, "code" => invalid.0.code.name()).increment(1);
                return self.reply(socket, ServerMessage::Error(invalid.0)).await;
            }
        };
        let id = request.id;
        match request.body {
            RequestBody::Heartbeat => {
                let result = ResponseBody::Heartbeat(HeartbeatResult {
                    server_time: now_ms(),
                });
                self.reply(socket, ServerMessage::Response(Response { id, result }))
                    .await
            }
            RequestBody::Login(login) => {
                let token = login.token.as_deref();
                if let Err((code, msg)) = self.shared.auth.verify(&login.user_id, token) {
                    return self.reply_error(socket, Some(id), code, msg).await;
                }
                self.forward(
                    socket,
                    id,
                    Input::Login(LoginInput {
                        session: self.session,
                        req: id,
                        user_id: login.user_id,
                        user_name: login.user_name,
                        device_id: login.device_id,
                        started,
                    }),
                )
                .await
            }
            RequestBody::QueryCallInvitationList(q) => {
                let Some(user) = self.user.clone() else {
                    return self
                        .reply_error(socket, Some(id), ErrorCode::NotLoggedIn, "log in first")
                        .await;
                };
                self.query(id, user, q.count, q.next_flag);
                Flow::Continue
            }
            body => {
                let input = Input::Request {
                    session: self.session,
                    req: id,
                    body,
                    started,
                };
                self.forward(socket, id, input).await
            }
        }
    }

    /// Every data frame costs a token, whatever it holds: errors cost the server too.
    async fn rate_limit(&mut self, msg: &Message, socket: &mut WebSocket) -> Option<Flow> {
        let now = Instant::now();
        if self.limiter.check().is_ok() {
            if self
                .last_refusal
                .is_some_and(|t| now.duration_since(t) > Duration::from_secs(1))
            {
                self.refused = 0;
            }
            return None;
        }
        self.refused += 1;
        self.last_refusal = Some(now);
        if self.refused > MAX_RATE_LIMITED_REFUSALS {
            return Some(Flow::Close(Some(CloseReason::Flooding), 1008));
        }
        // Only a small frame is worth parsing for its id.
        let id = match msg {
            Message::Text(t) if t.len() <= MAX_FRAME_BYTES => {
                Request::parse(t.as_str()).ok().map(|r| r.id)
            }
            _ => None,
        };
        let text = format!("more than {REQUESTS_PER_SEC} requests per second; slow down");
        Some(
            self.reply_error(socket, id, ErrorCode::RateLimited, text)
                .await,
        )
    }

    async fn forward(&mut self, socket: &mut WebSocket, id: u64, input: Input) -> Flow {
        match tokio::time::timeout(HUB_QUEUE_WAIT, self.shared.hub.send(input)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) => {
                self.reply_error(
                    socket,
                    Some(id),
                    ErrorCode::ShuttingDown,
                    "server is stopping",
                )
                .await
            }
            Err(_) => {
                self.reply_error(
                    socket,
                    Some(id),
                    ErrorCode::Overloaded,
                    "server is busy; retry",
                )
                .await
            }
        }
    }

    /// Reads run beside the hub on the blocking pool; the answer joins the connection's
    /// queue like any other frame.
    fn query(&self, id: u64, user: String, count: u32, next_flag: u64) {
        let reads = self.shared.reads.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                store::query_calls(&reads, &user, count, next_flag)
            })
            .await;
            let msg = match result {
                Ok(Ok(list)) => ServerMessage::Response(Response {
                    id,
                    result: ResponseBody::QueryCallInvitationList(list),
                }),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "history query failed");
                    ServerMessage::Error(ErrorBody::new(
                        Some(id),
                        ErrorCode::Internal,
                        "could not read the call history",
                    ))
                }
                Err(_) => ServerMessage::Error(ErrorBody::new(
                    Some(id),
                    ErrorCode::Internal,
                    "history query failed",
                )),
            };
            let kind = beckon_protocol::RequestKind::QueryCallInvitationList;
            metrics::histogram!(m::REQUEST_LATENCY, "type" => kind.as_str())
                .record(started.elapsed().as_secs_f64());
            if let Some(text) = encode(&msg) {
                let _ = tx.send(Frame::Text(text)).await;
            }
        });
    }

    async fn reply_error(
        &self,
        socket: &mut WebSocket,
        id: Option<u64>,
        code: ErrorCode,
        msg: impl Into<String>,
    ) -> Flow {
        self.reply(socket, ServerMessage::Error(ErrorBody::new(id, code, msg)))
            .await
    }

    async fn reply(&self, socket: &mut WebSocket, msg: ServerMessage) -> Flow {
        match encode(&msg) {
            Some(text) => send(socket, text).await,
            None => Flow::Continue,
        }
    }
}
