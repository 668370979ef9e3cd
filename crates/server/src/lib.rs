//! beckon-server: the call-invitation service, as a library with one entry point, [`run`],
//! so tests and embedders start the real server on any listener.
//!
//! Inside: one task per connection ([`connection`]), one hub task that owns all call state
//! ([`core::Hub`], plain code), and one storage thread that commits each batch to SQLite
//! before its answers and events go out ([`pipeline`]).

pub mod auth;
pub mod cli;
pub mod config;
pub mod connection;
pub mod core;
pub mod metrics;
pub mod pipeline;
pub mod registry;
pub mod store;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use beckon_protocol::limits::HARD_MAX_FRAME_BYTES;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;

use crate::connection::Shared;
use crate::core::{Hub, HubConfig};
use crate::registry::Registry;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("storage: {0}")]
    Store(#[from] store::StoreError),
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
}

/// Inputs waiting for the hub. Full means the hub is behind: connections wait (up to a
/// bound) instead of queueing without limit.
const HUB_QUEUE: usize = 8192;
/// Batches waiting for the disk.
const STORAGE_QUEUE: usize = 1024;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    tracker: TaskTracker,
}

/// Serves on `listener` until `shutdown` completes, then closes every session (telling
/// each client why), lets the last batches reach the disk, and returns. A failed commit
/// stops it the same way, and it returns that error.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    // Held until the disk is finished; a second server on this database stops here.
    let _lock = store::lock(&config.db_path)?;
    metrics::install();
    let (writer, reads) = store::open(&config.db_path, config.durability)?;
    let stop_checkpoints = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpointer = store::spawn_checkpointer(
        &config.db_path,
        std::time::Duration::from_millis(500),
        stop_checkpoints.clone(),
    )?;
    let now = pipeline::now_ms();
    let hub_config = HubConfig {
        heartbeat_timeout_ms: config.heartbeat_timeout.as_millis() as u64,
        ended_retention_ms: config.ended_retention.as_millis() as u64,
        ..HubConfig::default()
    };
    let (calls, next_seq) = writer.load(now, hub_config.ended_retention_ms)?;
    tracing::info!(
        calls = calls.len(),
        db = %config.db_path.display(),
        "restored calls from storage"
    );
    let mut hub = Hub::new(
        hub_config,
        Box::new(|| uuid::Uuid::new_v4().simple().to_string()),
    );
    hub.restore(calls, now);
    hub.set_next_seq(next_seq);

    let registry = Arc::new(Registry::default());
    let (input_tx, input_rx) = mpsc::channel(HUB_QUEUE);
    let (batch_tx, batch_rx) = mpsc::channel(STORAGE_QUEUE);
    let storage_registry = registry.clone();
    let storage_failed = CancellationToken::new();
    let failed = storage_failed.clone();
    let storage = std::thread::Builder::new()
        .name("beckon-storage".into())
        .spawn(move || pipeline::storage_thread(writer, batch_rx, storage_registry, failed))?;
    let hub_stop = CancellationToken::new();
    let hub_task = tokio::spawn(pipeline::hub_task(
        hub,
        input_rx,
        batch_tx,
        hub_stop.clone(),
    ));

    let stop_sessions = CancellationToken::new();
    let app = App {
        shared: Arc::new(Shared {
            hub: input_tx,
            registry,
            auth: auth::Authenticator::new(&config.auth),
            reads,
            heartbeat_timeout: config.heartbeat_timeout,
            shutdown: stop_sessions.clone(),
            storage_failed: storage_failed.clone(),
            next_session: AtomicU64::new(1),
        }),
        tracker: TaskTracker::new(),
    };
    let tracker = app.tracker.clone();
    let router = Router::new()
        .route("/ws", get(upgrade))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(|| async { metrics::render() }))
        .with_state(app);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let stop = stop_sessions.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown => tracing::info!("shutting down"),
                _ = storage_failed.cancelled() => tracing::error!("storage failed; shutting down"),
            }
            stop.cancel();
        })
        .await?;
    stop_sessions.cancel();
    tracker.close();
    tracker.wait().await;
    // Sessions are gone; let the hub hand over what it has, then the disk finish.
    hub_stop.cancel();
    let _ = hub_task.await;
    let stored = tokio::task::spawn_blocking(move || storage.join()).await;
    stop_checkpoints.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = tokio::task::spawn_blocking(move || checkpointer.join()).await;
    tracing::info!("stopped");
    match stored {
        Ok(Ok(Err(e))) => Err(e.into()),
        _ => Ok(()),
    }
}

async fn upgrade(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    // Small buffers keep an idle connection cheap; the hard cap bounds what one frame can
    // make the server hold. Larger-than-`MAX_FRAME_BYTES` frames below it get an error.
    ws.read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(HARD_MAX_FRAME_BYTES)
        .max_frame_size(HARD_MAX_FRAME_BYTES)
        .on_upgrade(move |socket| {
            let shared = app.shared.clone();
            app.tracker.track_future(connection::serve(socket, shared))
        })
        .into_response()
}
