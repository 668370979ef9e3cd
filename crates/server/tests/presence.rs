//! Who is online: offline invitees, several devices, a caller that leaves or goes silent.
mod common;

use beckon_client::Requests;
use std::time::Duration;

use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

#[tokio::test]
async fn offline_invitee_logging_in_within_the_timeout_gets_it() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&sent.call_user_list, "bob"), Inviting);
    let mut bob = s.user("bob").await;
    let inv = bob.received().await;
    assert_eq!(inv.call_id, sent.call_id);
    assert!(inv.expire_time.unwrap() >= sent.create_time + 29_000);
    assert_eq!(alice.state_of("bob").await.state, Received);
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    assert_eq!(alice.state_of("bob").await.state, Accepted);
}

#[tokio::test]
async fn offline_invitee_after_the_timeout_finds_it_in_history_only() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 1).await;
    assert_eq!(alice.state_of("bob").await.state, Timeout);
    let mut bob = s.user("bob").await;
    bob.silent().await;
    let call = history_call(&bob, &sent.call_id).await;
    assert_eq!(state_in(&call.call_user_list, "bob"), Timeout);
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn every_device_rings_and_the_others_stop_when_one_answers() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bobs = Vec::new();
    for d in 0..5 {
        bobs.push(s.device("bob", &format!("bob-{d}")).await);
    }
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    for b in bobs.iter_mut() {
        assert_eq!(b.received().await.call_id, sent.call_id);
    }
    bobs[2].client.call_accept(&sent.call_id, "").await.unwrap();
    for (i, b) in bobs.iter_mut().enumerate() {
        if i == 2 {
            b.silent().await;
        } else {
            assert_eq!(
                b.state_of("bob").await.state,
                Accepted,
                "device {i} stops ringing"
            );
        }
    }
    let e = error(
        bobs[4]
            .client
            .call_reject(&sent.call_id, "", RejectReason::Declined)
            .await,
    );
    assert_eq!(
        (e.code, e.state),
        (ErrorCode::StateForbidden, Some(Accepted))
    );
    // Declined on one device: the others are told too.
    let sent = s
        .user("carol")
        .await
        .invite(&["bob"], CallMode::Normal, 30)
        .await;
    for b in bobs.iter_mut() {
        b.received().await;
    }
    bobs[0]
        .client
        .call_reject(&sent.call_id, "", RejectReason::Declined)
        .await
        .unwrap();
    for b in bobs.iter_mut().skip(1) {
        assert_eq!(b.state_of("bob").await.state, Rejected);
    }
    let _ = &mut alice;
}

#[tokio::test]
async fn caller_other_device_is_told_of_the_new_call() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut alice2 = s.device("alice", "alice-2").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    let created = alice2
        .wait_for("created", |e| match e {
            ServerMessage::CallInvitationCreated(c) => Some(c.clone()),
            _ => None,
        })
        .await;
    assert_eq!(created.call_id, sent.call_id);
    assert_eq!(created.expire_time, None);
}

#[tokio::test]
async fn a_new_device_of_a_ringing_user_rings_too() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    let mut bob2 = s.device("bob", "bob-2").await;
    assert_eq!(bob2.received().await.call_id, sent.call_id);
    bob.silent().await; // no second ring on the device that already rang
}

#[tokio::test]
async fn at_most_ten_devices_and_a_reconnect_replaces_its_old_session() {
    let s = TestServer::start().await;
    let mut devices = Vec::new();
    for d in 0..10 {
        devices.push(s.device("bob", &format!("bob-{d}")).await);
    }
    let (c, _e) = s.connect().await;
    let e = error(c.login("bob", "Bob", None, Some("bob-10".into())).await);
    assert_eq!(e.code, ErrorCode::TooManyDevices);
    // The same device logging in again is a reconnect, not an eleventh device.
    let _again = s.device("bob", "bob-3").await;
    let closed = devices[3]
        .wait_for("sessionClosed", |e| match e {
            ServerMessage::SessionClosed(c) => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(closed, CloseReason::Replaced);
}

#[tokio::test]
async fn caller_logout_cancels_for_everyone_before_an_accept() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let sent = alice.invite(&["bob", "carol"], CallMode::Normal, 30).await;
    bob.received().await;
    carol.received().await;
    alice.client.logout().await.unwrap();
    for u in [&mut bob, &mut carol] {
        let c = u.cancelled().await;
        assert_eq!(
            (c.call_id.as_str(), c.reason),
            (sent.call_id.as_str(), StateReason::CallerGone)
        );
    }
    let call = history_call(&bob, &sent.call_id).await;
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn caller_logout_after_an_accept_cancels_nothing() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let sent = alice.invite(&["bob", "carol"], CallMode::Normal, 30).await;
    bob.received().await;
    carol.received().await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    alice.client.logout().await.unwrap();
    let got = carol.drain().await;
    assert!(
        !got.iter()
            .any(|e| matches!(e, ServerMessage::CallInvitationCancelled(_))),
        "{got:?}"
    );
    carol.client.call_accept(&sent.call_id, "").await.unwrap();
}

#[tokio::test]
async fn silent_caller_is_cancelled_after_the_heartbeat_timeout() {
    let s = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(1)).await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    keepalive(&bob.client);
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    // alice sends nothing more: the server gives up on her after 1 s.
    let closed = alice
        .wait_for("sessionClosed", |e| match e {
            ServerMessage::SessionClosed(c) => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(closed, CloseReason::HeartbeatTimeout);
    let c = bob.cancelled().await;
    assert_eq!(
        (c.call_id, c.reason),
        (sent.call_id, StateReason::CallerGone)
    );
}

#[tokio::test]
async fn caller_reconnecting_in_time_keeps_the_invitation() {
    let s = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(1)).await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    keepalive(&bob.client);
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    alice.client.close().await; // the connection drops without a logout
    let alice = s.device("alice", "alice-1").await; // same device, back in time
    keepalive(&alice.client);
    // A control: carol's device drops later than alice's and does not come back. Once her
    // call is cancelled, alice's grace period (which ended first) is over too.
    let carol = s.user("carol").await;
    let control = carol.invite(&["bob"], CallMode::Normal, 30).await;
    carol.client.close().await;
    let mut seen = Vec::new();
    bob.wait_for("the control's cancel", |e| {
        seen.push(e.clone());
        matches!(e, ServerMessage::CallInvitationCancelled(c) if c.call_id == control.call_id)
            .then_some(())
    })
    .await;
    seen.extend(bob.drain().await);
    assert!(
        !seen.iter().any(
            |e| matches!(e, ServerMessage::CallInvitationCancelled(c) if c.call_id == sent.call_id)
        ),
        "{seen:?}"
    );
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
}

#[tokio::test]
async fn caller_dropping_without_coming_back_is_cancelled() {
    let s = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(1)).await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    keepalive(&bob.client);
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    alice.client.close().await;
    let c = bob.cancelled().await;
    assert_eq!(
        (c.call_id, c.reason),
        (sent.call_id, StateReason::CallerGone)
    );
}

#[tokio::test]
async fn advanced_member_whose_device_is_gone_quits() {
    let s = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(1)).await;
    let mut alice = s.user("alice").await;
    keepalive(&alice.client);
    let mut bob = s.user("bob").await;
    let carol = s.user("carol").await;
    keepalive(&carol.client);
    let sent = alice
        .invite(&["bob", "carol"], CallMode::Advanced, 30)
        .await;
    bob.received().await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    carol.client.call_accept(&sent.call_id, "").await.unwrap();
    bob.client.close().await;
    let q = alice
        .wait_for("bob quit", |e| match e {
            ServerMessage::CallUserStateChanged(c) => c
                .call_user_list
                .iter()
                .find(|u| u.user_id == "bob" && u.state == Quit)
                .cloned(),
            _ => None,
        })
        .await;
    assert_eq!(q.reason, Some(StateReason::ConnectionLost));
}
