//! How failed sink writes are retried.

use std::time::Duration;

/// Exponential backoff with jitter for failed sink writes.
///
/// Attempt `n` (from 1) waits a random time between half and all of
/// `min(initial * 2^(n-1), max_delay)`; after `max_attempts` failed attempts the batch is given
/// up, counted in [`Stats::failed_entries`](crate::Stats::failed_entries), and the gap is written
/// to the log as an `audit.dropped` entry once the sink accepts entries again.
///
/// ```
/// use std::time::Duration;
/// use audit_core::RetryPolicy;
///
/// let retry = RetryPolicy::default().max_attempts(20).max_delay(Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 50 ms doubling up to 5 s, 10 attempts: about 20 s before a batch is given up.
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(5),
            max_attempts: 10,
        }
    }
}

impl RetryPolicy {
    /// The delay before the first retry (before jitter).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay between two attempts (before jitter).
    #[must_use]
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How many attempts a batch gets in all (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The number of attempts a batch gets.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after failed attempt `attempt` (1-based), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        let base = self
            .initial_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = base / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_and_cap() {
        let retry = RetryPolicy::default()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_secs(1));
        for _ in 0..100 {
            let d1 = retry.delay(1);
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
                "{d1:?}"
            );
            let d3 = retry.delay(3);
            assert!(
                d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
                "{d3:?}"
            );
            let d10 = retry.delay(10);
            assert!(
                d10 >= Duration::from_millis(500) && d10 <= Duration::from_secs(1),
                "{d10:?}"
            );
            assert!(retry.delay(u32::MAX) <= Duration::from_secs(1));
        }
        assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    }
}
