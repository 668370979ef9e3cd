//! The server's resident memory, sampled every 100 ms, with a peak per phase. It also
//! guards the machine: past the cap, the abuse is stopped.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::server::proc_status_kib;

const EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Before = 0,
    During = 1,
    After = 2,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Peaks {
    pub before_kib: u64,
    pub during_kib: u64,
    pub last_kib: u64,
    /// Seconds into the abuse phase when the cap was passed, if it was.
    pub capped_at: Option<f64>,
}

pub struct Sampler {
    phase: Arc<AtomicU8>,
    peaks: Arc<Mutex<Peaks>>,
    task: JoinHandle<()>,
}

impl Sampler {
    /// Samples `pid` until dropped; past `cap_kib` during the abuse it sets `stop_abuse`.
    pub fn spawn(pid: u32, cap_kib: u64, stop_abuse: Arc<watch::Sender<bool>>) -> Sampler {
        let phase = Arc::new(AtomicU8::new(Phase::Before as u8));
        let peaks = Arc::new(Mutex::new(Peaks::default()));
        let task = {
            let (phase, peaks) = (phase.clone(), peaks.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(EVERY);
                let mut during_since = None;
                loop {
                    tick.tick().await;
                    let Some(rss) = proc_status_kib(pid, "VmRSS:") else {
                        return;
                    };
                    let now = phase.load(Ordering::Relaxed);
                    let Ok(mut p) = peaks.lock() else { return };
                    p.last_kib = rss;
                    if now == Phase::Before as u8 {
                        p.before_kib = p.before_kib.max(rss);
                    } else if now == Phase::During as u8 {
                        let since = *during_since.get_or_insert_with(Instant::now);
                        p.during_kib = p.during_kib.max(rss);
                        if rss > cap_kib && p.capped_at.is_none() {
                            p.capped_at = Some(since.elapsed().as_secs_f64());
                            stop_abuse.send_replace(true);
                        }
                    }
                }
            })
        };
        Sampler { phase, peaks, task }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }

    pub fn peaks(&self) -> Peaks {
        self.peaks.lock().map(|p| *p).unwrap_or_default()
    }

    /// Reads the peaks from another task.
    pub fn peaks_handle(&self) -> impl Fn() -> Peaks + Send + 'static {
        let peaks = self.peaks.clone();
        move || peaks.lock().map(|p| *p).unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}
