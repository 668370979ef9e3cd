//! Settings are tried against the real server before they are saved: each way of getting
//! them wrong is refused with a sentence naming the field to fix, nothing is saved, and
//! settings that work are saved and signed in.

use std::time::Duration;

use beckon_app::{AppState, CommandError, HostEvent, Settings, SettingsField};
use beckon_client::Connection;
use beckon_server::auth::{mint, AuthMode};
use beckon_testkit::TestServer;

const SECRET: &[u8] = b"sign-in-test-secret";

fn alice(server_url: &str, token: Option<String>) -> Settings {
    Settings {
        server_url: server_url.into(),
        user_id: "alice".into(),
        user_name: "Alice Martin".into(),
        token,
    }
}

/// Saves and expects a refusal about `field` whose sentence contains `words`.
async fn refused(state: &AppState, settings: Settings, field: SettingsField, words: &str) {
    let err: CommandError = state
        .save(settings.clone())
        .await
        .expect_err(&format!("{settings:?} was accepted"));
    assert_eq!(err.field, Some(field), "{settings:?}: {err}");
    assert!(err.message.contains(words), "{settings:?}: {err}");
}

#[tokio::test]
async fn settings_that_cannot_sign_in_are_refused_at_their_field_and_not_saved() {
    let server = TestServer::start_with(|c| {
        c.auth = AuthMode::Token {
            secret: SECRET.to_vec(),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(dir.path().to_owned());
    let url = server.url();
    let port = url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .unwrap();

    // Nothing listens on port 1.
    refused(
        &state,
        alice("http://127.0.0.1:1/ws", None),
        SettingsField::ServerUrl,
        "Cannot reach the server at 127.0.0.1:1",
    )
    .await;
    // The right server, the wrong path.
    refused(
        &state,
        alice(&format!("ws://127.0.0.1:{port}/calls"), None),
        SettingsField::ServerUrl,
        "not a Beckon server at this path (HTTP 404)",
    )
    .await;
    refused(
        &state,
        alice(&url, None),
        SettingsField::Token,
        "needs an access token",
    )
    .await;
    refused(
        &state,
        alice(&url, Some("not-a-token".into())),
        SettingsField::Token,
        "The token was refused",
    )
    .await;
    let long_name = Settings {
        user_name: "x".repeat(300),
        ..alice(&url, None)
    };
    refused(&state, long_name, SettingsField::UserName, "256 bytes").await;
    assert!(
        !dir.path().join("settings.json").exists(),
        "refused settings were saved"
    );
    assert!(state.view().await.settings.is_none());

    // Typed as a bare host:port, with a good token: converted, saved, signed in.
    let token = mint(SECRET, "alice", Duration::from_secs(600)).unwrap();
    let mut events = state.subscribe();
    state
        .save(alice(&format!("127.0.0.1:{port}"), Some(token)))
        .await
        .expect("good settings sign in");
    let saved = state.view().await.settings.expect("saved");
    assert_eq!(saved.server_url, format!("ws://127.0.0.1:{port}/ws"));
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(HostEvent::Update(u)) = events.recv().await {
                if u.snapshot.connection == Connection::Connected {
                    break;
                }
            }
        }
    })
    .await
    .expect("connected within 10 s");

    // Signing out forgets the account: the next start asks again.
    state.sign_out().await.unwrap();
    assert!(state.view().await.settings.is_none());
    assert!(state.manager().await.is_err(), "still signed in");
    assert!(!dir.path().join("settings.json").exists());
    loop {
        match events.try_recv() {
            Ok(HostEvent::Settings(None)) => break,
            Ok(_) => {}
            Err(e) => panic!("no signed-out event: {e}"),
        }
    }
    state.shut_down().await;
}
