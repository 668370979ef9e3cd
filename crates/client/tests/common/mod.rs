//! Shared by the client's integration tests: the real server and the TCP proxy (from
//! beckon-testkit), clients and managers set up for tests, and waiting helpers.
#![allow(dead_code)]

pub mod calls;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use beckon_client::manager::{MachineConfig, Notice, Outcome, Phase, Update};
use beckon_client::{Backoff, CallManager, Client, ClientConfig, Event, Events, Updates};
#[allow(unused_imports)]
pub use beckon_testkit::{Proxy, TestServer};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(10);

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

/// A throwaway signed-in user whose invitation marks a point in another user's event
/// stream: the server sends it after everything it sent that user before. Each marker has
/// its own user ID. Right after a reconnect one marker is not enough: the client's
/// catch-up may hand out a marker that arrived during its history query before the events
/// it reports from that query, so a second marker, sent once the first is seen, closes it.
pub async fn marker(url: &str) -> Client {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    client(url, &format!("marker{n}"), "marker").await.0
}

/// Rings `user` from `marker` in a normal-mode call; returns the call's ID.
pub async fn send_marker(marker: &Client, user: &str) -> String {
    let invite = beckon_protocol::CallInvite {
        invitees: vec![user.to_string()],
        timeout: Some(60),
        mode: beckon_protocol::CallMode::Normal,
        extended_data: String::new(),
        push_config: None,
    };
    marker.call_invite(invite).await.unwrap().call_id
}

/// Everything reported to `user` before now: its events up to two marker invitations one
/// after the other (see [`marker`]), leaving out those about the markers' calls. Waits for
/// positive events, so it neither passes before the events it is meant to catch have
/// arrived nor depends on how fast the machine is.
pub async fn until_marker(url: &str, events: &mut Events, user: &str) -> Vec<Event> {
    let mut before = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = marker(url).await;
        let id = send_marker(&m, user).await;
        ids.push(id.clone());
        wait_event(events, "the marker invitation", |e| match e {
            Event::InvitationReceived(i) if i.call_id == id => Some(()),
            other => {
                before.push(other.clone());
                None
            }
        })
        .await;
        m.shutdown().await;
    }
    let of_marker = |e: &Event| {
        let call_id = match e {
            Event::InvitationReceived(i) => &i.call_id,
            Event::MissedWhileAway(c) => &c.call_id,
            Event::InvitationCancelled(c) => &c.call_id,
            Event::InvitationTimeout(t) => &t.call_id,
            Event::InvitationEnded(e) => &e.call_id,
            Event::UserStateChanged(c) => &c.call_id,
            _ => return false,
        };
        ids.contains(call_id)
    };
    before.retain(|e| !of_marker(e));
    before
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
