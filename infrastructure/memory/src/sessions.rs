//! Sessions in memory.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::{Clock, SessionStore},
    session::{Session, SessionTokenHash},
    user::UserId,
};

/// [`SessionStore`] in memory. Expiry is judged by the injected [`Clock`], so tests can move
/// time forward instead of sleeping.
///
/// A `std::sync::Mutex` is right here: every critical section is a map operation that never
/// awaits.
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<SessionTokenHash, Session>>,
    clock: Arc<dyn Clock>,
}

impl MemorySessionStore {
    /// An empty store that reads the time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            sessions: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, HashMap<SessionTokenHash, Session>>, InfraError> {
        // A poisoned lock means a panic mid-update; refuse rather than serve a half-written map.
        self.sessions
            .lock()
            .map_err(|_| InfraError::internal("lock session store", "poisoned"))
    }
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &Session) -> Result<(), InfraError> {
        let now = self.clock.now();
        let mut sessions = self.lock()?;
        // Sweep expired sessions on each login, so memory stays bounded by the live ones.
        sessions.retain(|_, s| !s.is_expired(now));
        if !session.is_expired(now) {
            sessions.insert(session.token_hash, session.clone());
        }
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, InfraError> {
        let now = self.clock.now();
        Ok(self
            .lock()?
            .get(token_hash)
            .filter(|s| !s.is_expired(now))
            .cloned())
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<(), InfraError> {
        self.lock()?.remove(token_hash);
        Ok(())
    }

    async fn delete_all_of_user(&self, user: UserId) -> Result<(), InfraError> {
        // A scan rather than a second map by user: the map only holds live sessions (expired
        // ones are swept on every login), and one lock makes the scan atomic.
        self.lock()?.retain(|_, s| s.user_id != user);
        Ok(())
    }
}
