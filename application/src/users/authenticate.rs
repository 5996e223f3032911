//! Authentication: from a bearer token to the acting user.

use std::sync::Arc;

use domain::{
    error::InfraError,
    ports::{Clock, SessionStore},
    session::{Session, SessionToken},
};

use crate::{Actor, AppError};

/// Why a token does not authenticate anyone.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The token is malformed, unknown, logged out or expired. One error for all of them:
    /// a client learns nothing about tokens it does not hold.
    #[error("missing, invalid or expired session token")]
    Unauthenticated,
    /// The session store failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Resolves a bearer token to an [`Actor`]. Every driving adapter calls this first.
#[derive(Clone)]
pub struct Authenticate {
    sessions: Arc<dyn SessionStore>,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    /// Builds the use case.
    pub fn new(sessions: Arc<dyn SessionStore>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    /// The actor whose session `raw_token` belongs to.
    ///
    /// One session-store read and no database access: the session carries the role.
    #[tracing::instrument(name = "authenticate", skip_all)]
    pub async fn execute(&self, raw_token: &str) -> Result<Actor, AuthenticateError> {
        let token =
            SessionToken::parse(raw_token).map_err(|_| AuthenticateError::Unauthenticated)?;
        let session = self
            .live_session(&token)
            .await?
            .ok_or(AuthenticateError::Unauthenticated)?;
        Ok(Actor {
            id: session.user_id,
            role: session.role,
        })
    }

    /// Whether `token`'s session is still live: neither logged out nor expired. What a
    /// long-lived connection asks now and then, having authenticated once at its start.
    ///
    /// # Errors
    /// Returns [`InfraError`] when the session store fails.
    pub async fn is_live(&self, token: &SessionToken) -> Result<bool, InfraError> {
        Ok(self.live_session(token).await?.is_some())
    }

    async fn live_session(&self, token: &SessionToken) -> Result<Option<Session>, InfraError> {
        let session = self.sessions.get(&token.hash()).await?;
        // The store drops expired sessions itself; checking again costs nothing and keeps a
        // slow-to-expire store from extending a session.
        Ok(session.filter(|session| !session.is_expired(self.clock.now())))
    }
}

impl std::fmt::Debug for Authenticate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticate").finish_non_exhaustive()
    }
}

impl From<AuthenticateError> for AppError {
    fn from(error: AuthenticateError) -> Self {
        match error {
            AuthenticateError::Unauthenticated => {
                AppError::unauthenticated("a valid bearer token is required")
            }
            AuthenticateError::Infra(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use domain::{
        ports::MockSessionStore,
        user::{Role, UserId},
    };

    use super::*;
    use crate::test_support::*;

    fn session_for(token: &SessionToken, expires_in: Duration) -> Session {
        Session {
            token_hash: token.hash(),
            user_id: UserId::from_uuid(uuid::Uuid::now_v7()),
            role: Role::Admin,
            created_at: T0 - Duration::hours(1),
            expires_at: T0 + expires_in,
        }
    }

    fn use_case(sessions: MockSessionStore) -> Authenticate {
        Authenticate::new(Arc::new(sessions), fixed_clock())
    }

    #[tokio::test]
    async fn a_live_session_yields_its_user_and_role() {
        let token = token(1);
        let session = session_for(&token, Duration::minutes(1));
        let expected = Actor {
            id: session.user_id,
            role: Role::Admin,
        };
        let hash = token.hash();
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_get()
            .withf(move |h| *h == hash)
            .returning(move |_| Ok(Some(session.clone())));

        let actor = use_case(sessions).execute(token.expose()).await.unwrap();

        assert_eq!(actor, expected);
    }

    #[tokio::test]
    async fn a_malformed_token_is_rejected_without_asking_the_store() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_get().never();

        let err = use_case(sessions).execute("not-a-token").await.unwrap_err();

        assert!(matches!(err, AuthenticateError::Unauthenticated), "{err:?}");
    }

    #[tokio::test]
    async fn an_unknown_token_is_rejected() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_get().returning(|_| Ok(None));

        let err = use_case(sessions)
            .execute(token(1).expose())
            .await
            .unwrap_err();

        assert!(matches!(err, AuthenticateError::Unauthenticated), "{err:?}");
    }

    #[tokio::test]
    async fn an_expired_session_is_rejected_even_if_the_store_returns_it() {
        let token = token(1);
        let session = session_for(&token, Duration::zero());
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_get()
            .returning(move |_| Ok(Some(session.clone())));

        let err = use_case(sessions)
            .execute(token.expose())
            .await
            .unwrap_err();

        assert!(matches!(err, AuthenticateError::Unauthenticated), "{err:?}");
    }

    #[tokio::test]
    async fn a_store_failure_is_passed_on() {
        let mut sessions = MockSessionStore::new();
        sessions.expect_get().returning(|_| Err(infra_down()));

        let err = use_case(sessions)
            .execute(token(1).expose())
            .await
            .unwrap_err();

        assert!(matches!(err, AuthenticateError::Infra(_)), "{err:?}");
    }
}
