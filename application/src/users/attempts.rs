//! Limits on attempts to log in and to register: what makes guessing passwords, or
//! creating accounts in bulk, slow.

use std::{net::IpAddr, sync::Arc, time::Duration};

use domain::{
    error::InfraError,
    ports::{Admission, Quota, RateLimiter},
    user::Email,
};

use crate::{AppError, error::codes};

/// How many attempts are allowed. A quota with a `limit` of 0 is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Logins to one email, from anywhere: what stops guessing one user's password.
    pub log_in_per_email: Quota,
    /// Logins from one client address, to any email: what stops trying one password on
    /// many users.
    pub log_in_per_address: Quota,
    /// Registrations from one client address.
    pub register_per_address: Quota,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        let per_minute = |limit| Quota {
            limit,
            window: Duration::from_secs(60),
        };
        Self {
            log_in_per_email: per_minute(10),
            log_in_per_address: per_minute(100),
            register_per_address: per_minute(20),
        }
    }
}

/// Refused for too many attempts; `retry_after` says when one will be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many attempts; try again in {retry_after:?}")]
pub struct TooManyAttempts {
    /// How long until an attempt would be allowed.
    pub retry_after: Duration,
}

impl std::fmt::Debug for Attempts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempts")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl From<TooManyAttempts> for AppError {
    fn from(error: TooManyAttempts) -> Self {
        // Whole seconds, rounded up, so that a client that waits that long is let in.
        let retry_after = Duration::from_secs(error.retry_after.as_secs_f64().ceil() as u64);
        AppError::rate_limited(
            codes::RATE_LIMITED,
            format!(
                "too many attempts; try again in {} s",
                retry_after.as_secs().max(1)
            ),
            retry_after.max(Duration::from_secs(1)),
        )
    }
}

/// Why an attempt was not let through.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    #[error(transparent)]
    TooMany(#[from] TooManyAttempts),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Counts attempts against [`AttemptLimits`]; what [`LogIn`](super::LogIn) and
/// [`RegisterUser`](super::RegisterUser) ask before they do any work.
#[derive(Clone)]
pub struct Attempts {
    limiter: Arc<dyn RateLimiter>,
    limits: AttemptLimits,
}

/// What an address limit counts by: an IPv4 address, or the /64 network of an IPv6 one.
/// One IPv6 host usually holds a whole /64 and may use any address in it, so counting by
/// the address would let it try 2^64 times as often. An IPv4 address written as IPv6
/// (`::ffff:192.0.2.7`) counts as the IPv4 address.
///
/// The HTTP server weighs what clients' answers hold in memory by the same count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Client(IpAddr);

impl Client {
    /// The client that `address` counts as.
    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => Self(IpAddr::V6((u128::from(v6) & !(u128::MAX >> 64)).into())),
            },
            v4 @ IpAddr::V4(_) => Self(v4),
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V6(network) => write!(f, "{network}/64"),
            v4 => write!(f, "{v4}"),
        }
    }
}

impl Attempts {
    /// Counts on `limiter`, against `limits`.
    pub fn new(limiter: Arc<dyn RateLimiter>, limits: AttemptLimits) -> Self {
        Self { limiter, limits }
    }

    /// Counts a login to `email` from `from` (when the adapter knows the address).
    pub(crate) async fn log_in(
        &self,
        email: &Email,
        from: Option<IpAddr>,
    ) -> Result<(), AttemptError> {
        if let Some(address) = from {
            let address = Client::of(address);
            self.admit(
                &format!("log_in:address:{address}"),
                self.limits.log_in_per_address,
            )
            .await?;
        }
        self.admit(
            &format!("log_in:email:{}", email.as_str()),
            self.limits.log_in_per_email,
        )
        .await
    }

    /// Counts a registration from `from` (when the adapter knows the address).
    pub(crate) async fn register(&self, from: Option<IpAddr>) -> Result<(), AttemptError> {
        match from {
            Some(address) => {
                let address = Client::of(address);
                self.admit(
                    &format!("register:address:{address}"),
                    self.limits.register_per_address,
                )
                .await
            }
            None => Ok(()),
        }
    }

    async fn admit(&self, key: &str, quota: Quota) -> Result<(), AttemptError> {
        if quota.limit == 0 {
            return Ok(());
        }
        match self.limiter.admit(key, quota).await? {
            Admission::Allowed => Ok(()),
            Admission::Limited { retry_after } => {
                // The key names an email or an address: neither goes in the log.
                tracing::info!(limit = quota.limit, "attempt refused: over its rate limit");
                Err(TooManyAttempts { retry_after }.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_address_limit_counts_ipv4_addresses_and_ipv6_networks_of_64() {
        let key = |raw: &str| Client::of(raw.parse().unwrap()).to_string();
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        // Every address of one /64 is one client; the next /64 is another.
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        // IPv4 written as IPv6 is the IPv4 address.
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
    }
}
