//! What the app-core tests share: a signed-in app on a real server, and waiting for an update.

use std::path::Path;
use std::time::Duration;

use beckon_app::{AppState, HostEvent, Settings};
use beckon_client::{Connection, Update};
use tokio::sync::broadcast;

pub const WAIT: Duration = Duration::from_secs(10);

/// The first update `pick` takes something from, within [`WAIT`].
pub async fn until<T>(
    events: &mut broadcast::Receiver<HostEvent>,
    what: &str,
    mut pick: impl FnMut(&Update) -> Option<T>,
) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(HostEvent::Update(u)) = events.recv().await {
                if let Some(t) = pick(&u) {
                    return t;
                }
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// Bob's app with its settings in `dir`, signed in to `server_url` and connected.
pub async fn bob_signed_in(
    dir: &Path,
    server_url: String,
) -> (AppState, broadcast::Receiver<HostEvent>) {
    let app = AppState::new(dir.to_owned());
    let mut events = app.subscribe();
    app.save(Settings {
        server_url,
        user_id: "bob".into(),
        user_name: "Bob Stone".into(),
        token: None,
    })
    .await
    .unwrap();
    until(&mut events, "connection", |u| {
        (u.snapshot.connection == Connection::Connected).then_some(())
    })
    .await;
    (app, events)
}
