//! Floods, over raw sockets so frames can be sent in one burst: rate limiting, cutting off
//! a sustained flooder, and a client that never reads. Everybody else carries on.
mod common;

use beckon_client::Requests;
use std::sync::atomic::Ordering;
use std::time::Duration;

use beckon_protocol::limits::*;
use beckon_protocol::CallUserState::*;
use beckon_protocol::*;
use common::abuse::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn raw_connect(s: &TestServer) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(s.url().as_str())
        .await
        .unwrap();
    ws
}

/// The next text frame as JSON; panics after `WAIT` or if the connection ends.
async fn raw_next(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(&t).unwrap(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads until the answer to request `id`, skipping events.
async fn raw_answer(ws: &mut Ws, id: u64) -> Value {
    loop {
        let v = raw_next(ws).await;
        if v["id"].as_u64() == Some(id) {
            return v;
        }
    }
}

async fn raw_login(ws: &mut Ws, user: &str, device: &str) {
    let login =
        json!({"type": "login", "id": 1, "userId": user, "userName": user, "deviceId": device});
    ws.send(Message::text(login.to_string())).await.unwrap();
    let v = raw_answer(ws, 1).await;
    assert_eq!(v["type"], "response", "{v}");
}

fn heartbeat(id: u64) -> Message {
    Message::text(json!({"type": "heartbeat", "id": id}).to_string())
}

/// Sends `n` heartbeats in one write and returns, per id in order, whether it was served
/// (`true`) or rate limited (`false`).
async fn burst(ws: &mut Ws, first_id: u64, n: u64) -> Vec<bool> {
    for id in first_id..first_id + n {
        ws.feed(heartbeat(id)).await.unwrap();
    }
    ws.flush().await.unwrap();
    let mut out = vec![None; n as usize];
    let mut got = 0;
    while got < n {
        let v = raw_next(ws).await;
        let Some(id) = v["id"].as_u64() else {
            panic!("unexpected frame in a flood: {v}");
        };
        let slot = &mut out[(id - first_id) as usize];
        assert!(slot.is_none(), "two answers for {id}");
        *slot = Some(match v["type"].as_str() {
            Some("response") => true,
            Some("error") => {
                assert_eq!(v["code"], 1006, "{v}");
                assert_eq!(v["name"], "rateLimited", "{v}");
                false
            }
            _ => panic!("unexpected answer {v}"),
        });
        got += 1;
    }
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn a_burst_over_the_limit_is_rate_limited_then_recovers() {
    let s = TestServer::start().await;
    let mut ws = raw_connect(&s).await;
    raw_login(&mut ws, "flooder", "f-1").await;

    // Over the allowance by half the refusals a connection may collect before it is cut.
    let n = u64::from(REQUEST_BURST + MAX_RATE_LIMITED_REFUSALS / 2);
    let answers = burst(&mut ws, 100, n).await;
    let served = answers.iter().filter(|ok| **ok).count();
    let limited = answers.len() - served;
    assert!(
        served >= REQUEST_BURST as usize - 1,
        "the burst allowance is {REQUEST_BURST}: only {served} served"
    );
    assert!(limited >= 1, "{n} at once must hit the limit: {answers:?}");
    // The allowance is spent from the front: the first ones are served.
    assert!(answers[..REQUEST_BURST as usize - 1].iter().all(|ok| *ok));

    // Others are not affected meanwhile.
    still_serves(&s).await;

    // After a pause the bucket is full again: a whole burst is served.
    tokio::time::sleep(Duration::from_millis(
        1000 * u64::from(REQUEST_BURST) / u64::from(REQUESTS_PER_SEC) + 300,
    ))
    .await;
    let answers = burst(&mut ws, 1000, u64::from(REQUEST_BURST)).await;
    assert!(
        answers.iter().all(|ok| *ok),
        "after a pause the connection is usable again: {answers:?}"
    );
    // That burst spent the allowance again; one request's worth comes back in 20 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // And it is still logged in as flooder.
    ws.send(Message::text(
        json!({"type": "queryCallInvitationList", "id": 5000, "count": 10}).to_string(),
    ))
    .await
    .unwrap();
    let v = raw_answer(&mut ws, 5000).await;
    assert_eq!(v["type"], "response", "{v}");
}

/// How a sustained flood ended, as the flooder saw it.
struct Flood {
    /// Per answer in arrival order: served (`true`) or rate limited (`false`).
    answers: Vec<bool>,
    /// The `reason` of a `sessionClosed`, if one arrived.
    reason: Option<Value>,
    /// The close frame's code, or how the connection broke without one.
    close: Result<Option<u16>, String>,
}

impl Flood {
    fn trailing_refusals(&self) -> usize {
        self.answers.iter().rev().take_while(|ok| !**ok).count()
    }
}

/// Logs `user` in on a raw socket and sends heartbeats as fast as it can (at most 1000
/// unanswered) until the server hangs up; bounded in time.
async fn sustained_flood(s: &TestServer, user: &str) -> Flood {
    let ws = raw_connect(s).await;
    let (mut sink, mut stream) = ws.split();
    let login = json!({"type": "login", "id": 1, "userId": user, "userName": user});
    sink.send(Message::text(login.to_string())).await.unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));

    let seen = answered.clone();
    let writer = tokio::spawn(async move {
        let mut id = 2u64;
        loop {
            if id - seen.load(Ordering::Relaxed) > 1000 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            for _ in 0..500 {
                if sink.feed(heartbeat(id)).await.is_err() {
                    return;
                }
                id += 1;
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });

    let read = async {
        let mut answers: Vec<bool> = Vec::new();
        let mut reason = None;
        let close = loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    match v["type"].as_str() {
                        Some("response") => answers.push(true),
                        Some("error") => {
                            assert_eq!(v["code"], 1006, "{v}");
                            answers.push(false)
                        }
                        Some("sessionClosed") => reason = Some(v["reason"].clone()),
                        _ => panic!("unexpected frame {v}"),
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                Some(Ok(Message::Close(f))) => break Ok(f.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(format!("{e}")),
                None => break Err("ended without a close frame".to_string()),
            }
        };
        Flood {
            answers,
            reason,
            close,
        }
    };
    let flood = tokio::time::timeout(Duration::from_secs(30), read).await;
    writer.abort();
    flood.expect("a sustained flood must be cut off within 30 s")
}

// Multi-threaded so the reader keeps draining answers while the writer floods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sustained_flood_is_cut_off() {
    let s = TestServer::start().await;
    let flood = sustained_flood(&s, "flooder").await;
    // The connection ended (above, bounded). Whatever part of the goodbye arrived is right.
    if let Some(reason) = &flood.reason {
        assert_eq!(reason, &json!("flooding"));
    }
    if let Ok(code) = flood.close {
        assert_eq!(code, Some(1008));
    }
    // The refusals themselves may not all get out: what is queued when the cut comes is
    // dropped with the connection. Their count is bounded either way.
    assert!(flood.trailing_refusals() <= MAX_RATE_LIMITED_REFUSALS as usize);

    // The flooder's session is gone: an invitation finds it offline.
    let caller = s.user("caller").await;
    let sent = caller.invite(&["flooder"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&sent.call_user_list, "flooder"), Inviting);
    still_serves(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_gets_session_closed_flooding_and_close_1008() {
    let s = TestServer::start().await;
    let flood = sustained_flood(&s, "flooder").await;
    let trailing = flood.trailing_refusals();
    assert_eq!(
        (flood.reason, flood.close),
        (Some(json!("flooding")), Ok(Some(1008))),
        "after {} answers, {trailing} refusals in a row",
        flood.answers.len()
    );
    assert!(
        trailing <= MAX_RATE_LIMITED_REFUSALS as usize,
        "cut after at most {MAX_RATE_LIMITED_REFUSALS} refusals, not {trailing}"
    );
    still_serves(&s).await;
}

/// What happened when four devices of alice poured 60 KiB relay frames at `slow`, a
/// client that accepted an advanced call and then stopped reading its socket.
struct NonReader {
    slow: Ws,
    senders: Vec<User>,
    /// Relays the server accepted for `slow`.
    accepted: u32,
    /// Whether a relay was refused with 3010: the server had dropped `slow`.
    dropped: bool,
}

async fn flood_a_non_reader(s: &TestServer) -> NonReader {
    let mut slow = raw_connect(s).await;
    raw_login(&mut slow, "slow", "slow-1").await;
    let alice = s.device("alice", "alice-1").await;
    let sent = alice.invite(&["slow"], CallMode::Advanced, 60).await;
    loop {
        let v = raw_next(&mut slow).await;
        if v["type"] == "callInvitationReceived" {
            assert_eq!(v["callId"], sent.call_id.as_str());
            break;
        }
    }
    let accept = json!({"type": "callAccept", "id": 2, "callId": sent.call_id});
    slow.send(Message::text(accept.to_string())).await.unwrap();
    assert_eq!(raw_answer(&mut slow, 2).await["type"], "response");
    // From here on nobody reads `slow`.

    // Several devices, because the rate limit is per connection. In all far more than
    // the socket buffers plus the 256-frame queue can hold: loopback receive buffers can
    // grow to `tcp_rmem`'s maximum (32 MiB on these machines), so up to 140 MiB are
    // sent; the flood stops as soon as the server has cut `slow`.
    let mut senders = vec![alice];
    for d in 2..=4 {
        senders.push(s.device("alice", &format!("alice-{d}")).await);
    }
    let payload = Value::String("x".repeat(60 * 1024));
    let flood = senders.iter().map(|a| {
        let client = a.client.clone();
        let call_id = sent.call_id.clone();
        let payload = payload.clone();
        async move {
            let mut accepted = 0u32;
            while accepted < 600 {
                match client.relay(&call_id, "slow", payload.clone()).await {
                    Ok(()) => accepted += 1,
                    Err(e) if e.code() == Some(ErrorCode::RateLimited) => {
                        tokio::time::sleep(Duration::from_millis(100)).await
                    }
                    // The target is gone.
                    Err(e) if e.code() == Some(ErrorCode::RelayTargetUnavailable) => {
                        return (accepted, true)
                    }
                    Err(e) => panic!("relay failed: {e}"),
                }
            }
            (accepted, false)
        }
    });
    let results = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(flood),
    )
    .await
    .expect("the relay flood took too long");
    NonReader {
        slow,
        senders,
        accepted: results.iter().map(|r| r.0).sum(),
        dropped: results.iter().any(|r| r.1),
    }
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_stall_anyone_else() {
    let s = TestServer::start().await;
    let flood = flood_a_non_reader(&s).await;
    // Every relay got an answer (the loop above is bounded), the senders still work, and
    // new users are served.
    assert!(flood.accepted > 0);
    for a in &flood.senders {
        alive(a).await;
    }
    still_serves(&s).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_as_a_slow_consumer() {
    let s = TestServer::start().await;
    let mut flood = flood_a_non_reader(&s).await;
    assert!(
        flood.dropped,
        "slow was never disconnected: {} relays of 60 KiB were accepted for a client that \
         reads nothing",
        flood.accepted
    );

    // The server counts slow as gone: a new invitation finds it offline.
    let mut carol = s.user("carol").await;
    let to_slow = carol.invite(&["slow"], CallMode::Normal, 30).await;
    assert_eq!(state_in(&to_slow.call_user_list, "slow"), Inviting);
    carol.silent().await;

    // What slow finds when it finally reads: the frames that made it, maybe the
    // sessionClosed{slowConsumer} (sent only if there is room), then the end.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        let mut reason = None;
        loop {
            match flood.slow.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "sessionClosed" {
                        reason = Some(v["reason"].clone());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return reason,
            }
        }
    })
    .await
    .expect("slow's connection should have ended");
    if let Some(reason) = end {
        assert_eq!(reason, json!("slowConsumer"));
    }
    for a in &flood.senders {
        alive(a).await;
    }
    still_serves(&s).await;
}
