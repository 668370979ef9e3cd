//! Heartbeats for clients that have been quiet, so long phases or a slow login phase do not
//! let the server time sessions out. Only quiet clients are pinged: the server counts any
//! frame as a sign of life, and pinging busy ones would only add load to the measurement.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::logins::Registry;

/// Ping a client once it has been quiet this long, or the server's announced heartbeat
/// interval if that is shorter.
const QUIET: Duration = Duration::from_secs(5);
const HEARTBEAT_BUDGET: Duration = Duration::from_secs(10);

/// Runs until aborted.
pub fn spawn(registry: Registry) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let announced = registry.heartbeat_interval_ms.load(Ordering::Relaxed);
            let quiet = QUIET.min(Duration::from_millis(announced));
            let clients = match registry.clients.lock() {
                Ok(all) => all.clone(),
                Err(_) => return,
            };
            for client in clients {
                if client.since_last_send() >= quiet && !client.is_closed() {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(HEARTBEAT_BUDGET, client.heartbeat()).await;
                    });
                }
            }
        }
    })
}
