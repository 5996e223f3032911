//! Where new ids come from.

use uuid::Uuid;

/// Makes ids for new users and todos.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new id.
    ///
    /// MUST never repeat, and MUST be a UUIDv7 that sorts after every id this generator
    /// returned before it (ids double as pagination cursors, newest first).
    fn generate(&self) -> Uuid;
}
