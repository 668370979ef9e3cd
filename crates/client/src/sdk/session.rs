//! The task that keeps one user signed in: connect, log in, resynchronise after a drop,
//! heartbeat, and back off between attempts. It alone owns the connection's event stream,
//! so events reach the application in order and each goes through the tracker once.

use crate::Requests;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use beckon_protocol::{CallInfo, CloseReason, LoginResult, ServerMessage, PROTOCOL_VERSION};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::client::Shared;
use super::{ConnectionState, DisconnectReason, Event, HeartbeatTiming};
use crate::wire::{self, WireClient, WireConfig, WireError};

/// Page size and page cap of the catch-up query after a reconnect.
const RESYNC_PAGE: u32 = 100;
const RESYNC_MAX_PAGES: usize = 10;
/// How long a `logout` on the way out may take before the socket is just closed.
const LOGOUT_WAIT: Duration = Duration::from_secs(2);

enum Attempt {
    Retry(String),
    Fatal(DisconnectReason),
}

enum SessionEnd {
    Stopped,
    Fatal(DisconnectReason),
    /// Dropped; `last_alive` is the local Unix time of the last frame heard.
    Lost {
        why: String,
        last_alive: u64,
    },
}

pub(super) async fn run(shared: Arc<Shared>, events: mpsc::Sender<Event>, stop: CancellationToken) {
    let out = Out {
        shared: &shared,
        events,
    };
    let mut attempt = 0u32;
    let mut why = String::new();
    // Server-clock time since which this device missed events; `None` once caught up.
    let mut away_since: Option<u64> = shared.config.catch_up_since;
    let reason = loop {
        if attempt == 0 {
            out.state(ConnectionState::Connecting).await;
        } else {
            let retry_in = shared.config.backoff.delay(attempt);
            out.state(ConnectionState::Reconnecting {
                attempt,
                retry_in,
                reason: why.clone(),
            })
            .await;
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = stop.cancelled() => break DisconnectReason::Stopped,
            }
        }
        let opened = tokio::select! {
            r = open(&shared) => r,
            _ = stop.cancelled() => break DisconnectReason::Stopped,
        };
        let (wire, wire_events, login) = match opened {
            Ok(s) => s,
            Err(Attempt::Fatal(r)) => break r,
            Err(Attempt::Retry(w)) => {
                attempt += 1;
                why = w;
                continue;
            }
        };
        let skew = login.server_time as i64 - unix_ms() as i64;
        shared.skew_ms.store(skew, Ordering::Relaxed);
        shared.hold_ice(login.ice.clone(), login.server_time);
        *shared.device_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(login.device_id.clone());
        let heartbeat = HeartbeatTiming::from_login(&login);
        shared.heartbeat.send_replace(heartbeat);
        shared.wire.send_replace(Some(wire.clone()));
        out.state(ConnectionState::Connected {
            device_id: login.device_id.clone(),
            heartbeat,
        })
        .await;
        let session = Session {
            out: &out,
            wire: &wire,
            heartbeat,
            last_alive: Arc::new(AtomicU64::new(unix_ms())),
        };
        let end = session.run(wire_events, &mut away_since, skew, &stop).await;
        shared.wire.send_replace(None);
        match end {
            SessionEnd::Stopped => break DisconnectReason::Stopped,
            SessionEnd::Fatal(r) => break r,
            SessionEnd::Lost { why: w, last_alive } => {
                let since = (last_alive as i64 + skew).max(0) as u64;
                away_since = Some(away_since.map_or(since, |a| a.min(since)));
                // Start at 1, so even a server that accepts and drops at once is not hammered.
                attempt = 1;
                why = w;
            }
        }
    };
    shared.wire.send_replace(None);
    out.state(ConnectionState::Disconnected(reason)).await;
}

/// Where the task's news goes: the state watch for `Client::state`, and the event stream.
struct Out<'a> {
    shared: &'a Shared,
    events: mpsc::Sender<Event>,
}

impl Out<'_> {
    async fn state(&self, s: ConnectionState) {
        tracing::debug!(user = %self.shared.config.user_id, state = ?s, "connection state");
        self.shared.state.send_replace(s.clone());
        self.emit(Event::Connection(s)).await;
    }

    /// A dropped `Events` just means nobody listens; the client keeps working for requests.
    async fn emit(&self, ev: Event) {
        let _ = self.events.send(ev).await;
    }
}

async fn open(shared: &Shared) -> Result<(WireClient, wire::Events, LoginResult), Attempt> {
    let cfg = &shared.config;
    let wire_config = WireConfig {
        event_buffer: 1024,
        request_timeout: Some(cfg.request_timeout),
        connect_timeout: cfg.connect_timeout,
    };
    let (wire, events) = WireClient::connect_with(&cfg.url, wire_config)
        .await
        .map_err(|e| Attempt::Retry(e.to_string()))?;
    let device_id = shared
        .device_id
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let login = wire
        .login(&cfg.user_id, &cfg.user_name, cfg.token.clone(), device_id)
        .await;
    match login {
        Ok(l) if l.protocol_version != PROTOCOL_VERSION => {
            wire.close().await;
            Err(Attempt::Fatal(DisconnectReason::Incompatible(format!(
                "server speaks protocol {}, this client {PROTOCOL_VERSION}",
                l.protocol_version
            ))))
        }
        Ok(l) => Ok((wire, events, l)),
        Err(WireError::Server(body)) if !body.code.is_retryable() => {
            wire.close().await;
            Err(Attempt::Fatal(DisconnectReason::LoginRefused(body)))
        }
        Err(e) => {
            wire.close().await;
            Err(Attempt::Retry(e.to_string()))
        }
    }
}

struct Session<'a, 'o> {
    out: &'a Out<'o>,
    wire: &'a WireClient,
    heartbeat: HeartbeatTiming,
    last_alive: Arc<AtomicU64>,
}

impl Session<'_, '_> {
    async fn run(
        &self,
        mut events: wire::Events,
        away_since: &mut Option<u64>,
        skew: i64,
        stop: &CancellationToken,
    ) -> SessionEnd {
        if let Some(since) = *away_since {
            match self.resync(&mut events, since, skew).await {
                Ok(()) => *away_since = None,
                Err(e) => {
                    self.wire.close().await;
                    return SessionEnd::Lost {
                        why: format!("catch-up query failed: {e}"),
                        last_alive: self.last_alive.load(Ordering::Relaxed),
                    };
                }
            }
        }
        let interval = self.heartbeat.interval;
        // Ticking at half the interval keeps the gap between frames under the interval.
        let mut tick = tokio::time::interval(interval / 2);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closed_for = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    if self.out.shared.logout_on_stop() {
                        let _ = tokio::time::timeout(LOGOUT_WAIT, self.wire.logout()).await;
                    }
                    self.wire.close().await;
                    return SessionEnd::Stopped;
                }
                msg = events.next() => match msg {
                    Some(ServerMessage::SessionClosed(sc)) => closed_for = Some(sc.reason),
                    Some(msg) => self.deliver(msg).await,
                    None => return self.ended(closed_for),
                },
                _ = tick.tick() => {
                    if self.wire.since_last_send() >= interval / 2 {
                        self.heartbeat(interval);
                    }
                }
            }
        }
    }

    async fn deliver(&self, msg: ServerMessage) {
        let now = unix_ms();
        self.last_alive.store(now, Ordering::Relaxed);
        let ev = self.out.shared.tracker().on_server(msg, now);
        if let Some(ev) = ev {
            self.out.emit(ev).await;
        }
    }

    /// Fire and forget: a heartbeat that gets no answer within the interval means the
    /// connection is dead even if TCP has not noticed, so it is closed and redialled.
    fn heartbeat(&self, limit: Duration) {
        let wire = self.wire.clone();
        let alive = self.last_alive.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(limit, wire.heartbeat()).await {
                Ok(Ok(_)) => alive.store(unix_ms(), Ordering::Relaxed),
                Ok(Err(WireError::Closed(_))) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "heartbeat failed; reconnecting");
                    wire.close().await;
                }
                Err(_) => {
                    tracing::warn!(?limit, "heartbeat unanswered; reconnecting");
                    wire.close().await;
                }
            }
        });
    }

    fn ended(&self, closed_for: Option<CloseReason>) -> SessionEnd {
        match closed_for {
            Some(CloseReason::Replaced) => SessionEnd::Fatal(DisconnectReason::Replaced),
            Some(CloseReason::LoggedOut) => SessionEnd::Stopped,
            other => {
                let by = self.wire.closed_by();
                let why = match (other, by) {
                    (Some(r), _) => format!("server closed the session: {r:?}"),
                    (None, Some(by)) => by.to_string(),
                    (None, None) => "connection ended".into(),
                };
                SessionEnd::Lost {
                    why,
                    last_alive: self.last_alive.load(Ordering::Relaxed),
                }
            }
        }
    }

    /// Catches up after a reconnect: reads the call list back to what the tracker needs,
    /// lets every event pushed before the answer through first (the server pushes still
    /// pending invitations straight after login), then reports the difference.
    async fn resync(
        &self,
        events: &mut wire::Events,
        away_since: u64,
        skew: i64,
    ) -> Result<(), WireError> {
        let cutoff = self.out.shared.tracker().history_cutoff(away_since);
        let list = self.history_since(cutoff).await?;
        while let Some(msg) = events.try_next() {
            match msg {
                ServerMessage::SessionClosed(_) => {}
                msg => self.deliver(msg).await,
            }
        }
        let now = unix_ms();
        let missed = self.out.shared.tracker().resync(&list, away_since, now);
        tracing::info!(
            calls = list.len(),
            events = missed.len(),
            away_ms = (now as i64 + skew - away_since as i64).max(0),
            "caught up after reconnect"
        );
        for ev in missed {
            self.out.emit(ev).await;
        }
        Ok(())
    }

    async fn history_since(&self, cutoff: u64) -> Result<Vec<CallInfo>, WireError> {
        let mut all = Vec::new();
        let mut flag = 0;
        for _ in 0..RESYNC_MAX_PAGES {
            let page = self.wire.query_call_list(RESYNC_PAGE, flag).await?;
            let older = page
                .call_list
                .last()
                .is_some_and(|c| c.create_time < cutoff);
            all.extend(page.call_list);
            flag = page.next_flag;
            if flag == 0 || older {
                break;
            }
        }
        Ok(all)
    }
}

pub(crate) use beckon_protocol::now_unix_ms as unix_ms;
