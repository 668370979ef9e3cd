//! Every outcome of a call, seen by the call manager on the side that gets it, against the
//! real server over real sockets; and the devices of one user ringing together.

mod common;

use std::time::Duration;

use beckon_client::manager::{Connection, MachineConfig, Outcome, Phase};
use beckon_client::{CallType, Event};
use beckon_protocol::{CallMode, CallState, CallUserState, StateReason};
use common::calls::{
    accepted, call_id, ended_on_server, finished, ring, stays, talk, until, users,
};
use common::{client, manager, manager_with, outcome, wait_event, wait_phase, Proxy, TestServer};

#[tokio::test]
async fn an_accepted_video_call_puts_both_in_call_with_the_callers_name_and_a_start_time() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Video,
    )
    .await;

    let ringing = bob.snapshot().call.unwrap();
    assert_eq!(ringing.call_type, CallType::Video);
    assert_eq!(ringing.caller_id, "alice");
    assert_eq!(ringing.caller_name, "alice name");
    assert!(ringing.ring_until.is_some());
    assert!(ringing.started_at.is_none());

    bob.accept().await.unwrap();
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!(by, "bob");
    assert_eq!(s.phase, Phase::InCall);
    let call = s.call.unwrap();
    assert_eq!(call.call_id.as_deref(), Some(id.as_str()));
    assert_eq!(call.call_type, CallType::Video);
    assert!(call.started_at.is_some());
    assert!(!call.group);
    let (by, s) = accepted(&mut bob_up).await;
    assert_eq!(by, "bob");
    assert_eq!(s.phase, Phase::InCall);
    let call = s.call.unwrap();
    assert_eq!(call.call_type, CallType::Video);
    assert_eq!(call.caller_name, "alice name");
    assert!(call.started_at.is_some());
    assert!(call.ring_until.is_none());

    alice.hang_up().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
    let ended = outcome(&mut bob_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
}

#[tokio::test]
async fn a_declined_call_is_declined_for_the_caller_and_rejected_for_the_callee() {
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

    bob.decline().await.unwrap();
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::Rejected, Phase::Free));
    let (out, call, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::Declined, Phase::Free));
    let bob_member = call.peers.iter().find(|p| p.user_id == "bob").unwrap();
    assert_eq!(bob_member.state, CallUserState::Rejected);
    assert_eq!(bob_member.reason, Some(StateReason::Declined));
    // The server keeps an advanced call with the caller alone in it; alice's manager ends
    // it, so she is not left busy there.
    let id = call.call_id.unwrap();
    let info = ended_on_server(&alice, &id).await;
    let me = info.call_user_list.iter().find(|u| u.user_id == "alice");
    assert_eq!(
        me.unwrap().state,
        CallUserState::Accepted,
        "ended, not quit"
    );
}

/// A 1:1 call whose other side quits (a client that is not a call manager) is ended by the
/// manager: the server would keep it with the user alone in it.
#[tokio::test]
async fn the_other_side_quitting_a_one_to_one_call_ends_it_for_the_user() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_events) = client(&server.url(), "bob", "bob-1").await;
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    let id = call_id(&alice).await;
    wait_event(&mut bob_events, "the invitation", |e| match e {
        Event::InvitationReceived(i) if i.call_id == id => Some(()),
        _ => None,
    })
    .await;
    bob.call_accept(&id, "").await.unwrap();
    accepted(&mut alice_up).await;

    bob.call_quit(&id, "").await.unwrap();
    let (out, _, s) = finished(&mut alice_up).await;
    // Bob left rather than ending it: nobody ended it for everyone.
    assert_eq!(
        (out, s.phase),
        (Outcome::EndedByPeer { by: None }, Phase::Free)
    );
    let info = ended_on_server(&alice, &id).await;
    let me = info.call_user_list.iter().find(|u| u.user_id == "alice");
    assert_eq!(
        me.unwrap().state,
        CallUserState::Accepted,
        "ended, not quit"
    );
    // Free on the server too: a new call is not refused as `alreadyInCall`.
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    call_id(&alice).await;
    assert_eq!(alice.snapshot().phase, Phase::Outgoing);
}

#[tokio::test]
async fn an_unanswered_call_is_no_answer_for_the_caller_and_missed_for_the_callee() {
    let server = TestServer::start().await;
    let quick = MachineConfig {
        invite_timeout: 1,
        ..MachineConfig::default()
    };
    let (alice, mut alice_up) = manager_with(&server.url(), "alice", "alice-1", quick).await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    assert_eq!(outcome(&mut bob_up).await, Outcome::Missed);
    assert_eq!(outcome(&mut alice_up).await, Outcome::NoAnswer);
}

#[tokio::test]
async fn a_call_to_a_user_who_is_offline_the_whole_time_is_unreachable() {
    let server = TestServer::start().await;
    let quick = MachineConfig {
        invite_timeout: 1,
        ..MachineConfig::default()
    };
    let (alice, mut alice_up) = manager_with(&server.url(), "alice", "alice-1", quick).await;
    alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
    let (out, call, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::Unreachable, Phase::Free));
    assert!(call.call_id.is_some());
}

#[tokio::test]
async fn a_call_the_caller_cancels_is_cancelled_for_the_caller_and_for_the_callee() {
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

    alice.cancel().await.unwrap();
    assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::CancelledByCaller, Phase::Free));
    assert_eq!(bob.snapshot().phase, Phase::Free);
}

#[tokio::test]
async fn a_call_answered_on_another_device_stops_ringing_as_answered_elsewhere() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (_bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    bob1.accept().await.unwrap();
    let (out, _, s) = finished(&mut bob2_up).await;
    assert_eq!((out, s.phase), (Outcome::AnsweredElsewhere, Phase::Free));
    wait_phase(&mut bob1_up, Phase::InCall).await;
    wait_phase(&mut alice_up, Phase::InCall).await;
}

#[tokio::test]
async fn a_call_declined_on_another_device_stops_ringing_as_declined_elsewhere() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (_bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    bob1.decline().await.unwrap();
    assert_eq!(outcome(&mut bob1_up).await, Outcome::Rejected);
    let (out, _, s) = finished(&mut bob2_up).await;
    assert_eq!((out, s.phase), (Outcome::DeclinedElsewhere, Phase::Free));
    assert_eq!(outcome(&mut alice_up).await, Outcome::Declined);
}

#[tokio::test]
async fn a_one_to_one_hang_up_ends_the_call_for_both_at_once() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    alice.hang_up().await.unwrap();
    let (out, _, s) = finished(&mut alice_up).await;
    assert_eq!((out, s.phase), (Outcome::HungUp, Phase::Free));
    let (out, _, s) = finished(&mut bob_up).await;
    // Bob is told who ended it.
    assert_eq!(
        (out, s.phase),
        (
            Outcome::EndedByPeer {
                by: Some("alice".into())
            },
            Phase::Free
        )
    );

    // Bob was told by the server's end event, so the server's call has ended.
    for m in [&bob, &alice] {
        let history = m.history(10).await.unwrap();
        let call = history
            .iter()
            .find(|c| c.call_id == id)
            .expect("in history");
        assert_eq!(call.state, CallState::Ended);
        assert_eq!(call.mode, CallMode::Advanced);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_whose_connection_is_lost_ends_the_call_for_the_caller_and_sees_connection_lost() {
    // The managers learn the 2 s from the server's login answer; nothing here tells them.
    let server = TestServer::start_with(|c| c.heartbeat_timeout = Duration::from_secs(2)).await;
    let proxy = Proxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let id = talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;

    proxy.cut_and_block();
    let (out, call, s) = finished(&mut alice_up).await;
    // Bob's connection was lost: nobody ended it for everyone.
    assert_eq!(
        (out, s.phase),
        (Outcome::EndedByPeer { by: None }, Phase::Free)
    );
    let bob_member = call.peers.iter().find(|p| p.user_id == "bob").unwrap();
    assert_eq!(bob_member.state, CallUserState::Quit);
    assert_eq!(bob_member.reason, Some(StateReason::ConnectionLost));
    let (out, _, s) = finished(&mut bob_up).await;
    assert_eq!((out, s.phase), (Outcome::ConnectionLost, Phase::Free));

    // Back online, bob is free and connected; the server's call is over.
    proxy.unblock();
    until(&bob, "reconnected", |s| {
        matches!(s.connection, Connection::Connected)
    })
    .await;
    assert_eq!(bob.snapshot().phase, Phase::Free);
    let history = bob.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn both_devices_of_a_user_ring_and_the_one_not_answering_stops_when_the_other_accepts() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob1, mut bob1_up) = manager(&server.url(), "bob", "bob-1").await;
    let (bob2, mut bob2_up) = manager(&server.url(), "bob", "bob-2").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob1_up, &mut bob2_up],
        &["bob"],
        CallType::Video,
    )
    .await;
    assert_eq!(bob1.snapshot().phase, Phase::Incoming);
    assert_eq!(bob2.snapshot().phase, Phase::Incoming);

    bob2.accept().await.unwrap();
    let (by, s) = accepted(&mut bob2_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    let (out, call, s) = finished(&mut bob1_up).await;
    assert_eq!((out, s.phase), (Outcome::AnsweredElsewhere, Phase::Free));
    assert_eq!(call.call_id.as_deref(), Some(id.as_str()));
    let (by, s) = accepted(&mut alice_up).await;
    assert_eq!((by.as_str(), s.phase), ("bob", Phase::InCall));
    stays(&server.url(), &bob1, &mut bob1_up, Phase::Free).await;

    // The device in the call hangs up: the caller is told, the other device stays free.
    bob2.hang_up().await.unwrap();
    let ended = outcome(&mut alice_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
    assert_eq!(outcome(&mut bob2_up).await, Outcome::HungUp);
    assert_eq!(bob1.snapshot().phase, Phase::Free);
}
