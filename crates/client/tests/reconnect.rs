//! Drops and restarts: the client reconnects by itself, says so, and reports every
//! invitation that arrived or ended while it was away exactly once.

mod common;

use beckon_client::Requests;
use std::time::Duration;

use beckon_client::wire::WireClient;
use beckon_client::{ConnectionState, Error, Event};
use beckon_protocol::*;
use common::*;

fn invite(users: &[&str], timeout: u32) -> CallInvite {
    CallInvite {
        invitees: users.iter().map(|u| u.to_string()).collect(),
        timeout: Some(timeout),
        mode: CallMode::Advanced,
        extended_data: String::new(),
        push_config: None,
    }
}

fn cancel(call_id: &str) -> CallCancel {
    CallCancel {
        call_id: call_id.into(),
        invitees: vec![],
        extended_data: String::new(),
    }
}

fn is_reconnecting(e: &Event) -> Option<()> {
    matches!(e, Event::Connection(ConnectionState::Reconnecting { .. })).then_some(())
}

fn is_connected(e: &Event) -> Option<()> {
    matches!(e, Event::Connection(ConnectionState::Connected { .. })).then_some(())
}

/// Waits for the reconnect, then returns everything reported in the catch-up after it.
async fn after_reconnect(url: &str, events: &mut beckon_client::Events) -> Vec<Event> {
    wait_event(events, "reconnected", is_connected).await;
    until_marker(url, events, "bob").await
}

/// Waits until `alice` sees `bob` time out in `call_id`: the deadline has fired.
async fn bob_timed_out(alice: &mut beckon_client::Events, call_id: &str) {
    wait_event(alice, "bob's timeout", |e| match e {
        Event::UserStateChanged(c) if c.call_id == call_id => c
            .call_user_list
            .iter()
            .any(|u| u.user_id == "bob" && u.state == CallUserState::Timeout)
            .then_some(()),
        _ => None,
    })
    .await;
}

/// How many events of each kind mention `call_id`.
fn count(events: &[Event], call_id: &str) -> (usize, usize, usize, usize) {
    let (mut received, mut cancelled, mut timeout, mut missed) = (0, 0, 0, 0);
    for e in events {
        match e {
            Event::InvitationReceived(i) if i.call_id == call_id => received += 1,
            Event::InvitationCancelled(c) if c.call_id == call_id => cancelled += 1,
            Event::InvitationTimeout(t) if t.call_id == call_id => timeout += 1,
            Event::MissedWhileAway(c) if c.call_id == call_id => missed += 1,
            _ => {}
        }
    }
    (received, cancelled, timeout, missed)
}

#[tokio::test]
async fn a_cut_mid_invitation_neither_loses_nor_repeats_it() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&proxy.url(), "bob", "b1").await;

    let call = alice.call_invite(invite(&["bob"], 60)).await.unwrap();
    wait_event(&mut b, "invitation", |e| {
        matches!(e, Event::InvitationReceived(_)).then_some(())
    })
    .await;

    // The server re-pushes the pending invitation after the re-login; bob must not ring twice.
    proxy.cut();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    wait_event(&mut b, "reconnected", is_connected).await;
    let after = until_marker(&server.url(), &mut b, "bob").await;
    assert_eq!(count(&after, &call.call_id), (0, 0, 0, 0), "{after:?}");

    // Still ringing for real: bob can answer it.
    bob.call_accept(&call.call_id, "").await.unwrap();
}

#[tokio::test]
async fn an_invitation_sent_while_away_arrives_once_after_the_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    let (_bob, mut b) = client(&proxy.url(), "bob", "b1").await;

    proxy.cut_and_block();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    let call = alice.call_invite(invite(&["bob"], 60)).await.unwrap();
    assert_eq!(
        call.call_user_list[0].state,
        CallUserState::Inviting,
        "bob is offline"
    );
    proxy.unblock();

    let after = after_reconnect(&server.url(), &mut b).await;
    assert_eq!(count(&after, &call.call_id), (1, 0, 0, 0), "{after:?}");
}

#[tokio::test]
async fn a_cancel_while_away_is_reported_once_after_the_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    let (_bob, mut b) = client(&proxy.url(), "bob", "b1").await;

    let call = alice.call_invite(invite(&["bob"], 60)).await.unwrap();
    let before = vec![
        wait_event(&mut b, "invitation", |e| {
            matches!(e, Event::InvitationReceived(_)).then(|| e.clone())
        })
        .await,
    ];
    proxy.cut_and_block();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    alice.call_cancel(cancel(&call.call_id)).await.unwrap();
    proxy.unblock();

    wait_event(&mut b, "reconnected", is_connected).await;
    let mut all = before;
    all.extend(until_marker(&server.url(), &mut b, "bob").await);
    assert_eq!(count(&all, &call.call_id), (1, 1, 0, 0), "{all:?}");
}

#[tokio::test]
async fn an_invitation_that_came_and_went_while_away_is_reported_as_missed_once() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (_bob, mut b) = client(&proxy.url(), "bob", "b1").await;

    proxy.cut_and_block();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    let call = alice.call_invite(invite(&["bob"], 1)).await.unwrap();
    bob_timed_out(&mut a, &call.call_id).await;
    proxy.unblock();

    let after = after_reconnect(&server.url(), &mut b).await;
    assert_eq!(count(&after, &call.call_id), (0, 0, 0, 1), "{after:?}");
}

#[tokio::test]
async fn a_timeout_while_away_is_reported_once() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (_bob, mut b) = client(&proxy.url(), "bob", "b1").await;

    let call = alice.call_invite(invite(&["bob"], 1)).await.unwrap();
    let mut all = vec![
        wait_event(&mut b, "invitation", |e| {
            matches!(e, Event::InvitationReceived(_)).then(|| e.clone())
        })
        .await,
    ];
    proxy.cut_and_block();
    bob_timed_out(&mut a, &call.call_id).await;
    proxy.unblock();
    wait_event(&mut b, "reconnected", |e| {
        all.push(e.clone());
        is_connected(e)
    })
    .await;
    all.extend(until_marker(&server.url(), &mut b, "bob").await);
    assert_eq!(count(&all, &call.call_id), (1, 0, 1, 0), "{all:?}");
}

#[tokio::test]
async fn a_server_restart_is_survived_by_clients_and_calls() {
    let mut server = TestServer::start().await;
    let (alice, mut a) = client(&server.url(), "alice", "a1").await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;
    let call = alice.call_invite(invite(&["bob"], 60)).await.unwrap();
    wait_event(&mut b, "invitation", |e| {
        matches!(e, Event::InvitationReceived(_)).then_some(())
    })
    .await;

    server.restart(Duration::from_millis(300)).await;
    wait_event(&mut a, "alice back", is_connected).await;
    wait_event(&mut b, "bob back", is_connected).await;
    let after = until_marker(&server.url(), &mut b, "bob").await;
    assert_eq!(
        count(&after, &call.call_id),
        (0, 0, 0, 0),
        "rang again: {after:?}"
    );

    // The pending invitation survived the restart and can be answered.
    bob.call_accept(&call.call_id, "").await.unwrap();
    wait_event(&mut a, "accepted", |e| match e {
        Event::UserStateChanged(c) => c
            .call_user_list
            .iter()
            .any(|u| u.user_id == "bob" && u.state == CallUserState::Accepted)
            .then_some(()),
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn requests_while_reconnecting_fail_at_once_with_a_clear_error() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (bob, mut b) = client(&proxy.url(), "bob", "b1").await;
    proxy.cut_and_block();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    let err = tokio::time::timeout(WAIT, bob.query_call_list(10, 0))
        .await
        .expect("must not hang")
        .unwrap_err();
    assert!(matches!(err, Error::NotConnected(_)), "{err}");
    assert!(err.is_retryable());
    proxy.unblock();
    assert!(bob.wait_connected().await);
    bob.query_call_list(10, 0).await.unwrap();
}

/// A session that sends nothing but heartbeats outlives several heartbeat timeouts. What
/// shows that the timeouts passed: controls that log in after bob, one after the other,
/// and send nothing are closed for `heartbeatTimeout`.
#[tokio::test]
async fn heartbeats_keep_a_quiet_session_alive() {
    let server = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_millis(900)).await;
    let (bob, mut b) = client(&server.url(), "bob", "b1").await;
    for i in 0..3 {
        let (control, mut events) = WireClient::connect(&server.url()).await.unwrap();
        control
            .login(format!("control{i}"), "control", None, None)
            .await
            .unwrap();
        let closed = events.next_timeout(WAIT).await;
        assert!(
            matches!(
                closed,
                Some(ServerMessage::SessionClosed(SessionClosed {
                    reason: CloseReason::HeartbeatTimeout
                }))
            ),
            "{closed:?}"
        );
    }
    let quiet = until_marker(&server.url(), &mut b, "bob").await;
    assert!(
        !quiet.iter().any(|e| is_reconnecting(e).is_some()),
        "the server dropped a heartbeating client: {quiet:?}"
    );
    assert!(bob.state().is_connected());
}

#[tokio::test]
async fn a_dead_route_is_noticed_by_the_heartbeat_and_redialled() {
    let server =
        TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_millis(1_500)).await;
    let proxy = Proxy::start(server.addr).await;
    let (bob, mut b) = client(&proxy.url(), "bob", "b1").await;
    proxy.freeze();
    wait_event(&mut b, "reconnecting", is_reconnecting).await;
    proxy.thaw();
    wait_event(&mut b, "reconnected", is_connected).await;
    bob.query_call_list(1, 0).await.unwrap();
}

#[tokio::test]
async fn a_client_started_with_catch_up_since_hears_of_calls_missed_while_it_was_not_running() {
    let server = TestServer::start().await;
    let (alice, _a) = client(&server.url(), "alice", "a1").await;
    // Bob's app ran until now, then quit.
    let (bob, _b) = client(&server.url(), "bob", "b1").await;
    bob.logout().await;
    let last_online = server_now(&alice).await;

    // Called and cancelled while bob's app was not running.
    let call = alice.call_invite(normal(&["bob"])).await.unwrap();
    alice.call_cancel(cancel(&call.call_id)).await.unwrap();

    let (_bob, mut b) = beckon_client::Client::connect(
        config(&server.url(), "bob", "b1").catch_up_since(Some(last_online)),
    )
    .await
    .unwrap();
    let after = until_marker(&server.url(), &mut b, "bob").await;
    assert_eq!(count(&after, &call.call_id), (0, 0, 0, 1), "{after:?}");

    // Without it, a started app knows nothing of what happened before it.
    let (_bob, mut b) = beckon_client::Client::connect(config(&server.url(), "bob", "b2"))
        .await
        .unwrap();
    let after = until_marker(&server.url(), &mut b, "bob").await;
    assert_eq!(count(&after, &call.call_id), (0, 0, 0, 0), "{after:?}");
}

/// The server's clock, as the history stamps it: the time of a throwaway call.
async fn server_now(c: &beckon_client::Client) -> u64 {
    let probe = c.call_invite(normal(&["nobody-at-all"])).await.unwrap();
    c.call_cancel(cancel(&probe.call_id)).await.unwrap();
    probe.create_time
}

/// A one-to-one call: cancelling it ends it, so the caller is free again.
fn normal(users: &[&str]) -> CallInvite {
    CallInvite {
        mode: CallMode::Normal,
        ..invite(users, 60)
    }
}
