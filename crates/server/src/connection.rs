//! One task per WebSocket connection. It parses and checks every frame, answers what needs
//! no call state (heartbeat, errors, the history query, ICE servers), forwards the rest to the hub, and
//! writes whatever the rest of the server queued for it. It never trusts the client: bad
//! frames get numbered errors, floods get rate limited then cut, silence gets timed out.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use beckon_protocol::limits::*;
use beckon_protocol::{
    CloseReason, ErrorBody, ErrorCode, HeartbeatResult, Request, RequestBody, Response,
    ResponseBody, ServerMessage,
};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;

use crate::auth::Authenticator;
use crate::core::{Input, LoginInput, SessionId};
use crate::ice::IceSettings;
use crate::listener::{Slot, Tasks};
use crate::metrics as m;
use crate::pipeline::{closed_frame, encode, now_ms};
use crate::registry::{Frame, Registry, SessionHandle};
use crate::store::{self, ReadPool};
use crate::ws::{Charge, CloseCode, CloseFrame, FrameBudget, Message, Socket, Utf8Bytes};
use hyper::upgrade::OnUpgrade;

/// What every connection shares.
pub struct Shared {
    pub hub: mpsc::Sender<Input>,
    pub registry: Arc<Registry>,
    pub auth: Authenticator,
    pub reads: ReadPool,
    /// History queries running at once, server-wide: one per pooled reader, so the rest
    /// wait here rather than on a blocking thread each.
    pub queries: Arc<Semaphore>,
    pub heartbeat_timeout: Duration,
    pub ice: IceSettings,
    pub login_timeout: Duration,
    pub shutdown: CancellationToken,
    /// Cancelled before `shutdown` when a commit failed, so sessions are told that instead.
    pub storage_failed: CancellationToken,
    pub next_session: AtomicU64,
    pub tasks: Tasks,
}

impl Shared {
    fn stopping(&self) -> Flow {
        if self.storage_failed.is_cancelled() {
            Flow::Close(Some(CloseReason::StorageFailed), 1011)
        } else {
            Flow::Close(Some(CloseReason::ServerShutdown), 1001)
        }
    }
}

/// How long a request may wait for room in the hub's queue before `overloaded`.
const HUB_QUEUE_WAIT: Duration = Duration::from_secs(5);

struct Conn {
    session: SessionId,
    shared: Arc<Shared>,
    /// This connection's own queue: answers wait in it beside events, bounded alike.
    out: SessionHandle,
    user: Option<String>,
    last_seen: u64,
    budget: Arc<FrameBudget>,
    /// History queries sent and not yet answered, and the one-at-a-time turn they take.
    queries: Arc<AtomicUsize>,
    query_turn: Arc<Semaphore>,
}

enum Flow {
    Continue,
    Close(Option<CloseReason>, u16),
}

/// What a message read leads to: done with, or a request for the hub.
enum Step {
    Done(Flow),
    Forward(u64, Input),
}

impl From<Flow> for Step {
    fn from(flow: Flow) -> Step {
        Step::Done(flow)
    }
}

/// Serves an upgraded connection, holding `slot` (its place under the connection cap)
/// until the session ends. The socket is opened here rather than passed in: an `async
/// fn` keeps its arguments for its whole life beside the locals they move into, and
/// the socket is the largest part of every connection's task.
pub async fn serve(slot: Option<Slot>, on_upgrade: OnUpgrade, shared: Arc<Shared>) {
    let _slot = slot;
    let budget = Arc::new(FrameBudget::default());
    let Some(mut socket) = crate::ws::open(on_upgrade, budget.clone()).await else {
        return;
    };
    let session = shared.next_session.fetch_add(1, Ordering::Relaxed);
    let (out, mut queue) = shared.registry.open(session);
    let overflowed = out.overflowed.clone();
    metrics::gauge!(m::CONNECTIONS).increment(1.0);
    let mut conn = Conn {
        session,
        shared: shared.clone(),
        out,
        user: None,
        last_seen: now_ms(),
        budget: budget.clone(),
        queries: Arc::new(AtomicUsize::new(0)),
        query_turn: Arc::new(Semaphore::new(1)),
    };
    let mut clock = Deadlines::new(
        TokioInstant::now(),
        shared.heartbeat_timeout,
        shared.login_timeout,
    );
    let timer = tokio::time::sleep_until(clock.next());
    tokio::pin!(timer);
    // The verdicts are waited on by futures made once, not once per round of the loop:
    // each one made registers a waiter, and the shutdown token is shared by every
    // connection, so at thousands of frames a second its lock was contended. A child token
    // gives each connection a waiter list of its own.
    let shutdown = shared.shutdown.child_token();
    let shutting_down = shutdown.cancelled();
    let slow = overflowed.cancelled();
    let flooding = budget.flooding.cancelled();
    tokio::pin!(shutting_down, slow, flooding);
    let flow = loop {
        // In this order: a verdict first; then what is queued, so the answers to what was
        // read go out before more is read, and a client that pipelines requests holds
        // one frame's worth of answers, not a queue's.
        let flow = tokio::select! {
            biased;
            _ = &mut slow => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
            _ = &mut flooding => Flow::Close(Some(CloseReason::Flooding), 1008),
            _ = &mut shutting_down => shared.stopping(),
            Some(frame) = queue.recv() => {
                // Boxed: a batch's futures (its send timeout among them) would otherwise
                // be part of every connection's task while it waits.
                Box::pin(write_queued(&mut socket, &mut conn, frame, &mut queue, &overflowed)).await
            }
            msg = socket.next() => {
                conn.last_seen = now_ms();
                clock.read(TokioInstant::now());
                let mut flow = conn.handle(msg).await;
                // Frames that are already here are taken at once, so that their answers
                // leave in one write rather than one write each.
                for _ in 1..READ_BATCH {
                    if !matches!(flow, Flow::Continue)
                        || budget.flooding.is_cancelled()
                        || overflowed.is_cancelled()
                    {
                        break;
                    }
                    let Some(msg) = socket.next().now_or_never() else {
                        break;
                    };
                    flow = conn.handle(msg).await;
                }
                flow
            }
            _ = &mut timer => match clock.expired(TokioInstant::now(), conn.user.is_some()) {
                Some(flow) => flow,
                None => {
                    timer.as_mut().reset(clock.next());
                    Flow::Continue
                }
            },
        };
        if let Flow::Close(..) = flow {
            break flow;
        }
    };
    // Whatever is still queued is not sent; its bytes go back to the budget now.
    drop(queue);
    // The session ends here, not after the goodbye below, which can take seconds.
    shared.registry.remove(session);
    metrics::gauge!(m::CONNECTIONS).decrement(1.0);
    // Boxed: it runs once per connection, and its futures would otherwise be part of
    // every connection's task for the whole session.
    Box::pin(goodbye(socket, &shared, session, conn.last_seen, flow)).await;
}

/// The heartbeat and login deadlines behind one timer. A read only notes the time; the
/// timer is moved when it fires early, not on every frame.
struct Deadlines {
    heartbeat: Duration,
    /// `None` once the session is logged in.
    login_by: Option<Instant>,
    last_read: Instant,
}

impl Deadlines {
    fn new(now: TokioInstant, heartbeat: Duration, login: Duration) -> Deadlines {
        let now = now.into_std();
        Deadlines {
            heartbeat,
            login_by: Some(now + login),
            last_read: now,
        }
    }

    fn read(&mut self, now: TokioInstant) {
        self.last_read = now.into_std();
    }

    fn next(&self) -> TokioInstant {
        let silent = self.last_read + self.heartbeat;
        TokioInstant::from_std(self.login_by.map_or(silent, |at| at.min(silent)))
    }

    /// The verdict when the timer fires at `now`, or `None` if neither deadline has
    /// passed: silence first, then a login that never came.
    fn expired(&mut self, now: TokioInstant, logged_in: bool) -> Option<Flow> {
        let now = now.into_std();
        if now >= self.last_read + self.heartbeat {
            return Some(Flow::Close(Some(CloseReason::HeartbeatTimeout), 1000));
        }
        if logged_in {
            self.login_by = None;
        } else if self.login_by.is_some_and(|at| now >= at) {
            return Some(Flow::Close(Some(CloseReason::LoginTimeout), 1008));
        }
        None
    }
}

/// Tells the hub the connection is gone, then the client why, and holds the socket open
/// a moment so that it can read that.
async fn goodbye(
    mut socket: Socket,
    shared: &Shared,
    session: SessionId,
    last_seen: u64,
    flow: Flow,
) {
    let _ = shared
        .hub
        .send(Input::Disconnected { session, last_seen })
        .await;
    if let Flow::Close(reason, code) = flow {
        if let Some(reason) = reason {
            metrics::counter!(m::CLOSED, "reason" => format!("{reason:?}")).increment(1);
            // A slow consumer's queue is full; this one frame goes straight to the socket.
            if let Some(text) = closed_frame(reason).and_then(to_ws_text) {
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), socket.send(Message::Text(text)))
                        .await;
            }
        }
        let close = Message::Close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: Utf8Bytes::from_static(""),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), socket.send(close)).await;
        // Closing with unread data makes the kernel reset the connection, and the client
        // would lose the frames that told it why: the socket stays open for up to a second.
        // A client that behaves is read (and dropped) until it answers the close. A client
        // cut for abuse is not read at all: a flooder keeps writing, and parsing its flood
        // for a second costs a core that the users who behave need; unread, it only fills
        // the socket's buffers and then waits on TCP flow control.
        let abusive = reason == Some(CloseReason::Flooding) || matches!(code, 1002 | 1007 | 1009);
        if abusive {
            tokio::time::sleep(GOODBYE_TIME).await;
        } else {
            let _ = tokio::time::timeout(GOODBYE_TIME, async {
                while let Some(Ok(msg)) = socket.next().await {
                    if let Message::Close(_) = msg {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

/// How long a closed connection is held for its client to read why it was closed.
const GOODBYE_TIME: Duration = Duration::from_secs(1);

/// The RFC 6455 close code for a broken stream: 1007 for text that is not UTF-8, 1009 for
/// a message past the hard size limit, 1002 for any other violation of the framing.
fn close_code(e: &crate::ws::Error) -> u16 {
    use crate::ws::Error;
    match e {
        Error::Utf8(_) => 1007,
        Error::Capacity(_) => 1009,
        Error::Protocol(_) => 1002,
        // The peer is gone; the code goes nowhere.
        _ => 1000,
    }
}

/// The rest of the server encodes with axum's text type; the socket takes tungstenite's.
fn to_ws_text(text: axum::extract::ws::Utf8Bytes) -> Option<Utf8Bytes> {
    Utf8Bytes::try_from(axum::body::Bytes::from(text)).ok()
}

/// A write that cannot finish in this time means the client stopped reading; while the
/// task waits here it watches nothing else, so the wait must be bounded.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages read in one go when they are already there, before their answers are written.
const READ_BATCH: usize = 32;
/// Queued frames written in one go.
const WRITE_BATCH: usize = 64;

/// Writes a queued frame and those queued behind it, up to [`WRITE_BATCH`], then flushes
/// once; gives up as soon as the queue overflows: the client is not reading, and waiting
/// longer only holds more memory for it.
async fn write_queued(
    socket: &mut Socket,
    conn: &mut Conn,
    first: Frame,
    queue: &mut crate::registry::Queue,
    overflowed: &CancellationToken,
) -> Flow {
    let write = async {
        let mut next = Some(first);
        let mut fed = 0;
        let mut flow = Flow::Continue;
        while let Some(frame) = next.take() {
            match frame {
                Frame::Text(text) => {
                    if let Some(text) = to_ws_text(text) {
                        if socket.feed(Message::Text(text)).await.is_err() {
                            return Flow::Close(None, 1000);
                        }
                        fed += 1;
                    }
                }
                Frame::LoggedIn(login) => {
                    let (user_id, device_id) = *login;
                    tracing::debug!(session = conn.session, user = %user_id, device = %device_id, "logged in");
                    conn.user = Some(user_id);
                }
                Frame::Close(reason) => {
                    flow = Flow::Close(Some(reason), 1000);
                    break;
                }
            }
            if fed < WRITE_BATCH {
                next = queue.try_recv();
            }
        }
        if fed > 0 && socket.flush().await.is_err() {
            return Flow::Close(None, 1000);
        }
        flow
    };
    tokio::select! {
        flow = tokio::time::timeout(SEND_TIMEOUT, write) => match flow {
            Ok(flow) => flow,
            Err(_) => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
        },
        _ = overflowed.cancelled() => Flow::Close(Some(CloseReason::SlowConsumer), 1008),
    }
}

impl Conn {
    /// Reads one message and acts on it. Only a full hub queue makes it wait, and that
    /// wait is boxed: the future of every connection's task stays small.
    async fn handle(&mut self, msg: Option<Result<Message, crate::ws::Error>>) -> Flow {
        match self.dispatch(msg) {
            Ok(flow) => flow,
            Err(wait) => wait.await,
        }
    }

    /// The outcome of a message, or the wait for room in the hub's queue.
    fn dispatch(
        &mut self,
        msg: Option<Result<Message, crate::ws::Error>>,
    ) -> Result<Flow, Pin<Box<dyn Future<Output = Flow> + Send + '_>>> {
        match self.on_read(msg) {
            Step::Done(flow) => Ok(flow),
            Step::Forward(id, input) => match self.shared.hub.try_send(input) {
                Ok(()) => Ok(Flow::Continue),
                Err(TrySendError::Closed(_)) => Ok(self.shutting_down(id)),
                Err(TrySendError::Full(input)) => Err(Box::pin(self.wait_for_hub(id, input))),
            },
        }
    }

    fn on_read(&mut self, msg: Option<Result<Message, crate::ws::Error>>) -> Step {
        match msg {
            Some(Ok(msg)) => self.on_message(msg),
            Some(Err(e)) => {
                tracing::debug!(session = self.session, error = %e, "websocket error");
                Step::Done(Flow::Close(None, close_code(&e)))
            }
            None => Step::Done(Flow::Close(None, 1000)),
        }
    }

    fn on_message(&mut self, msg: Message) -> Step {
        // Pings and pongs were charged as they were read (see [`crate::ws::FrameGuard`]).
        if let Message::Ping(_) | Message::Pong(_) = msg {
            return Step::Done(Flow::Continue);
        }
        if let Some(flow) = self.rate_limit(&msg) {
            return Step::Done(flow);
        }
        Step::Done(match msg {
            Message::Text(text) => return self.on_text(text.as_str()),
            Message::Binary(_) => {
                self.reply_error(None, ErrorCode::BinaryFrame, "send JSON text frames")
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Flow::Continue,
            Message::Close(_) => Flow::Close(None, 1000),
        })
    }

    fn on_text(&mut self, text: &str) -> Step {
        let started = Instant::now();
        if text.len() > MAX_FRAME_BYTES {
            let msg = format!(
                "frame is {} bytes; the limit is {MAX_FRAME_BYTES}",
                text.len()
            );
            return self.reply_error(None, ErrorCode::FrameTooLarge, msg).into();
        }
        let request = match Request::parse(text) {
            Ok(r) => r,
            Err(invalid) => {
                metrics::counter!(m::BAD_FRAMES, "code" => invalid.0.code.name()).increment(1);
                return self.reply(ServerMessage::Error(invalid.0)).into();
            }
        };
        let id = request.id;
        Step::Done(match request.body {
            RequestBody::Heartbeat => {
                let result = ResponseBody::Heartbeat(HeartbeatResult {
                    server_time: now_ms(),
                });
                self.reply(ServerMessage::Response(Response { id, result }))
            }
            RequestBody::Login(login) => {
                let token = login.token.as_deref();
                if let Err((code, msg)) = self.shared.auth.verify(&login.user_id, token) {
                    return self.reply_error(Some(id), code, msg).into();
                }
                let ice = self
                    .shared
                    .ice
                    .config_for(&login.user_id, SystemTime::now());
                return Step::Forward(
                    id,
                    Input::Login(LoginInput {
                        session: self.session,
                        req: id,
                        user_id: login.user_id,
                        user_name: login.user_name,
                        device_id: login.device_id,
                        ice,
                        started,
                    }),
                );
            }
            RequestBody::QueryIceConfig => {
                let Some(user) = &self.user else {
                    return self
                        .reply_error(Some(id), ErrorCode::NotLoggedIn, "log in first")
                        .into();
                };
                let result = ResponseBody::QueryIceConfig(
                    self.shared.ice.config_for(user, SystemTime::now()),
                );
                self.reply(ServerMessage::Response(Response { id, result }))
            }
            RequestBody::QueryCallInvitationList(q) => {
                let Some(user) = self.user.clone() else {
                    return self
                        .reply_error(Some(id), ErrorCode::NotLoggedIn, "log in first")
                        .into();
                };
                self.query(id, user, q.count, q.next_flag)
            }
            body => {
                let input = Input::Request {
                    session: self.session,
                    req: id,
                    body,
                    started,
                };
                return Step::Forward(id, input);
            }
        })
    }

    /// Every frame costs a token, whatever it holds: errors and pings cost the server too.
    /// Fragments, pings and pongs are charged by the [`crate::ws::FrameGuard`] as they
    /// pass.
    fn rate_limit(&mut self, msg: &Message) -> Option<Flow> {
        match self.budget.charge() {
            Charge::Allowed => return None,
            Charge::Flooding => return Some(Flow::Close(Some(CloseReason::Flooding), 1008)),
            Charge::Refused => {}
        }
        // Only a request is answered, and only a small one is worth parsing for its id.
        let id = match msg {
            Message::Text(t) if t.len() <= MAX_FRAME_BYTES => {
                Request::parse(t.as_str()).ok().map(|r| r.id)
            }
            Message::Text(_) | Message::Binary(_) => None,
            _ => return Some(Flow::Continue),
        };
        let text = format!("more than {REQUESTS_PER_SEC} requests per second; slow down");
        Some(self.reply_error(id, ErrorCode::RateLimited, text))
    }

    /// The hub's queue is full: waits for room, a bounded time.
    async fn wait_for_hub(&mut self, id: u64, input: Input) -> Flow {
        match tokio::time::timeout(HUB_QUEUE_WAIT, self.shared.hub.send(input)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(_)) => self.shutting_down(id),
            Err(_) => self.reply_error(Some(id), ErrorCode::Overloaded, "server is busy; retry"),
        }
    }

    fn shutting_down(&self, id: u64) -> Flow {
        self.reply_error(Some(id), ErrorCode::ShuttingDown, "server is stopping")
    }

    /// Reads run beside the hub on the blocking pool, one at a time per connection and a
    /// pool's worth server-wide; the answer joins the connection's queue like any other
    /// frame, and is bounded like one.
    fn query(&self, id: u64, user: String, count: u32, next_flag: u64) -> Flow {
        if self.queries.fetch_add(1, Ordering::Relaxed) >= MAX_QUERIES_PENDING {
            self.queries.fetch_sub(1, Ordering::Relaxed);
            let msg = format!(
                "{MAX_QUERIES_PENDING} history queries are already waiting for their answers"
            );
            return self.reply_error(Some(id), ErrorCode::RateLimited, msg);
        }
        let reads = self.shared.reads.clone();
        let all_queries = self.shared.queries.clone();
        let turn = self.query_turn.clone();
        let pending = self.queries.clone();
        let out = self.out.clone();
        self.shared.tasks.spawn(async move {
            let _turn = turn.acquire_owned().await;
            let _reader = all_queries.acquire_owned().await;
            let started = Instant::now();
            let result = tokio::task::spawn_blocking(move || {
                store::query_calls(&reads, &user, count, next_flag, MAX_QUERY_ANSWER_BYTES)
            })
            .await;
            let msg = match result {
                Ok(Ok(list)) => ServerMessage::Response(Response {
                    id,
                    result: ResponseBody::QueryCallInvitationList(list),
                }),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "history query failed");
                    let (code, text) = if e.is_corrupt() {
                        (
                            ErrorCode::StoredDataCorrupt,
                            "a call in this page of the history is damaged in the server's database",
                        )
                    } else {
                        (ErrorCode::Internal, "could not read the call history")
                    };
                    ServerMessage::Error(ErrorBody::new(Some(id), code, text))
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
                out.offer(Frame::Text(text));
            }
            pending.fetch_sub(1, Ordering::Relaxed);
        });
        Flow::Continue
    }

    fn reply_error(&self, id: Option<u64>, code: ErrorCode, msg: impl Into<String>) -> Flow {
        self.reply(ServerMessage::Error(ErrorBody::new(id, code, msg)))
    }

    /// Queues an answer behind what is already queued; a client that lets its queue fill
    /// is cut like any slow consumer.
    fn reply(&self, msg: ServerMessage) -> Flow {
        if let Some(text) = encode(&msg) {
            self.out.offer(Frame::Text(text));
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HB: Duration = Duration::from_secs(30);
    const LOGIN: Duration = Duration::from_secs(10);

    fn verdict(flow: Option<Flow>) -> Option<CloseReason> {
        match flow {
            Some(Flow::Close(reason, _)) => reason,
            Some(Flow::Continue) => panic!("a deadline closes or says nothing"),
            None => None,
        }
    }

    #[test]
    fn one_timer_serves_the_login_and_heartbeat_deadlines() {
        let t0 = TokioInstant::now();
        let s = Duration::from_secs;
        let mut d = Deadlines::new(t0, HB, LOGIN);
        assert_eq!(d.next(), t0 + LOGIN, "the login deadline comes first");
        assert_eq!(
            verdict(d.expired(t0 + LOGIN, false)),
            Some(CloseReason::LoginTimeout)
        );

        // Logged in and reading: the timer fires at the login deadline, finds the
        // session alive, and moves to the heartbeat deadline of the last read.
        let mut d = Deadlines::new(t0, HB, LOGIN);
        d.read(t0 + s(5));
        assert_eq!(verdict(d.expired(t0 + LOGIN, true)), None);
        assert_eq!(d.next(), t0 + s(35));
        d.read(t0 + s(20));
        assert_eq!(verdict(d.expired(t0 + s(35), true)), None, "it read since");
        assert_eq!(d.next(), t0 + s(50));
        assert_eq!(
            verdict(d.expired(t0 + s(50), true)),
            Some(CloseReason::HeartbeatTimeout)
        );

        // Silence wins over a missed login when both have passed.
        let mut d = Deadlines::new(t0, LOGIN, LOGIN);
        assert_eq!(
            verdict(d.expired(t0 + LOGIN, false)),
            Some(CloseReason::HeartbeatTimeout)
        );
    }
}
