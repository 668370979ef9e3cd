//! What the leader runs on top of every node's part: the hub, fed by the whole cluster,
//! the frames for other nodes' sessions, and the watch over which nodes are alive.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::wire::{Beacon, Delivery, ToNode, BEACON_EVERY};
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
    pending: HashMap<NodeId, Vec<Delivery>>,
    publish: mpsc::Sender<Publish>,
}

impl Outlet {
    pub fn new(me: NodeId, publish: mpsc::Sender<Publish>) -> Outlet {
        Outlet {
            me,
            pending: HashMap::new(),
            publish,
        }
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
        for (node, ids) in others {
            match RawValue::from_string(text.as_str().to_owned()) {
                Ok(text) => self
                    .pending
                    .entry(node)
                    .or_default()
                    .push(Delivery::Text { to: ids, text }),
                Err(e) => tracing::error!(error = %e, "a server message is not JSON"),
            }
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

    /// Sends what the last group commit released, one message per node.
    pub fn flush(&mut self) {
        for (node, items) in self.pending.drain() {
            if self
                .publish
                .try_send((node, ToNode::Deliveries { items }))
                .is_err()
            {
                metrics::counter!(m::CLUSTER_DROPPED).increment(1);
                tracing::warn!(node, "NATS is behind: frames for a node were dropped");
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
    let hear = tokio::spawn(hear(from_nodes, inputs.clone(), listening.clone()));
    let watch = tokio::spawn(watch_nodes(
        nats,
        beacons,
        restored.term,
        inputs,
        listening.clone(),
    ));
    pipeline::hub_task(hub, hub_inputs, batches, stop).await;
    metrics::gauge!(m::CLUSTER_LEADER).set(0.0);
    listening.cancel();
    let _ = tokio::join!(hear, watch);
    Ok(())
}

/// The nodes' inputs, into the hub's queue (which, when full, holds back NATS's).
async fn hear(
    mut from_nodes: async_nats::Subscriber,
    hub: mpsc::Sender<Input>,
    stop: CancellationToken,
) {
    while let Some(msg) = next(&mut from_nodes, &stop).await {
        // `started` reads as now: the request is timed from its arrival here.
        match serde_json::from_slice::<Input>(&msg.payload) {
            Ok(input) => {
                if hub.send(input).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::error!(error = %e, "an unreadable input from a node"),
        }
    }
}

/// Announces the leader, and counts a node that fell silent as gone: its sessions end as
/// if disconnected at its last beacon, so the caller-gone rule applies to its callers.
async fn watch_nodes(
    nats: Nats,
    mut beacons: async_nats::Subscriber,
    term: u64,
    hub: mpsc::Sender<Input>,
    stop: CancellationToken,
) {
    let me = Beacon::Leader {
        node: nats.node,
        term,
    };
    let mut reconnects = nats.reconnects.clone();
    let mut heard: HashMap<NodeId, Instant> = HashMap::new();
    let mut every = tokio::time::interval(BEACON_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {
                metrics::gauge!(m::CLUSTER_NODES).set(heard.len() as f64);
                nats.publish(nats.subjects.beacons(), &me).await;
                let silent: Vec<_> = heard
                    .iter()
                    .filter(|(_, at)| at.elapsed() >= NODE_SILENCE)
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
                if let Ok(Beacon::Alive { node }) = serde_json::from_slice(&msg.payload) {
                    // A node heard for the first time hears its leader at once.
                    if heard.insert(node, Instant::now()).is_none() {
                        nats.publish(nats.subjects.beacons(), &me).await;
                    }
                }
            }
            changed = reconnects.changed() => {
                if changed.is_err() {
                    return;
                }
                // Silence while this leader was cut off from NATS says nothing of the nodes.
                for at in heard.values_mut() {
                    *at = Instant::now();
                }
            }
            _ = stop.cancelled() => return,
        }
    }
}
