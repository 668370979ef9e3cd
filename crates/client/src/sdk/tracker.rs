//! What this client has told the application about each call, so that it can tell each
//! thing once: the server pushes pending invitations again after every login, and a
//! reconnect has to turn "what the list query says now" into the events that were missed.
//! Plain code with the clock passed in, so it is tested without sockets.

use std::collections::HashMap;

use beckon_protocol::limits::MAX_TIMEOUT_SECS;
use beckon_protocol::{
    CallInfo, CallInvitationCancelled, CallInvitationEnded, CallInvitationTimeout, CallMode,
    CallState, CallUserInfo, CallUserState, CallUserStateChanged, InvitationInfo, ServerMessage,
    StateReason,
};

use super::Event;

/// Settled calls remembered for de-duplicating late or repeated events. A repeat can only
/// come from the server's re-push after a login, well within this.
const FINISHED_KEEP_MS: u64 = 60 * 60 * 1000;
const FINISHED_MAX: usize = 4096;
/// Open calls untouched this long are forgotten (a call left open by a server that lost it).
const OPEN_KEEP_MS: u64 = 24 * 60 * 60 * 1000;
/// Clock slack when comparing server times with the moment the connection dropped.
const CLOCK_SLACK_MS: u64 = 5_000;

#[derive(Debug)]
struct Tracked {
    caller: String,
    mode: Option<CallMode>,
    create_time: u64,
    members: HashMap<String, CallUserState>,
    touched: u64,
}

#[derive(Debug)]
pub(super) struct Tracker {
    me: String,
    open: HashMap<String, Tracked>,
    finished: HashMap<String, u64>,
}

impl Tracker {
    pub(super) fn new(me: impl Into<String>) -> Self {
        Tracker {
            me: me.into(),
            open: HashMap::new(),
            finished: HashMap::new(),
        }
    }

    /// Filters and records one pushed server frame; `None` means "nothing new to tell".
    pub(super) fn on_server(&mut self, msg: ServerMessage, now: u64) -> Option<Event> {
        match msg {
            ServerMessage::CallInvitationReceived(info) => self
                .on_invitation(&info, now)
                .then_some(Event::InvitationReceived(info)),
            ServerMessage::CallInvitationCreated(info) => self
                .on_invitation(&info, now)
                .then_some(Event::InvitationCreated(info)),
            ServerMessage::CallInvitationCancelled(c) => {
                let me = self.me.clone();
                self.settle_me(&c.call_id, &me, CallUserState::Cancelled, now)
                    .then_some(Event::InvitationCancelled(c))
            }
            ServerMessage::CallInvitationTimeout(t) => {
                let me = self.me.clone();
                self.settle_me(&t.call_id, &me, CallUserState::Timeout, now)
                    .then_some(Event::InvitationTimeout(t))
            }
            ServerMessage::CallInvitationEnded(e) => {
                if self.finished.contains_key(&e.call_id) {
                    return None;
                }
                self.finish(&e.call_id, now);
                Some(Event::InvitationEnded(e))
            }
            ServerMessage::CallUserStateChanged(mut c) => {
                if self.finished.contains_key(&c.call_id) {
                    return None;
                }
                let t = self
                    .open
                    .entry(c.call_id.clone())
                    .or_insert_with(|| Tracked {
                        caller: String::new(),
                        mode: None,
                        create_time: now,
                        members: HashMap::new(),
                        touched: now,
                    });
                t.touched = now;
                c.call_user_list
                    .retain(|u| t.members.insert(u.user_id.clone(), u.state) != Some(u.state));
                self.check_settled(&c.call_id, now);
                (!c.call_user_list.is_empty()).then_some(Event::UserStateChanged(c))
            }
            ServerMessage::Relay(r) => Some(Event::Relay(r)),
            ServerMessage::Response(_)
            | ServerMessage::Error(_)
            | ServerMessage::SessionClosed(_) => None,
        }
    }

    /// True if this invitation is news.
    fn on_invitation(&mut self, info: &InvitationInfo, now: u64) -> bool {
        if self.finished.contains_key(&info.call_id) || self.open.contains_key(&info.call_id) {
            return false;
        }
        let members = info
            .call_user_list
            .iter()
            .map(|u| (u.user_id.clone(), u.state))
            .collect();
        self.open.insert(
            info.call_id.clone(),
            Tracked {
                caller: info.caller.clone(),
                mode: Some(info.mode),
                create_time: info.create_time,
                members,
                touched: now,
            },
        );
        true
    }

    /// Records `user` leaving the pending state; true if that is news.
    fn settle_me(&mut self, call_id: &str, user: &str, state: CallUserState, now: u64) -> bool {
        if self.finished.contains_key(call_id) {
            return false;
        }
        if let Some(t) = self.open.get_mut(call_id) {
            if t.members.insert(user.to_owned(), state) == Some(state) {
                return false;
            }
            t.touched = now;
        }
        self.finish(call_id, now);
        true
    }

    /// Notes the result of a request this client made, so that a later resync does not
    /// report this device's own action back to it as news from elsewhere.
    pub(super) fn note_own(&mut self, call_id: &str, state: CallUserState, now: u64) {
        if let Some(t) = self.open.get_mut(call_id) {
            t.members.insert(self.me.clone(), state);
            t.touched = now;
        }
        self.check_settled(call_id, now);
    }

    /// Notes a call this client created or joined, with the members its answer listed.
    /// Members already known keep their state: an event may have overtaken the answer.
    pub(super) fn note_call(
        &mut self,
        call_id: &str,
        caller: &str,
        mode: CallMode,
        create_time: u64,
        members: &[CallUserInfo],
        now: u64,
    ) {
        if self.finished.contains_key(call_id) {
            return;
        }
        let t = self
            .open
            .entry(call_id.to_owned())
            .or_insert_with(|| Tracked {
                caller: caller.to_owned(),
                mode: Some(mode),
                create_time,
                members: HashMap::new(),
                touched: now,
            });
        if t.caller.is_empty() {
            t.caller = caller.to_owned();
        }
        t.mode.get_or_insert(mode);
        t.touched = now;
        for u in members {
            t.members.entry(u.user_id.clone()).or_insert(u.state);
        }
        self.check_settled(call_id, now);
    }

    pub(super) fn note_ended(&mut self, call_id: &str, now: u64) {
        self.finish(call_id, now);
    }

    /// After this, no more events will come for the call to this device.
    fn check_settled(&mut self, call_id: &str, now: u64) {
        let Some(t) = self.open.get(call_id) else {
            return;
        };
        let mine = t.members.get(&self.me).copied();
        let gone = matches!(
            mine,
            Some(CallUserState::Rejected | CallUserState::Cancelled | CallUserState::Timeout)
        );
        let normal_over = t.mode == Some(CallMode::Normal)
            && !t.members.is_empty()
            && !t.members.values().any(|s| s.is_pending());
        if gone || normal_over {
            self.finish(call_id, now);
        }
    }

    fn finish(&mut self, call_id: &str, now: u64) {
        self.open.remove(call_id);
        self.finished.insert(call_id.to_owned(), now);
        if self.finished.len() > FINISHED_MAX {
            self.prune(now);
        }
    }

    /// How far back the list query must reach to cover everything `resync` needs.
    pub(super) fn history_cutoff(&self, away_since: u64) -> u64 {
        let oldest_open = self.open.values().map(|t| t.create_time).min();
        // An invitation that arrived while away was created at most the longest
        // invitation timeout before the drop.
        let max_invite_ms = u64::from(MAX_TIMEOUT_SECS) * 1000;
        let window = away_since.saturating_sub(max_invite_ms + CLOCK_SLACK_MS);
        oldest_open.map_or(window, |o| o.min(window))
    }

    /// Turns the list query's view after a reconnect into the events this device missed
    /// between `away_since` (server clock) and now. Call it after every event pushed
    /// before the list's answer has gone through [`Tracker::on_server`].
    pub(super) fn resync(&mut self, list: &[CallInfo], away_since: u64, now: u64) -> Vec<Event> {
        let mut out = Vec::new();
        // Oldest first, so the application hears about calls in the order they happened.
        for call in list.iter().rev() {
            if self.finished.contains_key(&call.call_id) {
                continue;
            }
            if self.open.contains_key(&call.call_id) {
                self.resync_open(call, now, &mut out);
            } else if let Some(missed) = self.missed(call, away_since) {
                self.finished.insert(call.call_id.clone(), now);
                out.push(missed);
            }
        }
        self.prune(now);
        out
    }

    fn resync_open(&mut self, call: &CallInfo, now: u64, out: &mut Vec<Event>) {
        let me = self.me.clone();
        let Some(t) = self.open.get_mut(&call.call_id) else {
            return;
        };
        t.touched = now;
        let mut changed: Vec<CallUserInfo> = call
            .call_user_list
            .iter()
            .filter(|u| t.members.insert(u.user_id.clone(), u.state) != Some(u.state))
            .cloned()
            .collect();
        let mine = changed.iter().position(|u| u.user_id == me);
        let mut own_event = None;
        if let Some(i) = mine {
            let u = &changed[i];
            own_event = match u.state {
                CallUserState::Cancelled => {
                    Some(Event::InvitationCancelled(CallInvitationCancelled {
                        call_id: call.call_id.clone(),
                        inviter: u.inviter.clone(),
                        extended_data: u.extended_data.clone(),
                        reason: u.reason.unwrap_or(StateReason::CancelledByInviter),
                    }))
                }
                CallUserState::Timeout => Some(Event::InvitationTimeout(CallInvitationTimeout {
                    call_id: call.call_id.clone(),
                })),
                _ => None,
            };
            if own_event.is_some() {
                changed.remove(i);
            }
        }
        if !changed.is_empty() {
            out.push(Event::UserStateChanged(CallUserStateChanged {
                call_id: call.call_id.clone(),
                call_user_list: changed,
            }));
        }
        out.extend(own_event);
        if call.state == CallState::Ended {
            out.push(Event::InvitationEnded(CallInvitationEnded {
                call_id: call.call_id.clone(),
                caller: call.caller.clone(),
                mode: call.mode,
                operated_user_id: String::new(),
                extended_data: String::new(),
                end_time: call.end_time,
            }));
            self.finish(&call.call_id, now);
        } else {
            self.check_settled(&call.call_id, now);
        }
    }

    /// An invitation to this user that was settled while this device was away.
    fn missed(&self, call: &CallInfo, away_since: u64) -> Option<Event> {
        if call.caller == self.me {
            return None;
        }
        let mine = call.call_user_list.iter().find(|u| u.user_id == self.me)?;
        let settled_while_away =
            !mine.state.is_pending() && mine.update_time + CLOCK_SLACK_MS >= away_since;
        settled_while_away.then(|| Event::MissedWhileAway(call.clone()))
    }

    fn prune(&mut self, now: u64) {
        self.open
            .retain(|_, t| now.saturating_sub(t.touched) < OPEN_KEEP_MS);
        if self.finished.len() > FINISHED_MAX / 2 {
            self.finished
                .retain(|_, at| now.saturating_sub(*at) < FINISHED_KEEP_MS);
        }
        if self.finished.len() > FINISHED_MAX {
            let mut ages: Vec<u64> = self.finished.values().copied().collect();
            ages.sort_unstable();
            let cut = ages[ages.len() - FINISHED_MAX / 2];
            self.finished.retain(|_, at| *at >= cut);
        }
    }

    #[cfg(test)]
    pub(super) fn is_open(&self, call_id: &str) -> bool {
        self.open.contains_key(call_id)
    }
}
