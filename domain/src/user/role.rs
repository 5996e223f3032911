//! What a user may do.

use std::{fmt, str::FromStr};

/// A user's role. Admins may list every user; members see only their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// An ordinary user, the role everyone gets on registration.
    #[default]
    Member,
    /// An operator who may manage users.
    Admin,
}

/// A string that names no [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?} (expected \"member\" or \"admin\")")]
pub struct RoleError(pub String);

impl Role {
    /// The stable lowercase name used in storage and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            other => Err(RoleError(other.to_owned())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_name() {
        for role in [Role::Member, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn unknown_and_differently_cased_names_are_rejected() {
        for name in ["", "Admin", "root", "member "] {
            assert!(name.parse::<Role>().is_err(), "{name:?}");
        }
    }
}
