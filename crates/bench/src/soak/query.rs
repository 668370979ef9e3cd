//! History-query abuse: users with a full page of large calls in their history who ask for
//! that page in a burst and then over and over, just under the request limit, and never
//! read the answers.

use beckon_client::Requests;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use beckon_protocol::limits::{MAX_EXTENDED_DATA_BYTES, MAX_QUERY_COUNT, REQUEST_BURST};
use beckon_protocol::{Login, QueryCallInvitationList, Request, RequestBody, ServerMessage};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use super::tally::{self, CloseWatch, Stats, Ws};
use crate::args::Answer;
use crate::invites::{self, Pacing, Pair, Settings};
use crate::logins;

/// Calls per second while building a history: under the request limit for both sides.
const HISTORY_RATE_PER_PAIR: f64 = 40.0;
/// Attempts at building a full page before giving up (a tick skipped now and then costs a
/// call).
const HISTORY_ROUNDS: usize = 3;
/// How long a query connection waits for its login answer.
const LOGIN_WAIT: Duration = Duration::from_secs(10);
/// Queries sent at once on each new connection, inside the limiter's burst, before the
/// steady rate: what a client that means harm does first.
const BURST: u32 = REQUEST_BURST - 10;

pub fn user(index: u32) -> String {
    format!("qa{index}")
}

/// What the abusers will be asking for.
pub struct History {
    /// Calls in one answer (a full page is [`MAX_QUERY_COUNT`]).
    pub calls: usize,
    /// Size of one answer as JSON.
    pub answer_bytes: usize,
}

/// Gives each query user (qa0, qa1, ...) a full page of calls, each carrying the largest
/// `extendedData` allowed, by calling its partner (qb0, ...) who rejects.
pub async fn build_history(url: &str, addr: SocketAddr, users: u32) -> Result<History> {
    let mut pairs = Vec::new();
    for i in 0..users {
        let caller = logins::login_user(url, addr, &user(i)).await?;
        let invitee = logins::login_user(url, addr, &format!("qb{i}")).await?;
        pairs.push(Pair { caller, invitee });
    }
    let settings = Settings {
        duration: Duration::from_secs_f64(
            (f64::from(MAX_QUERY_COUNT) + 10.0) / HISTORY_RATE_PER_PAIR,
        ),
        answer: Answer::Reject,
        invite_timeout: 60,
        extended_data_bytes: MAX_EXTENDED_DATA_BYTES,
    };
    let mut history = History {
        calls: 0,
        answer_bytes: 0,
    };
    for _ in 0..HISTORY_ROUNDS {
        let rate = HISTORY_RATE_PER_PAIR * f64::from(users);
        let (back, result) = invites::run(pairs, Pacing::Rate(rate), settings).await;
        pairs = back;
        if pairs.len() != users as usize {
            bail!(
                "building history: a query user's connection failed ({:?})",
                result.errors
            );
        }
        // The thinnest history decides whether another round is needed.
        history.calls = usize::MAX;
        for pair in &pairs {
            let list = pair
                .caller
                .wire
                .query_call_list(MAX_QUERY_COUNT, 0)
                .await
                .context("querying a built history")?;
            history.calls = history.calls.min(list.call_list.len());
            history.answer_bytes = serde_json::to_string(&list).map_or(0, |s| s.len());
        }
        if history.calls >= MAX_QUERY_COUNT as usize {
            break;
        }
    }
    for pair in pairs {
        pair.caller.wire.close().await;
        pair.invitee.wire.close().await;
    }
    Ok(history)
}

pub async fn worker(
    addr: SocketAddr,
    index: u32,
    rate: u32,
    mut stop: watch::Receiver<bool>,
) -> Stats {
    let mut stats = Stats::default();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut next_id = 1u64;
    while !*stop.borrow() {
        stats.connections += 1;
        let ws = tokio::select! {
            ws = tally::connect(addr) => ws,
            _ = tally::stopped(&mut stop) => break,
        };
        let (mut sink, mut stream) = match ws {
            Ok(ws) => ws.split(),
            Err(reason) => {
                stats.refused(reason);
                tally::pause(&mut stop).await;
                continue;
            }
        };
        let mut watch = CloseWatch::default();
        next_id += 1;
        let login_id = next_id;
        let login = Request {
            id: login_id,
            body: RequestBody::Login(Login {
                user_id: user(index),
                user_name: user(index),
                token: None,
                // The same device each time: a reconnect replaces the older session.
                device_id: Some("soak-query".into()),
            }),
        };
        let login = serde_json::to_string(&login).unwrap_or_default();
        if let Err(reason) = log_in(&mut sink, &mut stream, login, login_id, &mut watch).await {
            stats.refused(reason);
            tally::pause(&mut stop).await;
            continue;
        }
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut burst = BURST;
        let end = loop {
            tokio::select! {
                _ = tally::stopped(&mut stop) => break None,
                _ = next_send(&mut tick, &mut burst) => {}
            }
            next_id += 1;
            tokio::select! {
                sent = sink.send(Message::text(query_text(next_id))) => match sent {
                    Ok(()) => stats.sent += 1,
                    Err(e) => break Some(watch.on_error(&e)),
                },
                _ = tally::stopped(&mut stop) => break None,
            }
        };
        match end {
            Some(write_error) => {
                stats.cut(tally::drain_reason(&mut stream, &mut watch, write_error).await);
                tally::pause(&mut stop).await;
            }
            None => stats.open_at_end += 1,
        }
    }
    stats
}

/// The burst goes out at once; after it, one query per tick.
async fn next_send(tick: &mut Interval, burst: &mut u32) {
    if *burst > 0 {
        *burst -= 1;
    } else {
        tick.tick().await;
    }
}

fn query_text(id: u64) -> String {
    let query = Request {
        id,
        body: RequestBody::QueryCallInvitationList(QueryCallInvitationList {
            count: MAX_QUERY_COUNT,
            next_flag: 0,
        }),
    };
    serde_json::to_string(&query).unwrap_or_default()
}

/// Sends the login and reads until its answer: the only reading this connection does.
async fn log_in(
    sink: &mut futures_util::stream::SplitSink<Ws, Message>,
    stream: &mut SplitStream<Ws>,
    login: String,
    id: u64,
    watch: &mut CloseWatch,
) -> Result<(), String> {
    sink.send(Message::text(login))
        .await
        .map_err(|e| format!("login: {}", watch.on_error(&e)))?;
    let answer = async {
        while let Some(msg) = stream.next().await {
            let msg = msg.map_err(|e| format!("login: {}", watch.on_error(&e)))?;
            if let Some(reason) = watch.on_message(&msg) {
                return Err(format!("login: {reason}"));
            }
            let Message::Text(text) = msg else { continue };
            match serde_json::from_str::<ServerMessage>(text.as_str()) {
                Ok(ServerMessage::Response(r)) if r.id == id => return Ok(()),
                Ok(ServerMessage::Error(e)) if e.id == Some(id) => {
                    return Err(format!("login: {}", e.name))
                }
                _ => {}
            }
        }
        Err(format!("login: {}", watch.on_eof()))
    };
    tokio::time::timeout(LOGIN_WAIT, answer)
        .await
        .unwrap_or_else(|_| Err("login: timeout".into()))
}
