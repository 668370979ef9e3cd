//! Runs a [`Machine`] against a real [`Client`]: one task owns the machine and feeds it
//! client events, user intents, request answers and a one-second tick, in arrival order.
//! Requests run in their own tasks so a slow answer never holds up an incoming call.

use std::time::Duration;

use beckon_protocol::{
    CallCancel, CallInfo, CallInvite, CallMode, CallingInvite, IceConfig, PushConfig, RejectReason,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::extras;
use super::machine::{Effect, Intent, Machine, MachineConfig, Op, OpId, OpResult};
#[cfg(doc)]
use super::model::Notice;
use super::model::{ActionError, CallType, MediaProblem, Snapshot, Update};
use crate::sdk::{unix_ms, Client, ClientConfig, Error, Event, Events};
use crate::stream::EventStream;

const COMMANDS: usize = 32;
const UPDATES: usize = 256;
/// Media negotiation messages waiting to be relayed: an offer and a handful of ICE
/// candidates per peer. A full queue makes the sender wait.
const SIGNALS: usize = 64;
const ANSWERS: usize = 64;
/// Attempts at a request that cleans up after the user (cancel, decline, hang up) when the
/// connection is down: the server must learn of it, or the other side keeps ringing.
const CLEANUP_ATTEMPTS: u32 = 5;
const CLEANUP_WAIT: Duration = Duration::from_secs(30);
/// How long `shutdown` and `logout` wait for requests still on their way.
const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// How long a new call waits for an earlier cancel, quit or end to be answered: sent from
/// separate tasks, the `callInvite` could overtake it and be refused (`alreadyInCall`).
const ORDER_WAIT: Duration = Duration::from_secs(5);

struct Command {
    intent: Intent,
    reply: oneshot::Sender<Result<(), ActionError>>,
}

/// One signed-in user's calls: intent-level actions in, [`Updates`] (each with a full
/// snapshot) out. Cheap to clone; the manager stops when the last handle is dropped or
/// [`CallManager::shutdown`] is called.
#[derive(Debug, Clone)]
pub struct CallManager {
    commands: mpsc::Sender<Command>,
    snapshot: watch::Receiver<Snapshot>,
    /// Requests started and not yet answered.
    in_flight: watch::Receiver<usize>,
    signals: mpsc::Sender<Signal>,
    client: Client,
}

/// One media negotiation message for another member of the call.
#[derive(Debug)]
struct Signal {
    call_id: String,
    to_user_id: String,
    payload: serde_json::Value,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Command({:?})", self.intent)
    }
}

/// The manager's updates, in order. Bounded: keep reading it (or drop it).
pub type Updates = EventStream<Update>;

impl CallManager {
    /// Starts the client and the manager; connection progress arrives as updates.
    pub fn start(config: ClientConfig, machine: MachineConfig) -> (CallManager, Updates) {
        let (client, events) = Client::start(config);
        Self::with_client(client, events, machine)
    }

    /// Wraps a client the caller started (and whose events nobody else reads).
    pub fn with_client(
        client: Client,
        events: Events,
        machine: MachineConfig,
    ) -> (CallManager, Updates) {
        let mut machine = Machine::new(client.user_id(), client.user_name(), machine);
        // Start from where the client is, not from "connecting".
        let _ = machine.event(Event::Connection(client.state()), unix_ms());
        let (snap_tx, snap_rx) = watch::channel(machine.snapshot());
        let (flight_tx, flight_rx) = watch::channel(0usize);
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMANDS);
        let (up_tx, up_rx) = mpsc::channel(UPDATES);
        let task = Task {
            machine,
            client: client.clone(),
            snapshot: snap_tx,
            updates: up_tx,
            in_flight: flight_tx,
        };
        tokio::spawn(task.run(events, cmd_rx));
        let (signal_tx, signal_rx) = mpsc::channel(SIGNALS);
        tokio::spawn(relay_signals(client.clone(), signal_rx));
        let manager = CallManager {
            commands: cmd_tx,
            snapshot: snap_rx,
            in_flight: flight_rx,
            signals: signal_tx,
            client,
        };
        (manager, Updates::new(up_rx))
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// The underlying client, for what is not about the current call (history, relay).
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub async fn call(&self, users: Vec<String>, call_type: CallType) -> Result<(), ActionError> {
        self.act(Intent::Call { users, call_type }).await
    }

    pub async fn cancel(&self) -> Result<(), ActionError> {
        self.act(Intent::Cancel).await
    }

    /// Accepts whatever is ringing. Prefer [`CallManager::accept_call`] where the user
    /// answers a call shown to them: that one cannot pick up a call that started ringing
    /// after the user decided.
    pub async fn accept(&self) -> Result<(), ActionError> {
        self.act(Intent::Accept { call_id: None }).await
    }

    /// Accepts `call_id` if that is the call ringing now.
    pub async fn accept_call(&self, call_id: &str) -> Result<(), ActionError> {
        let call_id = Some(call_id.to_owned());
        self.act(Intent::Accept { call_id }).await
    }

    pub async fn decline(&self) -> Result<(), ActionError> {
        self.act(Intent::Decline { call_id: None }).await
    }

    /// Declines `call_id` if that is the call ringing now.
    pub async fn decline_call(&self, call_id: &str) -> Result<(), ActionError> {
        let call_id = Some(call_id.to_owned());
        self.act(Intent::Decline { call_id }).await
    }

    /// What the red button does: cancel while calling, decline while ringing, end a 1:1
    /// call for both, leave a group call.
    pub async fn hang_up(&self) -> Result<(), ActionError> {
        self.act(Intent::HangUp).await
    }

    pub async fn invite_more(&self, users: Vec<String>) -> Result<(), ActionError> {
        self.act(Intent::InviteMore { users }).await
    }

    /// Leaves a call; the others go on.
    pub async fn leave(&self) -> Result<(), ActionError> {
        self.act(Intent::Leave).await
    }

    /// Ends the call for everyone.
    pub async fn end(&self) -> Result<(), ActionError> {
        self.act(Intent::End).await
    }

    /// Do not disturb on or off: while on, invitations are declined as busy without ringing.
    pub async fn set_do_not_disturb(&self, on: bool) -> Result<(), ActionError> {
        self.act(Intent::DoNotDisturb { on }).await
    }

    /// Ends the current call because its media could not be carried.
    pub async fn media_failed(
        &self,
        call_id: &str,
        problem: MediaProblem,
    ) -> Result<(), ActionError> {
        let call_id = call_id.to_owned();
        self.act(Intent::MediaFailed { call_id, problem }).await
    }

    /// Queues a media negotiation message for `to_user_id`'s device in the call; it
    /// arrives there as [`Notice::Signal`]. Messages go out in the order given, which
    /// an SDP answer and the ICE candidates after it depend on.
    pub async fn signal(
        &self,
        call_id: &str,
        to_user_id: &str,
        payload: serde_json::Value,
    ) -> Result<(), ActionError> {
        let signal = Signal {
            call_id: call_id.to_owned(),
            to_user_id: to_user_id.to_owned(),
            payload,
        };
        self.signals
            .send(signal)
            .await
            .map_err(|_| ActionError::Stopped)
    }

    /// Recent calls, newest first, once the requests already on their way have landed:
    /// a call the user was just told is over may still have its `callEnd` in flight, and
    /// a list asked for then would show it going on.
    pub async fn history(&self, count: u32) -> Result<Vec<CallInfo>, Error> {
        self.flush().await;
        Ok(self.client.query_call_list(count, 0).await?.call_list)
    }

    /// The ICE servers for this call's peer connections (see [`Client::ice_config`]).
    pub async fn ice_config(&self) -> Result<IceConfig, Error> {
        self.client.ice_config().await
    }

    /// Stops the client without signing out (the server keeps this device's grace
    /// period), once the requests already on their way (a hang-up, say) have landed.
    pub async fn shutdown(&self) {
        self.flush().await;
        self.client.shutdown().await;
    }

    /// Signs out, once the requests already on their way have landed.
    pub async fn logout(&self) {
        self.flush().await;
        self.client.logout().await;
    }

    /// Waits (up to a few seconds) until every request the manager has started is
    /// answered: after `hang_up` returns, the `callEnd` may still be on its way, and a
    /// program about to exit must not cut it off.
    pub async fn flush(&self) {
        let _ = tokio::time::timeout(FLUSH_WAIT, async {
            let mut rx = self.in_flight.clone();
            let _ = rx.wait_for(|n| *n == 0).await;
        })
        .await;
    }

    async fn act(&self, intent: Intent) -> Result<(), ActionError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command { intent, reply })
            .await
            .map_err(|_| ActionError::Stopped)?;
        answer.await.unwrap_or(Err(ActionError::Stopped))
    }
}

struct Task {
    machine: Machine,
    client: Client,
    snapshot: watch::Sender<Snapshot>,
    updates: mpsc::Sender<Update>,
    in_flight: watch::Sender<usize>,
}

impl Task {
    async fn run(mut self, mut events: Events, mut commands: mpsc::Receiver<Command>) {
        let (done_tx, mut done_rx) = mpsc::channel::<(OpId, OpResult)>(ANSWERS);
        // Cancels, quits and ends not answered yet; a new call waits for them.
        let leaving = std::sync::Arc::new(watch::channel(0usize).0);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let effects = tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command { intent, reply }) => {
                        match self.machine.intent(intent, unix_ms()) {
                            Ok(effects) => {
                                let _ = reply.send(Ok(()));
                                effects
                            }
                            Err(e) => {
                                let _ = reply.send(Err(e));
                                Vec::new()
                            }
                        }
                    }
                    None => break,
                },
                ev = events.next() => match ev {
                    Some(ev) => self.machine.event(ev, unix_ms()),
                    None => break,
                },
                Some((op, result)) = done_rx.recv() => {
                    self.in_flight.send_modify(|n| *n = n.saturating_sub(1));
                    self.machine.done(op, result, unix_ms())
                }
                _ = tick.tick() => self.machine.tick(unix_ms()),
            };
            for effect in effects {
                match effect {
                    Effect::Send { op, request } => {
                        self.in_flight.send_modify(|n| *n += 1);
                        let client = self.client.clone();
                        let done = done_tx.clone();
                        let leaves = matches!(
                            request,
                            Op::Cancel { .. } | Op::Quit { .. } | Op::End { .. }
                        );
                        let invites = matches!(request, Op::Invite { .. });
                        if leaves {
                            leaving.send_modify(|n| *n += 1);
                        }
                        let leaving = leaving.clone();
                        let mut left = leaving.subscribe();
                        tokio::spawn(async move {
                            if invites {
                                let _ =
                                    tokio::time::timeout(ORDER_WAIT, left.wait_for(|n| *n == 0))
                                        .await;
                            }
                            let result = execute(&client, request).await;
                            if leaves {
                                leaving.send_modify(|n| *n -= 1);
                            }
                            let _ = done.send((op, result)).await;
                        });
                    }
                    Effect::Emit(update) => {
                        self.snapshot.send_replace(update.snapshot.clone());
                        let _ = self.updates.send(*update).await;
                    }
                }
            }
        }
        // Every handle is gone (or the client stopped): nobody can act on calls any more.
        self.client.shutdown().await;
    }
}

/// Relays one message at a time, each after the previous one's answer: requests from
/// separate tasks could overtake each other, and a candidate must not arrive before the
/// description it belongs to. A refusal (the other side just left) only drops that message.
async fn relay_signals(client: Client, mut signals: mpsc::Receiver<Signal>) {
    while let Some(s) = signals.recv().await {
        if let Err(e) = client.relay(&s.call_id, &s.to_user_id, s.payload).await {
            tracing::debug!(call_id = %s.call_id, to = %s.to_user_id, error = %e, "a media message was not relayed");
        }
    }
}

async fn execute(client: &Client, op: Op) -> OpResult {
    let result = match op {
        Op::Invite {
            users,
            extended_data,
            timeout,
        } => {
            let push = PushConfig {
                title: "Incoming call".into(),
                content: format!("{} is calling", client.user_name()),
                payload: String::new(),
            };
            let invite = CallInvite {
                invitees: users,
                timeout: Some(timeout),
                mode: CallMode::Advanced,
                extended_data,
                push_config: Some(push),
            };
            return match client.call_invite(invite).await {
                Ok(r) => OpResult::Invited(r),
                Err(e) => failed(e),
            };
        }
        Op::InviteMore {
            call_id,
            users,
            extended_data,
            timeout,
        } => {
            let invite = CallingInvite {
                call_id,
                invitees: users,
                timeout: Some(timeout),
                extended_data,
                push_config: None,
            };
            return match client.calling_invite(invite).await {
                Ok(r) => OpResult::Invited(r),
                Err(e) => failed(e),
            };
        }
        Op::Accept { call_id } => {
            let data = extras::encode_answer(client.user_name());
            client.call_accept(&call_id, &data).await.map(drop)
        }
        // In this order on purpose: an end first would leave the invitees `received` in an
        // ended call rather than `cancelled`. A cancel that fails (someone accepted just
        // before) still ends the call: the user has moved on either way.
        Op::Cancel { call_id } => {
            let cancelled = clean_up(
                client,
                Op::Cancel {
                    call_id: call_id.clone(),
                },
            )
            .await;
            return match clean_up(client, Op::End { call_id }).await {
                OpResult::Done => cancelled,
                failed => failed,
            };
        }
        cleanup => return clean_up(client, cleanup).await,
    };
    result.map_or_else(failed, |_| OpResult::Done)
}

/// Cancel, decline, quit and end are retried across a reconnect: the user has already
/// moved on, and the other side must not be left ringing or talking to nobody.
async fn clean_up(client: &Client, op: Op) -> OpResult {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match &op {
            Op::Cancel { call_id } => {
                let cancel = CallCancel {
                    call_id: call_id.clone(),
                    invitees: Vec::new(),
                    extended_data: String::new(),
                };
                client.call_cancel(cancel).await.map(drop)
            }
            Op::Reject { call_id, reason } => {
                // The demo app also says "busy" in the extended data; older clients read it.
                let data = if *reason == RejectReason::Busy {
                    "busy".to_owned()
                } else {
                    extras::encode_answer(client.user_name())
                };
                client.call_reject(call_id, &data, *reason).await.map(drop)
            }
            // The name again: a member's data is its last answer's, and a quit replaces it.
            Op::Quit { call_id } => {
                let data = extras::encode_answer(client.user_name());
                client.call_quit(call_id, &data).await.map(drop)
            }
            Op::End { call_id } => client.call_end(call_id, "").await.map(drop),
            _ => return OpResult::Done,
        };
        match result {
            Ok(()) => return OpResult::Done,
            Err(e) if e.is_retryable() && attempt < CLEANUP_ATTEMPTS => {
                tracing::info!(error = %e, ?op, "retrying after reconnect");
                let connected = tokio::time::timeout(CLEANUP_WAIT, client.wait_connected()).await;
                if !matches!(connected, Ok(true)) {
                    return failed(e);
                }
            }
            Err(e) => {
                tracing::info!(error = %e, ?op, "clean-up request failed");
                return failed(e);
            }
        }
    }
}

fn failed(e: Error) -> OpResult {
    OpResult::Failed {
        state: e.state(),
        message: e.to_string(),
    }
}
