//! The accept loop: every TCP connection the server holds is counted, timed and abortable.
//! axum's own `serve` can neither refuse connections past a cap nor time out a client that
//! never finishes its request headers, and its graceful shutdown waits for such a client
//! forever; this loop (after mini-redis's) does all three.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use crate::metrics as m;
use crate::Config;

/// What bounds the connections one server holds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open TCP connections, upgraded or not. Past it, new ones get `503` and are closed.
    pub max_connections: usize,
    /// New connections per second from one IP address (with a burst of twice that); past
    /// it they get `429` and are closed. `None`: unlimited.
    pub connections_per_ip_per_sec: Option<NonZeroU32>,
    /// Time a client has to send complete request headers; it also bounds an idle
    /// keep-alive connection.
    pub header_read_timeout: Duration,
}

/// Request header bytes one connection may send (hyper refuses less than 8 KiB).
const MAX_HEADER_BYTES: usize = 16 * 1024;
/// First and longest pause after a failed `accept` (EMFILE and the like): the error
/// persists until connections close, so retrying at once would only spin.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));
/// How often the per-IP limiter forgets addresses that have gone quiet.
const FORGET_IPS_EVERY: Duration = Duration::from_secs(60);

/// Every task that holds a client connection, and the means to end them all at once.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    kill: CancellationToken,
}

impl Tasks {
    /// Spawns `fut`, which is dropped (with its socket) if `abort_all` comes first.
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(Killable {
            fut,
            kill: self.kill.clone().cancelled_owned(),
        });
    }

    /// Waits up to `deadline` for every task to end by itself, then drops the rest; returns
    /// how many were dropped.
    pub async fn finish(&self, deadline: Duration) -> usize {
        self.tracker.close();
        if tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return 0;
        }
        let left = self.tracker.len();
        self.kill.cancel();
        self.tracker.wait().await;
        left
    }
}

pin_project_lite::pin_project! {
    /// `fut` until it ends or the kill token is cancelled. A struct rather than an `async`
    /// block: a block would hold `fut` twice, once as captured and once being polled, and
    /// a connection's future is its task's largest part.
    struct Killable<F> {
        #[pin]
        fut: F,
        #[pin]
        kill: WaitForCancellationFutureOwned,
    }
}

impl<F: Future<Output = ()>> Future for Killable<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.fut.poll(cx).is_ready() || this.kill.poll(cx).is_ready() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// A listener on `addr` with a backlog of [`Config::LISTEN_BACKLOG`] instead of tokio's
/// 128. Must be called within a tokio runtime, like `TcpListener::bind`.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does on Unix: a restarted server gets its port back while the
    // old one's connections sit in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(Config::LISTEN_BACKLOG)
}

/// Kept by a connection's task, and by its WebSocket session after an upgrade: the slot
/// under `max_connections` is free again when the last holder drops it.
#[derive(Clone)]
pub struct Slot {
    _permit: Arc<OwnedSemaphorePermit>,
    pub peer: SocketAddr,
}

/// Accepts connections and serves `router` on them until `stop` is cancelled. Returns the
/// listener, still bound, so the caller decides when the port is released.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tasks: Tasks,
    stop: CancellationToken,
) -> TcpListener {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip: Option<DefaultKeyedRateLimiter<IpAddr>> =
        limits.connections_per_ip_per_sec.map(|rate| {
            let burst = rate.saturating_mul(NonZeroU32::MIN.saturating_add(1));
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let mut backoff = ACCEPT_BACKOFF.0;
    let mut forget = tokio::time::interval(FORGET_IPS_EVERY);
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => return listener,
            _ = forget.tick() => {
                if let Some(l) = &per_ip {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
                continue;
            }
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = ACCEPT_BACKOFF.0;
                    a
                }
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    metrics::counter!(m::ACCEPT_ERRORS).increment(1);
                    tracing::error!(error = %e, retry_in = ?backoff, "cannot accept connections");
                    tokio::select! {
                        _ = stop.cancelled() => return listener,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                    continue;
                }
            },
        };
        if per_ip
            .as_ref()
            .is_some_and(|l| l.check_key(&peer.ip()).is_err())
        {
            refuse(&stream, "429 Too Many Requests", "ip_rate");
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refuse(&stream, "503 Service Unavailable", "max_connections");
            continue;
        };
        if let Err(e) = configure(&stream) {
            tracing::debug!(error = %e, "cannot configure an accepted socket");
        }
        let slot = Slot {
            _permit: Arc::new(permit),
            peer,
        };
        let service = PerConnection {
            router: router.clone(),
            slot,
        };
        let conn = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let stop = stop.clone();
        tasks.spawn(async move {
            metrics::gauge!(m::TCP_CONNECTIONS).increment(1.0);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.cancelled() => {
                    // Lets a request in progress finish; closes an idle connection now.
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "http connection ended");
            }
            metrics::gauge!(m::TCP_CONNECTIONS).decrement(1.0);
        });
    }
}

/// Small writes (one event, one answer) go out at once: with Nagle's algorithm a second
/// frame waits for the peer's delayed ACK, some 40 ms.
pub fn configure(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)
}

/// Errors about one incoming connection (it was reset before we took it); the listener is
/// fine and the next accept may succeed at once.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Answers without waiting: a refused client gets a status line if the socket takes it at
/// once, and the connection is closed either way.
fn refuse(stream: &TcpStream, status: &str, reason: &'static str) {
    metrics::counter!(m::REFUSED, "reason" => reason).increment(1);
    tracing::debug!(reason, "connection refused");
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.try_write(response.as_bytes());
}

/// The router, with the connection's [`Slot`] put in each request's extensions.
#[derive(Clone)]
struct PerConnection {
    router: Router,
    slot: Slot,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = <Router as tower_service::Service<hyper::Request<Incoming>>>::Future;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(self.slot.clone());
        tower_service::Service::call(&mut self.router.clone(), req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accepted_sockets_send_small_writes_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(TcpStream::connect(addr));
        let (stream, _) = listener.accept().await.unwrap();
        assert!(
            !stream.nodelay().unwrap(),
            "the kernel default has Nagle on"
        );
        configure(&stream).unwrap();
        assert!(stream.nodelay().unwrap());
        drop(client.await);
    }
}
