//! beckon-server: the call-invitation service.
pub mod core;
pub mod store;
