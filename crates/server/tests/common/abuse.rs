//! What the bad-input tests (`tests/bad_input*.rs`) share: frames sent raw on a real
//! connection, the errors they earn, and proof that the server still serves afterwards.

use beckon_client::Requests;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use beckon_protocol::CallUserState::*;
use beckon_protocol::*;

use super::*;

/// Ids for frames sent with `send_raw`, far above the client's own counter.
pub const RAW: u64 = 1 << 40;

/// A connection that is not logged in, wrapped as a `User` to reuse the event helpers.
pub async fn anon(s: &TestServer) -> User {
    let (client, events) = s.connect().await;
    User {
        id: "anonymous".into(),
        client,
        events,
    }
}

/// The next pushed `error` frame (answers to raw frames arrive as events).
pub async fn next_error(u: &mut User) -> ErrorBody {
    u.wait_for("error frame", |e| match e {
        ServerMessage::Error(b) => Some(b.clone()),
        _ => None,
    })
    .await
}

/// Sends `frame` raw and returns the error it earned.
pub async fn refused(u: &mut User, frame: impl Into<String>) -> ErrorBody {
    u.client.send_raw(frame.into()).await.unwrap();
    next_error(u).await
}

/// The connection still answers requests.
pub async fn alive(u: &User) {
    u.client
        .heartbeat()
        .await
        .unwrap_or_else(|e| panic!("{}: connection unusable: {e}", u.id));
}

pub static PROBE: AtomicUsize = AtomicUsize::new(0);

/// Two new users log in and complete a one-to-one call: the server still serves.
pub async fn still_serves(s: &TestServer) {
    let work = async {
        let n = PROBE.fetch_add(1, Ordering::Relaxed);
        let a = format!("probe-caller-{n}");
        let b = format!("probe-callee-{n}");
        let mut caller = s.user(&a).await;
        let mut callee = s.user(&b).await;
        let sent = caller.invite(&[&b], CallMode::Normal, 30).await;
        assert_eq!(state_in(&sent.call_user_list, &b), Received);
        let inv = callee.received().await;
        assert_eq!(inv.call_id, sent.call_id);
        callee
            .client
            .call_accept(&sent.call_id, "ok")
            .await
            .unwrap();
        assert_eq!(caller.state_of(&b).await.state, Accepted);
        caller.client.close().await;
        callee.client.close().await;
    };
    tokio::time::timeout(Duration::from_secs(15), work)
        .await
        .expect("the server stopped serving new users");
}
