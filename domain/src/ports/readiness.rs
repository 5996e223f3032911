//! Whether the backing services answer: the readiness checks.

use async_trait::async_trait;

use crate::error::InfraError;

/// One backing service a driven adapter talks to, which can say whether it is reachable.
///
/// Each adapter that talks to a server implements this; the composition root collects
/// them; the driving side (the HTTP `/readyz`, gRPC health) reports the checks without
/// knowing which servers exist. An adapter that needs no server (in memory) has none.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// The service's name in readiness reports, such as `"postgres"`.
    fn name(&self) -> &'static str;

    /// Succeeds when the service answers a trivial request.
    ///
    /// MUST NOT take longer than the adapter's own request timeouts, so that a readiness
    /// check can never hang.
    ///
    /// # Errors
    /// MUST return [`InfraError`] when the service does not answer.
    async fn check(&self) -> Result<(), InfraError>;
}
