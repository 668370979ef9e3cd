//! Normal mode over real sockets: invite, accept, reject, cancel, timeout, and what each
//! party is told.
mod common;

use beckon_client::Requests;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

#[tokio::test]
async fn invite_then_accept() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;

    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    assert_eq!(
        sent.call_id.len(),
        32,
        "call IDs are 128 random bits in hex"
    );
    assert_eq!(sent.timeout, 30);
    assert!(sent.error_invitees.is_empty());
    assert_eq!(state_in(&sent.call_user_list, "bob"), Received);

    let inv = bob.received().await;
    assert_eq!(inv.call_id, sent.call_id);
    assert_eq!(inv.caller, "alice");
    assert_eq!(inv.caller_name, "alice name");
    assert_eq!(inv.inviter, "alice");
    assert_eq!(inv.mode, CallMode::Normal);
    assert_eq!(inv.timeout, 30);
    assert_eq!(inv.create_time, sent.create_time);
    assert_eq!(inv.extended_data, r#"{"type":"voice_call"}"#);
    assert_eq!(state_in(&inv.call_user_list, "alice"), Accepted);
    assert_eq!(state_in(&inv.call_user_list, "bob"), Received);

    bob.client.call_accept(&sent.call_id, "hi").await.unwrap();
    let change = alice.state_of("bob").await;
    assert_eq!(change.state, Accepted);
    assert_eq!(change.extended_data, "hi");

    // Everyone answered: a normal-mode call is over, and both are free to call again.
    let call = history_call(&alice, &sent.call_id).await;
    assert_eq!(call.state, CallState::Ended);
    let again = bob.invite(&["alice"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&again.call_user_list, "alice"), Received);
}

#[tokio::test]
async fn reject_carries_the_reason() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    bob.client
        .call_reject(&sent.call_id, "in a meeting", RejectReason::Busy)
        .await
        .unwrap();
    let change = alice.state_of("bob").await;
    assert_eq!(change.state, Rejected);
    assert_eq!(change.reason, Some(StateReason::Busy));
    assert_eq!(change.extended_data, "in a meeting");
    let call = history_call(&bob, &sent.call_id).await;
    assert_eq!(call.state, CallState::Ended);
    assert_eq!(state_in(&call.call_user_list, "bob"), Rejected);
}

#[tokio::test]
async fn cancel_tells_the_invitee_and_blocks_answers() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 30).await;
    bob.received().await;
    let mut c = cancel_all(&sent.call_id);
    c.extended_data = "sorry".into();
    let r = alice.client.call_cancel(c).await.unwrap();
    assert!(r.error_invitees.is_empty());
    let cancelled = bob.cancelled().await;
    assert_eq!(cancelled.call_id, sent.call_id);
    assert_eq!(cancelled.inviter, "alice");
    assert_eq!(cancelled.extended_data, "sorry");
    assert_eq!(cancelled.reason, StateReason::CancelledByInviter);
    let e = error(bob.client.call_accept(&sent.call_id, "").await);
    assert_eq!(e.code, ErrorCode::StateForbidden);
    assert_eq!(e.state, Some(Cancelled));
}

#[tokio::test]
async fn only_the_caller_cancels_and_not_after_an_accept() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let carol = s.user("carol").await;
    let sent = alice.invite(&["bob", "carol"], CallMode::Normal, 30).await;
    bob.received().await;
    assert_eq!(
        code(bob.client.call_cancel(cancel_all(&sent.call_id)).await),
        ErrorCode::NotInviter
    );
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    assert_eq!(
        code(alice.client.call_cancel(cancel_all(&sent.call_id)).await),
        ErrorCode::CallAlreadyAccepted
    );
    // carol still rings and can answer.
    carol
        .client
        .call_reject(&sent.call_id, "", RejectReason::Declined)
        .await
        .unwrap();
}

#[tokio::test]
async fn timeout_tells_the_invitee_and_the_caller() {
    let s = TestServer::start().await;
    let mut alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 1).await;
    bob.received().await;
    let t = bob
        .wait_for("timeout", |e| match e {
            ServerMessage::CallInvitationTimeout(t) => Some(t.clone()),
            _ => None,
        })
        .await;
    assert_eq!(t.call_id, sent.call_id);
    assert_eq!(alice.state_of("bob").await.state, Timeout);
    assert_eq!(
        error(bob.client.call_accept(&sent.call_id, "").await).state,
        Some(Timeout)
    );
}

#[tokio::test]
async fn invitee_errors_are_reported_per_invitee() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let sent = alice
        .invite(&["bob", "bob", "alice", "no spaces"], CallMode::Normal, 30)
        .await;
    let reasons: Vec<_> = sent
        .error_invitees
        .iter()
        .map(|e| (e.user_id.as_str(), e.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("bob", InviteeError::Duplicate),
            ("alice", InviteeError::IsSelf),
            ("no spaces", InviteeError::InvalidUserId),
        ]
    );
    // bob is offline: invited, waiting.
    assert_eq!(state_in(&sent.call_user_list, "bob"), Inviting);
    assert_eq!(
        code(
            alice
                .client
                .call_invite(invite(&["alice"], CallMode::Normal, 5))
                .await
        ),
        ErrorCode::AlreadyInCall,
        "the caller is in the first call until it ends"
    );
}

#[tokio::test]
async fn only_self_is_no_valid_invitee() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    assert_eq!(
        code(
            alice
                .client
                .call_invite(invite(&["alice"], CallMode::Normal, 5))
                .await
        ),
        ErrorCode::NoValidInvitees
    );
}

#[tokio::test]
async fn push_config_travels_with_the_invitation() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let mut inv = invite(&["bob"], CallMode::Normal, 30);
    inv.push_config = Some(PushConfig {
        title: "Alice".into(),
        content: "Incoming voice call".into(),
        payload: "{\"k\":1}".into(),
    });
    alice.client.call_invite(inv.clone()).await.unwrap();
    let got = bob.received().await;
    assert_eq!(got.push_config, inv.push_config);
}
