//! beckon-server: the call-invitation service, as a library with one entry point, [`run`],
//! so tests and embedders start the real server on any listener.
//!
//! Inside: one task per connection ([`connection`]), one hub task that owns all call state
//! ([`core::Hub`], plain code), and one storage thread that commits each batch to SQLite or
//! PostgreSQL ([`store`]) before its answers and events go out ([`pipeline`]).

pub mod auth;
pub mod cli;
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
use std::sync::atomic::AtomicU64;
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
use crate::core::{Hub, HubConfig};
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
}

/// Inputs waiting for the hub. Full means the hub is behind: connections wait (up to a
/// bound) instead of queueing without limit.
const HUB_QUEUE: usize = 8192;
/// Batches waiting for the disk.
const STORAGE_QUEUE: usize = 1024;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    tasks: Tasks,
}

/// Serves on `listener` until `shutdown` completes, then closes every session (telling
/// each client why) and drops whatever connection is still open after
/// `config.shutdown_deadline`, lets the last batches reach the disk, and returns. A failed
/// commit stops it the same way, and it returns that error. The listener is released
/// last, so a server started on the same port only begins once this one has stopped
/// writing.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    metrics::install();
    let now = pipeline::now_ms();
    let hub_config = HubConfig {
        heartbeat_timeout_ms: config.heartbeat_timeout.as_millis() as u64,
        ended_retention_ms: config.ended_retention.as_millis() as u64,
        ..HubConfig::default()
    };
    let registry = Arc::new(Registry::new(config.outbound_budget_bytes));
    let (input_tx, input_rx) = mpsc::channel(HUB_QUEUE);
    let (batch_tx, batch_rx) = mpsc::channel(STORAGE_QUEUE);
    let storage_failed = CancellationToken::new();
    // The storage thread opens the database itself and owns it to the end: a second
    // server on this database stops here, with the error the thread hands back.
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let storage = {
        let open = pipeline::OpenStore {
            db: config.db.clone(),
            durability: config.durability,
            now,
            retention_ms: hub_config.ended_retention_ms,
            opened: opened_tx,
        };
        let registry = registry.clone();
        let failed = storage_failed.clone();
        std::thread::Builder::new()
            .name("beckon-storage".into())
            .spawn(move || pipeline::storage_owner(open, batch_rx, registry, failed))?
    };
    let restored = match opened.await {
        Ok(Ok(restored)) => restored,
        failed => {
            let _ = tokio::task::spawn_blocking(move || storage.join()).await;
            return Err(match failed {
                Ok(Err(e)) => e.into(),
                _ => RunError::StorageGone,
            });
        }
    };
    tracing::info!(
        calls = restored.calls.len(),
        db = %config.db,
        "restored calls from storage"
    );
    let mut hub = Hub::new(
        hub_config,
        Box::new(|| uuid::Uuid::new_v4().simple().to_string()),
    );
    hub.restore(restored.calls, now);
    hub.set_next_seq(restored.next_seq);
    let reads = restored.reads;

    let hub_stop = CancellationToken::new();
    let hub_task = tokio::spawn(pipeline::hub_task(
        hub,
        input_rx,
        batch_tx,
        hub_stop.clone(),
    ));

    let stop_sessions = CancellationToken::new();
    let tasks = Tasks::default();
    let app = App {
        shared: Arc::new(Shared {
            hub: input_tx,
            registry,
            auth: auth::Authenticator::new(&config.auth),
            reads,
            queries: Arc::new(tokio::sync::Semaphore::new(store::READERS as usize)),
            heartbeat_timeout: config.heartbeat_timeout,
            ice: config.ice.clone(),
            login_timeout: config.login_timeout,
            shutdown: stop_sessions.clone(),
            storage_failed: storage_failed.clone(),
            next_session: AtomicU64::new(1),
            tasks: tasks.clone(),
        }),
        tasks: tasks.clone(),
    };
    let router = Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(|| async { metrics::render() }))
        .with_state(app);
    tracing::info!(addr = %listener.local_addr()?, "listening");
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
    // Sessions are gone; let the hub hand over what it has, then the disk finish.
    hub_stop.cancel();
    let _ = hub_task.await;
    let stored = tokio::task::spawn_blocking(move || storage.join()).await;
    drop(listener);
    tracing::info!("stopped");
    match stored {
        Ok(Ok(Err(e))) => Err(e.into()),
        _ => Ok(()),
    }
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
