//! Readiness: can this instance serve requests right now?

use std::sync::Arc;

use domain::ports::ReadinessProbe;

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCheck {
    /// The service, such as `"postgres"`.
    pub name: &'static str,
    /// Whether it answered.
    pub up: bool,
}

/// Every configured backing service and whether it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// One entry per probe, in the order they were configured.
    pub checks: Vec<ServiceCheck>,
}

impl Readiness {
    /// True when every service answered (and trivially when there are none: the in-memory
    /// adapters are always ready).
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|check| check.up)
    }
}

/// Runs every readiness probe. What the HTTP `/readyz` and gRPC health both report, so the two
/// can never disagree and neither knows which servers exist.
#[derive(Clone)]
pub struct CheckReadiness {
    probes: Arc<[Arc<dyn ReadinessProbe>]>,
}

impl CheckReadiness {
    /// Builds the use case over the composition root's probes.
    pub fn new(probes: Vec<Arc<dyn ReadinessProbe>>) -> Self {
        Self {
            probes: probes.into(),
        }
    }

    /// Checks every service at once (a slow one does not delay the others' answers), and
    /// logs each failure with its cause.
    pub async fn execute(&self) -> Readiness {
        let results =
            futures_util::future::join_all(self.probes.iter().map(|probe| probe.check())).await;
        let checks = self
            .probes
            .iter()
            .zip(results)
            .map(|(probe, result)| {
                if let Err(error) = &result {
                    tracing::warn!(
                        service = probe.name(),
                        error = error as &dyn std::error::Error,
                        "readiness check failed"
                    );
                }
                ServiceCheck {
                    name: probe.name(),
                    up: result.is_ok(),
                }
            })
            .collect();
        Readiness { checks }
    }
}

impl std::fmt::Debug for CheckReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckReadiness")
            .field("probes", &self.probes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use domain::ports::MockReadinessProbe;

    use super::*;
    use crate::test_support::*;

    fn probe(name: &'static str, up: bool) -> Arc<dyn ReadinessProbe> {
        let mut probe = MockReadinessProbe::new();
        probe.expect_name().return_const(name);
        probe
            .expect_check()
            .returning(move || if up { Ok(()) } else { Err(infra_down()) });
        Arc::new(probe)
    }

    #[tokio::test]
    async fn ready_when_every_service_answers() {
        let report = CheckReadiness::new(vec![probe("postgres", true), probe("redis", true)])
            .execute()
            .await;

        assert!(report.is_ready());
        assert_eq!(report.checks.len(), 2);
    }

    #[tokio::test]
    async fn one_service_down_makes_the_instance_unready_and_is_named() {
        let report = CheckReadiness::new(vec![probe("postgres", false), probe("redis", true)])
            .execute()
            .await;

        assert!(!report.is_ready());
        assert_eq!(
            report.checks,
            [
                ServiceCheck {
                    name: "postgres",
                    up: false
                },
                ServiceCheck {
                    name: "redis",
                    up: true
                }
            ]
        );
    }

    #[tokio::test]
    async fn with_no_servers_the_instance_is_ready() {
        assert!(CheckReadiness::new(Vec::new()).execute().await.is_ready());
    }
}
