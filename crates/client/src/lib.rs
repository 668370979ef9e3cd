//! Beckon client SDK.
//!
//! [`wire`] is the protocol-level client that the higher layers build on.

pub mod wire;

pub use wire::{ClosedBy, Events, WireClient, WireConfig, WireError};
