//! What every abuser counts, and how a connection's end is told apart: refused (the
//! server would not take it) or cut (the server ended it, and why).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use beckon_protocol::ServerMessage;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use crate::logins;

pub type Ws = WebSocketStream<TcpStream>;

/// TCP connect plus WebSocket upgrade; longer counts as refused.
pub const CONNECT_BUDGET: Duration = Duration::from_secs(5);
/// How long a connection whose write failed is read for the frames that say why.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// Pause before an abuser replaces a connection it lost, so churn stays bounded.
pub const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// One abuser kind's totals.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Connections attempted.
    pub connections: u64,
    /// Frames sent (bytes, for trickled upgrade requests).
    pub sent: u64,
    /// Connect or upgrade failures, by reason.
    pub refused: BTreeMap<String, u64>,
    /// Connections the server ended, by close code and `sessionClosed` reason.
    pub cut: BTreeMap<String, u64>,
    /// Connections still open when the abuse phase ended.
    pub open_at_end: u64,
}

impl Stats {
    pub fn refused(&mut self, reason: impl Into<String>) {
        *self.refused.entry(reason.into()).or_default() += 1;
    }

    pub fn cut(&mut self, reason: impl Into<String>) {
        *self.cut.entry(reason.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Stats) {
        self.connections += other.connections;
        self.sent += other.sent;
        self.open_at_end += other.open_at_end;
        for (k, v) in other.refused {
            *self.refused.entry(k).or_default() += v;
        }
        for (k, v) in other.cut {
            *self.cut.entry(k).or_default() += v;
        }
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }

    pub fn cut_total(&self) -> u64 {
        self.cut.values().sum()
    }
}

/// How an abuser's connection ended: a read saw why, or a write failed (and the reason
/// may still be waiting to be read).
pub enum Ended {
    Read(String),
    Write(String),
}

/// The addresses abusers connect from, set once by [`use_hosts`]: 127.0.0.2 onwards where
/// the system allows it, so to the server they are other hosts than the healthy pair on
/// 127.0.0.1.
static SOURCES: OnceLock<Vec<IpAddr>> = OnceLock::new();

/// Spreads the abusers over `hosts` source addresses (just 127.0.0.1 where the system has
/// no other loopback address). Returns what they will be.
pub fn use_hosts(hosts: u8) -> &'static [IpAddr] {
    SOURCES.get_or_init(|| {
        let all = logins::source_addresses(hosts.saturating_add(1));
        match all.len() {
            1 => all,
            _ => all[1..].to_vec(),
        }
    })
}

/// The next source address, round robin.
fn source() -> IpAddr {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let sources = SOURCES.get().map(Vec::as_slice).unwrap_or_default();
    match sources.len() {
        0 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        n => sources[NEXT.fetch_add(1, Ordering::Relaxed) % n],
    }
}

/// A TCP connection from the next abuser address with Nagle off, or the refusal reason.
pub async fn tcp_connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let connect = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source(), 0))?;
        socket.connect(addr).await
    };
    match tokio::time::timeout(CONNECT_BUDGET, connect).await {
        Ok(Ok(tcp)) => {
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Ok(Err(e)) => Err(format!("connect: {:?}", e.kind())),
        Err(_) => Err("connect: timeout".into()),
    }
}

/// Connects and upgrades, or says why not (the refusal reason).
pub async fn connect(addr: SocketAddr) -> Result<Ws, String> {
    let tcp = tcp_connect(addr).await?;
    let url = format!("ws://{addr}/ws");
    match tokio::time::timeout(CONNECT_BUDGET, tokio_tungstenite::client_async(url, tcp)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(tungstenite::Error::Http(response))) => {
            Err(format!("upgrade: HTTP {}", response.status().as_u16()))
        }
        Ok(Err(e)) => Err(format!("upgrade: {}", error_reason(&e))),
        Err(_) => Err("upgrade: timeout".into()),
    }
}

/// Resolves once the abuse phase is over.
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A write failed: reads what is left for the close frame that says why, or falls back
/// to the write error.
pub async fn drain_reason(
    stream: &mut SplitStream<Ws>,
    watch: &mut CloseWatch,
    write_error: String,
) -> String {
    let found = tokio::time::timeout(DRAIN_WAIT, async {
        while let Some(Ok(msg)) = stream.next().await {
            if let Some(reason) = watch.on_message(&msg) {
                return Some(reason);
            }
        }
        None
    })
    .await;
    found.ok().flatten().unwrap_or(write_error)
}

/// Waits out [`RECONNECT_PAUSE`], or less if the abuse phase ends.
pub async fn pause(stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
        _ = stopped(stop) => {}
    }
}

/// Follows what the server sends on one connection to name the reason it ends: the close
/// code, with the `sessionClosed` reason that came before it if any.
#[derive(Debug, Default)]
pub struct CloseWatch {
    session_closed: Option<String>,
}

impl CloseWatch {
    /// The cut reason if this frame ends the connection.
    pub fn on_message(&mut self, msg: &Message) -> Option<String> {
        match msg {
            Message::Text(text) if text.as_str().contains("sessionClosed") => {
                if let Ok(ServerMessage::SessionClosed(closed)) =
                    serde_json::from_str::<ServerMessage>(text.as_str())
                {
                    self.session_closed = serde_json::to_value(closed.reason)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned));
                }
                None
            }
            Message::Close(frame) => Some(self.reason(frame.as_ref().map(|f| u16::from(f.code)))),
            _ => None,
        }
    }

    /// The cut reason for a read or write that failed.
    pub fn on_error(&self, e: &tungstenite::Error) -> String {
        self.with_session(error_reason(e))
    }

    /// The cut reason for a stream that ended without a close frame.
    pub fn on_eof(&self) -> String {
        self.with_session("eof".into())
    }

    fn reason(&self, code: Option<u16>) -> String {
        match code {
            Some(code) => self.with_session(format!("close {code}")),
            None => self.with_session("close without code".into()),
        }
    }

    fn with_session(&self, what: String) -> String {
        match &self.session_closed {
            Some(reason) => format!("{what} {reason}"),
            None => what,
        }
    }
}

/// A short, low-cardinality name for a WebSocket error, so the report can group them.
pub fn error_reason(e: &tungstenite::Error) -> String {
    use tungstenite::error::ProtocolError;
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => "closed".into(),
        tungstenite::Error::Io(io) => format!("{:?}", io.kind()),
        tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => "reset".into(),
        tungstenite::Error::Protocol(_) => "protocol error".into(),
        tungstenite::Error::Capacity(_) => "too large".into(),
        tungstenite::Error::Http(r) => format!("HTTP {}", r.status().as_u16()),
        _ => "other error".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    #[test]
    fn a_cut_is_named_by_close_code_and_session_reason() {
        let mut watch = CloseWatch::default();
        let told = Message::text(r#"{"type":"sessionClosed","reason":"flooding"}"#);
        assert_eq!(watch.on_message(&told), None);
        let close = Message::Close(Some(CloseFrame {
            code: CloseCode::Policy,
            reason: "".into(),
        }));
        assert_eq!(
            watch.on_message(&close).as_deref(),
            Some("close 1008 flooding")
        );

        let plain = CloseWatch::default();
        assert_eq!(plain.on_eof(), "eof");
        let unexplained = Message::Close(None);
        assert_eq!(
            CloseWatch::default().on_message(&unexplained).as_deref(),
            Some("close without code")
        );
    }

    #[test]
    fn stats_merge_adds_every_count() {
        let mut a = Stats {
            connections: 2,
            ..Stats::default()
        };
        a.cut("close 1009");
        let mut b = Stats {
            connections: 3,
            sent: 7,
            ..Stats::default()
        };
        b.cut("close 1009");
        b.refused("upgrade: HTTP 503");
        a.merge(b);
        assert_eq!(a.connections, 5);
        assert_eq!(a.sent, 7);
        assert_eq!(a.cut["close 1009"], 2);
        assert_eq!(a.cut_total(), 2);
        assert_eq!(a.refused_total(), 1);
    }
}
