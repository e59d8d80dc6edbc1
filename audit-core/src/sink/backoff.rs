//! When a sink tries its destination again after a failure: exponential backoff, shared by
//! the sinks that reconnect (PostgreSQL, NATS, syslog, HTTP).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    /// The wait the next failure imposes.
    current: Duration,
    /// Nothing is tried before this.
    until: Instant,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            current: initial,
            until: Instant::now(),
        }
    }

    /// Whether the wait after the last failure is over.
    pub fn ready(&self) -> bool {
        Instant::now() >= self.until
    }

    /// A failure: nothing is tried for the current wait (or `at_least`, a wait the destination
    /// asked for, when longer); the next failure waits twice as long, up to the maximum.
    /// Returns the wait.
    pub fn failed(&mut self, at_least: Option<Duration>) -> Duration {
        let wait = self.current.max(at_least.unwrap_or_default());
        self.until = Instant::now() + wait;
        self.current = (self.current * 2).min(self.max);
        wait
    }

    /// A success: the next failure waits the initial time again.
    pub fn succeeded(&mut self) {
        self.current = self.initial;
    }

    /// Ends the wait now: one last attempt, whatever the backoff says.
    pub fn expire(&mut self) {
        self.until = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_and_start_over_after_a_success() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        assert!(backoff.ready());
        assert_eq!(backoff.failed(None), Duration::from_millis(100));
        assert!(!backoff.ready());
        assert_eq!(backoff.failed(None), Duration::from_millis(200));
        assert_eq!(backoff.failed(None), Duration::from_millis(300));
        assert_eq!(backoff.failed(None), Duration::from_millis(300));
        assert_eq!(
            backoff.failed(Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        backoff.expire();
        assert!(backoff.ready());
        backoff.succeeded();
        assert_eq!(backoff.failed(None), Duration::from_millis(100));
    }
}
