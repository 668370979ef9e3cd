//! Hostile and broken input over real sockets: every bad frame gets its numbered error, and
//! the connection, the server and everybody else survive it. After each abuse a fresh pair
//! of users logs in and makes a call, to prove the server still serves.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use beckon_client::ClosedBy;
use beckon_protocol::limits::*;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Ids for frames sent with `send_raw`, far above the client's own counter.
const RAW: u64 = 1 << 40;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connection that is not logged in, wrapped as a `User` to reuse the event helpers.
async fn anon(s: &TestServer) -> User {
    let (client, events) = s.connect().await;
    User {
        id: "anonymous".into(),
        client,
        events,
    }
}

/// The next pushed `error` frame (answers to raw frames arrive as events).
async fn next_error(u: &mut User) -> ErrorBody {
    u.wait_for("error frame", |e| match e {
        ServerMessage::Error(b) => Some(b.clone()),
        _ => None,
    })
    .await
}

/// Sends `frame` raw and returns the error it earned.
async fn refused(u: &mut User, frame: impl Into<String>) -> ErrorBody {
    u.client.send_raw(frame.into()).await.unwrap();
    next_error(u).await
}

/// The connection still answers requests.
async fn alive(u: &User) {
    u.client
        .heartbeat()
        .await
        .unwrap_or_else(|e| panic!("{}: connection unusable: {e}", u.id));
}

static PROBE: AtomicUsize = AtomicUsize::new(0);

/// Two new users log in and complete a one-to-one call: the server still serves.
async fn still_serves(s: &TestServer) {
    let work = async {
        let n = PROBE.fetch_add(1, Ordering::Relaxed);
        let a = format!("probe-caller-{n}");
        let b = format!("probe-callee-{n}");
        let mut caller = s.user(&a).await;
        let mut callee = s.user(&b).await;
        let sent = caller.invite(&[&b], CallMode::Normal, 30).await;
        assert_eq!(state_in(&sent.call_user_list, &b), Received);
        let inv = callee.received().await;
        assert_eq!(inv.call_id, sent.call_id);
        callee
            .client
            .call_accept(&sent.call_id, "ok")
            .await
            .unwrap();
        assert_eq!(caller.state_of(&b).await.state, Accepted);
        caller.client.close().await;
        callee.client.close().await;
    };
    tokio::time::timeout(Duration::from_secs(15), work)
        .await
        .expect("the server stopped serving new users");
}

#[tokio::test]
async fn malformed_json_is_1001_without_id() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    for frame in ["{nope", "", "{\"type\":\"heartbeat\",\"id\":1", "nul"] {
        let e = refused(&mut u, frame).await;
        assert_eq!(e.code, ErrorCode::MalformedJson, "{frame:?}: {e:?}");
        assert_eq!(e.id, None, "{frame:?}");
        assert_eq!(e.name, "malformedJson");
        assert!(!e.message.is_empty());
    }
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn a_non_object_is_1003_without_id() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    for frame in ["[1,2]", "42", "\"heartbeat\"", "null", "true"] {
        let e = refused(&mut u, frame).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert_eq!(e.id, None, "{frame}");
    }
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn a_missing_or_broken_id_is_1003_without_id() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    for frame in [
        r#"{"type":"heartbeat"}"#,
        r#"{"type":"heartbeat","id":-1}"#,
        r#"{"type":"heartbeat","id":"7"}"#,
        r#"{"type":"heartbeat","id":1.5}"#,
        r#"{"type":"heartbeat","id":null}"#,
    ] {
        let e = refused(&mut u, frame).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert_eq!(e.id, None, "{frame}");
        assert!(e.message.contains("id"), "{frame}: {}", e.message);
    }
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn an_unknown_or_missing_type_is_1002_with_the_id() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let cases = [
        (json!({"type": "fly", "id": RAW + 1}), RAW + 1),
        (json!({"type": "response", "id": RAW + 2}), RAW + 2),
        (json!({"type": "Heartbeat", "id": RAW + 3}), RAW + 3),
        (json!({"id": RAW + 4}), RAW + 4),
        (json!({"type": 5, "id": RAW + 5}), RAW + 5),
    ];
    for (frame, id) in cases {
        let e = refused(&mut u, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::UnknownType, "{frame}: {e:?}");
        assert_eq!(e.id, Some(id), "{frame}");
    }
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn a_missing_field_is_1003_naming_the_field() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let cases = [
        (json!({"type": "callAccept", "id": RAW + 1}), "callId"),
        (json!({"type": "callReject", "id": RAW + 2}), "callId"),
        (json!({"type": "callInvite", "id": RAW + 3}), "invitees"),
        (
            json!({"type": "queryCallInvitationList", "id": RAW + 4}),
            "count",
        ),
        (
            json!({"type": "relay", "id": RAW + 5, "callId": "c"}),
            "toUserId",
        ),
        (
            json!({"type": "relay", "id": RAW + 6, "callId": "c", "toUserId": "bob"}),
            "payload",
        ),
        (
            json!({"type": "callingInvite", "id": RAW + 7, "callId": "c"}),
            "invitees",
        ),
    ];
    for (frame, field) in cases {
        let id = frame["id"].as_u64();
        let e = refused(&mut u, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert_eq!(e.id, id, "{frame}");
        assert!(
            e.message.contains(field),
            "{frame}: the message should name `{field}`: {}",
            e.message
        );
    }
    // Before login too: a login without userName.
    let mut fresh = anon(&s).await;
    let e = refused(
        &mut fresh,
        json!({"type": "login", "id": RAW, "userId": "zed"}).to_string(),
    )
    .await;
    assert_eq!((e.code, e.id), (ErrorCode::InvalidRequest, Some(RAW)));
    assert!(e.message.contains("userName"), "{}", e.message);
    fresh
        .client
        .login("zed", "Zed", None, None)
        .await
        .expect("a refused login leaves the connection usable");
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn a_wrong_type_is_1003_with_the_id() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let cases = [
        json!({"type": "callAccept", "id": RAW + 1, "callId": 7}),
        json!({"type": "callInvite", "id": RAW + 2, "invitees": "bob"}),
        json!({"type": "callInvite", "id": RAW + 3, "invitees": ["bob"], "timeout": "30"}),
        json!({"type": "callInvite", "id": RAW + 4, "invitees": ["bob"], "timeout": -1}),
        json!({"type": "callInvite", "id": RAW + 5, "invitees": ["bob"], "mode": "loud"}),
        json!({"type": "callInvite", "id": RAW + 6, "invitees": [1, 2]}),
        json!({"type": "callReject", "id": RAW + 7, "callId": "c", "reason": "tired"}),
        json!({"type": "queryCallInvitationList", "id": RAW + 8, "count": "10"}),
        json!({"type": "callInvite", "id": RAW + 9, "invitees": ["bob"], "pushConfig": "x"}),
    ];
    for frame in cases {
        let id = frame["id"].as_u64();
        let e = refused(&mut u, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert_eq!(e.id, id, "{frame}");
    }
    // Nothing was created by any of them.
    let list = u.client.query_call_list(100, 0).await.unwrap();
    assert!(list.call_list.is_empty(), "{list:?}");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_wrong_type_message_names_the_field() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let cases = [
        (
            json!({"type": "callAccept", "id": RAW + 1, "callId": 7}),
            "callId",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 2, "invitees": ["bob"], "timeout": "30"}),
            "timeout",
        ),
        (
            json!({"type": "queryCallInvitationList", "id": RAW + 3, "count": "10"}),
            "count",
        ),
    ];
    for (frame, field) in cases {
        let e = refused(&mut u, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert!(
            e.message.contains(field),
            "{frame}: the message should name `{field}`: {}",
            e.message
        );
    }
}

#[tokio::test]
async fn out_of_range_values_are_1003_naming_the_field() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let ten: Vec<String> = (0..10).map(|i| format!("u{i}")).collect();
    let big = "x".repeat(MAX_EXTENDED_DATA_BYTES + 1);
    let cases = [
        (
            json!({"type": "callInvite", "id": RAW + 1, "invitees": ["bob"], "timeout": 0}),
            "timeout",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 2, "invitees": ["bob"], "timeout": 601}),
            "timeout",
        ),
        (
            json!({"type": "queryCallInvitationList", "id": RAW + 3, "count": 0}),
            "count",
        ),
        (
            json!({"type": "queryCallInvitationList", "id": RAW + 4, "count": 101}),
            "count",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 5, "invitees": ten}),
            "invitees",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 6, "invitees": []}),
            "invitees",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 7, "invitees": ["bob"], "extendedData": big}),
            "extendedData",
        ),
        (
            json!({"type": "callAccept", "id": RAW + 8, "callId": "c", "extendedData": big}),
            "extendedData",
        ),
        (
            json!({"type": "callAccept", "id": RAW + 9, "callId": ""}),
            "callId",
        ),
        (
            json!({"type": "callAccept", "id": RAW + 10, "callId": "c".repeat(65)}),
            "callId",
        ),
        (
            json!({"type": "relay", "id": RAW + 11, "callId": "c", "toUserId": "no spaces", "payload": 1}),
            "toUserId",
        ),
        (
            json!({"type": "callInvite", "id": RAW + 12, "invitees": ["bob"],
                   "pushConfig": {"title": "t".repeat(MAX_PUSH_TITLE_BYTES + 1)}}),
            "pushConfig.title",
        ),
        (
            json!({"type": "callCancel", "id": RAW + 13, "callId": "c",
                   "invitees": (0..11).map(|i| format!("u{i}")).collect::<Vec<_>>()}),
            "invitees",
        ),
    ];
    for (frame, field) in cases {
        let id = frame["id"].as_u64();
        let e = refused(&mut u, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{field}: {e:?}");
        assert_eq!(e.id, id, "{field}");
        assert!(
            e.message.contains(field),
            "the message should name `{field}`: {}",
            e.message
        );
    }
    // Nothing was created by any of them.
    assert!(u
        .client
        .query_call_list(100, 0)
        .await
        .unwrap()
        .call_list
        .is_empty());

    // The limits themselves are allowed.
    assert_eq!(u.client.query_call_list(100, 0).await.unwrap().next_flag, 0);
    assert_eq!(u.client.query_call_list(1, 0).await.unwrap().next_flag, 0);
    let nine: Vec<String> = (0..9).map(|i| format!("u{i}")).collect();
    let sent = u
        .client
        .call_invite(CallInvite {
            invitees: nine,
            timeout: Some(MAX_TIMEOUT_SECS),
            mode: CallMode::Normal,
            extended_data: "x".repeat(MAX_EXTENDED_DATA_BYTES),
            push_config: None,
        })
        .await
        .unwrap();
    assert_eq!(sent.call_user_list.len(), 9);
    assert_eq!(sent.timeout, MAX_TIMEOUT_SECS);
    u.client
        .call_cancel(cancel_all(&sent.call_id))
        .await
        .unwrap();
    let sent = u
        .client
        .call_invite(invite(&["bob"], CallMode::Normal, MIN_TIMEOUT_SECS))
        .await
        .unwrap();
    assert_eq!(sent.timeout, MIN_TIMEOUT_SECS);

    // A bad userId, deviceId or userName at login: refused, still logged out.
    let mut fresh = anon(&s).await;
    let long = "a".repeat(MAX_ID_BYTES + 1);
    let logins = [
        (
            json!({"type": "login", "id": RAW + 20, "userId": "a b", "userName": "A"}),
            "userId",
        ),
        (
            json!({"type": "login", "id": RAW + 21, "userId": "", "userName": "A"}),
            "userId",
        ),
        (
            json!({"type": "login", "id": RAW + 22, "userId": long, "userName": "A"}),
            "userId",
        ),
        (
            json!({"type": "login", "id": RAW + 23, "userId": "é", "userName": "A"}),
            "userId",
        ),
        (
            json!({"type": "login", "id": RAW + 24, "userId": "zed", "userName": ""}),
            "userName",
        ),
        (
            json!({"type": "login", "id": RAW + 25, "userId": "zed", "userName": "n".repeat(MAX_USER_NAME_BYTES + 1)}),
            "userName",
        ),
        (
            json!({"type": "login", "id": RAW + 26, "userId": "zed", "userName": "Z", "deviceId": "d/1"}),
            "deviceId",
        ),
    ];
    for (frame, field) in logins {
        let id = frame["id"].as_u64();
        let e = refused(&mut fresh, frame.to_string()).await;
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{frame}: {e:?}");
        assert_eq!(e.id, id);
        assert!(e.message.contains(field), "{field}: {}", e.message);
    }
    assert_eq!(
        code(fresh.client.query_call_list(10, 0).await),
        ErrorCode::NotLoggedIn,
        "a refused login does not log in"
    );
    let longest = "a".repeat(MAX_ID_BYTES);
    fresh
        .client
        .login(&longest, "n".repeat(MAX_USER_NAME_BYTES), None, None)
        .await
        .expect("64-byte IDs and 256-byte names are allowed");
    still_serves(&s).await;
}

#[tokio::test]
async fn a_binary_frame_is_1005_and_the_connection_lives() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    let frame = br#"{"type":"heartbeat","id":1}"#.to_vec();
    u.client.send_raw_binary(frame).await.unwrap();
    let e = next_error(&mut u).await;
    assert_eq!(e.code, ErrorCode::BinaryFrame, "{e:?}");
    assert_eq!(e.id, None);
    u.client.send_raw_binary(vec![0xff; 10]).await.unwrap();
    assert_eq!(next_error(&mut u).await.code, ErrorCode::BinaryFrame);
    alive(&u).await;
    still_serves(&s).await;
}

/// A heartbeat padded with spaces to exactly `len` bytes.
fn padded_heartbeat(id: u64, len: usize) -> String {
    let mut f = format!(r#"{{"type":"heartbeat","id":{id}"#);
    let pad = len - f.len() - 1;
    f.push_str(&" ".repeat(pad));
    f.push('}');
    assert_eq!(f.len(), len);
    f
}

#[tokio::test]
async fn a_frame_over_64_kib_is_1004_and_the_connection_lives() {
    let s = TestServer::start().await;
    let mut u = s.user("alice").await;
    // Exactly at the limit: served.
    u.client
        .send_raw(padded_heartbeat(RAW, MAX_FRAME_BYTES))
        .await
        .unwrap();
    let answer = u
        .wait_for("answer", |e| match e {
            ServerMessage::Response(r) => Some(Ok(r.id)),
            ServerMessage::Error(b) => Some(Err(b.clone())),
            _ => None,
        })
        .await;
    assert_eq!(answer, Ok(RAW), "a 64 KiB frame is allowed");

    // One byte more: refused and dropped, without an id even though it had one.
    u.client
        .send_raw(padded_heartbeat(RAW + 1, MAX_FRAME_BYTES + 1))
        .await
        .unwrap();
    let e = next_error(&mut u).await;
    assert_eq!(e.code, ErrorCode::FrameTooLarge, "{e:?}");
    assert_eq!(e.id, None);
    // A big relay payload is refused the same way, and nothing else arrives for it.
    let huge = "x".repeat(MAX_FRAME_BYTES);
    let frame =
        json!({"type": "relay", "id": RAW + 2, "callId": "c", "toUserId": "bob", "payload": huge});
    let e = refused(&mut u, frame.to_string()).await;
    assert_eq!(e.code, ErrorCode::FrameTooLarge);
    u.silent().await;
    alive(&u).await;
    still_serves(&s).await;
}

#[tokio::test]
async fn a_frame_over_256_kib_closes_with_1009_and_others_carry_on() {
    let s = TestServer::start().await;
    let mut bystander = s.user("bystander").await;
    let mut caller = s.user("caller").await;
    let sent = caller.invite(&["bystander"], CallMode::Normal, 60).await;
    bystander.received().await;

    let (big, _events) = s.connect().await;
    big.login("big", "Big", None, None).await.unwrap();
    big.send_raw(" ".repeat(HARD_MAX_FRAME_BYTES + 1))
        .await
        .unwrap();
    let by = tokio::time::timeout(WAIT, big.closed())
        .await
        .expect("the connection should be closed");
    assert_eq!(
        by,
        ClosedBy::Server {
            code: Some(1009),
            reason: String::new()
        }
    );
    assert!(big.heartbeat().await.is_err());

    // Others were not disturbed: the pending call goes on.
    bystander
        .client
        .call_accept(&sent.call_id, "")
        .await
        .unwrap();
    assert_eq!(caller.state_of("bystander").await.state, Accepted);
    still_serves(&s).await;
}

#[tokio::test]
async fn requests_before_login_are_1007() {
    let s = TestServer::start().await;
    let mut u = anon(&s).await;
    // heartbeat is allowed before login.
    alive(&u).await;
    let c = &u.client;
    assert_eq!(
        code(c.call_invite(invite(&["bob"], CallMode::Normal, 5)).await),
        ErrorCode::NotLoggedIn
    );
    assert_eq!(code(c.call_accept("c", "").await), ErrorCode::NotLoggedIn);
    assert_eq!(
        code(c.call_reject("c", "", RejectReason::Declined).await),
        ErrorCode::NotLoggedIn
    );
    assert_eq!(
        code(c.call_cancel(cancel_all("c")).await),
        ErrorCode::NotLoggedIn
    );
    assert_eq!(code(c.call_join("c", "").await), ErrorCode::NotLoggedIn);
    assert_eq!(code(c.call_quit("c", "").await), ErrorCode::NotLoggedIn);
    assert_eq!(code(c.call_end("c", "").await), ErrorCode::NotLoggedIn);
    assert_eq!(
        code(c.relay("c", "bob", Value::Null).await),
        ErrorCode::NotLoggedIn
    );
    assert_eq!(code(c.query_call_list(10, 0).await), ErrorCode::NotLoggedIn);
    assert_eq!(code(c.logout().await), ErrorCode::NotLoggedIn);
    let e = refused(
        &mut u,
        json!({"type": "callingInvite", "id": RAW, "callId": "c", "invitees": ["bob"]}).to_string(),
    )
    .await;
    assert_eq!((e.code, e.id), (ErrorCode::NotLoggedIn, Some(RAW)));
    // The connection is still open and can log in afterwards.
    u.client.login("late", "Late", None, None).await.unwrap();
    assert!(u
        .client
        .query_call_list(10, 0)
        .await
        .unwrap()
        .call_list
        .is_empty());
    still_serves(&s).await;
}

#[tokio::test]
async fn a_second_login_is_1008_and_the_first_stays() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let bob = s.user("bob").await;
    for (user, device) in [
        ("alice", "alice-1"),
        ("alice", "alice-2"),
        ("mallory", "m-1"),
    ] {
        assert_eq!(
            code(
                alice
                    .client
                    .login(user, "x", None, Some(device.to_string()))
                    .await
            ),
            ErrorCode::AlreadyLoggedIn,
            "{user}/{device}"
        );
    }
    // Still alice on alice-1: she is the one bob reaches, and nobody became mallory.
    let sent = bob
        .invite(&["alice", "mallory"], CallMode::Normal, 30)
        .await;
    assert_eq!(state_in(&sent.call_user_list, "alice"), Received);
    assert_eq!(state_in(&sent.call_user_list, "mallory"), Inviting);
    let inv = alice.received().await;
    assert_eq!(inv.call_id, sent.call_id);
    alice.client.call_accept(&sent.call_id, "").await.unwrap();
    still_serves(&s).await;
}

// ---- floods, over raw sockets so frames can be sent in one burst ----

async fn raw_connect(s: &TestServer) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(s.url().as_str())
        .await
        .unwrap();
    ws
}

/// The next text frame as JSON; panics after `WAIT` or if the connection ends.
async fn raw_next(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the answer to request `id`, skipping events.
async fn raw_answer(ws: &mut Ws, id: u64) -> Value {
    loop {
        let v = raw_next(ws).await;
        if v["id"].as_u64() == Some(id) {
            return v;
        }
    }
}

async fn raw_login(ws: &mut Ws, user: &str, device: &str) {
    let login =
        json!({"type": "login", "id": 1, "userId": user, "userName": user, "deviceId": device});
    ws.send(Message::text(login.to_string())).await.unwrap();
    let v = raw_answer(ws, 1).await;
    assert_eq!(v["type"], "response", "{v}");
}

fn heartbeat(id: u64) -> Message {
    Message::text(json!({"type": "heartbeat", "id": id}).to_string())
}

/// Sends `n` heartbeats in one write and returns, per id in order, whether it was served
/// (`true`) or rate limited (`false`).
async fn burst(ws: &mut Ws, first_id: u64, n: u64) -> Vec<bool> {
    for id in first_id..first_id + n {
        ws.feed(heartbeat(id)).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut out = vec![None; n as usize];
    let mut got = 0;
    while got < n {
        let v = raw_next(ws).await;
        let Some(id) = v["id"].as_u64() else {
            panic!("unexpected frame in a flood: {v}");
        };
        let slot = &mut out[(id - first_id) as usize];
        assert!(slot.is_none(), "two answers for {id}");
        *slot = Some(match v["type"].as_str() {
            Some("response") => true,
            Some("error") => {
                assert_eq!(v["code"], 1006, "{v}");
                assert_eq!(v["name"], "rateLimited", "{v}");
                false
            }
            _ => panic!("unexpected answer {v}"),
        });
        got += 1;
    }
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_burst_over_the_limit_is_rate_limited_then_recovers() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "flooder", "f-1").await;

    let answers = burst(&mut ws, 100, 150).await;
    let served = answers.iter().filter(|ok| **ok).count();
    let limited = answers.len() - served;
    assert!(
        served >= REQUEST_BURST as usize - 1,
        "the burst allowance is {REQUEST_BURST}: only {served} served"
    );
    assert!(limited >= 1, "150 at once must hit the limit: {answers:?}");
    // The allowance is spent from the front: the first ones are served.
    assert!(answers[..REQUEST_BURST as usize - 1].iter().all(|ok| *ok));

    // Others are not affected meanwhile.
    still_serves(&s).await;

    // After a pause the bucket is full again: a whole burst is served.
    tokio::time::sleep(Duration::from_millis(
        1000 * u64::from(REQUEST_BURST) / u64::from(REQUESTS_PER_SEC) + 300,
    ))
    .await;
    let answers = burst(&mut ws, 1000, u64::from(REQUEST_BURST)).await;
    assert!(
        answers.iter().all(|ok| *ok),
        "after a pause the connection is usable again: {answers:?}"
    );
    // That burst spent the allowance again; one request's worth comes back in 20 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // And it is still logged in as flooder.
    ws.send(Message::text(
        json!({"type": "queryCallInvitationList", "id": 5000, "count": 10}).to_string(),
    ))
    .await
    .unwrap();
    let v = raw_answer(&mut ws, 5000).await;
    assert_eq!(v["type"], "response", "{v}");
}

/// How a sustained flood ended, as the flooder saw it.
struct Flood {
    /// Per answer in arrival order: served (`true`) or rate limited (`false`).
    answers: Vec<bool>,
    /// The `reason` of a `sessionClosed`, if one arrived.
    reason: Option<Value>,
    /// The close frame's code, or how the connection broke without one.
    close: Result<Option<u16>, String>,
}

impl Flood {
    fn trailing_refusals(&self) -> usize {
        self.answers.iter().rev().take_while(|ok| !**ok).count()
    }
}

/// Logs `user` in on a raw socket and sends heartbeats as fast as it can (at most 1000
/// unanswered) until the server hangs up; bounded in time.
async fn sustained_flood(s: &TestServer, user: &str) -> Flood {
    let ws = raw_connect(s).await;
    let (mut sink, mut stream) = ws.split();
    let login = json!({"type": "login", "id": 1, "userId": user, "userName": user});
    sink.send(Message::text(login.to_string())).await.unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));

    let seen = answered.clone();
    let writer = tokio::spawn(async move {
        let mut id = 2u64;
        loop {
            if id - seen.load(Ordering::Relaxed) > 1000 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            for _ in 0..500 {
                if sink.feed(heartbeat(id)).await.is_err() {
                    return;
                }
                id += 1;
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });

    let read = async {
        let mut answers: Vec<bool> = Vec::new();
        let mut reason = None;
        let close = loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("response") => answers.push(true),
                        Some("error") => {
                            assert_eq!(v["code"], 1006, "{v}");
                            answers.push(false)
                        }
                        Some("sessionClosed") => reason = Some(v["reason"].clone()),
                        _ => panic!("unexpected frame {v}"),
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(Message::Close(f))) => break Ok(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("{e}")),
                None => break Err("ended without a close frame".to_string()),
            }
        };
        Flood {
            answers,
            reason,
            close,
        }
    };
    let flood = tokio::time::timeout(Duration::from_secs(30), read).await;
    writer.abort();
    flood.expect("a sustained flood must be cut off within 30 s")
}

// Multi-threaded so the reader keeps draining answers while the writer floods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_flood_is_cut_off() {
    let s = TestServer::start().await;
    let flood = sustained_flood(&s, "flooder").await;
    // The connection ended (above, bounded). Whatever part of the goodbye arrived is right.
    if let Some(reason) = &flood.reason {
        assert_eq!(reason, &json!("flooding"));
    }
    if let Ok(code) = flood.close {
        assert_eq!(code, Some(1008));
    }
    assert!(flood.trailing_refusals() <= MAX_RATE_LIMITED_REFUSALS as usize);
    assert!(flood.answers.iter().filter(|ok| !**ok).count() > 0);

    // The flooder's session is gone: an invitation finds it offline.
    let caller = s.user("caller").await;
    let sent = caller.invite(&["flooder"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&sent.call_user_list, "flooder"), Inviting);
    still_serves(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_gets_session_closed_flooding_and_close_1008() {
    let s = TestServer::start().await;
    let flood = sustained_flood(&s, "flooder").await;
    let trailing = flood.trailing_refusals();
    assert_eq!(
        (flood.reason, flood.close),
        (Some(json!("flooding")), Ok(Some(1008))),
        "after {} answers, {trailing} refusals in a row",
        flood.answers.len()
    );
    assert!(
        trailing <= MAX_RATE_LIMITED_REFUSALS as usize,
        "cut after at most {MAX_RATE_LIMITED_REFUSALS} refusals, not {trailing}"
    );
    still_serves(&s).await;
}

/// What happened when four devices of alice poured 60 KiB relay frames at `slow`, a
/// client that accepted an advanced call and then stopped reading its socket.
struct NonReader {
    slow: Ws,
    senders: Vec<User>,
    /// Relays the server accepted for `slow`.
    accepted: u32,
    /// Whether a relay was refused with 3010: the server had dropped `slow`.
    dropped: bool,
}

async fn flood_a_non_reader(s: &TestServer) -> NonReader {
    let mut slow = raw_connect(s).await;
    raw_login(&mut slow, "slow", "slow-1").await;
    let alice = s.device("alice", "alice-1").await;
    let sent = alice.invite(&["slow"], CallMode::Advanced, 60).await;
    loop {
        let v = raw_next(&mut slow).await;
        if v["type"] == "callInvitationReceived" {
            assert_eq!(v["callId"], sent.call_id.as_str());
            break;
        }
    }
    let accept = json!({"type": "callAccept", "id": 2, "callId": sent.call_id});
    slow.send(Message::text(accept.to_string())).await.unwrap();
    assert_eq!(raw_answer(&mut slow, 2).await["type"], "response");
    // From here on nobody reads `slow`.

    // Several devices, because the rate limit is per connection. In all far more than
    // the socket buffers plus the 256-frame queue can hold: loopback receive buffers can
    // grow to `tcp_rmem`'s maximum (32 MiB on these machines), so up to 140 MiB are
    // sent; the flood stops as soon as the server has cut `slow`.
    let mut senders = vec![alice];
    for d in 2..=4 {
        senders.push(s.device("alice", &format!("alice-{d}")).await);
    }
    let payload = Value::String("x".repeat(60 * 1024));
    let flood = senders.iter().map(|a| {
        let client = a.client.clone();
        let call_id = sent.call_id.clone();
        let payload = payload.clone();
        async move {
            let mut accepted = 0u32;
            while accepted < 600 {
                match client.relay(&call_id, "slow", payload.clone()).await {
                    Ok(()) => accepted += 1,
                    Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    // The target is gone.
                    Err(e) if e.code() == Some(ErrorCode::RelayTargetUnavailable) => {
                        return (accepted, true)
                    }
                    Err(e) => panic!("relay failed: {e}"),
                }
            }
            (accepted, false)
        }
    });
    let results = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(flood),
    )
    .await
    .expect("the relay flood took too long");
    NonReader {
        slow,
        senders,
        accepted: results.iter().map(|r| r.0).sum(),
        dropped: results.iter().any(|r| r.1),
    }
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_stall_anyone_else() {
    let s = TestServer::start().await;
    let flood = flood_a_non_reader(&s).await;
    // Every relay got an answer (the loop above is bounded), the senders still work, and
    // new users are served.
    assert!(flood.accepted > 0);
    for a in &flood.senders {
        alive(a).await;
    }
    still_serves(&s).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_as_a_slow_consumer() {
    let s = TestServer::start().await;
    let mut flood = flood_a_non_reader(&s).await;
    assert!(
        flood.dropped,
        "slow was never disconnected: {} relays of 60 KiB were accepted for a client that \
         reads nothing",
        flood.accepted
    );

    // The server counts slow as gone: a new invitation finds it offline.
    let mut carol = s.user("carol").await;
    let to_slow = carol.invite(&["slow"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&to_slow.call_user_list, "slow"), Inviting);
    carol.silent().await;

    // What slow finds when it finally reads: the frames that made it, maybe the
    // sessionClosed{slowConsumer} (sent only if there is room), then the end.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        let mut reason = None;
        loop {
            match flood.slow.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "sessionClosed" {
                        reason = Some(v["reason"].clone());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return reason,
            }
        }
    })
    .await
    .expect("slow's connection should have ended");
    if let Some(reason) = end {
        assert_eq!(reason, json!("slowConsumer"));
    }
    for a in &flood.senders {
        alive(a).await;
    }
    still_serves(&s).await;
}
