//! Do not disturb: a caller hears busy and nothing rings; it survives a restart.

mod common;

use beckon_app::AppState;
use beckon_client::manager::Notice;
use beckon_client::{CallManager, CallType, ClientConfig, Connection, MachineConfig, Outcome};
use beckon_testkit::TestServer;
use common::{bob_signed_in, until, WAIT};

#[tokio::test]
async fn callers_hear_busy_nothing_rings_and_it_survives_a_restart() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (bob, mut events) = bob_signed_in(dir.path(), server.url()).await;
    bob.set_do_not_disturb(true).await.unwrap();
    until(&mut events, "do not disturb", |u| {
        u.snapshot.do_not_disturb.then_some(())
    })
    .await;

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
        matches!(u.notice, Notice::RejectedBusy { .. }).then_some(())
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
