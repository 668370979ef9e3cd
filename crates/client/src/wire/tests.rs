//! Tests against a scripted in-process WebSocket server, so the client's routing and
//! failure handling are checked without the real server.

use std::future::Future;
use std::time::Duration;

use beckon_protocol::{
    CallInvitationTimeout, CallList, CallUserState, CloseReason, ErrorBody, ErrorCode,
    HeartbeatResult, Request, RequestBody, Response, ResponseBody, ServerMessage, SessionClosed,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::*;

type Ws = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(5);

/// Accepts one connection and runs `script` on it; returns the URL to connect to.
async fn serve<F, Fut>(script: F) -> String
where
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        script(ws).await;
    });
    format!("ws://{addr}/ws")
}

async fn read_request(ws: &mut Ws) -> Request {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Request::parse(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("expected a request, got {other:?}"),
        }
    }
}

async fn send(ws: &mut Ws, msg: &ServerMessage) {
    let text = serde_json::to_string(msg).unwrap();
    ws.send(Message::text(text)).await.unwrap();
}

fn response(id: u64, result: ResponseBody) -> ServerMessage {
    ServerMessage::Response(Response { id, result })
}

fn timeout_event() -> ServerMessage {
    ServerMessage::CallInvitationTimeout(CallInvitationTimeout {
        call_id: "c1".into(),
    })
}

#[tokio::test]
async fn answers_reach_their_request_even_out_of_order() {
    let url = serve(|mut ws| async move {
        let a = read_request(&mut ws).await;
        let b = read_request(&mut ws).await;
        send(&mut ws, &timeout_event()).await;
        for r in [b, a] {
            let result = match r.body {
                RequestBody::Heartbeat => {
                    ResponseBody::Heartbeat(HeartbeatResult { server_time: 7 })
                }
                _ => ResponseBody::QueryCallInvitationList(CallList {
                    call_list: vec![],
                    next_flag: 3,
                }),
            };
            send(&mut ws, &response(r.id, result)).await;
        }
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, mut events) = WireClient::connect(&url).await.unwrap();
    let (beat, list) = tokio::join!(client.heartbeat(), client.query_call_list(10, 0));
    assert_eq!(beat.unwrap().server_time, 7);
    assert_eq!(list.unwrap().next_flag, 3);
    assert_eq!(events.next_timeout(WAIT).await, Some(timeout_event()));
    assert!(
        events.try_next().is_none(),
        "answers must not leak into events"
    );
}

#[tokio::test]
async fn server_errors_keep_their_code_and_state() {
    let url = serve(|mut ws| async move {
        let r = read_request(&mut ws).await;
        let mut body = ErrorBody::new(Some(r.id), ErrorCode::StateForbidden, "too late");
        body.state = Some(CallUserState::Cancelled);
        send(&mut ws, &ServerMessage::Error(body)).await;
        let r = read_request(&mut ws).await;
        let body = ErrorBody::new(Some(r.id), ErrorCode::RateLimited, "slow down");
        send(&mut ws, &ServerMessage::Error(body)).await;
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, _events) = WireClient::connect(&url).await.unwrap();
    let err = client.call_accept("c1", "").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::StateForbidden));
    assert!(!err.is_retryable());
    let WireError::Server(body) = err else {
        panic!("not a server error")
    };
    assert_eq!(body.state, Some(CallUserState::Cancelled));
    let err = client.heartbeat().await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::RateLimited));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_close_fails_waiting_requests_and_ends_events_after_session_closed() {
    let url = serve(|mut ws| async move {
        let _unanswered = read_request(&mut ws).await;
        let closed = ServerMessage::SessionClosed(SessionClosed {
            reason: CloseReason::Replaced,
        });
        send(&mut ws, &closed).await;
        let frame = CloseFrame {
            code: CloseCode::Policy,
            reason: "replaced".into(),
        };
        ws.close(Some(frame)).await.unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, mut events) = WireClient::connect(&url).await.unwrap();
    let err = tokio::time::timeout(WAIT, client.heartbeat())
        .await
        .expect("a request on a closed connection must fail promptly")
        .unwrap_err();
    let expected = ClosedBy::Server {
        code: Some(1008),
        reason: "replaced".into(),
    };
    assert!(
        matches!(&err, WireError::Closed(by) if *by == expected),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(matches!(
        events.next_timeout(WAIT).await,
        Some(ServerMessage::SessionClosed(SessionClosed {
            reason: CloseReason::Replaced
        }))
    ));
    let end = tokio::time::timeout(WAIT, events.next()).await;
    assert_eq!(end, Ok(None), "the event stream ends");
    assert_eq!(client.closed().await, expected);
    let after = client.heartbeat().await.unwrap_err();
    assert!(matches!(after, WireError::Closed(_)), "{after}");
}

/// A newer server may close for a reason this client does not know: the frame is skipped
/// and the session ends on the close frame like any other, so the caller reconnects.
#[tokio::test]
async fn an_unknown_close_reason_ends_the_session_like_any_server_close() {
    let url = serve(|mut ws| async move {
        let _unanswered = read_request(&mut ws).await;
        let closed = r#"{"type":"sessionClosed","reason":"somethingNew"}"#;
        ws.send(Message::text(closed)).await.unwrap();
        let frame = CloseFrame {
            code: CloseCode::Error,
            reason: "".into(),
        };
        ws.close(Some(frame)).await.unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, mut events) = WireClient::connect(&url).await.unwrap();
    let err = tokio::time::timeout(WAIT, client.heartbeat())
        .await
        .expect("a request on a closed connection must fail promptly")
        .unwrap_err();
    let expected = ClosedBy::Server {
        code: Some(1011),
        reason: String::new(),
    };
    assert!(
        matches!(&err, WireError::Closed(by) if *by == expected),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(events.next_timeout(WAIT).await, None);
    assert_eq!(client.closed().await, expected);
}

#[tokio::test]
async fn a_dropped_connection_fails_waiting_requests() {
    let url = serve(|mut ws| async move {
        let _unanswered = read_request(&mut ws).await;
        drop(ws);
    })
    .await;
    let (client, _events) = WireClient::connect(&url).await.unwrap();
    let err = tokio::time::timeout(WAIT, client.heartbeat())
        .await
        .expect("must not hang")
        .unwrap_err();
    assert!(matches!(err, WireError::Closed(ClosedBy::Lost(_))), "{err}");
}

#[tokio::test]
async fn an_answer_of_the_wrong_kind_is_a_protocol_error() {
    let url = serve(|mut ws| async move {
        let r = read_request(&mut ws).await;
        let result = ResponseBody::Heartbeat(HeartbeatResult { server_time: 1 });
        send(&mut ws, &response(r.id, result)).await;
        let r = read_request(&mut ws).await;
        let garbled = format!(
            r#"{{"type":"response","id":{},"result":{{"type":"nope"}}}}"#,
            r.id
        );
        ws.send(Message::text(garbled)).await.unwrap();
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, _events) = WireClient::connect(&url).await.unwrap();
    let err = client
        .login("alice", "Alice", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WireError::Protocol(m) if m.contains("heartbeat")),
        "{err}"
    );
    assert!(!err.is_retryable());
    let err = client.heartbeat().await.unwrap_err();
    assert!(
        matches!(&err, WireError::Protocol(m) if m.contains("undecodable")),
        "{err}"
    );
}

#[tokio::test]
async fn raw_frames_and_their_unmatched_answers_show_up_as_events() {
    let url = serve(|mut ws| async move {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), "{nope"),
            other => panic!("expected the raw frame, got {other:?}"),
        }
        let err = ErrorBody::new(None, ErrorCode::MalformedJson, "not JSON");
        send(&mut ws, &ServerMessage::Error(err)).await;
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => assert_eq!(&b[..], b"\x01"),
            other => panic!("expected the binary frame, got {other:?}"),
        }
        let err = ErrorBody::new(Some(1 << 40), ErrorCode::BinaryFrame, "binary");
        send(&mut ws, &ServerMessage::Error(err)).await;
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, mut events) = WireClient::connect(&url).await.unwrap();
    client.send_raw("{nope".into()).await.unwrap();
    match events.next_timeout(WAIT).await {
        Some(ServerMessage::Error(e)) => assert_eq!(e.code, ErrorCode::MalformedJson),
        other => panic!("{other:?}"),
    }
    client.send_raw_binary(vec![1]).await.unwrap();
    match events.next_timeout(WAIT).await {
        Some(ServerMessage::Error(e)) => assert_eq!(e.id, Some(1 << 40)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_silent_server_times_the_request_out() {
    let url = serve(|mut ws| async move { while ws.next().await.is_some() {} }).await;
    let config = WireConfig {
        request_timeout: Some(Duration::from_millis(100)),
        ..WireConfig::default()
    };
    let (client, _events) = WireClient::connect_with(&url, config).await.unwrap();
    let err = client.heartbeat().await.unwrap_err();
    assert!(matches!(err, WireError::Timeout(_)), "{err}");
    assert!(!client.is_closed());
}

#[tokio::test]
async fn close_ends_the_connection_for_every_handle() {
    let url = serve(|mut ws| async move { while ws.next().await.is_some() {} }).await;
    let (client, mut events) = WireClient::connect(&url).await.unwrap();
    let other = client.clone();
    client.close().await;
    assert_eq!(other.closed_by(), Some(ClosedBy::Client));
    let err = other.heartbeat().await.unwrap_err();
    assert!(matches!(err, WireError::Closed(ClosedBy::Client)), "{err}");
    assert!(!err.is_retryable());
    let end = tokio::time::timeout(WAIT, events.next()).await;
    assert_eq!(end, Ok(None), "the event stream ends");
}

#[tokio::test]
async fn ids_count_up_from_one() {
    let url = serve(|mut ws| async move {
        for expected in 1..=3 {
            let r = read_request(&mut ws).await;
            assert_eq!(r.id, expected);
            let result = ResponseBody::Heartbeat(HeartbeatResult { server_time: 0 });
            send(&mut ws, &response(r.id, result)).await;
        }
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, _events) = WireClient::connect(&url).await.unwrap();
    for _ in 0..3 {
        client.heartbeat().await.unwrap();
    }
}

#[tokio::test]
async fn an_error_code_from_a_newer_server_is_still_an_error_with_its_message() {
    let url = serve(|mut ws| async move {
        for code in [3999, 4999] {
            let r = read_request(&mut ws).await;
            let frame = format!(
                r#"{{"type":"error","id":{},"code":{code},"name":"somethingNew","message":"new rule"}}"#,
                r.id
            );
            ws.send(Message::text(frame)).await.unwrap();
        }
        while ws.next().await.is_some() {}
    })
    .await;
    let (client, _events) = WireClient::connect(&url).await.unwrap();
    let err = client.heartbeat().await.unwrap_err();
    assert!(
        matches!(&err, WireError::UnknownServerError { code: 3999, message, .. } if message == "new rule"),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let err = client.heartbeat().await.unwrap_err();
    assert!(err.is_retryable(), "4xxx are server-side conditions");
}
