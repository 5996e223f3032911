//! The system clock.

use chrono::{DateTime, SubsecRound, Utc};
use domain::ports::Clock;

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

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn the_time_has_whole_microseconds() {
        for _ in 0..100 {
            assert_eq!(SystemClock.now().nanosecond() % 1_000, 0);
        }
    }
}
