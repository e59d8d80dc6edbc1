//! What the operator is told while a sink fails: the first failure at once, then at most one
//! warning every 10 seconds with the count so far, and one when the sink recovers; the same for
//! entries dropped because the queue was full. Through `tracing`, so the application's
//! subscriber shows them (the quickstart prints warnings by default).

use std::time::{Duration, Instant};

use crate::error::SinkError;

/// Emits a tracing event from the writer, which must survive an application subscriber that
/// panics (tracing-subscriber's `fmt` does when it cannot write to a closed stderr): the
/// event is lost, the writer goes on.
pub(super) fn quietly(emit: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(emit));
}

/// At most one repeated warning this often.
const EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(super) struct FaultLog {
    failing_since: Option<Instant>,
    failures: u64,
    last_warned: Option<Instant>,
    drops_since_warned: u64,
    last_drop_warned: Option<Instant>,
}

fn due(last: Option<Instant>, now: Instant) -> bool {
    last.is_none_or(|at| now.duration_since(at) >= EVERY)
}

impl FaultLog {
    /// A write or flush failed and will be retried after `retry_in`.
    pub(super) fn failed(&mut self, sink: &str, retry_in: Duration, error: &SinkError) {
        let now = Instant::now();
        self.failures += 1;
        self.failing_since.get_or_insert(now);
        if due(self.last_warned, now) {
            self.last_warned = Some(now);
            quietly(|| {
                tracing::warn!(
                    sink,
                    failures = self.failures,
                    retry_in = ?retry_in,
                    error = %error,
                    "audit sink failing; entries wait in the queue and are retried (repeated at most every 10 s)"
                )
            });
        }
    }

    /// A write succeeded: says so once if the sink had been failing.
    pub(super) fn succeeded(&mut self, sink: &str) {
        if let Some(since) = self.failing_since.take() {
            quietly(|| {
                tracing::warn!(
                    sink,
                    failures = self.failures,
                    after = ?since.elapsed(),
                    "audit sink recovered"
                )
            });
            self.failures = 0;
            self.last_warned = None;
        }
    }

    /// Entries were dropped (queue full under `DropNewest`, or a full queue nobody could wait on).
    pub(super) fn dropped(&mut self, count: u64) {
        let now = Instant::now();
        self.drops_since_warned += count;
        if due(self.last_drop_warned, now) {
            self.last_drop_warned = Some(now);
            quietly(|| {
                tracing::warn!(
                dropped = self.drops_since_warned,
                "audit entries dropped: the queue was full (written into the log as audit.dropped; repeated at most every 10 s)"
            )
            });
            self.drops_since_warned = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_rate_limited_and_recovery_resets() {
        let mut log = FaultLog::default();
        let error = SinkError::other("disk full");
        log.failed("jsonl", Duration::ZERO, &error);
        let first = log.last_warned;
        log.failed("jsonl", Duration::ZERO, &error);
        assert_eq!(log.last_warned, first, "a second warning within 10 s");
        assert_eq!(log.failures, 2);
        log.succeeded("jsonl");
        assert_eq!(
            (log.failures, log.failing_since, log.last_warned),
            (0, None, None)
        );
    }
}
