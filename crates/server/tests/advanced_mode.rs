//! Advanced mode: inviting more people, the 10-member cap, quitting, joining, ending, relay.
mod common;

use beckon_client::Requests;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

#[tokio::test]
async fn ten_members_and_the_eleventh_refused() {
    let s = TestServer::start().await;
    let mut users = Vec::new();
    for i in 0..11 {
        users.push(s.user(&format!("u{i}")).await);
    }
    let first: Vec<String> = (1..10).map(|i| format!("u{i}")).collect();
    let refs: Vec<&str> = first.iter().map(String::as_str).collect();
    let sent = users[0].invite(&refs, CallMode::Advanced, 60).await;
    assert_eq!(sent.call_user_list.len(), 9);
    for u in users.iter_mut().skip(1).take(9) {
        u.received().await;
        u.client.call_accept(&sent.call_id, "").await.unwrap();
    }
    let e = error(
        users[3]
            .client
            .calling_invite(calling_invite(&sent.call_id, &["u10"], 60))
            .await,
    );
    assert_eq!(e.code, ErrorCode::CallFull);
    // Mixed request: the cap is reported per invitee, the rest still go through.
    users[2].client.call_quit(&sent.call_id, "").await.unwrap();
    let r = users[3]
        .client
        .calling_invite(calling_invite(&sent.call_id, &["u10", "u2"], 60))
        .await
        .unwrap();
    assert_eq!(
        r.error_invitees,
        vec![ErrorInvitee {
            user_id: "u10".into(),
            reason: InviteeError::CallFull
        }]
    );
    assert_eq!(
        state_in(&r.call_user_list, "u2"),
        Received,
        "a member who quit can be invited back"
    );
    let back = users[2].received().await;
    assert_eq!(back.inviter, "u3");
}

#[tokio::test]
async fn calling_invite_tells_members_and_rings_the_newcomer() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let sent = alice.invite(&["bob"], CallMode::Advanced, 60).await;
    bob.received().await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    alice.state_of("bob").await;
    let mut c = calling_invite(&sent.call_id, &["carol", "bob"], 45);
    c.extended_data = "join us".into();
    let r = bob.client.calling_invite(c).await.unwrap();
    assert_eq!(
        r.error_invitees,
        vec![ErrorInvitee {
            user_id: "bob".into(),
            reason: InviteeError::IsSelf
        }]
    );
    let inv = carol.received().await;
    assert_eq!(
        (
            inv.inviter.as_str(),
            inv.timeout,
            inv.extended_data.as_str()
        ),
        ("bob", 45, "join us")
    );
    assert_eq!(inv.call_user_list.len(), 3);
    let change = alice.state_of("carol").await;
    assert_eq!((change.state, change.inviter.as_str()), (Received, "bob"));
    let again = error(
        alice
            .client
            .calling_invite(calling_invite(&sent.call_id, &["carol"], 45))
            .await,
    );
    assert_eq!(
        again.code,
        ErrorCode::NoValidInvitees,
        "carol is already ringing"
    );
}

#[tokio::test]
async fn quit_join_and_auto_end() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let sent = alice
        .invite(&["bob", "carol"], CallMode::Advanced, 60)
        .await;
    let id = sent.call_id.clone();
    bob.received().await;
    carol.received().await;
    bob.client.call_accept(&id, "").await.unwrap();
    carol.client.call_accept(&id, "").await.unwrap();
    bob.client.call_quit(&id, "brb").await.unwrap();
    let q = alice.wait_state("bob", Quit).await;
    assert_eq!(q.extended_data, "brb");
    let info = bob.client.call_join(&id, "back").await.unwrap();
    assert_eq!(state_in(&info.call_user_list, "bob"), Accepted);
    carol.wait_state("bob", Quit).await;
    assert_eq!(
        carol.wait_state("bob", Accepted).await.extended_data,
        "back"
    );
    // Joining is for members: a stranger cannot join, or learn the call exists.
    let dave = s.user("dave").await;
    assert_eq!(
        code(dave.client.call_join(&id, "").await),
        ErrorCode::CallNotFound
    );
    // Two leave; the last one is alone in the call, and it goes on.
    alice.client.call_quit(&id, "").await.unwrap();
    carol.client.call_quit(&id, "").await.unwrap();
    bob.wait_state("carol", Quit).await;
    assert_eq!(history_call(&bob, &id).await.state, CallState::Started);
    // The last one leaves: nobody is in the call, so the server ends it.
    bob.client.call_quit(&id, "").await.unwrap();
    assert_eq!(history_call(&bob, &id).await.state, CallState::Ended);
    assert_eq!(
        code(bob.client.call_join(&id, "").await),
        ErrorCode::CallEnded
    );
    // Nobody is stuck in the call.
    alice.invite(&["bob"], CallMode::Normal, 5).await;
}

/// The seed: an advanced call lives until `callEnd`, and until then members may invite
/// others. The caller left alone after a rejection is still in the call.
#[tokio::test]
async fn advanced_one_to_one_reject_leaves_the_caller_in_the_call_until_call_end() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut carol = s.user("carol").await;
    let sent = alice.invite(&["bob"], CallMode::Advanced, 60).await;
    let id = sent.call_id.clone();
    bob.received().await;
    bob.client
        .call_reject(&id, "", RejectReason::Busy)
        .await
        .unwrap();
    assert_eq!(alice.state_of("bob").await.reason, Some(StateReason::Busy));
    assert_eq!(history_call(&alice, &id).await.state, CallState::Started);
    assert_eq!(
        code(
            alice
                .client
                .call_invite(invite(&["carol"], CallMode::Normal, 60))
                .await
        ),
        ErrorCode::AlreadyInCall,
        "alice is still in her call"
    );
    // She invites someone else into it, who accepts.
    alice
        .client
        .calling_invite(calling_invite(&id, &["carol"], 60))
        .await
        .unwrap();
    carol.received().await;
    carol.client.call_accept(&id, "").await.unwrap();
    alice.wait_state("carol", Accepted).await;
    let end = alice.client.call_end(&id, "").await.unwrap();
    let ended = carol
        .wait_for("ended", |e| match e {
            ServerMessage::CallInvitationEnded(e) => Some(e.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (ended.operated_user_id.as_str(), ended.end_time),
        ("alice", end.end_time)
    );
    alice.invite(&["bob"], CallMode::Advanced, 60).await;
}

#[tokio::test]
async fn normal_mode_refuses_advanced_requests() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let sent = alice.invite(&["bob", "carol"], CallMode::Normal, 60).await;
    bob.received().await;
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    let id = &sent.call_id;
    assert_eq!(
        code(bob.client.call_quit(id, "").await),
        ErrorCode::AdvancedModeOnly
    );
    assert_eq!(
        code(bob.client.call_end(id, "").await),
        ErrorCode::AdvancedModeOnly
    );
    assert_eq!(
        code(bob.client.call_join(id, "").await),
        ErrorCode::AdvancedModeOnly
    );
    assert_eq!(
        code(
            bob.client
                .calling_invite(calling_invite(id, &["dave"], 5))
                .await
        ),
        ErrorCode::AdvancedModeOnly
    );
}

#[tokio::test]
async fn relay_between_accepted_members_only() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut bob2 = s.device("bob", "bob-2").await;
    let mut carol = s.user("carol").await;
    let sent = alice
        .invite(&["bob", "carol"], CallMode::Advanced, 60)
        .await;
    let id = sent.call_id.clone();
    bob.received().await;
    carol.received().await;
    let sdp = serde_json::json!({"sdp": "v=0...", "kind": "offer"});
    // Not yet accepted: neither side may relay.
    assert_eq!(
        code(bob.client.relay(&id, "alice", sdp.clone()).await),
        ErrorCode::StateForbidden
    );
    assert_eq!(
        code(alice.client.relay(&id, "bob", sdp.clone()).await),
        ErrorCode::RelayTargetUnavailable
    );
    bob.client.call_accept(&id, "").await.unwrap();
    alice.client.relay(&id, "bob", sdp.clone()).await.unwrap();
    let got = bob
        .wait_for("relay", |e| match e {
            ServerMessage::Relay(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (got.from_user_id.as_str(), got.from_device_id.as_str()),
        ("alice", "alice-1")
    );
    assert_eq!(got.payload, sdp);
    // Only the device that is in the call gets media negotiation, not bob's other device.
    let other = bob2.drain().await;
    assert!(
        !other.iter().any(|e| matches!(e, ServerMessage::Relay(_))),
        "{other:?}"
    );
    // A stranger can neither relay into the call nor be relayed to.
    let eve = s.user("eve").await;
    assert_eq!(
        code(eve.client.relay(&id, "bob", sdp.clone()).await),
        ErrorCode::CallNotFound
    );
    assert_eq!(
        code(alice.client.relay(&id, "eve", sdp.clone()).await),
        ErrorCode::RelayTargetUnavailable
    );
    let carol_got = carol.drain().await;
    assert!(
        !carol_got
            .iter()
            .any(|e| matches!(e, ServerMessage::Relay(_))),
        "{carol_got:?}"
    );
}
