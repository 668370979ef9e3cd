//! Do not disturb: a caller hears busy and nothing rings; it survives a restart.

use std::time::Duration;

use beckon_app::{AppState, HostEvent, Settings};
use beckon_client::manager::Notice;
use beckon_client::{CallManager, CallType, ClientConfig, Connection, MachineConfig, Outcome};
use beckon_testkit::TestServer;
use tokio::sync::broadcast;

const WAIT: Duration = Duration::from_secs(10);

async fn until(
    events: &mut broadcast::Receiver<HostEvent>,
    what: &str,
    ok: impl Fn(&beckon_client::Update) -> bool,
) {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(HostEvent::Update(u)) = events.recv().await {
                if ok(&u) {
                    return;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"));
}

#[tokio::test]
async fn callers_hear_busy_nothing_rings_and_it_survives_a_restart() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let bob = AppState::new(dir.path().to_owned());
    let mut events = bob.subscribe();
    bob.save(Settings {
        server_url: server.url(),
        user_id: "bob".into(),
        user_name: "Bob Stone".into(),
        token: None,
    })
    .await
    .unwrap();
    until(&mut events, "connection", |u| {
        u.snapshot.connection == Connection::Connected
    })
    .await;
    bob.set_do_not_disturb(true).await.unwrap();
    until(&mut events, "do not disturb", |u| u.snapshot.do_not_disturb).await;

    let (alice, mut alice_up) = CallManager::start(
        ClientConfig::new(server.url(), "alice"),
        MachineConfig::default(),
    );
    tokio::time::timeout(WAIT, async {
        while let Some(u) = alice_up.next().await {
            if u.snapshot.connection == Connection::Connected {
                return;
            }
        }
    })
    .await
    .expect("alice signs in");
    alice
        .call(vec!["bob".into()], CallType::Voice)
        .await
        .unwrap();
    let outcome = tokio::time::timeout(WAIT, async {
        while let Some(u) = alice_up.next().await {
            if let Notice::Finished { outcome, .. } = u.notice {
                return outcome;
            }
        }
        panic!("alice's updates ended");
    })
    .await
    .expect("alice's call ends");
    assert_eq!(outcome, Outcome::Busy);
    // Bob was told (his recent calls refresh), and never rang.
    until(&mut events, "declined-as-busy notice", |u| {
        matches!(u.notice, Notice::RejectedBusy { .. })
    })
    .await;
    assert!(bob.view().await.snapshot.unwrap().call.is_none());

    bob.shut_down().await;
    drop(bob);
    let bob = AppState::new(dir.path().to_owned());
    bob.resume().await;
    assert!(
        bob.view().await.snapshot.unwrap().do_not_disturb,
        "kept across a restart"
    );
    bob.set_do_not_disturb(false).await.unwrap();
    bob.shut_down().await;
}
