//! Rate limits within one process, on governor's GCRA.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use domain::{
    error::InfraError,
    ports::{Admission, Quota, RateLimiter},
};
use governor::{
    DefaultKeyedRateLimiter, Quota as GovernorQuota,
    clock::{Clock, DefaultClock},
};

/// Past this many tracked keys, keys whose count has fully refilled are forgotten.
const RETAIN_ABOVE: usize = 10_000;

/// [`RateLimiter`] in memory: one governor keyed limiter per quota, so each key costs a few
/// bytes and the check is a compare-and-swap. The counts belong to this process; with
/// several replicas, each allows the quota on its own (use the Redis limiter to share).
#[derive(Debug, Default, Clone)]
pub struct MemoryRateLimiter {
    limiters: Arc<Mutex<HashMap<Quota, Arc<DefaultKeyedRateLimiter<String>>>>>,
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, quota: Quota) -> Arc<DefaultKeyedRateLimiter<String>> {
        let mut limiters = self.limiters.lock().unwrap_or_else(PoisonError::into_inner);
        limiters
            .entry(quota)
            .or_insert_with(|| {
                let burst = NonZeroU32::new(quota.limit.max(1)).unwrap_or(NonZeroU32::MIN);
                // A zero interval would make governor refuse the quota; a nanosecond is
                // as good as no limit.
                let interval = quota.interval().max(std::time::Duration::from_nanos(1));
                let quota = GovernorQuota::with_period(interval)
                    .unwrap_or_else(|| GovernorQuota::per_second(NonZeroU32::MAX))
                    .allow_burst(burst);
                Arc::new(DefaultKeyedRateLimiter::keyed(quota))
            })
            .clone()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn admit(&self, key: &str, quota: Quota) -> Result<Admission, InfraError> {
        let limiter = self.limiter(quota);
        let admission = match limiter.check_key(&key.to_owned()) {
            Ok(()) => Admission::Allowed,
            Err(not_until) => Admission::Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            },
        };
        if limiter.len() > RETAIN_ABOVE {
            limiter.retain_recent();
        }
        Ok(admission)
    }
}
