//! Shared by the client's integration tests: the real server and the TCP proxy (from
//! beckon-testkit), clients and managers set up for tests, and waiting helpers.
#![allow(dead_code)]

use std::time::Duration;

use beckon_client::manager::{MachineConfig, Notice, Outcome, Phase, Update};
use beckon_client::{Backoff, CallManager, Client, ClientConfig, Event, Events, Updates};
#[allow(unused_imports)]
pub use beckon_testkit::{Proxy, TestServer};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long a test listens to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(400);

/// Fast reconnects, so tests do not wait on production backoff.
pub fn config(url: &str, user: &str, device: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url, user)
        .user_name(format!("{user} name"))
        .device_id(device);
    c.backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
    };
    c
}

pub async fn client(url: &str, user: &str, device: &str) -> (Client, Events) {
    Client::connect(config(url, user, device)).await.unwrap()
}

pub async fn manager(url: &str, user: &str, device: &str) -> (CallManager, Updates) {
    manager_with(url, user, device, MachineConfig::default()).await
}

pub async fn manager_with(
    url: &str,
    user: &str,
    device: &str,
    machine: MachineConfig,
) -> (CallManager, Updates) {
    let (client, events) = client(url, user, device).await;
    let (m, mut updates) = CallManager::with_client(client, events, machine);
    wait_update(&mut updates, "connected", |u| {
        matches!(
            u.snapshot.connection,
            beckon_client::manager::Connection::Connected
        )
    })
    .await;
    (m, updates)
}

/// Skips events until `f` picks one; panics after `WAIT`.
pub async fn wait_event<T>(
    events: &mut Events,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next_timeout(left).await {
            Some(e) => {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            None => panic!("no {what} within {WAIT:?}"),
        }
    }
}

/// Everything that arrives within `d`.
pub async fn collect(events: &mut Events, d: Duration) -> Vec<Event> {
    let deadline = tokio::time::Instant::now() + d;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match events.next_timeout(left).await {
            Some(e) => out.push(e),
            None => return out,
        }
    }
}

pub async fn wait_update(
    updates: &mut Updates,
    what: &str,
    mut f: impl FnMut(&Update) -> bool,
) -> Update {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match updates.next_timeout(left).await {
            Some(u) if f(&u) => return u,
            Some(_) => {}
            None => panic!("no update '{what}' within {WAIT:?}"),
        }
    }
}

pub async fn wait_phase(updates: &mut Updates, phase: Phase) -> Update {
    wait_update(updates, &format!("{phase:?}"), |u| {
        u.snapshot.phase == phase
    })
    .await
}

/// The outcome of the next call to finish.
pub async fn outcome(updates: &mut Updates) -> Outcome {
    let u = wait_update(updates, "finished", |u| {
        matches!(u.notice, Notice::Finished { .. })
    })
    .await;
    match u.notice {
        Notice::Finished { outcome, .. } => outcome,
        _ => unreachable!(),
    }
}
