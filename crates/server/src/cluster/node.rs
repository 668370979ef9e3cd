//! What every node runs, the leader included: forwarding its sessions' inputs to the hub,
//! delivering the frames the leader sends for them, and following the leader.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wire::{Beacon, Delivery, ToNode, BEACON_EVERY};
use super::{close_all, next, ClusterError, Nats, Restart, NODE_SILENCE};
use crate::core::{Input, NodeId};
use crate::registry::{Frame, Registry};

/// The leader a node follows: the highest term heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leader {
    pub node: NodeId,
    pub term: u64,
}

/// A node's tasks, running until the `stop` given to [`join`].
pub struct Joined {
    pub tasks: Vec<JoinHandle<()>>,
    /// `None` until a leader is heard of.
    pub leader: watch::Receiver<Option<Leader>>,
}

/// Starts the node's side: `inputs` are what its connections send the hub.
pub async fn join(
    nats: Nats,
    registry: Arc<Registry>,
    inputs: mpsc::Receiver<Input>,
    stop: CancellationToken,
) -> Result<Joined, ClusterError> {
    let frames = nats.subscribe(nats.subjects.node(nats.node)).await?;
    let beacons = nats.subscribe(nats.subjects.beacons()).await?;
    let (leader_tx, leader) = watch::channel(None);
    metrics::gauge!(crate::metrics::CLUSTER_LEADER).set(0.0);
    let tasks = vec![
        tokio::spawn(forward(nats.clone(), inputs, leader.clone(), stop.clone())),
        tokio::spawn(deliver(frames, registry.clone(), stop.clone())),
        tokio::spawn(follow(nats, beacons, registry, leader_tx, stop)),
    ];
    Ok(Joined { tasks, leader })
}

/// Inputs wait in their bounded queue while there is no leader to hear them: NATS would
/// drop them.
async fn forward(
    nats: Nats,
    mut inputs: mpsc::Receiver<Input>,
    mut leader: watch::Receiver<Option<Leader>>,
    stop: CancellationToken,
) {
    let subject = nats.subjects.hub();
    loop {
        tokio::select! {
            _ = leader.wait_for(Option::is_some) => {}
            _ = stop.cancelled() => return,
        }
        // What is queued goes out first: a node stops after its connections did, and
        // their last `Disconnected` still reach the leader.
        let input = tokio::select! {
            biased;
            input = inputs.recv() => match input {
                Some(input) => input,
                None => return,
            },
            _ = stop.cancelled() => return,
        };
        nats.publish(subject.clone(), &input).await;
    }
}

async fn deliver(
    mut frames: async_nats::Subscriber,
    registry: Arc<Registry>,
    stop: CancellationToken,
) {
    let mut order = Order::default();
    while let Some(msg) = next(&mut frames, &stop).await {
        match serde_json::from_slice::<ToNode>(&msg.payload) {
            Ok(ToNode::Deliveries { term, seq, items }) => {
                match order.check(term, seq) {
                    // From a leader already replaced: it answers nobody any more.
                    Arrival::Stale => continue,
                    Arrival::AfterAGap => {
                        tracing::warn!(term, seq, "frames from the leader went missing");
                        close_all(&registry, Restart::Lost);
                    }
                    Arrival::Next => {}
                }
                for item in items {
                    deliver_one(&registry, item);
                }
            }
            Ok(ToNode::CloseAll) => close_all(&registry, Restart::Gone),
            Err(e) => tracing::error!(error = %e, "unreadable frames from the leader"),
        }
    }
}

/// The term and number of the next message expected from the leader.
#[derive(Debug, Default)]
struct Order(Option<(u64, u64)>);

#[derive(Debug, PartialEq, Eq)]
enum Arrival {
    Next,
    /// Messages before it went missing.
    AfterAGap,
    /// From a leader of an earlier term.
    Stale,
}

impl Order {
    fn check(&mut self, term: u64, seq: u64) -> Arrival {
        let arrival = match self.0 {
            Some((t, _)) if term < t => return Arrival::Stale,
            Some((t, next)) if term == t && seq != next => Arrival::AfterAGap,
            _ => Arrival::Next,
        };
        self.0 = Some((term, seq + 1));
        arrival
    }
}

fn deliver_one(registry: &Registry, item: Delivery) {
    let (to, frame) = match item {
        Delivery::Text { to, text } => {
            let text = Utf8Bytes::from(String::from(Box::<str>::from(text)));
            return registry.with_sessions(&to, |h| h.offer(Frame::Text(text.clone())));
        }
        Delivery::LoggedIn {
            session,
            user_id,
            device_id,
        } => (session, Frame::LoggedIn(Box::new((user_id, device_id)))),
        Delivery::Close { session, reason } => (session, Frame::Close(reason)),
    };
    let mut frame = Some(frame);
    registry.with_sessions(&[to], |h| {
        if let Some(f) = frame.take() {
            h.offer(f)
        }
    });
}

/// Says this node is alive, and follows the leader. A new leader restored the calls but
/// knows no session, and a NATS outage may have dropped frames: either way this node's
/// sessions start over.
async fn follow(
    mut nats: Nats,
    mut beacons: async_nats::Subscriber,
    registry: Arc<Registry>,
    leader: watch::Sender<Option<Leader>>,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(BEACON_EVERY);
    let alive = Beacon::Alive { node: nats.node };
    // The highest term followed, and when its leader was last heard.
    let mut followed: Option<(Leader, Instant)> = None;
    loop {
        tokio::select! {
            _ = every.tick() => {
                nats.publish(nats.subjects.beacons(), &alive).await;
                // A silent leader is no leader: inputs wait, and /healthz says so, until
                // it or another is heard.
                let silent = followed.is_some_and(|(_, at)| at.elapsed() >= NODE_SILENCE);
                if silent && leader.borrow().is_some() {
                    tracing::warn!("the leader fell silent");
                    leader.send_replace(None);
                }
            }
            msg = beacons.next() => {
                let Some(msg) = msg else { return };
                let Ok(Beacon::Leader { node, term }) = serde_json::from_slice(&msg.payload) else {
                    continue;
                };
                let heard = Leader { node, term };
                match followed {
                    Some((f, _)) if f.term > term => continue,
                    Some((f, _)) if f.term == term => {}
                    before => {
                        tracing::info!(leader = node, term, "following a new leader");
                        if before.is_some() {
                            close_all(&registry, Restart::Leader);
                        }
                    }
                }
                followed = Some((heard, Instant::now()));
                if leader.borrow().is_none() {
                    leader.send_replace(Some(heard));
                }
            }
            changed = nats.lost.changed() => {
                if changed.is_err() {
                    return;
                }
                close_all(&registry, Restart::Lost);
            }
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_message_is_noticed_and_a_replaced_leaders_are_dropped() {
        let mut order = Order::default();
        // A node may join mid-term: the first message sets the count.
        assert_eq!(order.check(2, 7), Arrival::Next);
        assert_eq!(order.check(2, 8), Arrival::Next);
        assert_eq!(order.check(2, 10), Arrival::AfterAGap, "9 never came");
        assert_eq!(order.check(2, 11), Arrival::Next);
        assert_eq!(order.check(1, 12), Arrival::Stale);
        assert_eq!(
            order.check(2, 12),
            Arrival::Next,
            "a stale one moves nothing"
        );
        // A new leader numbers from 0.
        assert_eq!(order.check(3, 0), Arrival::Next);
        assert_eq!(order.check(3, 1), Arrival::Next);
    }
}
