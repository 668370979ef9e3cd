//! Beckon client SDK.
//!
//! - [`Client`]: one signed-in user, kept connected, with typed requests and one event
//!   stream (what an application uses).
//! - [`wire`]: the protocol-level connection underneath, for tests and tools.

pub mod manager;
pub mod sdk;
mod stream;
pub mod wire;

pub use manager::{
    ActionError, CallManager, CallType, CallView, Connection, Direction, MachineConfig, Member,
    Notice, Outcome, Phase, Snapshot, Update, Updates,
};
pub use sdk::{
    Backoff, Client, ClientConfig, ConnectionState, DisconnectReason, Error, Event, Events,
    HeartbeatTiming,
};
pub use stream::EventStream;
pub use wire::{ClosedBy, Requests, WireClient, WireConfig, WireError};
