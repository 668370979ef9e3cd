//! Pending deadlines, ordered by time. Entries are never removed early: when one fires,
//! the hub checks it still applies, which keeps every state change free of timer upkeep.

use std::collections::BTreeSet;

use super::Seq;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKey {
    /// An invitee's invitation may have timed out.
    Invitee { seq: Seq, user: String },
    /// A device may have been gone for the whole grace period.
    DeviceGone { user: String, device: String },
}

#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(u64, TimerKey)>,
}

impl Timers {
    pub fn add(&mut self, at: u64, key: TimerKey) {
        self.set.insert((at, key));
    }

    pub fn next_deadline(&self) -> Option<u64> {
        self.set.first().map(|(at, _)| *at)
    }

    /// Removes and returns the next entry due at `now`, with its deadline, if any.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, TimerKey)> {
        match self.set.first() {
            Some((at, _)) if *at <= now => self.set.pop_first(),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }
}
