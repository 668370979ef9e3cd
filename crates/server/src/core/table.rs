//! The seed's two tables, as data: which request each user state may make, and which
//! event each user state receives. Everything else in `core` asks these two functions, so
//! the tables are enforced in exactly one place.

use beckon_protocol::CallUserState::{self, *};

/// Requests whose permission depends on the requester's state in the call. `callInvite`
/// and `callCancel` do not depend on it (the seed says so) and are not here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Accept,
    Reject,
    CallingInvite,
    Quit,
    End,
    /// Not in the seed's table (ZIM added it later): a member who is out of the call
    /// comes back in. Pending members accept instead; accepted ones are already in.
    Join,
}

pub fn api_allowed(api: Api, state: CallUserState) -> bool {
    match api {
        Api::Accept | Api::Reject => matches!(state, Inviting | Received),
        Api::CallingInvite | Api::Quit | Api::End => state == Accepted,
        Api::Join => matches!(state, Quit | Rejected | Timeout | Cancelled),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Received,
    Timeout,
    Cancelled,
    Ended,
    UserStateChanged,
}

/// Whether a member in `state` gets `event`. The state is the member's state just before
/// the event for `Received`, `Timeout` and `Cancelled` (those events announce the member's
/// own transition) and the current state for the others.
///
/// One cell differs from the seed's table: a `Received` member does get `Timeout`. The
/// seed's own section 6 says the invitee that did not answer is told of the timeout, and
/// without it an online invitee's device would ring forever.
pub fn receives(event: Event, state: CallUserState) -> bool {
    match event {
        Event::Received => state == Inviting,
        Event::Timeout => matches!(state, Inviting | Received),
        Event::Cancelled => matches!(state, Inviting | Received),
        Event::Ended => matches!(state, Inviting | Received | Accepted),
        Event::UserStateChanged => matches!(state, Inviting | Received | Accepted | Quit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's API table, row by row, transcribed independently of `api_allowed`.
    #[test]
    fn api_table_matches_the_seed() {
        // columns: accept, reject, callingInvite, quit, end
        let rows = [
            (Inviting, [true, true, false, false, false]),
            (Accepted, [false, false, true, true, true]),
            (Rejected, [false, false, false, false, false]),
            (Cancelled, [false, false, false, false, false]),
            (Received, [true, true, false, false, false]),
            (Timeout, [false, false, false, false, false]),
            (Quit, [false, false, false, false, false]),
        ];
        let apis = [
            Api::Accept,
            Api::Reject,
            Api::CallingInvite,
            Api::Quit,
            Api::End,
        ];
        for (state, row) in rows {
            for (api, want) in apis.iter().zip(row) {
                assert_eq!(api_allowed(*api, state), want, "{api:?} in {state:?}");
            }
        }
    }

    #[test]
    fn event_table_matches_the_seed_but_for_received_timeout() {
        // columns: received, timeout, cancelled, ended, userStateChanged
        let rows = [
            (Inviting, [true, true, true, true, true]),
            (Accepted, [false, false, false, true, true]),
            (Rejected, [false, false, false, false, false]),
            (Cancelled, [false, false, false, false, false]),
            // The seed says `false` for timeout here; see `receives`.
            (Received, [false, true, true, true, true]),
            (Timeout, [false, false, false, false, false]),
            (Quit, [false, false, false, false, true]),
        ];
        let events = [
            Event::Received,
            Event::Timeout,
            Event::Cancelled,
            Event::Ended,
            Event::UserStateChanged,
        ];
        for (state, row) in rows {
            for (event, want) in events.iter().zip(row) {
                assert_eq!(receives(*event, state), want, "{event:?} in {state:?}");
            }
        }
    }
}
