//! The call manager (the demo app's `ZEGOSDKManager`): one per signed-in user, owning the
//! client and the user's call state, turning user intents into requests and server events
//! into one stream of snapshots. Busy logic lives here: while the user is calling, being
//! called or in a call, a new invitation is rejected with the busy reason.

mod driver;
mod extras;
mod history;
#[cfg(test)]
mod incoming_tests;
#[cfg(test)]
mod lifetime_tests;
mod machine;
#[cfg(test)]
mod machine_tests;
#[cfg(test)]
mod media_tests;
mod model;
#[cfg(test)]
mod proptests;

pub use driver::{CallManager, Updates};
pub use history::{summarize, CallResult, HistoryEntry};
pub use machine::{Effect, Intent, Machine, MachineConfig, Op, OpId, OpResult};
pub use model::*;
