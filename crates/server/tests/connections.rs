//! Abuse below the protocol: broken WebSocket framing, control-frame and fragment floods,
//! slow or silent HTTP clients, too many connections, clients that never read. Each is
//! cut or refused, with the RFC 6455 code or HTTP status that says why, and others carry
//! on.
mod common;

use beckon_client::Requests;
use std::num::NonZeroU32;
use std::time::Duration;

use beckon_protocol::limits::*;
use beckon_protocol::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn raw_connect(s: &TestServer) -> Ws {
    tokio_tungstenite::connect_async(s.url().as_str())
        .await
        .unwrap()
        .0
}

async fn raw_login(ws: &mut Ws, user: &str) {
    let login = json!({"type": "login", "id": 1, "userId": user, "userName": user});
    ws.send(Message::text(login.to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == 1 {
                    assert_eq!(v["type"], "response", "{v}");
                    return;
                }
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no login answer: {other:?}"),
        }
    }
}

/// How the server ended a connection, as the client saw it.
#[derive(Debug, PartialEq)]
struct End {
    /// The `reason` of a `sessionClosed`, if one arrived.
    reason: Option<Value>,
    /// The close frame's code, if one arrived.
    code: Option<u16>,
}

/// Reads (dropping frames) until the connection ends; panics after `within`.
async fn end_of(ws: &mut Ws, within: Duration) -> End {
    let read = async {
        let mut reason = None;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "sessionClosed" {
                        reason = Some(v["reason"].clone());
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    return End {
                        reason,
                        code: f.map(|f| u16::from(f.code)),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return End { reason, code: None },
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .expect("the server should have ended the connection")
}

/// Two new users log in and make a call: the server still serves.
async fn still_serves(s: &TestServer, tag: &str) {
    let work = async {
        let a = format!("{tag}-caller");
        let b = format!("{tag}-callee");
        let caller = s.user(&a).await;
        let mut callee = s.user(&b).await;
        let sent = caller.invite(&[&b], CallMode::Normal, 30).await;
        assert_eq!(callee.received().await.call_id, sent.call_id);
    };
    tokio::time::timeout(Duration::from_secs(15), work)
        .await
        .expect("the server stopped serving new users");
}

// ---- RFC 6455 close codes ----

#[tokio::test]
async fn text_that_is_not_utf8_closes_with_1007() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "alice").await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(end_of(&mut ws, WAIT).await.code, Some(1007));
    still_serves(&s, "utf8").await;
}

#[tokio::test]
async fn a_reserved_opcode_closes_with_1002() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "alice").await;
    let frame = Frame::message(vec![1, 2, 3], OpCode::Data(Data::Reserved(3)), true);
    ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(end_of(&mut ws, WAIT).await.code, Some(1002));
    still_serves(&s, "opcode").await;
}

#[tokio::test]
async fn a_continuation_without_a_start_closes_with_1002() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    let frame = Frame::message(vec![b'x'], OpCode::Data(Data::Continue), true);
    ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(end_of(&mut ws, WAIT).await.code, Some(1002));
}

// ---- every frame counts against the rate limit ----

/// Sends `frame()` as fast as the socket takes it, from another task, until the server
/// ends the connection; returns how it ended.
async fn flood(ws: Ws, frame: fn() -> Message) -> End {
    let (mut sink, mut stream) = ws.split();
    let writer = tokio::spawn(async move {
        loop {
            for _ in 0..200 {
                if sink.feed(frame()).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let read = async {
        let mut reason = None;
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "sessionClosed" {
                        reason = Some(v["reason"].clone());
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    break End {
                        reason,
                        code: f.map(|f| u16::from(f.code)),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break End { reason, code: None },
            }
        }
    };
    let end = tokio::time::timeout(Duration::from_secs(20), read).await;
    writer.abort();
    end.expect("a flood must be cut off within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_is_cut_off_as_flooding() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "pinger").await;
    let end = flood(ws, || Message::Ping(vec![1, 2, 3, 4].into())).await;
    assert_eq!(end.reason, Some(json!("flooding")), "{end:?}");
    assert_eq!(end.code, Some(1008));
    still_serves(&s, "ping").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_empty_continuation_frames_are_cut_off_as_flooding() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "fragmenter").await;
    // The start of a text message that never ends.
    let start = Frame::message(Vec::new(), OpCode::Data(Data::Text), false);
    ws.send(Message::Frame(start)).await.unwrap();
    let end = flood(ws, || {
        Message::Frame(Frame::message(
            Vec::new(),
            OpCode::Data(Data::Continue),
            false,
        ))
    })
    .await;
    assert_eq!(end.reason, Some(json!("flooding")), "{end:?}");
    assert_eq!(end.code, Some(1008));
    still_serves(&s, "fragments").await;
}

// ---- unauthenticated connections are bounded ----

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let s = TestServer::start_with(|c| c.header_read_timeout = Duration::from_secs(1)).await;
    let addr = s.http().trim_start_matches("http://").to_string();
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    // The server closes it (maybe after a 408): the read ends.
    let mut sink = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut sink))
        .await
        .expect("a half-sent request must not hold a connection")
        .ok();
    // An idle connection that sends nothing at all goes the same way.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut sink))
        .await
        .expect("a silent connection must not be held")
        .ok();
}

#[tokio::test]
async fn no_login_within_the_login_timeout_closes_even_with_heartbeats() {
    let s = TestServer::start_with(|c| c.login_timeout = Duration::from_secs(1)).await;
    // A user who logs in in time is not affected.
    let alice = s.user("alice").await;
    keepalive(&alice.client);
    let (client, mut events) = s.connect().await;
    keepalive(&client);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next_timeout(Duration::from_secs(10)).await {
                Some(ServerMessage::SessionClosed(c)) => return c.reason,
                Some(_) => {}
                None => panic!("the connection ended without sessionClosed"),
            }
        }
    })
    .await
    .expect("heartbeats must not keep an anonymous connection open");
    assert_eq!(closed, CloseReason::LoginTimeout);
    alice.client.heartbeat().await.unwrap();
}

#[tokio::test]
async fn connections_past_the_cap_get_503_and_users_carry_on() {
    // The cap is one listener's: on one node, whatever BECKON_TEST_CLUSTER says.
    let s = TestServer::start_with(|c| {
        c.max_connections = 3;
        c.cluster = None;
    })
    .await;
    let mut alice = s.user("alice").await;
    let bob = s.user("bob").await;
    let addr = s.http().trim_start_matches("http://").to_string();
    let _third = TcpStream::connect(&addr).await.unwrap();
    // Wait until the server holds the third: then the fourth is refused.
    let refused = tokio::time::timeout(WAIT, async {
        loop {
            let mut tcp = TcpStream::connect(&addr).await.unwrap();
            let mut text = String::new();
            let _ = tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let _ = tcp.read_to_string(&mut text).await;
            if text.starts_with("HTTP/1.1 503") {
                return text;
            }
        }
    })
    .await
    .expect("a connection past the cap should get 503");
    assert!(refused.contains("503"), "{refused}");
    // The users already in are not disturbed.
    let sent = bob.invite(&["alice"], CallMode::Normal, 30).await;
    assert_eq!(alice.received().await.call_id, sent.call_id);
}

#[tokio::test]
async fn connections_past_the_per_ip_rate_get_429() {
    let s = TestServer::start_with(|c| {
        c.connections_per_ip_per_sec = NonZeroU32::new(2);
        // One listener's limit, on one node whatever BECKON_TEST_CLUSTER says.
        c.cluster = None;
        // Connections let in wait for headers that never come, and end after this.
        c.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let addr = s.http().trim_start_matches("http://").to_string();
    let mut conns = Vec::new();
    for _ in 0..10 {
        conns.push(TcpStream::connect(&addr).await.unwrap());
    }
    // Nothing is sent, so a refusal is read in full before the connection closes.
    let statuses = futures_util::future::join_all(conns.into_iter().map(|mut tcp| async move {
        let mut text = String::new();
        let _ = tokio::time::timeout(WAIT, tcp.read_to_string(&mut text)).await;
        text.lines().next().unwrap_or("").to_string()
    }))
    .await;
    assert!(
        statuses.iter().any(|s| !s.contains("429")),
        "the first ones are let in: {statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| s.contains("429")),
        "10 at once from one address, at 2 per second: {statuses:?}"
    );
}

// ---- a history answer is bounded in bytes (memory.rs: queues are too) ----

#[tokio::test]
async fn a_history_page_stops_before_its_byte_limit_and_pages_on() {
    let s = TestServer::start().await;
    big_history(&s, "alice", 80).await;
    let alice = s.user("alice").await;
    let first = alice
        .client
        .query_call_list(MAX_QUERY_COUNT, 0)
        .await
        .unwrap();
    let bytes = serde_json::to_string(&first).unwrap().len();
    assert!(
        bytes <= MAX_QUERY_ANSWER_BYTES,
        "a page of {} calls is {bytes} bytes",
        first.call_list.len()
    );
    assert!(first.call_list.len() < 80);
    assert_ne!(first.next_flag, 0, "the page says more follow");
    let mut all = first.call_list.len();
    let mut flag = first.next_flag;
    while flag != 0 {
        let page = alice
            .client
            .query_call_list(MAX_QUERY_COUNT, flag)
            .await
            .unwrap();
        assert!(!page.call_list.is_empty());
        all += page.call_list.len();
        flag = page.next_flag;
    }
    assert_eq!(all, 80, "paging gives every call once");
}
