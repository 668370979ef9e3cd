//! What goes in and out of the [`Machine`](super::Machine): the user's intents, the
//! requests it asks the driver to send and their answers, and the effects it returns.

use beckon_protocol::{CallInviteResult, CallUserState, RejectReason};

use crate::manager::model::{CallType, MediaProblem, Update};

pub type OpId = u64;

/// A request the driver must send, then report back with
/// [`Machine::done`](super::Machine::done).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Invite {
        users: Vec<String>,
        extended_data: String,
        timeout: u32,
    },
    /// Withdraws this user's outgoing call: cancels the invitations still ringing, then
    /// ends the call, since the caller would otherwise stay alone in it on the server.
    Cancel {
        call_id: String,
    },
    Accept {
        call_id: String,
    },
    Reject {
        call_id: String,
        reason: RejectReason,
    },
    InviteMore {
        call_id: String,
        users: Vec<String>,
        extended_data: String,
        timeout: u32,
    },
    Quit {
        call_id: String,
    },
    End {
        call_id: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// The answer to `Invite` or `InviteMore`.
    Invited(CallInviteResult),
    Done,
    Failed {
        message: String,
        state: Option<CallUserState>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send {
        op: OpId,
        request: Op,
    },
    /// Boxed: an update carries a whole snapshot, many times the size of a request.
    Emit(Box<Update>),
}

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Call {
        users: Vec<String>,
        call_type: CallType,
    },
    Cancel,
    /// `call_id`, when given, must be the ringing call: an answer meant for a call that
    /// stopped ringing must not pick up the next one.
    Accept {
        call_id: Option<String>,
    },
    Decline {
        call_id: Option<String>,
    },
    /// 1:1: end the call for both. Group: leave it. Outgoing: cancel. Incoming: decline.
    HangUp,
    InviteMore {
        users: Vec<String>,
    },
    Leave,
    /// End the call for everyone.
    End,
    /// The application could not carry the call's media: leave it (1:1: end it), saying why.
    MediaFailed {
        call_id: String,
        problem: MediaProblem,
    },
    /// Do not disturb: while on, every invitation is declined as busy, as during a call.
    DoNotDisturb {
        on: bool,
    },
}

#[derive(Debug, Clone)]
pub struct MachineConfig {
    /// Ringing time of the invitations this user sends, seconds.
    pub invite_timeout: u32,
    /// Slack before a local deadline overrides a server event that never came.
    pub grace_ms: u64,
    /// Do not disturb from the start (see [`Intent::DoNotDisturb`]).
    pub do_not_disturb: bool,
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            invite_timeout: 60,
            grace_ms: 5_000,
            do_not_disturb: false,
        }
    }
}
