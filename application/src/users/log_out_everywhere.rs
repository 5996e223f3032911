//! Logging out everywhere: ending every session of the acting user at once.

use std::sync::Arc;

use domain::{error::InfraError, ports::SessionStore};

use crate::{Actor, AppError};

/// Why the sessions could not all be ended.
#[derive(Debug, thiserror::Error)]
pub enum LogOutEverywhereError {
    /// The session store failed; some sessions may still be valid.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Deletes every session of the actor: the phone, the laptop and the one making the call.
/// What a user does after losing a device, or suspecting a token leaked.
#[derive(Clone)]
pub struct LogOutEverywhere {
    sessions: Arc<dyn SessionStore>,
}

impl LogOutEverywhere {
    /// Builds the use case.
    pub fn new(sessions: Arc<dyn SessionStore>) -> Self {
        Self { sessions }
    }

    /// Ends every session of `actor`, including the one the request came with.
    #[tracing::instrument(name = "log_out_everywhere", skip_all, fields(user_id = %actor.id))]
    pub async fn execute(&self, actor: &Actor) -> Result<(), LogOutEverywhereError> {
        self.sessions.delete_all_of_user(actor.id).await?;
        tracing::info!("every session of the user ended");
        Ok(())
    }
}

impl std::fmt::Debug for LogOutEverywhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOutEverywhere").finish_non_exhaustive()
    }
}

impl From<LogOutEverywhereError> for AppError {
    fn from(error: LogOutEverywhereError) -> Self {
        match error {
            LogOutEverywhereError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockSessionStore;

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn every_session_of_the_actor_is_deleted() {
        let actor = member();
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_delete_all_of_user()
            .withf(move |user| *user == actor.id)
            .times(1)
            .returning(|_| Ok(()));

        LogOutEverywhere::new(Arc::new(sessions))
            .execute(&actor)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on() {
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_delete_all_of_user()
            .returning(|_| Err(infra_down()));

        let err = LogOutEverywhere::new(Arc::new(sessions))
            .execute(&member())
            .await
            .unwrap_err();

        assert!(matches!(err, LogOutEverywhereError::Infra(_)), "{err:?}");
    }
}
