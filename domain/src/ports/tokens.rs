//! Where session tokens come from.

use crate::session::SessionToken;

/// Makes the secret tokens that identify sessions.
///
/// A port, like [`Clock`](super::Clock) and [`IdGenerator`](super::IdGenerator): reading a
/// random source is a side effect, so the domain leaves it to an adapter, and tests can fix
/// the token a login hands out.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenGenerator: Send + Sync {
    /// A new token.
    ///
    /// MUST draw its bytes from a cryptographically secure random source, so that no token
    /// can be guessed from others.
    fn generate(&self) -> SessionToken;
}
