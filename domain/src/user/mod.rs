//! Users: who can log in, and what they may do.

mod display_name;
mod email;
mod password;
mod role;

pub use display_name::{DisplayName, DisplayNameError};
pub use email::{Email, EmailError};
pub use password::{Password, PasswordError, PasswordHash};
pub use role::{Role, RoleError};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The identity of a user: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(Uuid);

impl UserId {
    /// Wraps an id that came from the [`IdGenerator`](crate::ports::IdGenerator) or from
    /// storage.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    /// The id as a UUID, for storage and transport.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A registered user.
///
/// Every field is already a validated type, and no rule ties two fields together, so the
/// fields are public: there is no invariant a caller could break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The login email, unique across users.
    pub email: Email,
    /// The name shown to other people.
    pub display_name: DisplayName,
    /// The argon2id hash of the password; the password itself is never stored.
    pub password_hash: PasswordHash,
    /// What the user may do.
    pub role: Role,
    /// When the user registered.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// True for administrators, who may see every user.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
