//! Several beckon-server nodes on one PostgreSQL database and one NATS: the design is in
//! docs/cluster.md. In short: every node serves connections; the one node that holds the
//! database's advisory lock (the leader) runs the hub and the storage thread, exactly as a
//! server on its own does; the other nodes forward their sessions' inputs to it over NATS,
//! and it sends each node the frames of its sessions once their batch is durable.
//!
//! A change of leader is a restart of the hub: the new leader restores the calls from the
//! database, and every node closes its sessions so their clients log in again and catch
//! up, as after a restart. NATS delivery is at most once, so a node that lost its NATS
//! connection does the same once it is back.

mod leader;
mod node;
pub mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beckon_protocol::CloseReason;
use tokio::sync::watch;

use crate::core::NodeId;
use crate::registry::{Frame, Registry};

pub use leader::{lead, publish, Leading, Outlet, Publish, PUBLISH_QUEUE};
pub use node::{join, Joined, Leader};

/// How a node reaches the others.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The NATS server, as `nats://host:port` (or several, comma-separated).
    pub nats: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    #[error("a cluster keeps its calls in PostgreSQL: give --db a postgres:// URL")]
    NeedsPostgres,
    #[error("NATS at {url}: cannot connect: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("NATS: cannot subscribe to {subject}: {source}")]
    Subscribe {
        subject: String,
        source: async_nats::SubscribeError,
    },
}

/// A node silent for this long counts as gone: a few missed beacons, so one late beacon
/// on a busy machine does not cut a node's sessions.
pub const NODE_SILENCE: Duration = Duration::from_secs(3);

/// The NATS client every task of a node shares, and what they need to know about it.
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub subjects: wire::Subjects,
    pub node: NodeId,
    /// Counts the times messages may have been lost: the connection came back after
    /// being lost, or a subscription overflowed. Whoever depends on them starts over.
    pub lost: watch::Receiver<u64>,
}

impl Nats {
    /// Connects to `config.nats`, retrying in the background when it is not up yet (a
    /// node and its NATS may start together).
    /// `up` follows whether the connection is up.
    pub async fn connect(
        config: &ClusterConfig,
        cluster: &str,
        node: NodeId,
        up: Arc<AtomicBool>,
    ) -> Result<Nats, ClusterError> {
        let (tx, lost) = watch::channel(0u64);
        let ever = Arc::new(AtomicBool::new(false));
        let client = async_nats::ConnectOptions::new()
            .name(format!("beckon-server node {node}"))
            .retry_on_initial_connect()
            // Loopback or a LAN: try again soon, not after the default's 4 s backoff.
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(50 * (attempts as u64).min(10))
            })
            .event_callback(move |event| {
                let (tx, up, ever) = (tx.clone(), up.clone(), ever.clone());
                async move {
                    match event {
                        async_nats::Event::Disconnected => {
                            tracing::warn!("lost the NATS connection");
                            up.store(false, Ordering::Relaxed);
                        }
                        async_nats::Event::Connected => {
                            up.store(true, Ordering::Relaxed);
                            // The first connection loses nothing; a later one may have.
                            if ever.swap(true, Ordering::Relaxed) {
                                tracing::info!("NATS connection back");
                                tx.send_modify(|n| *n += 1);
                            }
                        }
                        async_nats::Event::SlowConsumer(sid) => {
                            tracing::warn!(sid, "a NATS subscription overflowed: messages lost");
                            tx.send_modify(|n| *n += 1);
                        }
                        other => tracing::debug!(event = %other, "NATS"),
                    }
                }
            })
            .connect(config.nats.split(',').map(str::trim).collect::<Vec<_>>())
            .await
            .map_err(|source| ClusterError::Connect {
                url: config.nats.clone(),
                source,
            })?;
        Ok(Nats {
            client,
            subjects: wire::Subjects::new(cluster),
            node,
            lost,
        })
    }

    async fn subscribe(&self, subject: String) -> Result<async_nats::Subscriber, ClusterError> {
        self.client
            .subscribe(subject.clone())
            .await
            .map_err(|source| ClusterError::Subscribe { subject, source })
    }

    async fn publish(&self, subject: String, msg: &impl serde::Serialize) {
        let payload = match serde_json::to_vec(msg) {
            Ok(p) => p,
            Err(e) => return tracing::error!(error = %e, "cannot encode a cluster message"),
        };
        if let Err(e) = self.client.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, "cannot publish to NATS");
        }
    }
}

/// Why a node starts all its sessions over.
#[derive(Debug, Clone, Copy)]
enum Restart {
    /// A new leader took over.
    Leader,
    /// Messages were lost: the NATS connection came back, a subscription overflowed, or
    /// a message from the leader is missing.
    Lost,
    /// The leader counted this node as gone.
    Gone,
}

impl Restart {
    fn as_str(self) -> &'static str {
        match self {
            Restart::Leader => "leader",
            Restart::Lost => "lost",
            Restart::Gone => "gone",
        }
    }
}

/// Tells every session of this node to go (`serverShutdown`: the clients reconnect and
/// log in again), when what the hub knows of them can no longer be trusted.
fn close_all(registry: &Registry, why: Restart) {
    let n = registry.for_each(|h| h.offer(Frame::Close(CloseReason::ServerShutdown)));
    metrics::counter!(crate::metrics::CLUSTER_RESTARTS, "why" => why.as_str()).increment(1);
    tracing::info!(
        sessions = n,
        why = why.as_str(),
        "closing this node's sessions"
    );
}

/// The subscription's next message; `None` once it ends or `stop` is cancelled.
async fn next(
    subscriber: &mut async_nats::Subscriber,
    stop: &tokio_util::sync::CancellationToken,
) -> Option<async_nats::Message> {
    use futures_util::StreamExt;
    tokio::select! {
        msg = subscriber.next() => msg,
        _ = stop.cancelled() => None,
    }
}
