//! What a client that never reads can make the server hold. Alone in its test binary: it
//! reads the process's peak memory (VmHWM), which other tests would disturb.
mod common;

use beckon_client::Requests;
use std::time::Duration;

use beckon_protocol::limits::*;
use beckon_protocol::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// The process's peak resident memory, in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_query_and_never_read_are_cut_without_growing_memory() {
    let s = TestServer::start().await;
    let hoarders = ["hoarder-1", "hoarder-2", "hoarder-3", "hoarder-4"];
    for h in hoarders {
        big_history(&s, h, 70).await;
    }
    let before = peak_kib();
    let mut writers = Vec::new();
    for h in hoarders {
        let (mut ws, _) = tokio_tungstenite::connect_async(s.url().as_str())
            .await
            .unwrap();
        let login = json!({"type": "login", "id": 1, "userId": h, "userName": h});
        ws.send(Message::text(login.to_string())).await.unwrap();
        // From here on nobody reads `ws`. A burst of queries as large as the rate limit
        // allows, then more at the sustained rate; each answer is a quarter of a MiB or more.
        let (mut sink, stream) = ws.split();
        writers.push(tokio::spawn(async move {
            let _keep = stream;
            for id in 10u64..10 + u64::from(REQUEST_BURST) - 2 {
                let q = json!({"type": "queryCallInvitationList", "id": id, "count": 100});
                if sink.feed(Message::text(q.to_string())).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
            for id in 1000u64..10_000 {
                let q = json!({"type": "queryCallInvitationList", "id": id, "count": 100});
                if sink.send(Message::text(q.to_string())).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    // The server drops every hoarder: an invitation finds each offline.
    let caller = s.user("prober").await;
    let cut = tokio::time::timeout(Duration::from_secs(60), async {
        for h in hoarders {
            loop {
                let sent = caller.invite(&[h], CallMode::Normal, 30).await;
                let state = state_in(&sent.call_user_list, h);
                caller
                    .client
                    .call_cancel(cancel_all(&sent.call_id))
                    .await
                    .unwrap();
                if state == CallUserState::Inviting {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    })
    .await;
    for w in &writers {
        w.abort();
    }
    cut.expect("clients that never read their answers must be cut");
    let grew_mib = (peak_kib() - before) / 1024;
    eprintln!("peak grew by {grew_mib} MiB from {} MiB", before / 1024);
    // Four queues of at most 1 MiB each, plus answers being built and socket buffers.
    assert!(
        grew_mib < 48,
        "four clients that read nothing grew the peak memory by {grew_mib} MiB"
    );
}
