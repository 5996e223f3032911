//! Logging out: ending the session a token belongs to.

use std::sync::Arc;

use domain::{error::InfraError, ports::SessionStore, session::SessionToken};

use crate::AppError;

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogOutError {
    /// The session store failed; the session may still be valid.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Deletes the session of a token.
#[derive(Clone)]
pub struct LogOut {
    sessions: Arc<dyn SessionStore>,
}

impl LogOut {
    /// Builds the use case.
    pub fn new(sessions: Arc<dyn SessionStore>) -> Self {
        Self { sessions }
    }

    /// Ends the session of `token`. Logging out twice is not an error.
    #[tracing::instrument(name = "log_out", skip_all)]
    pub async fn execute(&self, token: &SessionToken) -> Result<(), LogOutError> {
        self.sessions.delete(&token.hash()).await?;
        Ok(())
    }
}

impl std::fmt::Debug for LogOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOut").finish_non_exhaustive()
    }
}

impl From<LogOutError> for AppError {
    fn from(error: LogOutError) -> Self {
        match error {
            LogOutError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockSessionStore;

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn logging_out_deletes_the_session_under_the_token_hash() {
        let token = token(1);
        let expected = token.hash();
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_delete()
            .withf(move |h| *h == expected)
            .times(1)
            .returning(|_| Ok(()));

        LogOut::new(Arc::new(sessions))
            .execute(&token)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_delete().returning(|_| Err(infra_down()));

        let err = LogOut::new(Arc::new(sessions))
            .execute(&token(1))
            .await
            .unwrap_err();

        assert!(matches!(err, LogOutError::Infra(_)), "{err:?}");
    }
}
