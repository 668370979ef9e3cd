//! Races the call manager must settle: calling again right after a hang-up or a cancel,
//! and an accept whose answer is lost or overtaken.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_client::manager::{
    Effect, Intent, Machine, MachineConfig, Notice, Op, OpResult, Outcome, Phase,
};
use beckon_client::{CallManager, CallType, Event, Updates};
use beckon_protocol::{
    CallInvitationEnded, CallMode, CallState, CallUserInfo, CallUserState, InvitationInfo,
};
use common::calls::{accepted, finished, ring, talk, users};
use common::{manager, outcome, wait_phase, wait_update, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A proxy whose server-to-client direction can be held up (`stall`), so that a request
/// reaches the server while its answer does not reach the client; `cut_and_block` then
/// drops the connection with the answer undelivered.
struct StallProxy {
    addr: std::net::SocketAddr,
    stalled: Arc<AtomicBool>,
    blocked: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    async fn start(target: std::net::SocketAddr) -> StallProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stalled = Arc::new(AtomicBool::new(false));
        let blocked = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (st, bl, li) = (stalled.clone(), blocked.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if bl.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let st = st.clone();
                let link = tokio::spawn(async move {
                    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut cr, mut cw) = inbound.into_split();
                    let (mut sr, mut sw) = outbound.into_split();
                    let up = tokio::io::copy(&mut cr, &mut sw);
                    let down = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => n,
                            };
                            while st.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
                li.lock().unwrap().push(link);
            }
        });
        StallProxy {
            addr,
            stalled,
            blocked,
            links,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }

    /// Drops every connection (and what it held back) and refuses new ones.
    fn cut_and_block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn unblock(&self) {
        self.stalled.store(false, Ordering::SeqCst);
        self.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }
}

const PACE: Duration = Duration::from_millis(120);

/// `Outcome::Failed` if the redial was refused, else `None` (and the redial is cancelled).
async fn redial(
    alice: &CallManager,
    alice_up: &mut Updates,
    bob_up: &mut Updates,
) -> Option<Outcome> {
    let u = wait_update(alice_up, "the redial", |u| {
        matches!(u.notice, Notice::Finished { .. })
            || u.snapshot
                .call
                .as_ref()
                .is_some_and(|c| c.call_id.is_some())
    })
    .await;
    if let Notice::Finished { outcome, .. } = u.notice {
        return Some(outcome);
    }
    wait_phase(bob_up, Phase::Incoming).await;
    alice.cancel().await.unwrap();
    assert_eq!(outcome(alice_up).await, Outcome::Cancelled);
    assert_eq!(outcome(bob_up).await, Outcome::CancelledByCaller);
    None
}

/// Each request is sent from its own task, so the `callEnd` of a hang-up and the
/// `callInvite` of a call made right after it could reach the server in either order; the
/// driver makes a new call wait for the hang-up, or the server would refuse it (`3003`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_again_right_after_hanging_up_is_not_refused_as_already_in_a_call() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    for round in 0..40 {
        talk(&alice, &mut alice_up, &bob, &mut bob_up, "bob").await;
        alice.hang_up().await.unwrap();
        alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
        assert_eq!(outcome(&mut alice_up).await, Outcome::HungUp);
        let ended = outcome(&mut bob_up).await;
        assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
        let refused = redial(&alice, &mut alice_up, &mut bob_up).await;
        assert_eq!(refused, None, "round {round}");
        // Stay well under the server's rate limit (50 requests a second).
        tokio::time::sleep(PACE).await;
    }
}

/// As above, with the `callCancel` of a cancelled outgoing call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calling_again_right_after_cancelling_is_not_refused_as_already_in_a_call() {
    let server = TestServer::start().await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (_bob, mut bob_up) = manager(&server.url(), "bob", "bob-1").await;
    for round in 0..40 {
        ring(
            &alice,
            &mut alice_up,
            &mut [&mut bob_up],
            &["bob"],
            CallType::Voice,
        )
        .await;
        alice.cancel().await.unwrap();
        alice.call(users(&["bob"]), CallType::Voice).await.unwrap();
        assert_eq!(outcome(&mut alice_up).await, Outcome::Cancelled);
        assert_eq!(outcome(&mut bob_up).await, Outcome::CancelledByCaller);
        let refused = redial(&alice, &mut alice_up, &mut bob_up).await;
        assert_eq!(refused, None, "round {round}");
        // Stay well under the server's rate limit (50 requests a second).
        tokio::time::sleep(PACE).await;
    }
}

/// An accept whose answer is lost with the connection may still have been applied by the
/// server: the manager must learn the outcome after reconnecting rather than give up, or
/// the user would stay in the call on the server (the caller talking to nobody, every new
/// call refused with `alreadyInCall`).
#[tokio::test]
async fn an_accept_whose_answer_is_lost_with_the_connection_does_not_leave_the_user_in_the_call() {
    let server = TestServer::start().await;
    let proxy = StallProxy::start(server.addr).await;
    let (alice, mut alice_up) = manager(&server.url(), "alice", "alice-1").await;
    let (bob, mut bob_up) = manager(&proxy.url(), "bob", "bob-1").await;
    let id = ring(
        &alice,
        &mut alice_up,
        &mut [&mut bob_up],
        &["bob"],
        CallType::Voice,
    )
    .await;

    // The accept reaches the server; its answer does not reach bob.
    proxy.stall();
    bob.accept().await.unwrap();
    let (by, _) = accepted(&mut alice_up).await;
    assert_eq!(by, "bob");
    proxy.cut_and_block();
    let (out, _, s) = finished(&mut bob_up).await;
    assert!(matches!(out, Outcome::Failed { .. }), "{out:?}");
    assert_eq!(s.phase, Phase::Free);

    // Back online, bob is out of the call on the server too.
    proxy.unblock();
    let ended = outcome(&mut alice_up).await;
    assert!(matches!(ended, Outcome::EndedByPeer { .. }), "{ended:?}");
    let history = alice.history(10).await.unwrap();
    let call = history
        .iter()
        .find(|c| c.call_id == id)
        .expect("in history");
    assert_eq!(call.state, CallState::Ended);
    let (_carol, mut carol_up) = manager(&server.url(), "carol", "carol-1").await;
    ring(
        &bob,
        &mut bob_up,
        &mut [&mut carol_up],
        &["carol"],
        CallType::Voice,
    )
    .await;
    bob.cancel().await.unwrap();
    assert_eq!(outcome(&mut carol_up).await, Outcome::CancelledByCaller);
}

/// Seen once over real sockets under load: the accept's answer and the
/// server's events reach the machine through different channels, so "the call ended"
/// (the caller hung up just after the accept landed) can be handled before "your accept
/// went through". The machine must not say `CancelledByCaller` for a call the
/// user answered.
#[test]
fn a_call_ended_just_after_this_user_accepted_it_is_ended_by_the_peer_not_cancelled() {
    let user = |id: &str, state| CallUserInfo {
        user_id: id.into(),
        state,
        extended_data: String::new(),
        reason: None,
        inviter: "alice".into(),
        update_time: 1,
    };
    let mut m = Machine::new("bob", "bob name", MachineConfig::default());
    m.event(
        Event::InvitationReceived(InvitationInfo {
            call_id: "c1".into(),
            caller: "alice".into(),
            caller_name: "alice name".into(),
            inviter: "alice".into(),
            mode: CallMode::Advanced,
            timeout: 60,
            create_time: 1,
            expire_time: None,
            extended_data: String::new(),
            push_config: None,
            call_user_list: vec![
                user("alice", CallUserState::Accepted),
                user("bob", CallUserState::Received),
            ],
        }),
        1,
    );
    let sent = m.intent(Intent::Accept { call_id: None }, 2).unwrap();
    let accept = sent
        .iter()
        .find_map(|e| match e {
            Effect::Send {
                op,
                request: Op::Accept { .. },
            } => Some(*op),
            _ => None,
        })
        .unwrap();
    let mut effects = m.event(
        Event::InvitationEnded(CallInvitationEnded {
            call_id: "c1".into(),
            caller: "alice".into(),
            mode: CallMode::Advanced,
            operated_user_id: "alice".into(),
            extended_data: String::new(),
            end_time: 3,
        }),
        3,
    );
    effects.extend(m.done(accept, OpResult::Done, 4));
    let outcomes: Vec<Outcome> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(u) => match &u.notice {
                Notice::Finished { outcome, .. } => Some(outcome.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert!(
        matches!(outcomes.as_slice(), [Outcome::EndedByPeer { .. }]),
        "{outcomes:?}"
    );
    assert_eq!(m.phase(), Phase::Free);
}
