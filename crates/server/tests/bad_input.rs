//! Hostile and broken input over real sockets: every bad frame gets its numbered error, and
//! the connection, the server and everybody else survive it. After each abuse a fresh pair
//! of users logs in and makes a call, to prove the server still serves. Here: malformed
//! JSON, and missing, mistyped or out-of-range fields; frames the session cannot take are
//! in `bad_input_frames.rs`, floods in `bad_input_floods.rs`.
mod common;

use beckon_client::Requests;
use beckon_protocol::limits::*;
use beckon_protocol::*;
use common::abuse::*;
use common::*;
use serde_json::json;

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
