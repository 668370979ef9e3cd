//! Frames a session cannot take, over real sockets: binary frames, frames over the size
//! limits, requests before login and a second login. Each gets its numbered error (or the
//! close code), and the server and everybody else carry on.
mod common;

use beckon_client::ClosedBy;
use beckon_client::Requests;
use beckon_protocol::limits::*;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::abuse::*;
use common::*;
use serde_json::{json, Value};

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
    assert_eq!(code(c.query_ice_config().await), ErrorCode::NotLoggedIn);
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
