//! Three beckon-server processes on one PostgreSQL and one NATS: what only separate
//! processes can show. A node killed with SIGKILL (the leader, or the node holding the
//! caller), and NATS itself restarted, while a call rings. The integration suites run
//! across nodes too, in-process (`BECKON_TEST_CLUSTER=1`, see beckon-testkit).
mod common;

use std::time::Duration;

use beckon_client::Requests;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use beckon_testkit::nats::NatsServer;
use beckon_testkit::process::ServerProcess;
use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_beckon-server");
/// Short, so a dead node's devices count as gone soon; every client here heartbeats.
const HEARTBEAT_SECS: u64 = 2;
/// How long a node may be silent before the leader counts it as gone (the server's
/// `NODE_SILENCE`), plus a beacon's period of lateness.
const NODE_GONE_WITHIN: Duration = Duration::from_secs(4);

use beckon_protocol::now_unix_ms as now_ms;

struct Cluster {
    dir: tempfile::TempDir,
    db: String,
    nats: NatsServer,
    nodes: Vec<ServerProcess>,
}

impl Cluster {
    /// Three nodes; the first is started alone and so leads.
    async fn start() -> Cluster {
        let mut cluster = Cluster {
            dir: tempfile::tempdir().unwrap(),
            db: beckon_testkit::postgres::fresh_database()
                .expose()
                .to_string(),
            nats: NatsServer::start(),
            nodes: Vec::new(),
        };
        for i in 0..3 {
            let node = cluster.node(i).await;
            cluster.nodes.push(node);
        }
        assert!(cluster.nodes[0].log_text().contains("leading the cluster"));
        cluster
    }

    async fn node(&self, i: usize) -> ServerProcess {
        let args = [
            "--db",
            &self.db,
            "--nats",
            &self.nats.url(),
            "--auth",
            "open",
            "--heartbeat-timeout",
            &HEARTBEAT_SECS.to_string(),
        ]
        .map(String::from);
        let log = self.dir.path().join(format!("node-{i}.log"));
        ServerProcess::start(BIN, log, &args).await
    }

    fn url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            all += &format!("--- node {i}\n{}", n.log_text());
        }
        all
    }
}

/// Waits for the node to close the session with `serverShutdown` (a new leader, or NATS
/// back), then logs the same device in again at `url`.
async fn relogin(user: &mut User, url: &str) {
    let reason = user
        .wait_long(Duration::from_secs(10), "sessionClosed", |e| match e {
            ServerMessage::SessionClosed(c) => Some(c.reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, CloseReason::ServerShutdown);
    *user = login_at(url, &user.id).await;
}

#[tokio::test]
async fn a_killed_leader_ringing_call_still_times_out_at_its_deadline() {
    let mut c = Cluster::start().await;
    let mut alice = login_at(&c.url(1), "alice").await;
    let mut bob = login_at(&c.url(2), "bob").await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 6).await;
    let rung = bob.received().await;
    let deadline = sent.create_time + 6_000;

    c.nodes[0].kill();
    let killed = std::time::Instant::now();
    // A new leader took over: every node's clients log in again and catch up.
    relogin(&mut alice, &c.url(1)).await;
    relogin(&mut bob, &c.url(2)).await;
    eprintln!("both back {:?} after the kill", killed.elapsed());
    let again = bob.received().await;
    assert_eq!(again.call_id, rung.call_id);
    assert_eq!(again.create_time, rung.create_time, "the same invitation");

    let limit = Duration::from_millis(deadline.saturating_sub(now_ms()) + 5_000);
    bob.wait_long(limit, "callInvitationTimeout", |e| match e {
        ServerMessage::CallInvitationTimeout(t) if t.call_id == sent.call_id => Some(()),
        _ => None,
    })
    .await;
    let fired = now_ms();
    eprintln!(
        "timed out {} ms after the deadline",
        fired as i64 - deadline as i64
    );
    assert!(
        fired + 50 >= deadline && fired <= deadline + 2_000,
        "deadline {deadline}, fired {fired}:\n{}",
        c.logs()
    );
    alice.wait_state("bob", Timeout).await;
    let call = history_call(&alice, &sent.call_id).await;
    assert_eq!(state_in(&call.call_user_list, "bob"), Timeout);
    assert_eq!(call.state, CallState::Ended);
}

#[tokio::test]
async fn the_callers_node_killed_cancels_the_invitation_on_the_other_nodes() {
    let mut c = Cluster::start().await;
    let alice = login_at(&c.url(1), "alice").await;
    let mut bob = login_at(&c.url(2), "bob").await;
    let mut bob_on_leader = {
        let (client, events) = beckon_client::wire::WireClient::connect(&c.url(0))
            .await
            .unwrap();
        client
            .login("bob", "bob name", None, Some("bob-2".to_string()))
            .await
            .unwrap();
        keepalive(&client);
        User {
            id: "bob".into(),
            client,
            events,
        }
    };
    let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
    bob.received().await;
    bob_on_leader.received().await;

    c.nodes[1].kill();
    let limit = NODE_GONE_WITHIN + Duration::from_secs(HEARTBEAT_SECS + 3);
    for b in [&mut bob, &mut bob_on_leader] {
        let cancelled = b
            .wait_long(limit, "callInvitationCancelled", |e| match e {
                ServerMessage::CallInvitationCancelled(x) if x.call_id == sent.call_id => {
                    Some(x.clone())
                }
                _ => None,
            })
            .await;
        assert_eq!(cancelled.reason, StateReason::CallerGone, "{}", c.logs());
    }
    let call = history_call(&bob, &sent.call_id).await;
    assert_eq!(state_in(&call.call_user_list, "bob"), Cancelled);
    assert_eq!(call.state, CallState::Ended);
}

/// The SDK's client, as an app has it: it reconnects by itself, with test-fast backoff.
async fn sdk(url: &str, user: &str) -> (beckon_client::Client, beckon_client::Events) {
    let mut config = beckon_client::ClientConfig::new(url, user)
        .user_name(format!("{user} name"))
        .device_id(format!("{user}-1"));
    config.backoff = beckon_client::Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
    };
    beckon_client::Client::connect(config).await.unwrap()
}

/// Skips the SDK's events until `f` picks one; panics after `limit`.
async fn sdk_event<T>(
    events: &mut beckon_client::Events,
    limit: Duration,
    what: &str,
    mut f: impl FnMut(&beckon_client::Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next_timeout(left).await {
            Some(e) => {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            None => panic!("no {what} within {limit:?}"),
        }
    }
}

#[tokio::test]
async fn a_nats_restart_loses_nothing_and_clients_catch_up() {
    use beckon_client::{ConnectionState, Event};
    let c = Cluster::start().await;
    let (alice, mut a) = sdk(&c.url(1), "alice").await;
    let (bob, mut b) = sdk(&c.url(2), "bob").await;
    let rung = |id: String| {
        move |e: &Event| matches!(e, Event::InvitationReceived(i) if i.call_id == id).then_some(())
    };
    let done = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 60))
        .await
        .unwrap();
    sdk_event(&mut b, WAIT, "the first call", rung(done.call_id.clone())).await;
    bob.call_reject(&done.call_id, "no", RejectReason::Declined)
        .await
        .unwrap();
    let ringing = alice
        .call_invite(invite(&["bob"], CallMode::Normal, 60))
        .await
        .unwrap();
    sdk_event(
        &mut b,
        WAIT,
        "the second call",
        rung(ringing.call_id.clone()),
    )
    .await;

    c.nats.stop();
    c.nats.start_again();
    // Each node starts its sessions over once NATS is back (the leader's loss may
    // restart them once more); the clients come back by themselves.
    let back =
        |e: &Event| matches!(e, Event::Connection(ConnectionState::Connected { .. })).then_some(());
    sdk_event(&mut a, Duration::from_secs(20), "alice back", back).await;
    sdk_event(&mut b, Duration::from_secs(20), "bob back", back).await;

    // The call still rings: bob answers as soon as the cluster hears him, and alice is
    // told, however many times her session started over meanwhile.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match bob.call_accept(&ringing.call_id, "").await {
            Ok(_) => break,
            // Accepted, its answer lost with a restarted session.
            Err(e) if e.state() == Some(Accepted) => break,
            Err(e) if e.is_retryable() || e.code() == Some(ErrorCode::NotLoggedIn) => {
                // The request met a session starting over: try again once bob is back.
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                sdk_event(&mut b, left, &format!("bob back after {e}"), back).await;
            }
            Err(e) => panic!("{e}:\n{}", c.logs()),
        }
    }
    sdk_event(
        &mut a,
        Duration::from_secs(20),
        "bob accepted",
        |e| match e {
            Event::UserStateChanged(x) if x.call_id == ringing.call_id => x
                .call_user_list
                .iter()
                .any(|u| u.user_id == "bob" && u.state == Accepted)
                .then_some(()),
            _ => None,
        },
    )
    .await;
    // The call before the outage is as it was.
    let list = alice.query_call_list(10, 0).await.unwrap();
    let before = list
        .call_list
        .iter()
        .find(|call| call.call_id == done.call_id)
        .expect("the first call in alice's history");
    assert_eq!(state_in(&before.call_user_list, "bob"), Rejected);
}

#[tokio::test]
async fn a_leader_stopped_with_sigterm_hands_over_and_calls_go_on() {
    let mut c = Cluster::start().await;
    let mut alice = login_at(&c.url(1), "alice").await;
    let mut bob = login_at(&c.url(2), "bob").await;
    let status = c.nodes[0].terminate().await;
    assert!(status.success(), "{status}:\n{}", c.logs());
    relogin(&mut alice, &c.url(1)).await;
    relogin(&mut bob, &c.url(2)).await;
    let sent = alice.invite(&["bob"], CallMode::Normal, 60).await;
    assert_eq!(bob.received().await.call_id, sent.call_id);
    bob.client.call_accept(&sent.call_id, "").await.unwrap();
    alice.wait_state("bob", Accepted).await;
    // Exactly one of the two left leads, and its metrics say so; both restarted their
    // sessions once, for the new leader.
    let mut leaders = 0;
    for node in &c.nodes[1..] {
        let (_, metrics) = http_get(&format!("http://127.0.0.1:{}", node.port), "/metrics").await;
        let leads = node.log_text().contains("leading the cluster");
        let gauge = format!("beckon_cluster_leader {}", u8::from(leads));
        assert!(metrics.contains(&gauge), "{gauge}:\n{metrics}");
        assert!(
            metrics.contains(r#"beckon_cluster_session_restarts_total{why="leader"} 1"#),
            "{metrics}"
        );
        leaders += usize::from(leads);
    }
    assert_eq!(leaders, 1, "{}", c.logs());
}
