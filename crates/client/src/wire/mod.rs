//! The low-level wire client: one WebSocket connection, requests matched to answers by id,
//! pushed events on a bounded stream. Everything richer (reconnect, heartbeats, call
//! state) is built on top of it; the server's integration tests use it directly.

mod calls;
mod client;
mod conn;
mod error;
mod events;
#[cfg(test)]
mod tests;

pub use calls::Requests;
pub use client::{WireClient, WireConfig};
pub use error::{ClosedBy, WireError};
pub use events::Events;
