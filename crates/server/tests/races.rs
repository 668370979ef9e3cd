//! Requests that cross have one answer: the server applies them one at a time, and every
//! party ends up seeing the same final states.
mod common;

use beckon_client::Requests;
use std::time::Duration;

use beckon_protocol::limits::REQUESTS_PER_SEC;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::*;

/// Paces rounds that cost a connection `requests` requests each, to stay under the
/// per-connection rate limit (a refusal would be an outcome no round expects).
fn pace(requests: u32) -> tokio::time::Interval {
    let every = Duration::from_millis(u64::from(1000 * requests / REQUESTS_PER_SEC) + 10);
    tokio::time::interval(every)
}

#[tokio::test]
async fn cancel_and_accept_crossing_have_one_winner() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    let (mut cancels, mut accepts) = (0, 0);
    // alice: invite, cancel, history; bob: accept, history.
    let mut round_start = pace(3);
    for round in 0..200 {
        round_start.tick().await;
        let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
        bob.received().await;
        let (c, a) = tokio::join!(
            async {
                jitter().await;
                alice.client.call_cancel(cancel_all(&sent.call_id)).await
            },
            async {
                jitter().await;
                bob.client.call_accept(&sent.call_id, "").await
            }
        );
        let final_state = match (&c, &a) {
            (Ok(_), Err(e)) => {
                assert_eq!(e.code(), Some(ErrorCode::StateForbidden), "round {round}");
                cancels += 1;
                Cancelled
            }
            (Err(e), Ok(_)) => {
                assert_eq!(
                    e.code(),
                    Some(ErrorCode::CallAlreadyAccepted),
                    "round {round}"
                );
                accepts += 1;
                Accepted
            }
            other => panic!("round {round}: not exactly one winner: {other:?}"),
        };
        // Both sides read back the same outcome.
        for who in [&alice, &bob] {
            let call = history_call(who, &sent.call_id).await;
            assert_eq!(
                state_in(&call.call_user_list, "bob"),
                final_state,
                "round {round}"
            );
            assert_eq!(call.state, CallState::Ended);
        }
        bob.drain_now();
    }
    eprintln!("cancel won {cancels}, accept won {accepts}");
    assert_eq!(cancels + accepts, 200);
    assert!(
        cancels > 0 && accepts > 0,
        "the race was never run both ways"
    );
}

#[tokio::test]
async fn two_devices_accepting_have_one_winner() {
    let s = TestServer::start().await;
    let alice = s.user("alice").await;
    let mut bob1 = s.device("bob", "bob-1").await;
    let mut bob2 = s.device("bob", "bob-2").await;
    let mut wins = [0, 0];
    // alice: invite, history.
    let mut round_start = pace(2);
    for round in 0..100 {
        round_start.tick().await;
        let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
        bob1.received().await;
        bob2.received().await;
        let (a, b) = tokio::join!(
            async {
                jitter().await;
                bob1.client.call_accept(&sent.call_id, "1").await
            },
            async {
                jitter().await;
                bob2.client.call_accept(&sent.call_id, "2").await
            }
        );
        let (winner, loser) = match (a, b) {
            (Ok(_), Err(e)) => {
                wins[0] += 1;
                ("1", e)
            }
            (Err(e), Ok(_)) => {
                wins[1] += 1;
                ("2", e)
            }
            other => panic!("round {round}: {other:?}"),
        };
        let WireErrorBody { code, state } = body(loser);
        assert_eq!((code, state), (ErrorCode::StateForbidden, Some(Accepted)));
        let call = history_call(&alice, &sent.call_id).await;
        let bob = call
            .call_user_list
            .iter()
            .find(|u| u.user_id == "bob")
            .unwrap();
        assert_eq!(
            bob.extended_data, winner,
            "the winner's accept is the one recorded"
        );
        bob1.drain_now();
        bob2.drain_now();
    }
    assert!(
        wins[0] > 0 && wins[1] > 0,
        "one device always won: {wins:?}"
    );
}

/// A random head start of up to a few hundred microseconds, so either request may reach
/// the server first.
async fn jitter() {
    let spins = rand::random::<u32>() % 400;
    let until = std::time::Instant::now() + std::time::Duration::from_micros(u64::from(spins));
    while std::time::Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

struct WireErrorBody {
    code: ErrorCode,
    state: Option<CallUserState>,
}

fn body(e: beckon_client::WireError) -> WireErrorBody {
    match e {
        beckon_client::WireError::Server(b) => WireErrorBody {
            code: b.code,
            state: b.state,
        },
        other => panic!("{other}"),
    }
}
