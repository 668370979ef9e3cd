//! A call missed while the app was not running is told at the next start, the way a call
//! missed while offline is: the app remembers when it last saw the server.

mod common;

use beckon_app::AppState;
use beckon_client::manager::Notice;
use beckon_client::CallType;
use beckon_protocol::{CallCancel, CallInvite, CallMode};
use beckon_testkit::TestServer;
use common::{bob_signed_in, until};

#[tokio::test]
async fn a_call_missed_while_the_app_was_closed_is_told_at_the_next_start() {
    let server = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Bob's app runs, signs in, and quits.
    let (app, _events) = bob_signed_in(dir.path(), server.url()).await;
    app.shut_down().await;
    drop(app);

    // Alice calls and gives up while it is closed.
    let (alice, _events) = beckon_client::Client::connect(
        beckon_client::ClientConfig::new(server.url(), "alice").user_name("Alice Martin"),
    )
    .await
    .unwrap();
    let call = alice
        .call_invite(CallInvite {
            invitees: vec!["bob".into()],
            timeout: Some(60),
            mode: CallMode::Normal,
            extended_data: String::new(),
            push_config: None,
        })
        .await
        .unwrap();
    alice
        .call_cancel(CallCancel {
            call_id: call.call_id.clone(),
            invitees: vec![],
            extended_data: String::new(),
        })
        .await
        .unwrap();

    // Bob starts the app again.
    let app = AppState::new(dir.path().to_owned());
    let mut events = app.subscribe();
    app.resume().await;
    let (call_id, caller, answered) =
        until(&mut events, "missed-call notice", |u| match &u.notice {
            Notice::MissedWhileAway {
                call_id,
                caller_id,
                call_type: CallType::Voice,
                answered,
                ..
            } => Some((call_id.clone(), caller_id.clone(), *answered)),
            _ => None,
        })
        .await;
    assert_eq!(
        (call_id, caller.as_str(), answered),
        (call.call_id, "alice", false)
    );
    app.shut_down().await;
}
