use crate::Requests;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use beckon_protocol::{
    CallCancel, CallCancelResult, CallEndResult, CallIdResult, CallInfo, CallInvite,
    CallInviteResult, CallList, CallUserInfo, CallUserState, CallingInvite, IceConfig,
    RejectReason,
};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::ice::HeldIce;
use super::session::{self, unix_ms};
use super::tracker::Tracker;
use super::{ClientConfig, ConnectionState, Error, Events, HeartbeatTiming};
use crate::wire::WireClient;

/// One signed-in user: a cheap, cloneable handle whose connection is kept alive by a
/// background task (heartbeats, reconnect with backoff, catch-up after a drop).
///
/// Requests go out on the current connection. While there is none (connecting or
/// reconnecting) they fail at once with [`Error::NotConnected`] instead of waiting, so a
/// button press is never left hanging; the caller decides whether to retry.
///
/// The client stops when [`Client::logout`] or [`Client::shutdown`] is called, or when the
/// last handle is dropped.
#[derive(Debug, Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

/// Dropping the last handle stops the task; the task itself holds only `Shared`.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: ClientConfig,
    /// The logged-in connection, `None` between connections.
    pub(super) wire: watch::Sender<Option<WireClient>>,
    pub(super) state: watch::Sender<ConnectionState>,
    pub(super) device_id: Mutex<Option<String>>,
    /// The last server's heartbeat timing; the protocol default until the first login.
    pub(super) heartbeat: watch::Sender<HeartbeatTiming>,
    /// The ICE configuration of the last login or `queryIceConfig`; `None` before the first.
    ice: Mutex<Option<HeldIce>>,
    /// Server clock minus this device's, in ms, as of the last login.
    pub(super) skew_ms: AtomicI64,
    tracker: Mutex<Tracker>,
    logout: AtomicBool,
}

impl Shared {
    pub(super) fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn held_ice(&self) -> MutexGuard<'_, Option<HeldIce>> {
        self.ice.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps an ICE configuration the server minted at `server_now` (its clock).
    pub(super) fn hold_ice(&self, config: IceConfig, server_now: u64) {
        *self.held_ice() = Some(HeldIce::new(config, server_now, unix_ms()));
    }

    pub(super) fn logout_on_stop(&self) -> bool {
        self.logout.load(Ordering::Relaxed)
    }
}

impl Client {
    /// Starts the client and returns at once; the first connection is made in the
    /// background and reported on [`Events`] like every later one. Use this in an
    /// application that should come up even while the server is unreachable.
    pub fn start(config: ClientConfig) -> (Client, Events) {
        let (ev_tx, ev_rx) = mpsc::channel(config.event_buffer.max(1));
        let shared = Arc::new(Shared {
            device_id: Mutex::new(config.device_id.clone()),
            tracker: Mutex::new(Tracker::new(config.user_id.clone())),
            wire: watch::channel(None).0,
            state: watch::channel(ConnectionState::Connecting).0,
            heartbeat: watch::channel(HeartbeatTiming::default()).0,
            ice: Mutex::new(None),
            skew_ms: AtomicI64::new(0),
            logout: AtomicBool::new(false),
            config,
        });
        let stop = CancellationToken::new();
        tokio::spawn(session::run(shared.clone(), ev_tx, stop.clone()));
        let handle = Arc::new(Handle { shared, stop });
        (Client { handle }, Events::new(ev_rx))
    }

    /// Starts the client and waits for the first login. Fails (and stops the client) if
    /// that first attempt does not succeed, with the reason; after that, drops are
    /// reconnected by themselves.
    pub async fn connect(config: ClientConfig) -> Result<(Client, Events), Error> {
        let (client, events) = Client::start(config);
        let mut state = client.shared().state.subscribe();
        let outcome = state
            .wait_for(|s| !matches!(s, ConnectionState::Connecting))
            .await
            .map(|s| s.clone());
        match outcome {
            Ok(ConnectionState::Connected { .. }) => Ok((client, events)),
            Ok(ConnectionState::Reconnecting { reason, .. }) => {
                client.shutdown().await;
                Err(Error::Connect(reason))
            }
            Ok(ConnectionState::Disconnected(reason)) => Err(Error::Connect(reason.to_string())),
            _ => Err(Error::Connect("client stopped".into())),
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    pub fn user_id(&self) -> &str {
        &self.shared().config.user_id
    }

    pub fn user_name(&self) -> &str {
        &self.shared().config.user_name
    }

    /// The device ID in use (the server's pick if none was configured), once logged in.
    pub fn device_id(&self) -> Option<String> {
        self.shared()
            .device_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The heartbeat timing of the server this client last logged in to (the protocol
    /// default before the first login).
    pub fn heartbeat_timing(&self) -> HeartbeatTiming {
        *self.shared().heartbeat.borrow()
    }

    pub fn state(&self) -> ConnectionState {
        self.shared().state.borrow().clone()
    }

    /// Waits until the client is connected; `false` if it stopped for good instead.
    pub async fn wait_connected(&self) -> bool {
        let mut rx = self.shared().state.subscribe();
        matches!(
            rx.wait_for(|s| matches!(
                s,
                ConnectionState::Connected { .. } | ConnectionState::Disconnected(_)
            ))
            .await
            .map(|s| s.clone()),
            Ok(ConnectionState::Connected { .. })
        )
    }

    /// Signs out at the server (which cancels invitations this device sent that nobody
    /// answered yet) and stops.
    pub async fn logout(&self) {
        self.shared().logout.store(true, Ordering::Relaxed);
        self.stop().await;
    }

    /// Closes the connection without signing out, as a crash or a closed laptop would:
    /// the server gives this device its grace period. Then stops.
    pub async fn shutdown(&self) {
        self.stop().await;
    }

    async fn stop(&self) {
        self.handle.stop.cancel();
        let mut rx = self.shared().state.subscribe();
        let _ = rx
            .wait_for(|s| matches!(s, ConnectionState::Disconnected(_)))
            .await;
    }

    fn wire(&self) -> Result<WireClient, Error> {
        let current = self.shared().wire.borrow().clone();
        current.ok_or_else(|| Error::NotConnected(describe(&self.state())))
    }

    /// Invites users to a new call. Members are tracked from here on, so the events about
    /// them are de-duplicated like any others.
    pub async fn call_invite(&self, invite: CallInvite) -> Result<CallInviteResult, Error> {
        let mode = invite.mode;
        let result = self.wire()?.call_invite(invite).await?;
        let mut members = vec![self.me(CallUserState::Accepted)];
        members.extend(result.call_user_list.iter().cloned());
        self.shared().tracker().note_call(
            &result.call_id,
            self.user_id(),
            mode,
            result.create_time,
            &members,
            unix_ms(),
        );
        Ok(result)
    }

    pub async fn call_cancel(&self, cancel: CallCancel) -> Result<CallCancelResult, Error> {
        Ok(self.wire()?.call_cancel(cancel).await?)
    }

    pub async fn call_accept(
        &self,
        call_id: &str,
        extended_data: &str,
    ) -> Result<CallIdResult, Error> {
        let r = self.wire()?.call_accept(call_id, extended_data).await?;
        self.note_own(call_id, CallUserState::Accepted);
        Ok(r)
    }

    pub async fn call_reject(
        &self,
        call_id: &str,
        extended_data: &str,
        reason: RejectReason,
    ) -> Result<CallIdResult, Error> {
        let r = self
            .wire()?
            .call_reject(call_id, extended_data, reason)
            .await?;
        self.note_own(call_id, CallUserState::Rejected);
        Ok(r)
    }

    /// Invites more users into an advanced-mode call this user is in.
    pub async fn calling_invite(&self, invite: CallingInvite) -> Result<CallInviteResult, Error> {
        let r = self.wire()?.calling_invite(invite).await?;
        self.shared().tracker().note_call(
            &r.call_id,
            "",
            beckon_protocol::CallMode::Advanced,
            r.create_time,
            &r.call_user_list,
            unix_ms(),
        );
        Ok(r)
    }

    /// Joins (or re-joins) an advanced-mode call this user is a member of.
    pub async fn call_join(&self, call_id: &str, extended_data: &str) -> Result<CallInfo, Error> {
        let info = self.wire()?.call_join(call_id, extended_data).await?;
        self.shared().tracker().note_call(
            &info.call_id,
            &info.caller,
            info.mode,
            info.create_time,
            &info.call_user_list,
            unix_ms(),
        );
        self.note_own(call_id, CallUserState::Accepted);
        Ok(info)
    }

    pub async fn call_quit(
        &self,
        call_id: &str,
        extended_data: &str,
    ) -> Result<CallIdResult, Error> {
        let r = self.wire()?.call_quit(call_id, extended_data).await?;
        self.note_own(call_id, CallUserState::Quit);
        Ok(r)
    }

    pub async fn call_end(
        &self,
        call_id: &str,
        extended_data: &str,
    ) -> Result<CallEndResult, Error> {
        let r = self.wire()?.call_end(call_id, extended_data).await?;
        self.shared().tracker().note_ended(call_id, unix_ms());
        Ok(r)
    }

    /// One page of this user's calls, newest first (`next_flag` 0 for the first page).
    pub async fn query_call_list(&self, count: u32, next_flag: u64) -> Result<CallList, Error> {
        Ok(self.wire()?.query_call_list(count, next_flag).await?)
    }

    /// The STUN and TURN servers for a call's peer connections, in the browser's
    /// `RTCConfiguration` shape. The last login's, unless its TURN credentials expire
    /// within a quarter of their lifetime (a minute at least): then fresh ones from the
    /// server, so a call set up now can use the relay for its whole negotiation.
    pub async fn ice_config(&self) -> Result<IceConfig, Error> {
        if let Some(held) = self.shared().held_ice().as_ref() {
            if held.is_fresh(unix_ms()) {
                return Ok(held.config.clone());
            }
        }
        let config = self.wire()?.query_ice_config().await?;
        let server_now = unix_ms() as i64 + self.shared().skew_ms.load(Ordering::Relaxed);
        self.shared()
            .hold_ice(config.clone(), server_now.max(0) as u64);
        Ok(config)
    }

    /// Sends any JSON to another accepted member's in-call device (media negotiation).
    pub async fn relay(
        &self,
        call_id: &str,
        to_user_id: &str,
        payload: serde_json::Value,
    ) -> Result<(), Error> {
        Ok(self.wire()?.relay(call_id, to_user_id, payload).await?)
    }

    fn note_own(&self, call_id: &str, state: CallUserState) {
        self.shared().tracker().note_own(call_id, state, unix_ms());
    }

    fn me(&self, state: CallUserState) -> CallUserInfo {
        CallUserInfo {
            user_id: self.user_id().to_owned(),
            state,
            extended_data: String::new(),
            reason: None,
            inviter: self.user_id().to_owned(),
            update_time: unix_ms(),
        }
    }
}

fn describe(state: &ConnectionState) -> String {
    match state {
        ConnectionState::Connecting => "connecting".into(),
        ConnectionState::Connected { .. } => "connection just closed".into(),
        ConnectionState::Reconnecting { reason, .. } => format!("reconnecting after: {reason}"),
        ConnectionState::Disconnected(r) => format!("disconnected: {r}"),
    }
}
