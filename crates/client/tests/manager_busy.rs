//! The call manager's busy auto-reject against the real server: a user calling, ringing or
//! in a call rejects a new call as busy, and busy is decided by each device's manager.

mod common;

use beckon_client::manager::{Notice, Outcome, Phase};
use beckon_client::{CallManager, CallType, Updates};
use common::calls::{accepted, finished, ring, stays, talk, until, users};
use common::{manager, outcome, wait_phase, wait_update, TestServer};

/// `carol` calls the busy user, who is in `phase`: carol hears "busy", the busy user is
/// told once and stays where it was.
async fn busy_user_rejects_carol(
    busy: &CallManager,
    busy_up: &mut Updates,
    busy_id: &str,
    phase: Phase,
    url: &str,
) {
    assert_eq!(busy.snapshot().phase, phase);
    let (carol, mut carol_up) = manager(url, "carol", "carol-1").await;
    carol
        .call(users(&[busy_id]), CallType::Video)
        .await
        .unwrap();
    let (out, carol_call, carol_snap) = finished(&mut carol_up).await;
    assert_eq!(out, Outcome::Busy);
    assert_eq!(carol_snap.phase, Phase::Free);
    let carol_call_id = carol_call.call_id.expect("carol's call reached the server");

    let u = wait_update(busy_up, "rejected busy", |u| {
        matches!(u.notice, Notice::RejectedBusy { .. })
    })
    .await;
    assert_eq!(
        u.notice,
        Notice::RejectedBusy {
            call_id: carol_call_id,
            caller_id: "carol".into(),
            caller_name: "carol name".into(),
            call_type: CallType::Video,
        }
    );
    assert_eq!(u.snapshot.phase, phase, "busy user's phase changed");
    stays(url, busy, busy_up, phase).await;
    // Carol is free again and can be called.
    assert_eq!(carol.snapshot().phase, Phase::Free);
}

#[tokio::test]
async fn a_user_calling_someone_rejects_a_new_call_as_busy_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    busy_user_rejects_carol(
        &alice,
        &mut alice_up,
        "alice",
        Phase::Outgoing,
        &server.url(),
    )
    .await;
    assert_eq!(bob.snapshot().phase, Phase::Incoming);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    wait_phase(&mut bob_up, Phase::InCall).await;
    alice.hang_up().await.unwrap();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

#[tokio::test]
async fn a_ringing_user_rejects_a_new_call_as_busy_and_can_still_answer_the_first() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    busy_user_rejects_carol(&bob, &mut bob_up, "bob", Phase::Incoming, &server.url()).await;
    let s = bob.snapshot();
    assert_eq!(
        s.call.unwrap().call_id.as_deref(),
        Some(id.as_str()),
        "still alice's call"
    );
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    bob.hang_up().await.unwrap();
    let ended = outcome(&mut alice_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
}

#[tokio::test]
async fn a_user_in_a_call_rejects_a_new_call_as_busy_and_the_call_goes_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    busy_user_rejects_carol(&bob, &mut bob_up, "bob", Phase::InCall, &server.url()).await;
    assert_eq!(alice.snapshot().phase, Phase::InCall);

    bob.end().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
    let ended = outcome(&mut alice_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

/// Busy is decided by each device's manager: a second, free device of a busy user rings
/// until the busy device's automatic "busy" reaches it. (Today it then finishes with
/// `DeclinedElsewhere`, as if the user had declined on the other device.)
#[tokio::test]
async fn a_user_busy_on_one_device_is_busy_for_the_caller_and_the_other_device_stops_ringing() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    bob1.accept().await.unwrap();
    wait_phase(&mut bob1_up, Phase::InCall).await;
    assert_eq!(outcome(&mut bob2_up).await, Outcome::AnsweredElsewhere);

    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    carol.call(users(&["bob"]), CallType::Voice).await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::Busy);
    let u = wait_update(&mut bob1_up, "rejected busy", |u| {
        matches!(u.notice, Notice::RejectedBusy { .. })
    })
    .await;
    assert_eq!(u.snapshot.phase, Phase::InCall);
    until(&bob2, "not ringing", |s| s.phase == Phase::Free).await;
    stays(&server.url(), &bob1, &mut bob1_up, Phase::InCall).await;
    assert_eq!(alice.snapshot().phase, Phase::InCall);
}
