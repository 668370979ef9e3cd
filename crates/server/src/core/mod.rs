//! The call-invitation model as plain code: no sockets, no channels, no clocks.
//!
//! [`Hub`] owns every live call, who is online, and every pending deadline. The runtime
//! feeds it [`Input`]s one at a time together with the current time, then takes the
//! resulting batch: the calls to persist and the ordered [`Out`] messages to release once
//! they are persisted. Because one owner applies requests one after another, two requests
//! that race (a cancel and an accept, two devices accepting) always have one answer.

mod call;
mod hub;
mod lifecycle;
mod out;
mod presence;
mod requests;
mod seqs;
pub mod table;
mod timers;

pub use call::{Call, Invite, Member, Seq};
pub use hub::{Hub, HubConfig, Input, LoginInput, Stats};
pub use out::{first_session, node_of, Batch, NodeId, Out, SessionId};
#[cfg(test)]
mod tests;
