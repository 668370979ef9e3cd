//! Invitations from clients that are not a call manager: foreign or broken `extendedData`,
//! and answers meant for a call that stopped ringing.

mod common;

use beckon_client::manager::{ActionError, Outcome, Phase};
use beckon_client::{CallType, Event};
use beckon_protocol::{CallInvite, CallMode};
use common::calls::{accepted, ring, stays, talk, users};
use common::{client, manager, outcome, wait_event, wait_phase, TestServer};

#[tokio::test]
async fn foreign_or_broken_extended_data_rings_as_a_voice_call_and_leaves_the_manager_usable() {
    let server = TestServer::start().await;
    let (mallory, mut mallory_events) = client(&server.url(), "mallory", "mallory-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;

    let cases = [
        ("not json", CallType::Voice, "mallory name"),
        ("{\"type\":7}", CallType::Voice, "mallory name"),
        (
            "{\"type\":\"video_call\",\"callerUserName\":\"Mal Display\"}",
            CallType::Video,
            "Mal Display",
        ),
    ];
    for (data, call_type, name) in cases {
        let invite = CallInvite {
            invitees: users(&["bob"]),
            timeout: Some(30),
            mode: CallMode::Advanced,
            extended_data: data.into(),
            push_config: None,
        };
        let id = mallory.call_invite(invite).await.unwrap().call_id;
        let u = wait_phase(&mut bob_up, Phase::Incoming).await;
        let call = u.snapshot.call.unwrap();
        assert_eq!(call.call_id.as_deref(), Some(id.as_str()), "{data}");
        assert_eq!(call.call_type, call_type, "{data}");
        assert_eq!(call.caller_id, "mallory", "{data}");
        assert_eq!(call.caller_name, name, "{data}");

        bob.decline().await.unwrap();
        assert_eq!(outcome(&mut bob_up).await, Outcome::Rejected, "{data}");
        // Mallory is alone in her advanced call once bob declines: she ends it to call again.
        wait_event(&mut mallory_events, "bob's decline", |e| match e {
            Event::UserStateChanged(c) if c.call_id == id => Some(()),
            _ => None,
        })
        .await;
        mallory.call_end(&id, "").await.unwrap();
    }

    // Bob is still usable: a normal call from alice works.
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
    assert_eq!(bob.snapshot().call.unwrap().caller_name, "alice name");
    alice.hang_up().await.unwrap();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

#[tokio::test]
async fn an_answer_meant_for_a_call_that_stopped_ringing_does_not_pick_up_the_next_one() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let first = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);

    let second = ring(
        &carol,
        &mut carol_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;
    let stale = ActionError::NotRinging {
        call_id: first.clone(),
    };
    assert_eq!(bob.accept_call(&first).await, Err(stale.clone()));
    assert_eq!(bob.decline_call(&first).await, Err(stale));
    stays(&server.url(), &bob, &mut bob_up, Phase::Incoming).await;
    stays(&server.url(), &carol, &mut carol_up, Phase::Outgoing).await;

    bob.accept_call(&second).await.unwrap();
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (by, s) = accepted(&mut carol_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    carol.hang_up().await.unwrap();
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}
