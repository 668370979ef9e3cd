//! Heartbeats for clients that have been quiet, so long phases or a slow login phase do not
//! let the server time sessions out. Only quiet clients are pinged: the server counts any
//! frame as a sign of life, and pinging busy ones would only add load to the measurement.
//!
//! The clients are swept a slice at a time, each once per period, so the heartbeats of
//! idle clients arrive evenly spread. Looking at everyone once a second sent them all in
//! one burst (about 3,800 at 19,000 clients), and that burst, not the server, made the
//! bench's latency tail.

use beckon_client::Requests;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::logins::Registry;

/// Each client is looked at once per this period (or the server's announced heartbeat
/// interval, if shorter) and pinged if it has been quiet for a whole period. So no client
/// is silent for two periods (10 s, against the server's announced 10 s interval and its
/// 30 s timeout of three intervals), while one that sends at least once a period is never
/// pinged.
const PERIOD: Duration = Duration::from_secs(5);
/// How often a slice is swept: fine enough that each slice is small.
const STEP: Duration = Duration::from_millis(20);
const HEARTBEAT_BUDGET: Duration = Duration::from_secs(10);

/// Runs until aborted.
pub fn spawn(registry: Registry) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep = Sweep::default();
        loop {
            tick.tick().await;
            let announced = registry.heartbeat_interval_ms.load(Ordering::Relaxed);
            let period = PERIOD.min(Duration::from_millis(announced));
            let slice = match registry.clients.lock() {
                Ok(all) => sweep
                    .next(all.len(), steps_per(period))
                    .map(|i| all[i].clone())
                    .collect::<Vec<_>>(),
                Err(_) => return,
            };
            for client in slice {
                if client.since_last_send() >= period && !client.is_closed() {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(HEARTBEAT_BUDGET, client.heartbeat()).await;
                    });
                }
            }
        }
    })
}

fn steps_per(period: Duration) -> usize {
    (period.as_millis() / STEP.as_millis()).max(1) as usize
}

/// Where the sweep is: the next client to look at, and the step within the period. Step
/// `k` of `p` covers clients `n*k/p .. n*(k+1)/p` in integers, so a period covers each
/// of `n` clients exactly once however `n` and `p` divide.
#[derive(Debug, Default)]
struct Sweep {
    cursor: usize,
    step: usize,
}

impl Sweep {
    /// Indices of the clients to look at this step, out of `n`, with `steps` per period.
    fn next(&mut self, n: usize, steps: usize) -> impl Iterator<Item = usize> {
        let steps = steps.max(1);
        let k = self.step % steps;
        self.step = self.step.wrapping_add(1);
        let take = if n == 0 {
            0
        } else {
            n * (k + 1) / steps - n * k / steps
        };
        let start = if n == 0 { 0 } else { self.cursor % n };
        self.cursor = start + take;
        (start..start + take).map(move |i| i % n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_is_looked_at_once_per_period_in_even_slices() {
        let mut sweep = Sweep::default();
        let mut seen = vec![0u32; 1000];
        let mut sizes = Vec::new();
        // 250 steps of 1/250 each: one period.
        for _ in 0..250 {
            let slice: Vec<usize> = sweep.next(1000, 250).collect();
            sizes.push(slice.len());
            for i in slice {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&k| k == 1), "{seen:?}");
        assert!(sizes.iter().all(|&s| s == 4), "{sizes:?}");
    }

    #[test]
    fn few_clients_are_spread_too_and_new_ones_join_the_sweep() {
        let mut sweep = Sweep::default();
        let per_step: Vec<usize> = (0..50).map(|_| sweep.next(10, 50).count()).collect();
        assert_eq!(per_step.iter().sum::<usize>(), 10);
        assert!(per_step.iter().all(|&k| k <= 1));
        assert_eq!(sweep.next(0, 50).count(), 0);
        let mut seen = vec![0u32; 20];
        for _ in 0..50 {
            for i in sweep.next(20, 50) {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&k| k == 1), "{seen:?}");
    }
}
