//! Connection drops: the call manager catches up after a reconnect with what happened to
//! its call while it was away.

mod common;

use std::time::Duration;

use beckon_client::manager::{Connection, Outcome, Phase};
use beckon_client::{CallManager, CallType};
use common::calls::{accepted, finished, ring, stays, talk, until};
use common::{manager, outcome, wait_phase, wait_update, Proxy, TestServer};

/// Cuts `m`'s connection (and keeps it down) and waits until its manager has noticed.
async fn go_offline(proxy: &Proxy, m: &CallManager) {
    proxy.cut_and_block();
    until(m, "disconnected", |s| {
        !matches!(s.connection, Connection::Connected)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_connection_is_lost_while_calling_stops_the_ringing() {
    let server = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(2)).await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&proxy.url(), "alice", "alice-1").await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    proxy.cut_and_block();
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::CancelledByCaller, Phase::Free));
    let (out, _, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::ConnectionLost, Phase::Free));
}

#[tokio::test]
async fn a_short_drop_during_a_call_changes_nothing() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    proxy.cut();
    let u = wait_update(&mut bob_up, "reconnecting", |u| {
        !matches!(u.snapshot.connection, Connection::Connected)
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    let u = wait_update(&mut bob_up, "reconnected", |u| {
        matches!(u.snapshot.connection, Connection::Connected)
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;
    stays(&server.url(), &alice, &mut alice_up, Phase::InCall).await;

    // The server still has bob in the call on the new connection.
    alice.hang_up().await.unwrap();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

#[tokio::test]
async fn a_decline_made_while_offline_reaches_the_caller_after_the_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob).await;
    bob.decline().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::Rejected);
    // Bob is offline: nothing can have reached alice. The outcome after the reconnect is
    // the next one, so no earlier ending slipped in.
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);
    proxy.unblock();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Declined);
}

#[tokio::test]
async fn a_call_ended_while_the_peer_was_offline_ends_for_them_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    go_offline(&proxy, &bob).await;
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    // The outcome after the reconnect is the next one: bob did not end the call earlier.
    assert_eq!(bob.snapshot().phase, Phase::InCall);
    proxy.unblock();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

#[tokio::test]
async fn a_call_cancelled_while_the_callee_was_offline_stops_ringing_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob).await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
    // The outcome after the reconnect is the next one: bob did not stop ringing earlier.
    assert_eq!(bob.snapshot().phase, Phase::Incoming);
    proxy.unblock();
    assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);
}

#[tokio::test]
async fn a_call_answered_on_another_device_while_this_one_was_offline_stops_ringing_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &bob1).await;
    bob2.accept().await.unwrap();
    wait_phase(&mut bob2_up, Phase::InCall).await;
    wait_phase(&mut alice_up, Phase::InCall).await;
    proxy.unblock();
    assert_eq!(outcome(&mut bob1_up).await, Outcome::AnsweredElsewhere);
}

#[tokio::test]
async fn a_call_accepted_while_the_caller_was_offline_is_in_call_for_the_caller_on_reconnect() {
    let server = TestServer::start().await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&proxy.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    go_offline(&proxy, &alice).await;
    bob.accept().await.unwrap();
    wait_phase(&mut bob_up, Phase::InCall).await;
    proxy.unblock();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    alice.hang_up().await.unwrap();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

/// On a cluster, the leader (the node running the call state) stops: another node takes
/// over, both managers reconnect to their own nodes by themselves, and the call goes on.
#[tokio::test]
async fn a_leader_take_over_during_a_call_changes_nothing() {
    let mut server = TestServer::cluster_with(|_| {}).await;
    let (alice, mut alice_up) = manager(&server.node_url(1), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.node_url(2), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    server.stop_node(0).await;
    for up in [&mut alice_up, &mut bob_up] {
        let u = wait_update(up, "reconnecting", |u| {
            !matches!(u.snapshot.connection, Connection::Connected)
        })
        .await;
        assert_eq!(u.snapshot.phase, Phase::InCall);
        let u = wait_update(up, "reconnected", |u| {
            matches!(u.snapshot.connection, Connection::Connected)
        })
        .await;
        assert_eq!(u.snapshot.phase, Phase::InCall);
    }
    stays(&server.node_url(1), &alice, &mut alice_up, Phase::InCall).await;
    stays(&server.node_url(2), &bob, &mut bob_up, Phase::InCall).await;

    // The new leader has both in the call, on their new connections.
    bob.hang_up().await.unwrap();
    let ended = outcome(&mut alice_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}
