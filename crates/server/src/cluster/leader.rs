//! What the leader runs on top of every node's part: the hub, fed by the whole cluster,
//! the frames for other nodes' sessions, and the watch over which nodes are alive.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::wire::{Beacon, Delivery, ToNode, BEACON_EVERY, MAX_DELIVERIES};
use super::{next, ClusterError, Nats, NODE_SILENCE};
use crate::core::{node_of, Hub, HubConfig, Input, NodeId, SessionId};
use crate::metrics as m;
use crate::pipeline::{self, now_ms, Encoded, Restored};
use crate::registry::Frame;
use crate::store::StoreError;

/// Frames for one node, on their way to NATS.
pub type Publish = (NodeId, ToNode);

/// Commits' frames waiting for NATS. Full means NATS is away or far behind: frames are
/// dropped rather than held without bound, and the nodes' sessions start over once NATS is
/// back (they are closed then, see `node::follow`).
pub const PUBLISH_QUEUE: usize = 4096;

/// The storage thread's way to the other nodes: it sorts each released frame by the node
/// of its sessions, and sends each node one message per group commit.
pub struct Outlet {
    me: NodeId,
    term: u64,
    pending: HashMap<NodeId, Vec<Delivery>>,
    /// The next message's number, per node.
    seqs: HashMap<NodeId, u64>,
    publish: mpsc::Sender<Publish>,
}

impl Outlet {
    pub fn new(me: NodeId, publish: mpsc::Sender<Publish>) -> Outlet {
        Outlet {
            me,
            term: 0,
            pending: HashMap::new(),
            seqs: HashMap::new(),
            publish,
        }
    }

    /// The term this node was elected by, which every message carries.
    pub fn set_term(&mut self, term: u64) {
        self.term = term;
    }

    /// Keeps the frame for the other nodes' sessions in `to`; returns this node's.
    pub fn route_text(&mut self, mut to: Vec<SessionId>, text: &Utf8Bytes) -> Vec<SessionId> {
        if to.iter().all(|s| node_of(*s) == self.me) {
            return to;
        }
        let mut others: Vec<(NodeId, Vec<SessionId>)> = Vec::new();
        to.retain(|&s| {
            let node = node_of(s);
            if node == self.me {
                return true;
            }
            match others.iter_mut().find(|(n, _)| *n == node) {
                Some((_, ids)) => ids.push(s),
                None => others.push((node, vec![s])),
            }
            false
        });
        // Checked as JSON once, then copied for each further node.
        let raw = match RawValue::from_string(text.as_str().to_owned()) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::error!(error = %e, "a server message is not JSON");
                return to;
            }
        };
        for (node, ids) in others {
            self.pending.entry(node).or_default().push(Delivery::Text {
                to: ids,
                text: raw.clone(),
            });
        }
        to
    }

    /// Keeps `frame` if `session` is on another node; gives it back if it is this one's.
    pub fn route_frame(&mut self, session: SessionId, frame: Frame) -> Option<Frame> {
        let node = node_of(session);
        if node == self.me {
            return Some(frame);
        }
        let delivery = match frame {
            Frame::Text(text) => {
                // Another node's session: kept for it, nothing is left for this one.
                self.route_text(vec![session], &text);
                return None;
            }
            Frame::LoggedIn(who) => {
                let (user_id, device_id) = *who;
                Delivery::LoggedIn {
                    session,
                    user_id,
                    device_id,
                }
            }
            Frame::Close(reason) => Delivery::Close { session, reason },
        };
        self.pending.entry(node).or_default().push(delivery);
        None
    }

    /// Sends what the last group commit released: a message per node (more if large). A
    /// message that cannot be queued is dropped, and its number with it: the node sees
    /// the gap at the next one and starts its sessions over.
    pub fn flush(&mut self) {
        for (node, mut items) in self.pending.drain() {
            while !items.is_empty() {
                let rest = items.split_off(items.len().min(MAX_DELIVERIES));
                let seq = self.seqs.entry(node).or_insert(0);
                let msg = ToNode::Deliveries {
                    term: self.term,
                    seq: *seq,
                    items: std::mem::replace(&mut items, rest),
                };
                *seq += 1;
                if self.publish.try_send((node, msg)).is_err() {
                    metrics::counter!(m::CLUSTER_DROPPED).increment(1);
                    tracing::warn!(node, "NATS is behind: frames for a node were dropped");
                }
            }
        }
    }
}

/// Publishes what the storage thread routed to other nodes, in order.
pub async fn publish(nats: Nats, mut queue: mpsc::Receiver<Publish>) {
    while let Some((node, msg)) = queue.recv().await {
        nats.publish(nats.subjects.node(node), &msg).await;
    }
}

/// Leading, from the election on: what the storage thread said when it took the database.
pub struct Leading {
    pub nats: Nats,
    pub opened: oneshot::Receiver<Result<Restored, StoreError>>,
    pub hub_config: HubConfig,
    pub batches: mpsc::Sender<Encoded>,
    /// The server stops: a take-over that cannot load the calls is a failed storage.
    pub failed: CancellationToken,
}

/// Waits until this node is elected (or `stop`), then runs the hub until `stop`: its
/// inputs come from every node over NATS, and from the watch over nodes.
pub async fn lead(leading: Leading, stop: CancellationToken) -> Result<(), ClusterError> {
    let Leading {
        nats,
        opened,
        hub_config,
        batches,
        failed,
    } = leading;
    let restored = tokio::select! {
        opened = opened => match opened {
            Ok(Ok(restored)) => restored,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot take over as leader; stopping");
                failed.cancel();
                return Ok(());
            }
            // The storage thread stopped before this node's turn came.
            Err(_) => return Ok(()),
        },
        _ = stop.cancelled() => return Ok(()),
    };
    tracing::info!(
        node = nats.node,
        term = restored.term,
        calls = restored.calls.len(),
        "leading the cluster: restored calls from storage"
    );
    metrics::gauge!(m::CLUSTER_LEADER).set(1.0);
    let mut hub = Hub::new(
        hub_config,
        Box::new(|| uuid::Uuid::new_v4().simple().to_string()),
    );
    hub.restore(restored.calls, restored.at);
    hub.set_next_seq(restored.next_seq);

    let (inputs, hub_inputs) = mpsc::channel(crate::HUB_QUEUE);
    let from_nodes = nats.subscribe(nats.subjects.hub()).await?;
    let beacons = nats.subscribe(nats.subjects.beacons()).await?;
    let listening = stop.child_token();
    let (logins_from, nodes_seen) = mpsc::channel(LOGINS_FROM_QUEUE);
    let hear = tokio::spawn(hear(
        from_nodes,
        inputs.clone(),
        logins_from,
        listening.clone(),
    ));
    let watch = tokio::spawn(watch_nodes(
        nats,
        beacons,
        restored.term,
        inputs,
        Watching {
            stop: listening.clone(),
            failed,
            nodes_seen,
        },
    ));
    pipeline::hub_task(hub, hub_inputs, batches, stop).await;
    metrics::gauge!(m::CLUSTER_LEADER).set(0.0);
    listening.cancel();
    // Bounded: a publish can wait on a NATS that is away.
    for task in [hear, watch] {
        let abort = task.abort_handle();
        if tokio::time::timeout(LISTENERS_GRACE, task).await.is_err() {
            abort.abort();
        }
    }
    Ok(())
}

/// Nodes seen logging sessions in, waiting for the watch over nodes.
const LOGINS_FROM_QUEUE: usize = 256;

/// How long the leader's listeners get to stop.
const LISTENERS_GRACE: Duration = Duration::from_secs(2);

/// The nodes' inputs, into the hub's queue. While it is full they wait in the
/// subscription's buffer, and past that NATS drops them: counted as lost (see
/// [`Nats::lost`]), which starts every node's sessions over.
async fn hear(
    mut from_nodes: async_nats::Subscriber,
    hub: mpsc::Sender<Input>,
    logins_from: mpsc::Sender<NodeId>,
    stop: CancellationToken,
) {
    while let Some(msg) = next(&mut from_nodes, &stop).await {
        // `started` reads as now: the request is timed from its arrival here.
        match serde_json::from_slice::<Input>(&msg.payload) {
            Ok(input) => {
                // A node whose sessions log in is watched from then on, even if it dies
                // before its first beacon comes. A full queue loses nothing that matters:
                // the beacon follows within a second.
                if let Input::Login(login) = &input {
                    let _ = logins_from.try_send(node_of(login.session));
                }
                if hub.send(input).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::error!(error = %e, "an unreadable input from a node"),
        }
    }
}

/// What ends the watch over the nodes: the hub stopping, or this leader hearing a newer
/// one, which means it lost the database without noticing yet; it then stops the node,
/// as a failed commit would.
struct Watching {
    stop: CancellationToken,
    failed: CancellationToken,
    /// Nodes whose sessions logged in (see `hear`).
    nodes_seen: mpsc::Receiver<NodeId>,
}

/// Announces the leader, and counts a node that fell silent as gone: its sessions end as
/// if disconnected at its last beacon, so the caller-gone rule applies to its callers.
/// Silence is only judged while this leader is connected to NATS, and a loss of messages
/// on its side (inputs may be gone) starts every node's sessions over.
async fn watch_nodes(
    nats: Nats,
    mut beacons: async_nats::Subscriber,
    term: u64,
    hub: mpsc::Sender<Input>,
    mut watching: Watching,
) {
    let me = Beacon::Leader {
        node: nats.node,
        term,
    };
    let mut lost = nats.lost.clone();
    let mut heard: HashMap<NodeId, Instant> = HashMap::new();
    let mut every = tokio::time::interval(BEACON_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                metrics::gauge!(m::CLUSTER_NODES).set(heard.len() as f64);
                nats.publish(nats.subjects.beacons(), &me).await;
                if nats.client.connection_state() != async_nats::connection::State::Connected {
                    continue;
                }
                let silent: Vec<_> = heard
                    .iter()
                    .filter(|(n, at)| **n != nats.node && at.elapsed() >= NODE_SILENCE)
                    .map(|(n, at)| (*n, *at))
                    .collect();
                for (node, at) in silent {
                    heard.remove(&node);
                    let last_seen = now_ms().saturating_sub(at.elapsed().as_millis() as u64);
                    tracing::warn!(node, "a node fell silent: its sessions are gone");
                    if hub.send(Input::NodeGone { node, last_seen }).await.is_err() {
                        return;
                    }
                    // In case it is alive but was cut off: its clients must log in again.
                    nats.publish(nats.subjects.node(node), &ToNode::CloseAll).await;
                }
            }
            msg = beacons.next() => {
                let Some(msg) = msg else { return };
                match serde_json::from_slice(&msg.payload) {
                    Ok(Beacon::Alive { node }) => {
                        let first_time = heard.insert(node, Instant::now()).is_none();
                        // A node heard for the first time hears its leader at once.
                        if first_time {
                            nats.publish(nats.subjects.beacons(), &me).await;
                        }
                    }
                    Ok(Beacon::Leader { node, term: newer }) if newer > term => {
                        tracing::error!(leader = node, term = newer, "another node leads now; stopping");
                        watching.failed.cancel();
                        return;
                    }
                    _ => {}
                }
            }
            changed = lost.changed() => {
                if changed.is_err() {
                    return;
                }
                // Silence while this leader was cut off says nothing of the nodes, and
                // their inputs meanwhile may be gone.
                for (node, at) in heard.iter_mut() {
                    *at = Instant::now();
                    if *node != nats.node {
                        nats.publish(nats.subjects.node(*node), &ToNode::CloseAll).await;
                    }
                }
            }
            Some(node) = watching.nodes_seen.recv() => {
                heard.entry(node).or_insert_with(Instant::now);
            }
            _ = watching.stop.cancelled() => return,
        }
    }
}
