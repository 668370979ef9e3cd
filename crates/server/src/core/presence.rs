//! Who is online: logged-in sessions, by user and device.

use std::collections::HashMap;
use std::sync::Arc;

use super::SessionId;

#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: Arc<str>,
    pub user_name: Arc<str>,
    pub device_id: Arc<str>,
}

#[derive(Debug, Default)]
pub struct Presence {
    sessions: HashMap<SessionId, Session>,
    by_user: HashMap<Arc<str>, Vec<SessionId>>,
}

impl Presence {
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn add(&mut self, id: SessionId, session: Session) {
        self.by_user
            .entry(session.user_id.clone())
            .or_default()
            .push(id);
        self.sessions.insert(id, session);
    }

    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        if let Some(ids) = self.by_user.get_mut(&session.user_id) {
            ids.retain(|s| *s != id);
            if ids.is_empty() {
                self.by_user.remove(&session.user_id);
            }
        }
        Some(session)
    }

    pub fn sessions_of(&self, user: &str) -> &[SessionId] {
        self.by_user.get(user).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The one allocation of `user`'s ID, if they are online.
    pub fn user_id(&self, user: &str) -> Option<&Arc<str>> {
        self.by_user.get_key_value(user).map(|(id, _)| id)
    }

    pub fn is_online(&self, user: &str) -> bool {
        !self.sessions_of(user).is_empty()
    }

    pub fn device_session(&self, user: &str, device: &str) -> Option<SessionId> {
        self.sessions_of(user)
            .iter()
            .copied()
            .find(|id| &*self.sessions[id].device_id == device)
    }

    pub fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }
}
