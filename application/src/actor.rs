//! The user on whose behalf a use case runs.

use domain::user::{Role, UserId};

/// Who is acting: established once per request by
/// [`Authenticate`](crate::users::Authenticate) and passed to every use case that needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    /// The acting user.
    pub id: UserId,
    /// Their role, as of their login.
    pub role: Role,
}

impl Actor {
    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
