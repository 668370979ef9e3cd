//! Flooding connections: frames as fast as the socket takes them, reading whatever comes
//! back so the server is never blocked on us and its close is seen.

use std::net::SocketAddr;

use beckon_protocol::{Request, RequestBody};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::{Bytes, Message};

use super::tally::{self, CloseWatch, Ended, Stats, Ws};

/// Frames written between flushes.
const BATCH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// WebSocket pings; the server's WebSocket layer answers each with a pong.
    Ping,
    /// `heartbeat` requests, the cheapest request there is.
    Requests,
    /// One unfinished text frame, then empty continuation frames forever: the message
    /// never completes, so nothing above the WebSocket layer sees a frame.
    Continuation,
}

impl Mode {
    pub fn for_index(i: u32) -> Mode {
        match i % 3 {
            0 => Mode::Ping,
            1 => Mode::Requests,
            _ => Mode::Continuation,
        }
    }

    fn frame(self, id: u64) -> Message {
        match self {
            Mode::Ping => Message::Ping(Bytes::new()),
            Mode::Requests => {
                let text = serde_json::to_string(&Request {
                    id,
                    body: RequestBody::Heartbeat,
                })
                .unwrap_or_default();
                Message::text(text)
            }
            Mode::Continuation => Message::Frame(Frame::message(
                Bytes::new(),
                OpCode::Data(Data::Continue),
                false,
            )),
        }
    }
}

pub async fn worker(addr: SocketAddr, mode: Mode, mut stop: watch::Receiver<bool>) -> Stats {
    let mut stats = Stats::default();
    let mut next_id = 1u64;
    while !*stop.borrow() {
        stats.connections += 1;
        let ws = tokio::select! {
            ws = tally::connect(addr) => ws,
            _ = tally::stopped(&mut stop) => break,
        };
        let ws = match ws {
            Ok(ws) => ws,
            Err(reason) => {
                stats.refused(reason);
                tally::pause(&mut stop).await;
                continue;
            }
        };
        let (mut sink, mut stream) = ws.split();
        let mut watch = CloseWatch::default();
        if mode == Mode::Continuation {
            let start = Frame::message(b"{".to_vec(), OpCode::Data(Data::Text), false);
            if sink.send(Message::Frame(start)).await.is_err() {
                stats.cut("closed at once");
                tally::pause(&mut stop).await;
                continue;
            }
        }
        let end = loop {
            // Reading comes first, so pongs and errors never back up into the server.
            tokio::select! {
                biased;
                _ = tally::stopped(&mut stop) => break None,
                msg = stream.next() => match msg {
                    Some(Ok(msg)) => if let Some(reason) = watch.on_message(&msg) {
                        break Some(Ended::Read(reason));
                    },
                    Some(Err(e)) => break Some(Ended::Read(watch.on_error(&e))),
                    None => break Some(Ended::Read(watch.on_eof())),
                },
                sent = send_batch(&mut sink, mode, &mut next_id) => match sent {
                    Ok(n) => stats.sent += n,
                    Err(e) => break Some(Ended::Write(watch.on_error(&e))),
                },
            }
        };
        match end {
            Some(Ended::Read(reason)) => {
                stats.cut(reason);
                tally::pause(&mut stop).await;
            }
            Some(Ended::Write(error)) => {
                stats.cut(tally::drain_reason(&mut stream, &mut watch, error).await);
                tally::pause(&mut stop).await;
            }
            None => stats.open_at_end += 1,
        }
    }
    stats
}

async fn send_batch(
    sink: &mut SplitSink<Ws, Message>,
    mode: Mode,
    next_id: &mut u64,
) -> Result<u64, tokio_tungstenite::tungstenite::Error> {
    for _ in 0..BATCH {
        *next_id += 1;
        sink.feed(mode.frame(*next_id)).await?;
    }
    sink.flush().await?;
    Ok(BATCH as u64)
}
