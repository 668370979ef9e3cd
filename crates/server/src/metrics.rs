//! Prometheus metrics. The recorder is process-global (the `metrics` facade is), so it is
//! installed once; several servers in one test process share it.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let latency_buckets = [
                0.000_25, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), &latency_buckets)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

pub const CONNECTIONS: &str = "beckon_connections";
pub const SESSIONS: &str = "beckon_sessions";
pub const CALLS: &str = "beckon_calls";
pub const CALL_MEMBERS: &str = "beckon_call_members";
pub const TIMERS: &str = "beckon_pending_timers";
pub const REQUESTS: &str = "beckon_requests_total";
pub const REQUEST_LATENCY: &str = "beckon_request_duration_seconds";
pub const COMMIT_LATENCY: &str = "beckon_store_commit_seconds";
pub const COMMIT_CALLS: &str = "beckon_store_calls_written_total";
pub const BAD_FRAMES: &str = "beckon_bad_frames_total";
pub const CLOSED: &str = "beckon_sessions_closed_total";
pub const TCP_CONNECTIONS: &str = "beckon_tcp_connections";
pub const REFUSED: &str = "beckon_connections_refused_total";
pub const ACCEPT_ERRORS: &str = "beckon_accept_errors_total";
pub const OUTBOUND_BYTES: &str = "beckon_outbound_queued_bytes";
/// 1 while this node leads its cluster.
pub const CLUSTER_LEADER: &str = "beckon_cluster_leader";
/// Nodes the leader hears from.
pub const CLUSTER_NODES: &str = "beckon_cluster_nodes";
/// Group commits' frames for another node that NATS could not take in time.
pub const CLUSTER_DROPPED: &str = "beckon_cluster_frames_dropped_total";
/// Times this node closed all its sessions, by why (`leader`, `lost`, `gone`).
pub const CLUSTER_RESTARTS: &str = "beckon_cluster_session_restarts_total";
