//! The WebSocket handshake and the byte stream under the WebSocket. The server upgrades the
//! connection itself, rather than through axum's extractor, to sit between the socket and
//! tungstenite: tungstenite joins fragments out of sight, so without this a client could
//! send endless empty continuation frames that no limiter ever sees.

use std::io;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use beckon_protocol::limits::{
    HARD_MAX_FRAME_BYTES, MAX_RATE_LIMITED_REFUSALS, REQUESTS_PER_SEC, REQUEST_BURST,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::CancellationToken;
use ws_stream::tungstenite::handshake::derive_accept_key;
use ws_stream::tungstenite::protocol::{Role, WebSocketConfig};
use ws_stream::WebSocketStream;

pub use ws_stream::tungstenite::protocol::frame::coding::CloseCode;
pub use ws_stream::tungstenite::protocol::CloseFrame;
pub use ws_stream::tungstenite::{Error, Message, Utf8Bytes};

pub type Socket = WebSocketStream<FrameGuard<TokioIo<Upgraded>>>;

/// Checks an upgrade request (RFC 6455 §4.2.1) and returns the `101` answer and the future
/// that yields the connection once that answer is sent; or why not.
pub fn handshake(req: &mut Request) -> Result<(Response, OnUpgrade), Refused> {
    let key = check(req.headers())?;
    let Some(on_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
        return Err((StatusCode::UPGRADE_REQUIRED, "not an upgradable connection"));
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&key) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((response, on_upgrade))
}

/// An upgrade request refused: the status and a word on why.
pub type Refused = (StatusCode, &'static str);

fn check(h: &HeaderMap) -> Result<String, Refused> {
    let has_token = |name: header::HeaderName, token: &str| {
        h.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err((StatusCode::UPGRADE_REQUIRED, "this is a WebSocket endpoint"));
    }
    if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Version must be 13"));
    }
    match h.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) => Ok(derive_accept_key(key.as_bytes())),
        None => Err((StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing")),
    }
}

/// Waits for the upgrade and wraps the connection, or `None` if the client went away.
pub async fn open(on_upgrade: OnUpgrade, budget: std::sync::Arc<FrameBudget>) -> Option<Socket> {
    let upgraded = on_upgrade.await.ok()?;
    // Small buffers keep an idle connection cheap; the hard cap bounds what one frame can
    // make the server hold. Frames written in a batch are joined up to the write buffer's
    // size and leave in one write when the batch is flushed.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(Some(HARD_MAX_FRAME_BYTES))
        .max_frame_size(Some(HARD_MAX_FRAME_BYTES));
    let io = FrameGuard::new(TokioIo::new(upgraded), budget);
    Some(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
}

/// The read buffer an idle connection keeps, and the most one read takes from the
/// socket. Requests are a few hundred bytes, so one read still takes one or several; a
/// larger frame grows the buffer to its size.
const READ_BUFFER_BYTES: usize = 1024;

/// Bytes of frames a connection joins before writing them; every batch is flushed at its
/// end, so this only bounds how much one write carries.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// One connection's allowance of frames. Every frame the client sends is charged once:
/// whole messages and control frames by the connection task as they arrive, the fragments
/// that never arrive on their own by [`FrameGuard`].
pub struct FrameBudget {
    limiter: DefaultDirectRateLimiter,
    refusals: Mutex<Refusals>,
    /// Cancelled when the client kept sending after being refused: the connection closes.
    pub flooding: CancellationToken,
}

#[derive(Default)]
struct Refusals {
    /// Refusals since the client last kept quiet for a second. A token refilling now and
    /// then does not reset it, so a sustained flood is cut however it is paced.
    count: u32,
    last: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    Allowed,
    Refused,
    Flooding,
}

impl Default for FrameBudget {
    fn default() -> Self {
        let quota = Quota::per_second(NonZeroU32::new(REQUESTS_PER_SEC).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(REQUEST_BURST).unwrap_or(NonZeroU32::MIN));
        FrameBudget {
            limiter: RateLimiter::direct(quota),
            refusals: Mutex::new(Refusals::default()),
            flooding: CancellationToken::new(),
        }
    }
}

impl FrameBudget {
    pub fn charge(&self) -> Charge {
        if self.flooding.is_cancelled() {
            return Charge::Flooding;
        }
        let now = Instant::now();
        let Ok(mut r) = self.refusals.lock() else {
            return Charge::Flooding;
        };
        if self.limiter.check().is_ok() {
            if r.last
                .is_some_and(|t| now.duration_since(t) > Duration::from_secs(1))
            {
                r.count = 0;
            }
            return Charge::Allowed;
        }
        r.count += 1;
        r.last = Some(now);
        if r.count > MAX_RATE_LIMITED_REFUSALS {
            self.flooding.cancel();
            return Charge::Flooding;
        }
        Charge::Refused
    }
}

/// Watches the bytes tungstenite reads and charges each data frame that is not the last of
/// its message to the connection's [`FrameBudget`]. Only frame headers are parsed; the
/// bytes pass through untouched.
pub struct FrameGuard<S> {
    inner: S,
    budget: std::sync::Arc<FrameBudget>,
    head: [u8; 14],
    have: usize,
    /// Payload bytes of the current frame still to pass.
    skip: u64,
}

impl<S> FrameGuard<S> {
    pub fn new(inner: S, budget: std::sync::Arc<FrameBudget>) -> Self {
        FrameGuard {
            inner,
            budget,
            head: [0; 14],
            have: 0,
            skip: 0,
        }
    }

    /// Charges the frames in `data`, which is about to be handed to tungstenite, and turns
    /// each refused ping into a pong, which tungstenite does not answer: a frame beyond
    /// the rate gets no answer.
    fn observe(&mut self, data: &mut [u8]) {
        let mut at = 0;
        while at < data.len() {
            if self.skip > 0 {
                let n = self.skip.min((data.len() - at) as u64);
                self.skip -= n;
                at += n as usize;
                continue;
            }
            if self.have == 0 {
                // The first byte holds FIN and the opcode: enough to charge the frame.
                let (fin, opcode) = (data[at] & 0x80 != 0, data[at] & 0x0f);
                // The last frame of a data message (a whole text or binary message) and
                // close frames reach the connection task, which charges them there; so
                // that it can answer a refused request with its id.
                let charged = match opcode {
                    PING | PONG => true,
                    op => !fin && op < 8,
                };
                if charged && self.budget.charge() != Charge::Allowed && opcode == PING {
                    data[at] = (data[at] & 0xf0) | PONG;
                }
            }
            self.head[self.have] = data[at];
            self.have += 1;
            at += 1;
            if let Some((len, _, _)) = parse_head(&self.head[..self.have]) {
                self.have = 0;
                self.skip = len;
            }
        }
    }
}

const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// `(payload length, FIN, opcode)` once `head` holds a whole frame header (RFC 6455 §5.2).
fn parse_head(head: &[u8]) -> Option<(u64, bool, u8)> {
    if head.len() < 2 {
        return None;
    }
    let ext = match head[1] & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if head[1] & 0x80 != 0 { 4 } else { 0 };
    if head.len() < 2 + ext + mask {
        return None;
    }
    let len = match ext {
        0 => u64::from(head[1] & 0x7f),
        n => head[2..2 + n]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    };
    Some((len, head[0] & 0x80 != 0, head[0] & 0x0f))
}

impl<S: AsyncRead + Unpin> AsyncRead for FrameGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.observe(&mut buf.filled_mut()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for FrameGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame with an empty payload.
    fn empty(fin: bool, opcode: u8) -> Vec<u8> {
        vec![(u8::from(fin) << 7) | opcode, 0x80, 1, 2, 3, 4]
    }

    #[test]
    fn fragments_are_charged_and_whole_messages_are_left_to_the_connection() {
        let budget = std::sync::Arc::new(FrameBudget::default());
        let mut guard = FrameGuard::new((), budget.clone());
        // A text frame split into a start, 99 continuations and a final frame, fed in
        // pieces of 5 bytes so headers straddle reads.
        let mut bytes = empty(false, 1);
        for _ in 0..99 {
            bytes.extend(empty(false, 0));
        }
        bytes.extend(empty(true, 0));
        // A whole message with a 200-byte payload (16-bit length) and a ping.
        bytes.extend([0x81, 0x80 | 126, 0, 200, 9, 9, 9, 9]);
        bytes.extend([b'x'; 200]);
        bytes.extend(empty(true, 9));
        for piece in bytes.chunks_mut(5) {
            guard.observe(piece);
        }
        assert_eq!(guard.have, 0);
        assert_eq!(guard.skip, 0);
        // 100 non-final frames took the burst; the next charge is refused.
        assert!(REQUEST_BURST as usize <= 100);
        assert_eq!(budget.charge(), Charge::Refused);
    }

    #[test]
    fn pings_are_charged_and_a_refused_one_becomes_a_pong() {
        let budget = std::sync::Arc::new(FrameBudget::default());
        let mut guard = FrameGuard::new((), budget.clone());
        let mut bytes = Vec::new();
        for _ in 0..REQUEST_BURST + 2 {
            // A ping with a 2-byte payload.
            bytes.extend([0x89, 0x82, 1, 2, 3, 4, 5, 6]);
        }
        for piece in bytes.chunks_mut(3) {
            guard.observe(piece);
        }
        assert_eq!(guard.have, 0);
        assert_eq!(guard.skip, 0);
        let opcodes: Vec<u8> = bytes.chunks(8).map(|f| f[0]).collect();
        let burst = REQUEST_BURST as usize;
        assert!(opcodes[..burst].iter().all(|b| *b == 0x89), "{opcodes:?}");
        assert_eq!(opcodes[burst..], [0x8a, 0x8a]);
        // The two refusals count towards flooding like any other.
        let r = budget.refusals.lock().unwrap();
        assert_eq!(r.count, 2);
    }
}
