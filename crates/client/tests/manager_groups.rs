//! Group calls through the call manager, against the real server: leaving, ending for
//! everyone, and inviting a third person into a 1:1 call.

mod common;

use beckon_client::manager::{Outcome, Phase};
use beckon_client::CallType;
use beckon_protocol::{CallState, CallUserState};
use common::calls::{accepted, ended_on_server, ring, stays, talk, until, users};
use common::{manager, outcome, wait_phase, TestServer};

#[tokio::test]
async fn in_a_group_call_the_caller_can_leave_and_the_others_go_on() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up, &mut carol_up],
        &["bob", "carol"],
        CallType::Voice,
    )
    .await;
    assert!(alice.snapshot().call.unwrap().group);
    assert!(carol.snapshot().call.unwrap().group);

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    wait_phase(&mut bob_up, Phase::InCall).await;
    // Carol sees bob accept, and keeps ringing.
    until(&carol, "bob accepted", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "bob" && p.state == CallUserState::Accepted)
        })
    })
    .await;
    assert_eq!(carol.snapshot().phase, Phase::Incoming);

    alice.leave().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Left);
    // Bob is still in the call and sees alice quit; carol still rings.
    let s = until(&bob, "alice quit", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "alice" && p.state == CallUserState::Quit)
        })
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);
    stays(&server.url(), &carol, &mut carol_up, Phase::Incoming).await;
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;

    carol.accept().await.unwrap();
    let (by, s) = accepted(&mut carol_up).await;
    assert_eq!((by.as_str(), s.phase), ("carol", Phase::InCall));
    until(&bob, "carol accepted", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "carol" && p.state == CallUserState::Accepted)
        })
    })
    .await;

    // In a group call hang-up means leave; the last one left stays in the call (it may
    // invite others) until it leaves too, which ends the call.
    carol.hang_up().await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::Left);
    let s = until(&bob, "carol quit", |s| {
        s.call.as_ref().is_some_and(|c| {
            c.peers
                .iter()
                .any(|p| p.user_id == "carol" && p.state == CallUserState::Quit)
        })
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);
    let history = bob.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Started);
    bob.hang_up().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::Left);
    ended_on_server(&bob, &id).await;
}

#[tokio::test]
async fn ending_a_group_call_ends_it_for_those_in_it_and_stops_the_ringing() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up, &mut carol_up],
        &["bob", "carol"],
        CallType::Voice,
    )
    .await;
    bob.accept().await.unwrap();
    accepted(&mut alice_up).await;
    wait_phase(&mut bob_up, Phase::InCall).await;
    assert_eq!(carol.snapshot().phase, Phase::Incoming);

    alice.end().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
    assert_eq!(outcome(&mut carol_up).await, Outcome::CancelledByCaller);
    let history = carol.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn inviting_a_third_person_into_a_one_to_one_call_rings_them_and_makes_it_a_group() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let (dave, mut dave_up) = manager(&server.url(), "dave", "dave-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
    assert!(!alice.snapshot().call.unwrap().group);

    alice.invite_more(users(&["dave"])).await.unwrap();
    let u = wait_phase(&mut dave_up, Phase::Incoming).await;
    let ringing = u.snapshot.call.unwrap();
    assert_eq!(ringing.call_id.as_deref(), Some(id.as_str()));
    assert_eq!(ringing.caller_id, "alice");
    assert!(ringing.group);
    let s = until(&alice, "dave invited, no request pending", |s| {
        s.call.as_ref().is_some_and(|c| {
            !c.working
                && c.peers
                    .iter()
                    .any(|p| p.user_id == "dave" && p.state == CallUserState::Received)
        })
    })
    .await;
    assert!(s.call.unwrap().group);
    assert_eq!(s.phase, Phase::InCall);
    let s = until(&bob, "a group with dave", |s| {
        s.call.as_ref().is_some_and(|c| c.group)
    })
    .await;
    assert_eq!(s.phase, Phase::InCall);

    dave.accept().await.unwrap();
    let (by, s) = accepted(&mut dave_up).await;
    assert_eq!((by.as_str(), s.phase), ("dave", Phase::InCall));

    // Now a group: alice's hang-up is a leave, bob and dave go on until bob ends it.
    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Left);
    stays(&server.url(), &bob, &mut bob_up, Phase::InCall).await;
    bob.end().await.unwrap();
    assert_eq!(outcome(&mut bob_up).await, Outcome::HungUp);
    let ended = outcome(&mut dave_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}
