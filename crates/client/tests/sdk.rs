//! Every SDK call and every event, against the real server.

mod common;

use beckon_client::Requests;
use beckon_client::{ConnectionState, DisconnectReason, Error, Event, HeartbeatTiming};
use beckon_protocol::*;
use common::*;

fn invite(users: &[&str], mode: CallMode, timeout: u32) -> CallInvite {
    CallInvite {
        invitees: users.iter().map(|u| u.to_string()).collect(),
        timeout: Some(timeout),
        mode,
        extended_data: r#"{"type":"voice_call","callerUserName":"Alice"}"#.into(),
        push_config: None,
    }
}

fn received(e: &Event) -> Option<InvitationInfo> {
    match e {
        Event::InvitationReceived(i) => Some(i.clone()),
        _ => None,
    }
}

fn state_of(e: &Event, user: &str) -> Option<CallUserState> {
    match e {
        Event::UserStateChanged(c) => c
            .call_user_list
            .iter()
            .find(|u| u.user_id == user)
            .map(|u| u.state),
        _ => None,
    }
}

#[tokio::test]
async fn connect_reports_connecting_then_connected_and_keeps_the_device_id() {
    let server = TestServer::start().await;
    let (alice, mut events) = client(&server.url(), "alice", "alice-laptop").await;
    assert_eq!(alice.device_id().as_deref(), Some("alice-laptop"));
    assert!(alice.state().is_connected());
    assert_eq!(
        events.next().await,
        Some(Event::Connection(ConnectionState::Connecting))
    );
    assert!(matches!(
        events.next().await,
        Some(Event::Connection(ConnectionState::Connected { device_id, .. })) if device_id == "alice-laptop"
    ));
}

/// A server run with a heartbeat timeout other than the default says so in its login
/// answer, and the client keeps to it: its heartbeat interval and the time it gives a
/// dropped connection before a call counts as lost both follow the server.
#[tokio::test]
async fn the_client_takes_its_heartbeat_timing_from_the_servers_login_answer() {
    let timeout = std::time::Duration::from_secs(60);
    let server = TestServer::start_with(|c| c.heartbeat_timeout = timeout).await;

    let (wire, _events) = beckon_client::WireClient::connect(&server.url())
        .await
        .unwrap();
    let login = wire.login("bob", "Bob", None, None).await.unwrap();
    assert_eq!(login.heartbeat_timeout_ms, 60_000);
    assert_eq!(login.heartbeat_interval_ms, 20_000);

    let (alice, mut events) = client(&server.url(), "alice", "alice-1").await;
    let expected = HeartbeatTiming {
        interval: timeout / 3,
        timeout,
    };
    assert_eq!(alice.heartbeat_timing(), expected);
    let told = wait_event(&mut events, "connected", |e| match e {
        Event::Connection(ConnectionState::Connected { heartbeat, .. }) => Some(*heartbeat),
        _ => None,
    })
    .await;
    assert_eq!(told, expected);
}

#[tokio::test]
async fn a_refused_login_is_a_clear_error_and_no_retry_loop() {
    let server = TestServer::start_with(|c| {
        c.auth = beckon_server::auth::AuthMode::Token {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        }
    })
    .await;
    let cfg = config(&server.url(), "alice", "a1").token(Some("not-a-token".into()));
    let err = beckon_client::Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(&err, Error::Connect(m) if m.contains("2001")),
        "{err}"
    );
}

#[tokio::test]
async fn an_unreachable_server_fails_connect_promptly() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err =
        beckon_client::Client::connect(config(&format!("ws://127.0.0.1:{port}/ws"), "a", "a1"))
            .await
            .unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn invite_accept_state_changes_relay_and_end() {
    let server = TestServer::start().await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;
    let call = alice
        .call_invite(invite(&["bob"], CallMode::Advanced, 30))
        .await
        .unwrap();
    let info = wait_event(&mut b, "invitation", received).await;
    assert_eq!(info.call_id, call.call_id);
    assert_eq!(info.caller, "alice");

    bob.call_accept(&call.call_id, "hi").await.unwrap();
    assert_eq!(
        wait_event(&mut a, "bob accepted", |e| state_of(e, "bob")).await,
        CallUserState::Accepted
    );

    alice
        .relay(&call.call_id, "bob", serde_json::json!({"sdp": "offer"}))
        .await
        .unwrap();
    let relayed = wait_event(&mut b, "relay", |e| match e {
        Event::Relay(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(relayed.payload["sdp"], "offer");
    assert_eq!(relayed.from_user_id, "alice");

    let ended = bob.call_end(&call.call_id, "").await.unwrap();
    assert_eq!(ended.call_id, call.call_id);
    let e = wait_event(&mut a, "ended", |e| match e {
        Event::InvitationEnded(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(e.operated_user_id, "bob");

    let list = alice.query_call_list(10, 0).await.unwrap();
    assert_eq!(list.call_list[0].call_id, call.call_id);
    assert_eq!(list.call_list[0].state, CallState::Ended);
}

#[tokio::test]
async fn reject_cancel_and_timeout_reach_the_other_side() {
    let server = TestServer::start().await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;

    let c1 = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 30))
        .await
        .unwrap();
    wait_event(&mut b, "invitation", received).await;
    bob.call_reject(&c1.call_id, "busy", RejectReason::Busy)
        .await
        .unwrap();
    let rejected = wait_event(&mut a, "reject", |e| match e {
        Event::UserStateChanged(c) => c
            .call_user_list
            .iter()
            .find(|u| u.user_id == "bob")
            .cloned(),
        _ => None,
    })
    .await;
    assert_eq!(rejected.state, CallUserState::Rejected);
    assert_eq!(rejected.reason, Some(StateReason::Busy));

    let c2 = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 30))
        .await
        .unwrap();
    wait_event(&mut b, "invitation", received).await;
    let cancelled = alice
        .call_cancel(CallCancel {
            call_id: c2.call_id.clone(),
            invitees: vec![],
            extended_data: "bye".into(),
        })
        .await
        .unwrap();
    assert!(cancelled.error_invitees.is_empty());
    let c = wait_event(&mut b, "cancel", |e| match e {
        Event::InvitationCancelled(c) => Some(c.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        (c.call_id.as_str(), c.extended_data.as_str()),
        (c2.call_id.as_str(), "bye")
    );

    let c3 = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 1))
        .await
        .unwrap();
    wait_event(&mut b, "invitation", received).await;
    let t = wait_event(&mut b, "timeout", |e| match e {
        Event::InvitationTimeout(t) => Some(t.clone()),
        _ => None,
    })
    .await;
    assert_eq!(t.call_id, c3.call_id);
    assert_eq!(
        wait_event(&mut a, "bob timed out", |e| state_of(e, "bob")).await,
        CallUserState::Timeout
    );
}

#[tokio::test]
async fn calling_invite_join_and_quit_in_an_advanced_call() {
    let server = TestServer::start().await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;
    let (carol, mut c) = client(&server.url(), "carol", "c1").await;
    let call = alice
        .call_invite(invite(&["bob"], CallMode::Advanced, 30))
        .await
        .unwrap();
    wait_event(&mut b, "invitation", received).await;
    bob.call_accept(&call.call_id, "").await.unwrap();

    let more = bob
        .calling_invite(CallingInvite {
            call_id: call.call_id.clone(),
            invitees: vec!["carol".into()],
            timeout: Some(30),
            extended_data: String::new(),
            push_config: None,
        })
        .await
        .unwrap();
    assert_eq!(more.call_user_list[0].user_id, "carol");
    let inv = wait_event(&mut c, "invitation", received).await;
    assert_eq!(inv.inviter, "bob");
    carol.call_accept(&call.call_id, "").await.unwrap();

    bob.call_quit(&call.call_id, "brb").await.unwrap();
    wait_event(&mut a, "bob quit", |e| {
        state_of(e, "bob").filter(|s| *s == CallUserState::Quit)
    })
    .await;
    let joined = bob.call_join(&call.call_id, "back").await.unwrap();
    assert_eq!(joined.call_id, call.call_id);
    wait_event(&mut a, "bob back", |e| {
        state_of(e, "bob").filter(|s| *s == CallUserState::Accepted)
    })
    .await;
}

#[tokio::test]
async fn another_device_of_the_caller_hears_of_the_call() {
    let server = TestServer::start().await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    let (_alice2, mut a2) = client(&server.url(), "alice", "a2").await;
    let (_bob, _b) = client(&server.url(), "bob", "b1").await;
    let call = alice
        .call_invite(invite(&["bob"], CallMode::Advanced, 30))
        .await
        .unwrap();
    let created = wait_event(&mut a2, "created", |e| match e {
        Event::InvitationCreated(i) => Some(i.clone()),
        _ => None,
    })
    .await;
    assert_eq!(created.call_id, call.call_id);
}

#[tokio::test]
async fn server_refusals_carry_their_code_and_state() {
    let server = TestServer::start().await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;
    let call = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 30))
        .await
        .unwrap();
    wait_event(&mut b, "invitation", received).await;
    alice
        .call_cancel(CallCancel {
            call_id: call.call_id.clone(),
            invitees: vec![],
            extended_data: String::new(),
        })
        .await
        .unwrap();
    let err = bob.call_accept(&call.call_id, "").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::StateForbidden));
    assert_eq!(err.state(), Some(CallUserState::Cancelled));
    assert!(!err.is_retryable());

    let err = bob.call_accept("no-such-call", "").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::CallNotFound));
}

#[tokio::test]
async fn logout_stops_the_client_and_requests_fail_at_once() {
    let server = TestServer::start().await;
    let (alice, mut events) = client(&server.url(), "alice", "a1").await;
    alice.logout().await;
    wait_event(&mut events, "disconnected", |e| match e {
        Event::Connection(ConnectionState::Disconnected(DisconnectReason::Stopped)) => Some(()),
        _ => None,
    })
    .await;
    let started = std::time::Instant::now();
    let err = alice.query_call_list(10, 0).await.unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)), "{err}");
    assert!(
        started.elapsed() < WAIT,
        "a request while stopped must not hang"
    );
}

#[tokio::test]
async fn a_second_login_with_the_same_device_replaces_the_first_for_good() {
    let server = TestServer::start().await;
    let (_first, mut events) = client(&server.url(), "alice", "same").await;
    let (_second, _e2) = client(&server.url(), "alice", "same").await;
    wait_event(&mut events, "replaced", |e| match e {
        Event::Connection(ConnectionState::Disconnected(DisconnectReason::Replaced)) => Some(()),
        Event::Connection(ConnectionState::Reconnecting { .. }) => panic!("must not fight back"),
        _ => None,
    })
    .await;
}
