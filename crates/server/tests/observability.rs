//! What an operator sees: /healthz and Prometheus /metrics.
mod common;

use std::time::Duration;

use beckon_protocol::CallMode;
use common::*;

#[tokio::test]
async fn healthz_and_metrics() {
    let s = TestServer::start().await;
    let (status, body) = http_get(&s.http(), "/healthz").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body.trim(), "ok");

    let alice = s.user("alice").await;
    let mut bob = s.user("bob").await;
    alice.invite(&["bob"], CallMode::Advanced, 60).await;
    bob.received().await;
    // Gauges are published once a second: wait until they show the call.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (status, body) = loop {
        let (status, body) = http_get(&s.http(), "/metrics").await;
        if body.contains("beckon_call_members{state=\"received\"} 1") {
            break (status, body);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no gauges within {WAIT:?}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.contains("200"), "{status}");
    for needle in [
        "beckon_connections ",
        "beckon_sessions ",
        "beckon_calls{state=\"started\"} ",
        "beckon_call_members{state=\"received\"} ",
        "beckon_requests_total{type=\"callInvite\",outcome=\"ok\"} ",
        "beckon_request_duration_seconds_bucket{type=\"login\",le=\"0.001\"}",
        "beckon_store_commit_seconds_count ",
    ] {
        assert!(body.contains(needle), "no `{needle}` in:\n{body}");
    }
    let started = body
        .lines()
        .find(|l| l.starts_with("beckon_calls{state=\"started\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(started >= 1.0, "the live call is counted");
}
