//! Pending deadlines, ordered by time. The hub removes an entry as soon as what it guards
//! is settled (the invitation answered, cancelled or ended; the device back), so the set
//! holds one entry per pending invitation and per away device rather than one per
//! invitation ever sent. When an entry fires the hub still checks it applies, so an entry
//! that was missed costs a lookup, never a wrong state change.

use std::collections::BTreeSet;

use super::{Member, Seq};

/// 16 bytes, so an entry is 24: one is held for every invitation that rings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKey {
    /// An invitee's invitation may have timed out. `member` is its place in the call's
    /// members, which are only ever appended to.
    Invitee { seq: Seq, member: u32 },
    /// A device (user, device) may have been gone for the whole grace period.
    DeviceGone(Box<(String, String)>),
}

impl TimerKey {
    pub fn invitee(seq: Seq, member: usize) -> TimerKey {
        let member = u32::try_from(member).unwrap_or(u32::MAX);
        TimerKey::Invitee { seq, member }
    }
}

#[derive(Debug, Default)]
pub struct Timers {
    set: BTreeSet<(u64, TimerKey)>,
}

impl Timers {
    pub fn add(&mut self, at: u64, key: TimerKey) {
        self.set.insert((at, key));
    }

    /// Removes the entry for `key` due at `at`, if there is one.
    pub fn remove(&mut self, at: u64, key: TimerKey) {
        self.set.remove(&(at, key));
    }

    /// Removes the timeout of `member`, at `index` in call `seq`, if it is pending: a
    /// pending member's timer is always due at its invitation's deadline.
    pub fn remove_invitee(&mut self, seq: Seq, index: usize, member: &Member) {
        if member.state.is_pending() {
            self.remove(member.invite.deadline, TimerKey::invitee(seq, index));
        }
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
