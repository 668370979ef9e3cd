use std::time::Duration;

use beckon_protocol::{
    CallInfo, CallInvitationCancelled, CallInvitationEnded, CallInvitationTimeout,
    CallUserStateChanged, ErrorBody, InvitationInfo, RelayEvent,
};

use super::HeartbeatTiming;
use crate::stream::EventStream;

/// Everything the client tells the application, in order, on one stream.
///
/// The call events are the server's events after de-duplication: each invitation is
/// reported once even if the server pushes it again after a reconnect, and a state the
/// application was already told about is not repeated. Changes that happened while the
/// client was disconnected are reported after it reconnects, as the same events.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    Connection(ConnectionState),
    /// Someone invites this user; ring.
    InvitationReceived(InvitationInfo),
    /// Another device of this user started a call.
    InvitationCreated(InvitationInfo),
    InvitationCancelled(CallInvitationCancelled),
    /// This user did not answer in time.
    InvitationTimeout(CallInvitationTimeout),
    InvitationEnded(CallInvitationEnded),
    /// Members of a call changed state; only the changed members are listed.
    UserStateChanged(CallUserStateChanged),
    Relay(RelayEvent),
    /// An invitation that reached this user and was settled (timed out, cancelled, or
    /// answered on another device) while this device was disconnected, so it never rang
    /// here. The call info says how it ended; show it as missed if nobody answered it.
    MissedWhileAway(CallInfo),
}

/// Where the connection stands. The client moves through these by itself; the application
/// only shows them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// The first attempt is under way.
    Connecting,
    /// Logged in; requests can be sent. `heartbeat` is the server's timing, which also
    /// says how long the server keeps this device's calls while the connection is down.
    Connected {
        device_id: String,
        heartbeat: HeartbeatTiming,
    },
    /// The connection dropped; the next attempt starts after `retry_in`.
    Reconnecting {
        attempt: u32,
        retry_in: Duration,
        reason: String,
    },
    /// The client stopped for good and will not reconnect.
    Disconnected(DisconnectReason),
}

impl ConnectionState {
    pub fn is_connected(&self) -> bool {
        matches!(self, ConnectionState::Connected { .. })
    }
}

#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// [`Client::logout`](super::Client::logout) or [`Client::shutdown`](super::Client::shutdown).
    Stopped,
    /// Another client logged in with this user and device ID; reconnecting would only
    /// throw it out in turn.
    Replaced,
    /// The server refused the login (bad or expired token, for example). Fix the settings.
    LoginRefused(ErrorBody),
    /// The server speaks a protocol version this client does not.
    Incompatible(String),
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DisconnectReason::Stopped => write!(f, "signed out"),
            DisconnectReason::Replaced => {
                write!(f, "signed in elsewhere with the same device ID")
            }
            DisconnectReason::LoginRefused(e) => {
                write!(
                    f,
                    "login refused: {} {}: {}",
                    e.code.code(),
                    e.name,
                    e.message
                )
            }
            DisconnectReason::Incompatible(why) => write!(f, "incompatible server: {why}"),
        }
    }
}

/// The client's event stream. Bounded: while the application does not read it, the client
/// stops reading the socket, so keep draining it (or drop it to discard events).
pub type Events = EventStream<Event>;
