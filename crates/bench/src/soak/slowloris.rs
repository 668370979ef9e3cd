//! Slowloris: connections that cost the server a socket and a task without ever becoming a
//! user. Tricklers send an HTTP upgrade request one byte at a time, too slowly to finish
//! within the soak; idlers complete the upgrade and never log in (some keep it alive with
//! heartbeats, which a server without a login deadline accepts).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use beckon_protocol::{Request, RequestBody};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::tally::{self, CloseWatch, Stats};

/// A server that answers or hangs up this soon after the connect did not take the
/// connection at all (a connection cap), rather than time it out.
const AT_ONCE: Duration = Duration::from_secs(1);
/// Heartbeats from the idlers that send them; well inside the default 30 s timeout.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(10);

const UPGRADE_REQUEST: &[u8] = b"GET /ws HTTP/1.1\r\n\
Host: 127.0.0.1\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Trickle,
    IdleSilent,
    IdleHeartbeats,
}

impl Mode {
    /// Three quarters tricklers; the rest idlers, half of them sending heartbeats.
    pub fn for_index(i: u32, of: u32) -> Mode {
        let tricklers = of * 3 / 4;
        if i < tricklers {
            Mode::Trickle
        } else if (i - tricklers).is_multiple_of(2) {
            Mode::IdleSilent
        } else {
            Mode::IdleHeartbeats
        }
    }
}

pub async fn worker(
    addr: SocketAddr,
    mode: Mode,
    trickle: Duration,
    mut stop: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::default();
    while !*stop.borrow() {
        stats.connections += 1;
        let end = match mode {
            Mode::Trickle => trickle_once(addr, trickle, &mut stop, &mut stats).await,
            Mode::IdleSilent | Mode::IdleHeartbeats => {
                idle_once(addr, mode == Mode::IdleHeartbeats, &mut stop, &mut stats).await
            }
        };
        match end {
            End::Refused(reason) => stats.refused(reason),
            End::Cut(reason) => stats.cut(reason),
            End::Stopped => {
                stats.open_at_end += 1;
                break;
            }
        }
        tally::pause(&mut stop).await;
    }
    stats
}

enum End {
    Refused(String),
    Cut(String),
    Stopped,
}

async fn trickle_once(
    addr: SocketAddr,
    every: Duration,
    stop: &mut watch::Receiver<bool>,
    stats: &mut Stats,
) -> End {
    let connected = tokio::select! {
        c = tally::tcp_connect(addr) => c,
        _ = tally::stopped(stop) => return End::Stopped,
    };
    let mut tcp = match connected {
        Ok(tcp) => tcp,
        Err(reason) => return End::Refused(reason),
    };
    let since = Instant::now();
    let mut next = 0;
    let mut tick = tokio::time::interval(every);
    let mut reply = Vec::new();
    let mut upgraded = false;
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            _ = tally::stopped(stop) => return End::Stopped,
            read = tcp.read(&mut buf) => {
                let at_once = since.elapsed() < AT_ONCE;
                let reason = match read {
                    Ok(0) => "eof".to_string(),
                    // A trickle fast enough to finish holds the upgraded connection.
                    Ok(_) if upgraded => continue,
                    Ok(n) => {
                        reply.extend_from_slice(&buf[..n]);
                        match http_status(&reply) {
                            Some(101) => {
                                upgraded = true;
                                continue;
                            }
                            Some(status) => format!("HTTP {status}"),
                            None => continue,
                        }
                    }
                    Err(e) => format!("{:?}", e.kind()),
                };
                return if at_once {
                    End::Refused(format!("{reason} at once"))
                } else {
                    End::Cut(format!("{reason} while trickling"))
                };
            }
            _ = tick.tick(), if next < UPGRADE_REQUEST.len() => {
                if let Err(e) = tcp.write_all(&UPGRADE_REQUEST[next..next + 1]).await {
                    return End::Cut(format!("{:?} while trickling", e.kind()));
                }
                next += 1;
                stats.sent += 1;
            }
        }
    }
}

/// The status code of an HTTP response, once its first line is complete.
fn http_status(reply: &[u8]) -> Option<u16> {
    let line_end = reply.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&reply[..line_end]).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn idle_once(
    addr: SocketAddr,
    heartbeats: bool,
    stop: &mut watch::Receiver<bool>,
    stats: &mut Stats,
) -> End {
    let ws = tokio::select! {
        ws = tally::connect(addr) => ws,
        _ = tally::stopped(stop) => return End::Stopped,
    };
    let (mut sink, mut stream) = match ws {
        Ok(ws) => ws.split(),
        Err(reason) => return End::Refused(reason),
    };
    let mut watch = CloseWatch::default();
    let mut beat =
        tokio::time::interval_at(tokio::time::Instant::now() + IDLE_HEARTBEAT, IDLE_HEARTBEAT);
    let mut id = 0u64;
    loop {
        tokio::select! {
            _ = tally::stopped(stop) => return End::Stopped,
            msg = stream.next() => match msg {
                Some(Ok(msg)) => if let Some(reason) = watch.on_message(&msg) {
                    return End::Cut(reason);
                },
                Some(Err(e)) => return End::Cut(watch.on_error(&e)),
                None => return End::Cut(watch.on_eof()),
            },
            _ = beat.tick(), if heartbeats => {
                id += 1;
                let text = serde_json::to_string(&Request { id, body: RequestBody::Heartbeat })
                    .unwrap_or_default();
                if let Err(e) = sink.send(Message::text(text)).await {
                    return End::Cut(watch.on_error(&e));
                }
                stats.sent += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_quarters_trickle_and_the_idlers_split_in_two() {
        let modes: Vec<Mode> = (0..8).map(|i| Mode::for_index(i, 8)).collect();
        assert_eq!(modes.iter().filter(|&&m| m == Mode::Trickle).count(), 6);
        assert_eq!(modes[6], Mode::IdleSilent);
        assert_eq!(modes[7], Mode::IdleHeartbeats);
    }

    #[test]
    fn the_status_code_is_read_once_the_first_line_is_in() {
        assert_eq!(http_status(b"HTTP/1.1 408 Request Timeout"), None);
        assert_eq!(http_status(b"HTTP/1.1 408 Request Timeout\r\n"), Some(408));
        assert_eq!(http_status(b"garbage\n"), None);
    }
}
