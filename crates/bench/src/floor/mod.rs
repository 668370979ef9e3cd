//! `beckon-bench floor`: the floors Beckon is measured against. Each is a relay that serves
//! the bench's phases with real connections and real routing (see [`relay`]) and nothing
//! else, so the gap between it and Beckon, measured in the same run on the same machine,
//! is what Beckon's storage, checks and bookkeeping cost.
//!
//! - `--transport ws`: WebSocket text frames of Beckon's JSON, through the tokio-tungstenite
//!   release beckon-server uses, with beckon-server's buffer sizes and frame limits.
//! - `--transport tcp`: the same JSON in length-prefixed frames on plain TCP, without
//!   WebSocket's framing, masking and handshake: the floor of the floor.
//!
//! Both read and write the way beckon-server's connection tasks do: the frames already
//! there are read together and their answers leave in one write; queued frames are
//! written in batches, each with a time limit; a connection whose queue is full is cut.

mod relay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use beckon_protocol::limits::HARD_MAX_FRAME_BYTES;
use bytes::{Bytes, BytesMut};
use clap::ValueEnum;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use ws_stream::tungstenite::protocol::WebSocketConfig;
use ws_stream::tungstenite::Message;

use relay::{Outbox, Relay, Session};

#[derive(Debug, clap::Args)]
pub struct FloorArgs {
    /// What carries the JSON frames.
    #[arg(long, value_enum)]
    pub transport: Transport,

    /// Where to listen; loopback only. Port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

/// What carries the JSON frames: WebSocket (Beckon and the WebSocket floor), or the TCP
/// floor's length-prefixed frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    Ws,
    Tcp,
}

/// As beckon-server's listener (`Config::LISTEN_BACKLOG`), so logins meet the same queue.
const LISTEN_BACKLOG: u32 = 4096;
/// As beckon-server's `ws::open`: a small read buffer keeps idle connections cheap; frames
/// written in a batch are joined up to the write buffer's size.
const WS_READ_BUFFER_BYTES: usize = 4096;
const WS_WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// As beckon-server's connection task: frames read in one go when they are already
/// there, queued frames written in one go, and how long one write may take.
const READ_BATCH: usize = 32;
const WRITE_BATCH: usize = 64;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to finish the WebSocket handshake (beckon-server's header timeout).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after a failed accept (EMFILE and the like), which retrying at once would not fix.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

pub async fn main(args: &FloorArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        bail!("{}: a floor listens on loopback only", args.listen);
    }
    // One socket per client, like the server; the limit is this process's own.
    rlimit::increase_nofile_limit(u64::MAX).context("raising RLIMIT_NOFILE")?;
    let listener = bind(args.listen)?;
    println!("listening on {}", listener.local_addr()?);
    let relay = Arc::new(Relay::default());
    tokio::select! {
        () = accept_loop(listener, relay, args.transport) => Ok(()),
        _ = crate::interrupted() => Ok(()),
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("binding {addr}"))?;
    Ok(socket.listen(LISTEN_BACKLOG)?)
}

async fn accept_loop(listener: TcpListener, relay: Arc<Relay>, transport: Transport) {
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let relay = relay.clone();
        tokio::spawn(async move {
            if tcp.set_nodelay(true).is_err() {
                return;
            }
            match transport {
                Transport::Ws => {
                    if let Some(ws) = ws_handshake(tcp).await {
                        serve::<_, Ws, _>(ws, &relay).await;
                    }
                }
                Transport::Tcp => serve::<_, Tcp, _>(tcp_framed(tcp), &relay).await,
            }
        });
    }
}

async fn ws_handshake(tcp: TcpStream) -> Option<ws_stream::WebSocketStream<TcpStream>> {
    let config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .write_buffer_size(WS_WRITE_BUFFER_BYTES)
        .max_message_size(Some(HARD_MAX_FRAME_BYTES))
        .max_frame_size(Some(HARD_MAX_FRAME_BYTES));
    let handshake = ws_stream::accept_async_with_config(tcp, Some(config));
    tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
        .await
        .ok()?
        .ok()
}

/// Length-prefixed frames (4-byte big-endian length), capped like Beckon's frames, with
/// the WebSocket floor's buffers: a 4 KiB read buffer, and a write buffer that grows when
/// first written to (`Framed` would otherwise hold 8 KiB per idle connection).
pub fn tcp_framed(tcp: TcpStream) -> Framed<TcpStream, LengthDelimitedCodec> {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(HARD_MAX_FRAME_BYTES)
        .new_codec();
    let mut framed = Framed::with_capacity(tcp, codec, WS_READ_BUFFER_BYTES);
    *framed.write_buffer_mut() = BytesMut::new();
    framed
}

/// What a transport's frames mean to the relay.
trait Framing {
    type In;
    type Out;
    fn read(frame: &Self::In) -> Read<'_>;
    fn write(text: String) -> Self::Out;
}

enum Read<'a> {
    Text(&'a str),
    /// Control frames, which the WebSocket library answers by itself.
    Skip,
    /// The peer closed, or sent what the protocol has no place for.
    End,
}

struct Ws;

impl Framing for Ws {
    type In = Message;
    type Out = Message;
    fn read(frame: &Message) -> Read<'_> {
        match frame {
            Message::Text(text) => Read::Text(text.as_str()),
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Read::Skip,
            Message::Binary(_) | Message::Close(_) => Read::End,
        }
    }
    fn write(text: String) -> Message {
        Message::text(text)
    }
}

struct Tcp;

impl Framing for Tcp {
    type In = BytesMut;
    type Out = Bytes;
    fn read(frame: &BytesMut) -> Read<'_> {
        match std::str::from_utf8(frame) {
            Ok(text) => Read::Text(text),
            Err(_) => Read::End,
        }
    }
    fn write(text: String) -> Bytes {
        Bytes::from(text.into_bytes())
    }
}

async fn serve<S, F, E>(mut io: S, relay: &Relay)
where
    F: Framing,
    S: Stream<Item = Result<F::In, E>> + Sink<F::Out> + Unpin,
{
    let (mut session, mut outbox) = relay.open();
    let cut = session.cut();
    loop {
        // As in beckon-server: what is queued goes out before more is read.
        let open = tokio::select! {
            biased;
            _ = cut.cancelled() => false,
            Some(text) = outbox.recv() => write_queued::<S, F>(&mut io, text, &mut outbox).await,
            frame = io.next() => read_batch::<S, F, E>(&mut io, frame, relay, &mut session).await,
        };
        if !open {
            break;
        }
    }
    relay.close(&session);
    // Sends the WebSocket close reply (or flushes and shuts TCP down), so the client's
    // closing handshake ends now rather than at its own time limit.
    let _ = tokio::time::timeout(Duration::from_secs(1), io.close()).await;
}

/// Handles `first` and the frames already behind it, then writes all their answers in one
/// flush. False once the connection is over.
async fn read_batch<S, F, E>(
    io: &mut S,
    first: Option<Result<F::In, E>>,
    relay: &Relay,
    session: &mut Session,
) -> bool
where
    F: Framing,
    S: Stream<Item = Result<F::In, E>> + Sink<F::Out> + Unpin,
{
    let mut answers = Vec::new();
    let mut open = true;
    let mut next = Some(first);
    let mut read = 0;
    while let Some(frame) = next.take() {
        read += 1;
        match frame {
            Some(Ok(frame)) => match F::read(&frame) {
                Read::Text(text) => answers.push(relay.handle(session, text)),
                Read::Skip => {}
                Read::End => open = false,
            },
            Some(Err(_)) | None => open = false,
        }
        if open && read < READ_BATCH {
            next = io.next().now_or_never();
        }
    }
    if answers.is_empty() {
        return open;
    }
    let write = async {
        for text in answers {
            io.feed(F::write(text)).await.map_err(drop)?;
        }
        io.flush().await.map_err(drop)
    };
    let written = matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())));
    open && written
}

/// Writes `first` and what is queued behind it, up to [`WRITE_BATCH`], in one flush.
async fn write_queued<S, F>(io: &mut S, first: String, outbox: &mut Outbox) -> bool
where
    F: Framing,
    S: Sink<F::Out> + Unpin,
{
    let write = async {
        let mut next = Some(first);
        let mut fed = 0;
        while let Some(text) = next.take() {
            io.feed(F::write(text)).await.map_err(drop)?;
            fed += 1;
            if fed < WRITE_BATCH {
                next = outbox.try_recv().ok();
            }
        }
        io.flush().await.map_err(drop)
    };
    matches!(tokio::time::timeout(SEND_TIMEOUT, write).await, Ok(Ok(())))
}
