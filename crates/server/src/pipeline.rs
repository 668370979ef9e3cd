//! The two stages behind every request: the hub task applies inputs to the state machine,
//! and the storage thread makes each resulting batch durable before releasing its frames.
//! Batches are released in the order they were made, so no client ever sees an effect
//! that a crash could take back, nor events out of order.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use beckon_protocol::{ServerMessage, SessionClosed};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::{Batch, Hub, Input, Out, Seq};
use crate::metrics as m;
use crate::registry::{Frame, Registry};
use crate::store::{self, Database, Durability, ReadPool, StoreError, Writer};

pub use beckon_protocol::now_unix_ms as now_ms;

/// Inputs taken from the queue per round: enough to amortise a commit, few enough to keep
/// the latency of the first one low.
const MAX_INPUTS_PER_ROUND: usize = 512;

pub async fn hub_task(
    mut hub: Hub,
    mut inputs: mpsc::Receiver<Input>,
    batches: mpsc::Sender<Encoded>,
    stop: CancellationToken,
) {
    let mut buf = Vec::with_capacity(MAX_INPUTS_PER_ROUND);
    let mut gauges = tokio::time::interval(Duration::from_secs(1));
    loop {
        let sleep_for = hub
            .next_deadline()
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            n = inputs.recv_many(&mut buf, MAX_INPUTS_PER_ROUND) => {
                if n == 0 {
                    break;
                }
                let now = now_ms();
                for input in buf.drain(..) {
                    hub.handle(now, input);
                }
            }
            _ = tokio::time::sleep(sleep_for) => {}
            _ = gauges.tick() => {
                publish_gauges(&hub);
            }
            _ = stop.cancelled() => break,
        }
        hub.tick(now_ms());
        let batch = hub.take_batch();
        if !batch.is_empty() && batches.send(Encoded::from(batch)).await.is_err() {
            break;
        }
    }
}

fn publish_gauges(hub: &Hub) {
    let stats = hub.stats();
    metrics::gauge!(m::SESSIONS).set(hub.online_sessions() as f64);
    metrics::gauge!(m::TIMERS).set(hub.pending_timers() as f64);
    metrics::gauge!(m::CALLS, "state" => "started").set(stats.started as f64);
    metrics::gauge!(m::CALLS, "state" => "ended").set(stats.recently_ended as f64);
    for (state, n) in stats.members {
        metrics::gauge!(m::CALL_MEMBERS, "state" => state.as_str()).set(n as f64);
    }
}

/// A batch with its messages already turned into JSON. Encoding happens in the hub task,
/// while the storage thread waits on the disk for the previous batch.
pub struct Encoded {
    writes: Vec<crate::core::Call>,
    outs: Vec<EncodedOut>,
}

enum EncodedOut {
    Send {
        to: Vec<crate::core::SessionId>,
        text: Utf8Bytes,
        /// For responses: kind, arrival, and whether it was an error.
        timing: Option<(&'static str, Instant, bool)>,
    },
    Frame(crate::core::SessionId, Frame),
}

impl From<Batch> for Encoded {
    fn from(batch: Batch) -> Encoded {
        let outs = batch
            .outs
            .into_iter()
            .filter_map(|out| match out {
                Out::Send { to, msg, timing } => {
                    let is_error = matches!(msg, ServerMessage::Error(_));
                    let text = encode(&msg)?;
                    Some(EncodedOut::Send {
                        to,
                        text,
                        timing: timing.map(|(kind, at)| (kind, at, is_error)),
                    })
                }
                Out::LoggedIn {
                    session,
                    user_id,
                    device_id,
                } => Some(EncodedOut::Frame(
                    session,
                    Frame::LoggedIn(Box::new((user_id, device_id))),
                )),
                Out::Close { session, reason } => {
                    Some(EncodedOut::Frame(session, Frame::Close(reason)))
                }
            })
            .collect();
        Encoded {
            writes: batch.writes,
            outs,
        }
    }
}

/// Where the storage thread gets its database.
pub enum Source {
    /// A server on its own: takes the database or says who has it.
    Alone(Database),
    /// A cluster node: connects, says its number and hands over the reads on `joined`,
    /// then waits its turn to lead (until `stop` is set).
    Elected {
        url: store::PgUrl,
        joined: tokio::sync::oneshot::Sender<Result<store::Joined, StoreError>>,
        stop: Arc<AtomicBool>,
        /// Whether this node may take the lead now: only while it reaches the others.
        may_lead: Arc<AtomicBool>,
        /// Where frames for the other nodes' sessions go, once this node leads.
        publish: mpsc::Sender<crate::cluster::Publish>,
    },
}

/// What the storage thread needs to open the database, and where it says how that went.
/// An elected node that stopped before its turn drops `opened` unanswered.
pub struct OpenStore {
    pub source: Source,
    pub durability: Durability,
    /// The clock reading the restored calls are judged at (for an elected node: the
    /// moment it was elected).
    pub now: u64,
    pub retention_ms: u64,
    pub opened: tokio::sync::oneshot::Sender<Result<Restored, StoreError>>,
}

/// The database's state at start, for the hub, and the history's read handle.
pub struct Restored {
    pub calls: Vec<crate::core::Call>,
    pub next_seq: Seq,
    /// A cluster node has its reads from the start, before it leads.
    pub reads: Option<ReadPool>,
    /// The election this server leads by (0 on its own).
    pub term: u64,
    /// The clock reading the calls were loaded at, to restore them at.
    pub at: u64,
}

/// The storage thread's whole life: opens the database (taking it for this server alone),
/// loads the calls to restore and hands them over, runs [`storage_thread`], and releases
/// the database after the last commit. Opening here rather than in `run` keeps every
/// blocking database client on this OS thread, from its first call to its drop.
pub fn storage_owner(
    open: OpenStore,
    batches: mpsc::Receiver<Encoded>,
    registry: Arc<Registry>,
    failed: CancellationToken,
) -> Result<(), StoreError> {
    let OpenStore {
        source,
        durability,
        now,
        retention_ms,
        opened,
    } = open;
    let mut outlet = Outlet {
        registry,
        nodes: None,
    };
    let mut now = now;
    let store = match source {
        Source::Alone(db) => {
            store::open(&db, durability).map(|o| Some((o.writer, 0, Some(o.reads), Some(o.keeper))))
        }
        Source::Elected {
            url,
            joined,
            stop,
            may_lead,
            publish,
        } => {
            let candidate = match store::candidate(&url) {
                Ok((candidate, joining)) => {
                    outlet.nodes = Some(crate::cluster::Outlet::new(joining.node, publish));
                    let _ = joined.send(Ok(joining));
                    candidate
                }
                Err(e) => {
                    let _ = joined.send(Err(e));
                    return Ok(());
                }
            };
            let elected = store::elect(candidate, durability, &stop, &may_lead);
            if let (Ok(Some((_, term))), Some(nodes)) = (&elected, &mut outlet.nodes) {
                nodes.set_term(*term);
            }
            // The take-over is the restart: deadlines and grace periods count from it.
            now = now_ms();
            elected.map(|w| w.map(|(w, term)| (w, term, None, None)))
        }
    };
    // The calls are loaded once this server holds the database, never before.
    let store = store.and_then(|store| match store {
        Some((mut writer, term, reads, keeper)) => {
            let (calls, next_seq) = writer.load(now, retention_ms)?;
            let restored = Restored {
                calls,
                next_seq,
                reads,
                term,
                at: now,
            };
            Ok(Some((writer, keeper, restored)))
        }
        None => Ok(None),
    });
    let (writer, keeper, restored) = match store {
        Ok(Some(loaded)) => loaded,
        Ok(None) => return Ok(()),
        Err(e) => {
            // `run` returns this error; it has gone nowhere else.
            let _ = opened.send(Err(e));
            return Ok(());
        }
    };
    let result = match opened.send(Ok(restored)) {
        Ok(()) => storage_thread(writer, batches, outlet, failed),
        Err(_) => Ok(()),
    };
    if let Some(keeper) = keeper {
        keeper.finish();
    }
    result
}

/// Where committed frames go: this server's connections, and in a cluster the other
/// nodes' too.
pub struct Outlet {
    pub registry: Arc<Registry>,
    pub nodes: Option<crate::cluster::Outlet>,
}

/// Runs on its own OS thread: database calls block. Several queued batches are committed in
/// one transaction (group commit), which is what makes durable writes fast.
///
/// A failed commit ends the thread with the error, after cancelling `failed` so the server
/// stops. The hub already applied those changes in memory: answering as if they were
/// stored would be a lie, and carrying on would diverge from the disk. A restart reloads
/// the last durable state.
pub fn storage_thread(
    mut writer: Writer,
    mut batches: mpsc::Receiver<Encoded>,
    mut outlet: Outlet,
    failed: CancellationToken,
) -> Result<(), StoreError> {
    let mut group: Vec<Encoded> = Vec::new();
    while let Some(first) = batches.blocking_recv() {
        group.push(first);
        while group.len() < 64 {
            match batches.try_recv() {
                Ok(b) => group.push(b),
                Err(_) => break,
            }
        }
        let writes: Vec<_> = group.iter_mut().flat_map(|b| b.writes.drain(..)).collect();
        if !writes.is_empty() {
            let started = Instant::now();
            if let Err(e) = writer.write(&writes) {
                tracing::error!(error = %e, "storage failed; stopping the server");
                failed.cancel();
                return Err(e);
            }
            metrics::histogram!(m::COMMIT_LATENCY).record(started.elapsed().as_secs_f64());
            metrics::counter!(m::COMMIT_CALLS).increment(writes.len() as u64);
        }
        for batch in group.drain(..) {
            release(&mut outlet, batch.outs);
        }
        if let Some(nodes) = &mut outlet.nodes {
            nodes.flush();
        }
        writer.maintain();
    }
    Ok(())
}

fn release(outlet: &mut Outlet, outs: Vec<EncodedOut>) {
    let registry = &outlet.registry;
    for out in outs {
        match out {
            EncodedOut::Send { to, text, timing } => {
                if let Some((kind, started, is_error)) = timing {
                    let outcome = if is_error { "error" } else { "ok" };
                    metrics::counter!(m::REQUESTS, "type" => kind, "outcome" => outcome)
                        .increment(1);
                    metrics::histogram!(m::REQUEST_LATENCY, "type" => kind)
                        .record(started.elapsed().as_secs_f64());
                }
                let to = match &mut outlet.nodes {
                    Some(nodes) => nodes.route_text(to, &text),
                    None => to,
                };
                registry.with_sessions(&to, |h| h.offer(Frame::Text(text.clone())));
            }
            EncodedOut::Frame(session, frame) => {
                let frame = match &mut outlet.nodes {
                    Some(nodes) => match nodes.route_frame(session, frame) {
                        Some(mine) => mine,
                        None => continue,
                    },
                    None => frame,
                };
                let mut frame = Some(frame);
                registry.with_sessions(&[session], |h| {
                    if let Some(f) = frame.take() {
                        h.offer(f)
                    }
                })
            }
        }
    }
}

pub fn encode(msg: &ServerMessage) -> Option<Utf8Bytes> {
    match serde_json::to_string(msg) {
        Ok(s) => Some(s.into()),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode a server message");
            None
        }
    }
}

pub fn closed_frame(reason: beckon_protocol::CloseReason) -> Option<Utf8Bytes> {
    encode(&ServerMessage::SessionClosed(SessionClosed { reason }))
}
