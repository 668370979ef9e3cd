//! beckon-server: the call-invitation service, as a library with one entry point, [`run`],
//! so tests and embedders start the real server on any listener.
//!
//! Inside: one task per connection ([`connection`]), one hub task that owns all call state
//! ([`core::Hub`], plain code), and one storage thread that commits each batch to SQLite or
//! PostgreSQL ([`store`]) before its answers and events go out ([`pipeline`]).

pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod connection;
pub mod core;
pub mod ice;
pub mod listener;
pub mod metrics;
pub mod pipeline;
pub mod registry;
pub mod store;
pub mod ws;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use config::Config;

use crate::connection::Shared;
use crate::core::{Hub, HubConfig, NodeId};
use crate::listener::{Slot, Tasks};
use crate::registry::Registry;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("storage: the storage thread ended before the database was open")]
    StorageGone,
    #[error("cluster: {0}")]
    Cluster(#[from] cluster::ClusterError),
}

/// Inputs waiting for the hub. Full means the hub is behind: connections wait (up to a
/// bound) instead of queueing without limit.
pub(crate) const HUB_QUEUE: usize = 8192;
/// Batches waiting for the disk.
const STORAGE_QUEUE: usize = 1024;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    tasks: Tasks,
    /// A cluster node's leader, once it knows one: until then it cannot serve a login.
    leader: Option<tokio::sync::watch::Receiver<Option<cluster::Leader>>>,
}

/// `ok` once this server can serve every request: what a load balancer asks.
async fn healthz(State(app): State<App>) -> Response {
    match &app.leader {
        Some(leader) if leader.borrow().is_none() => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "no cluster leader yet\n",
        )
            .into_response(),
        _ => "ok\n".into_response(),
    }
}

/// Serves on `listener` until `shutdown` completes, then closes every session (telling
/// each client why) and drops whatever connection is still open after
/// `config.shutdown_deadline`, lets the last batches reach the disk, and returns. A failed
/// commit stops it the same way, and it returns that error. The listener is released
/// last, so a server started on the same port only begins once this one has stopped
/// writing.
///
/// With `config.cluster` it is one node of a cluster (see [`cluster`]): it serves at once,
/// and runs the hub only while it leads.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    metrics::install();
    let hub_config = HubConfig {
        heartbeat_timeout_ms: config.heartbeat_timeout.as_millis() as u64,
        ended_retention_ms: config.ended_retention.as_millis() as u64,
        ..HubConfig::default()
    };
    let registry = Arc::new(Registry::new(config.outbound_budget_bytes));
    let storage_failed = CancellationToken::new();
    let (input_tx, input_rx) = mpsc::channel(HUB_QUEUE);
    let core = match &config.cluster {
        None => Core::alone(&config, hub_config, &registry, input_rx, &storage_failed).await?,
        Some(cluster) => {
            Core::node(
                &config,
                cluster,
                hub_config,
                &registry,
                input_rx,
                &storage_failed,
            )
            .await?
        }
    };

    let stop_sessions = CancellationToken::new();
    let tasks = Tasks::default();
    let app = App {
        shared: Arc::new(Shared {
            hub: input_tx,
            registry,
            auth: auth::Authenticator::new(&config.auth),
            reads: core.reads.clone(),
            queries: Arc::new(tokio::sync::Semaphore::new(store::READERS as usize)),
            heartbeat_timeout: config.heartbeat_timeout,
            ice: config.ice.clone(),
            login_timeout: config.login_timeout,
            shutdown: stop_sessions.clone(),
            storage_failed: storage_failed.clone(),
            next_session: AtomicU64::new(core::first_session(core.node)),
            tasks: tasks.clone(),
        }),
        tasks: tasks.clone(),
        leader: core.leader.clone(),
    };
    let router = Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(healthz))
        .route("/metrics", get(|| async { metrics::render() }))
        .with_state(app);
    tracing::info!(addr = %listener.local_addr()?, node = core.node, "listening");
    let limits = listener::Limits {
        max_connections: config.max_connections,
        connections_per_ip_per_sec: config.connections_per_ip_per_sec,
        header_read_timeout: config.header_read_timeout,
    };
    let accepting = tokio::spawn(listener::accept_loop(
        listener,
        router,
        limits,
        tasks.clone(),
        stop_sessions.clone(),
    ));
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        _ = storage_failed.cancelled() => tracing::error!("storage failed; shutting down"),
    }
    stop_sessions.cancel();
    let listener = accepting.await.ok();
    let dropped = tasks.finish(config.shutdown_deadline).await;
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "connections still open at the shutdown deadline were dropped"
        );
    }
    let stored = core.stop().await;
    drop(listener);
    tracing::info!("stopped");
    stored
}

/// What runs behind the connections: the hub and the storage thread, and in a cluster the
/// node's own tasks. Stopped once the sessions are gone.
struct Core {
    node: NodeId,
    leader: Option<tokio::sync::watch::Receiver<Option<cluster::Leader>>>,
    reads: store::ReadPool,
    /// The hub (on its own) or the leading task (in a cluster, idle until elected).
    hub_task: tokio::task::JoinHandle<()>,
    hub_stop: CancellationToken,
    /// A cluster node's forwarding, delivering and following.
    node_tasks: Vec<tokio::task::JoinHandle<()>>,
    node_stop: CancellationToken,
    /// Sends the leader's frames to the other nodes; ends after the storage thread.
    publisher: Option<tokio::task::JoinHandle<()>>,
    /// Ends a cluster node's wait for its turn to lead.
    election_stop: Arc<AtomicBool>,
    storage: StorageThread,
}

impl Core {
    async fn alone(
        config: &Config,
        hub_config: HubConfig,
        registry: &Arc<Registry>,
        inputs: mpsc::Receiver<core::Input>,
        failed: &CancellationToken,
    ) -> Result<Core, RunError> {
        let (batch_tx, batch_rx) = mpsc::channel(STORAGE_QUEUE);
        // The storage thread opens the database itself and owns it to the end: a second
        // server on this database stops here, with the error the thread hands back.
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        let open = pipeline::OpenStore {
            source: pipeline::Source::Alone(config.db.clone()),
            durability: config.durability,
            now: pipeline::now_ms(),
            retention_ms: hub_config.ended_retention_ms,
            opened: opened_tx,
        };
        let storage = spawn_storage(open, batch_rx, registry, failed)?;
        let (restored, storage) = from_storage(opened, storage).await?;
        tracing::info!(
            calls = restored.calls.len(),
            db = %config.db,
            "restored calls from storage"
        );
        let mut hub = Hub::new(
            hub_config,
            Box::new(|| uuid::Uuid::new_v4().simple().to_string()),
        );
        hub.restore(restored.calls, restored.at);
        hub.set_next_seq(restored.next_seq);
        let hub_stop = CancellationToken::new();
        let hub_task = tokio::spawn(pipeline::hub_task(hub, inputs, batch_tx, hub_stop.clone()));
        Ok(Core {
            node: 0,
            leader: None,
            reads: restored.reads.ok_or(RunError::StorageGone)?,
            hub_task,
            hub_stop,
            node_tasks: Vec::new(),
            node_stop: CancellationToken::new(),
            publisher: None,
            election_stop: Arc::default(),
            storage,
        })
    }

    async fn node(
        config: &Config,
        cluster_config: &cluster::ClusterConfig,
        hub_config: HubConfig,
        registry: &Arc<Registry>,
        inputs: mpsc::Receiver<core::Input>,
        failed: &CancellationToken,
    ) -> Result<Core, RunError> {
        let store::Database::Postgres(url) = &config.db else {
            return Err(cluster::ClusterError::NeedsPostgres.into());
        };
        let (batch_tx, batch_rx) = mpsc::channel(STORAGE_QUEUE);
        let (publish_tx, publish_rx) = mpsc::channel(cluster::PUBLISH_QUEUE);
        let (joined_tx, joined) = tokio::sync::oneshot::channel();
        let (opened_tx, opened) = tokio::sync::oneshot::channel();
        let election_stop = Arc::new(AtomicBool::new(false));
        // Set while this node is connected to NATS: only then may it lead.
        let nats_up = Arc::new(AtomicBool::new(false));
        let open = pipeline::OpenStore {
            source: pipeline::Source::Elected {
                url: url.clone(),
                joined: joined_tx,
                stop: election_stop.clone(),
                may_lead: nats_up.clone(),
                publish: publish_tx,
            },
            durability: config.durability,
            now: pipeline::now_ms(),
            retention_ms: hub_config.ended_retention_ms,
            opened: opened_tx,
        };
        let storage = spawn_storage(open, batch_rx, registry, failed)?;
        let (
            store::Joined {
                node,
                cluster,
                reads,
            },
            storage,
        ) = from_storage(joined, storage).await?;
        let node_stop = CancellationToken::new();
        let joining = async {
            let nats = cluster::Nats::connect(cluster_config, &cluster, node, nats_up).await?;
            let joined =
                cluster::join(nats.clone(), registry.clone(), inputs, node_stop.clone()).await?;
            Ok::<_, cluster::ClusterError>((nats, joined))
        };
        let (nats, joined) = match joining.await {
            Ok(joined) => joined,
            Err(e) => {
                election_stop.store(true, Ordering::Relaxed);
                let _ = tokio::task::spawn_blocking(move || storage.join()).await;
                return Err(e.into());
            }
        };
        tracing::info!(node, db = %config.db, nats = %cluster_config.nats, "joined the cluster");
        let node_tasks = joined.tasks;
        let leader = Some(joined.leader);
        let publisher = Some(tokio::spawn(cluster::publish(nats.clone(), publish_rx)));
        let hub_stop = CancellationToken::new();
        let leading = cluster::Leading {
            nats,
            opened,
            hub_config,
            batches: batch_tx,
            failed: failed.clone(),
        };
        let stop = hub_stop.clone();
        let lead_failed = failed.clone();
        let hub_task = tokio::spawn(async move {
            if let Err(e) = cluster::lead(leading, stop).await {
                // Elected but deaf: stop, so another node leads.
                tracing::error!(error = %e, "cannot lead the cluster; stopping");
                lead_failed.cancel();
            }
        });
        Ok(Core {
            node,
            leader,
            reads,
            hub_task,
            hub_stop,
            node_tasks,
            node_stop,
            publisher,
            election_stop,
            storage,
        })
    }

    /// Once the sessions are gone: the node's last inputs go out, the hub hands over what
    /// it has, then the disk finishes.
    async fn stop(self) -> Result<(), RunError> {
        self.node_stop.cancel();
        for t in self.node_tasks {
            let abort = t.abort_handle();
            if tokio::time::timeout(NODE_TASKS_GRACE, t).await.is_err() {
                abort.abort();
            }
        }
        self.election_stop.store(true, Ordering::Relaxed);
        self.hub_stop.cancel();
        let _ = self.hub_task.await;
        let storage = self.storage;
        let stored = tokio::task::spawn_blocking(move || storage.join()).await;
        if let Some(publisher) = self.publisher {
            let _ = tokio::time::timeout(NODE_TASKS_GRACE, publisher).await;
        }
        match stored {
            Ok(Ok(Err(e))) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// How long a stopping node's tasks get to hand their last inputs to NATS.
const NODE_TASKS_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

type StorageThread = std::thread::JoinHandle<Result<(), store::StoreError>>;

/// What the storage thread hands over on `answer`; if it fails or ends first, waits for
/// the thread to finish and returns why.
async fn from_storage<T>(
    answer: tokio::sync::oneshot::Receiver<Result<T, store::StoreError>>,
    storage: StorageThread,
) -> Result<(T, StorageThread), RunError> {
    match answer.await {
        Ok(Ok(value)) => Ok((value, storage)),
        failed => {
            let _ = tokio::task::spawn_blocking(move || storage.join()).await;
            Err(match failed {
                Ok(Err(e)) => e.into(),
                _ => RunError::StorageGone,
            })
        }
    }
}

fn spawn_storage(
    open: pipeline::OpenStore,
    batches: mpsc::Receiver<pipeline::Encoded>,
    registry: &Arc<Registry>,
    failed: &CancellationToken,
) -> Result<StorageThread, RunError> {
    let registry = registry.clone();
    let failed = failed.clone();
    Ok(std::thread::Builder::new()
        .name("beckon-storage".into())
        .spawn(move || pipeline::storage_owner(open, batches, registry, failed))?)
}

async fn upgrade(State(app): State<App>, mut req: Request) -> Response {
    let slot = req.extensions_mut().remove::<Slot>();
    let (response, on_upgrade) = match ws::handshake(&mut req) {
        Ok(r) => r,
        Err(refused) => return refused.into_response(),
    };
    let shared = app.shared.clone();
    app.tasks.spawn(connection::serve(slot, on_upgrade, shared));
    response
}
