//! Phases 2 and 3: pairs of clients where one invites and the other answers, as fast as
//! possible or at a fixed rate, measuring completed invitations and how long each took to
//! ring on the invitee.

use beckon_client::Requests;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beckon_client::WireError;
use beckon_protocol::{
    CallCancel, CallInvite, CallMode, CallUserState, RejectReason, ServerMessage,
};
use hdrhistogram::Histogram;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::args::Answer;
use crate::logins::Client;

/// How long a caller waits for its invitee's answer before giving up on that call.
const ANSWER_BUDGET: Duration = Duration::from_secs(10);
/// Invitees keep answering this long past the phase deadline at most, even if told
/// nothing, so a lost stop signal cannot hang the bench.
const INVITEE_GRACE: Duration = Duration::from_secs(30);

pub struct Pair {
    pub caller: Client,
    pub invitee: Client,
}

#[derive(Debug, Clone, Copy)]
pub enum Pacing {
    /// Each caller invites again as soon as the previous call has ended.
    FlatOut,
    /// Invitations per second over all pairs, each pair on its own staggered interval.
    Rate(f64),
}

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub duration: Duration,
    pub answer: Answer,
    pub invite_timeout: u32,
    /// Bytes of `extendedData` on each invitation and each answer (stored with the call,
    /// so it sizes the members' history).
    pub extended_data_bytes: usize,
}

pub struct PhaseResult {
    /// callInvite responses that arrived within the phase.
    pub completed: u64,
    pub duration: Duration,
    /// Microseconds from sending callInvite to the invitee receiving the invitation.
    pub latency: Histogram<u64>,
    /// Failures by kind (server error name, or what went wrong on the client side).
    pub errors: BTreeMap<String, u64>,
}

impl PhaseResult {
    pub fn per_sec(&self) -> f64 {
        self.completed as f64 / self.duration.as_secs_f64().max(1e-9)
    }
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits; values past it are clamped when recorded.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

pub async fn run(pairs: Vec<Pair>, pacing: Pacing, settings: Settings) -> (Vec<Pair>, PhaseResult) {
    let n = pairs.len().max(1);
    let start = Instant::now();
    let deadline = start + settings.duration;
    let period = match pacing {
        Pacing::FlatOut => None,
        Pacing::Rate(rate) => Some(Duration::from_secs_f64(n as f64 / rate.max(1e-3))),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let latency = Latency {
        start,
        histogram: Arc::new(Mutex::new(new_histogram())),
    };
    let mut callers: Vec<JoinHandle<(Client, CallerStats)>> = Vec::with_capacity(n);
    let mut invitees: Vec<JoinHandle<(Client, InviteeStats)>> = Vec::with_capacity(n);
    for (i, pair) in pairs.into_iter().enumerate() {
        // The send instant, in µs since `start` (0 = nothing outstanding). One per pair is
        // enough because a pair never has two invitations outstanding.
        let sent_at = Arc::new(AtomicU64::new(0));
        let schedule = period.map(|p| {
            let first = start + p.mul_f64(i as f64 / n as f64);
            let mut iv = tokio::time::interval_at(first, p);
            // A pair still busy at its tick skips it: the achieved rate shows the shortfall.
            iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
            iv
        });
        let caller_id = pair.caller.user_id.clone();
        let invitee_id = pair.invitee.user_id.clone();
        callers.push(tokio::spawn(caller_loop(
            pair.caller,
            invitee_id,
            sent_at.clone(),
            schedule,
            start,
            deadline,
            settings,
        )));
        invitees.push(tokio::spawn(invitee_loop(
            pair.invitee,
            caller_id,
            sent_at,
            latency.clone(),
            stop_rx.clone(),
            deadline + INVITEE_GRACE,
            settings,
        )));
    }

    let mut completed = 0;
    let mut errors = BTreeMap::new();
    let mut caller_clients = Vec::with_capacity(n);
    for handle in callers {
        match handle.await {
            Ok((client, stats)) => {
                completed += stats.completed;
                merge(&mut errors, stats.errors);
                caller_clients.push(Some(client));
            }
            Err(e) => {
                *errors.entry(format!("callerTaskFailed: {e}")).or_default() += 1;
                caller_clients.push(None);
            }
        }
    }
    // Every caller has seen its last call end (or given up on it): no invitation is on its
    // way any more, so the invitees can stop.
    let _ = stop_tx.send(true);
    let mut pairs = Vec::with_capacity(n);
    for (handle, caller) in invitees.into_iter().zip(caller_clients) {
        match handle.await {
            Ok((invitee, stats)) => {
                merge(&mut errors, stats.errors);
                if let Some(caller) = caller {
                    pairs.push(Pair { caller, invitee });
                }
            }
            Err(e) => {
                *errors.entry(format!("inviteeTaskFailed: {e}")).or_default() += 1;
            }
        }
    }
    // Every invitee task has ended, so the histogram is no longer shared.
    let latency = match Arc::try_unwrap(latency.histogram) {
        Ok(shared) => shared.into_inner().unwrap_or_else(|p| p.into_inner()),
        Err(shared) => shared.lock().unwrap_or_else(|p| p.into_inner()).clone(),
    };
    let result = PhaseResult {
        completed,
        duration: settings.duration,
        latency,
        errors,
    };
    (pairs, result)
}

/// The phase's one latency histogram, shared by its invitees. One per invitee (about
/// 136 KiB each at these bounds) cost the bench more CPU and cache than recording into
/// one under a lock held for a few nanoseconds.
#[derive(Clone)]
struct Latency {
    /// What `sent_at` values count from.
    start: Instant,
    histogram: Arc<Mutex<Histogram<u64>>>,
}

impl Latency {
    /// Records the time since `sent` (µs since `start`).
    fn record_since(&self, sent: u64) {
        let elapsed = micros_since(self.start).saturating_sub(sent).max(1);
        if let Ok(mut h) = self.histogram.lock() {
            h.saturating_record(elapsed);
        }
    }
}

#[derive(Default)]
struct CallerStats {
    completed: u64,
    errors: BTreeMap<String, u64>,
}

#[derive(Default)]
struct InviteeStats {
    errors: BTreeMap<String, u64>,
}

async fn caller_loop(
    mut me: Client,
    invitee: String,
    sent_at: Arc<AtomicU64>,
    mut schedule: Option<Interval>,
    start: Instant,
    deadline: Instant,
    settings: Settings,
) -> (Client, CallerStats) {
    let mut stats = CallerStats::default();
    loop {
        if let Some(schedule) = &mut schedule {
            tokio::select! {
                _ = schedule.tick() => {}
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        let invite = CallInvite {
            invitees: vec![invitee.clone()],
            timeout: Some(settings.invite_timeout),
            mode: CallMode::Normal,
            extended_data: "x".repeat(settings.extended_data_bytes),
            push_config: None,
        };
        sent_at.store(micros_since(start).max(1), Ordering::Relaxed);
        let result = match me.wire.call_invite(invite).await {
            Ok(result) => result,
            Err(e) => {
                count(&mut stats.errors, error_kind(&e));
                if matches!(e, WireError::Closed(_)) {
                    break;
                }
                // rateLimited wants a real pause; anything else a short one, so a failing
                // server does not turn this loop into a busy spin.
                let pause = if e.code() == Some(beckon_protocol::ErrorCode::RateLimited) {
                    Duration::from_millis(100)
                } else {
                    Duration::from_millis(10)
                };
                tokio::time::sleep(pause).await;
                continue;
            }
        };
        if Instant::now() <= deadline {
            stats.completed += 1;
        }
        let rang = result
            .call_user_list
            .iter()
            .any(|u| u.user_id == invitee && u.state == CallUserState::Received);
        let answered = rang && wait_until_answered(&mut me, &result.call_id, &invitee).await;
        if !answered {
            count(
                &mut stats.errors,
                if rang {
                    "noAnswerIn10s"
                } else {
                    "inviteeNotReached"
                },
            );
            // Free the caller for the next invitation instead of waiting out the timeout.
            let cancel = CallCancel {
                call_id: result.call_id,
                invitees: Vec::new(),
                extended_data: String::new(),
            };
            let _ = me.wire.call_cancel(cancel).await;
        }
    }
    (me, stats)
}

/// The caller hears its invitee's answer as a callUserStateChanged for the call; a
/// normal-mode call with no invitee pending has ended, so the caller may invite again.
async fn wait_until_answered(me: &mut Client, call_id: &str, invitee: &str) -> bool {
    let until = Instant::now() + ANSWER_BUDGET;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match me.events.next_timeout(left).await {
            Some(ServerMessage::CallUserStateChanged(change)) if change.call_id == call_id => {
                if change
                    .call_user_list
                    .iter()
                    .any(|u| u.user_id == invitee && !u.state.is_pending())
                {
                    return true;
                }
            }
            Some(_) => {}
            None => return false,
        }
    }
}

async fn invitee_loop(
    mut me: Client,
    caller: String,
    sent_at: Arc<AtomicU64>,
    latency: Latency,
    mut stop: watch::Receiver<bool>,
    hard_deadline: Instant,
    settings: Settings,
) -> (Client, InviteeStats) {
    let mut stats = InviteeStats::default();
    loop {
        let event = tokio::select! {
            event = me.events.next() => event,
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(hard_deadline) => break,
        };
        let info = match event {
            Some(ServerMessage::CallInvitationReceived(info)) => info,
            Some(_) => continue,
            None => break,
        };
        // Taken, not read, so each send yields at most one sample even if the server
        // delivered the invitation twice.
        let sent = sent_at.swap(0, Ordering::Relaxed);
        if sent != 0 && info.caller == caller {
            latency.record_since(sent);
        }
        let extended = "x".repeat(settings.extended_data_bytes);
        let answered = match settings.answer {
            Answer::Reject => me
                .wire
                .call_reject(info.call_id, extended, RejectReason::Declined)
                .await
                .map(drop),
            Answer::Accept => me.wire.call_accept(info.call_id, extended).await.map(drop),
        };
        if let Err(e) = answered {
            count(&mut stats.errors, error_kind(&e));
        }
    }
    (me, stats)
}

fn micros_since(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

fn error_kind(e: &WireError) -> String {
    match e {
        WireError::Server(body) => body.name.clone(),
        WireError::Timeout(_) => "requestTimeout".into(),
        WireError::Closed(_) => "connectionClosed".into(),
        WireError::Protocol(_) => "protocolError".into(),
        other => format!("other: {other}"),
    }
}

fn count(errors: &mut BTreeMap<String, u64>, kind: impl Into<String>) {
    *errors.entry(kind.into()).or_default() += 1;
}

fn merge(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}
