//! The SDK an application uses: [`Client`] keeps one user signed in across drops and
//! reports everything on one ordered [`Events`] stream, each thing once.

mod client;
mod config;
mod error;
mod events;
mod ice;
mod session;
mod tracker;
#[cfg(test)]
mod tracker_tests;

pub use client::Client;
pub use config::{Backoff, ClientConfig, HeartbeatTiming};
pub use error::Error;
pub use events::{ConnectionState, DisconnectReason, Event, Events};
pub(crate) use session::unix_ms;
