//! The system clock.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use domain::ports::{Clock, Ticker, Ticks};
use tokio::time::{Instant, MissedTickBehavior};

/// The operating system's clock, truncated to microseconds as the [`Clock`] port requires
/// (Postgres `timestamptz` keeps microseconds; a nanosecond timestamp would not survive a
/// round trip).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// Tokio's timer: the runtime's clock, which `tokio::time::pause` can stop in tests.
impl Ticker for SystemClock {
    fn every(&self, period: Duration) -> Ticks {
        // A zero period would make tokio panic; a millisecond is as fast as anything needs.
        let period = period.max(Duration::from_millis(1));
        let mut interval = tokio::time::interval_at(Instant::now() + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Box::pin(futures_util::stream::unfold(
            interval,
            |mut interval| async move {
                interval.tick().await;
                Some(((), interval))
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ticks_come_one_period_apart_starting_one_period_from_now() {
        use futures_util::StreamExt;

        let start = Instant::now();
        let mut ticks = SystemClock.every(Duration::from_secs(10));
        for n in 1..=3 {
            ticks.next().await;
            assert_eq!(start.elapsed(), Duration::from_secs(10 * n));
        }
    }

    #[test]
    fn the_time_has_whole_microseconds() {
        for _ in 0..100 {
            assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
        }
    }
}
