//! What an auditor's pipeline counted: a plain value, read by `Auditor::stats` and by the
//! metrics, so neither depends on the other.

/// Counters of an [`Auditor`](crate::Auditor), from [`Auditor::stats`](crate::Auditor::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Entries accepted into the queue.
    pub recorded: u64,
    /// Entries the sink accepted (including `audit.dropped` reports): stored at its
    /// destination, or held in its local spool until the destination takes them (see
    /// [`spooled`](Self::spooled)).
    pub written: u64,
    /// Entries the sink holds in its local spool now, waiting for their destination (the
    /// PostgreSQL sink while the database is away), those an earlier run left included;
    /// updated after every write and catch-up.
    pub spooled: u64,
    /// Entries dropped because the queue was full ([`OverflowPolicy::DropNewest`](crate::OverflowPolicy::DropNewest)).
    pub dropped: u64,
    /// Batches given up after every retry failed.
    pub failed_batches: u64,
    /// Entries in those batches.
    pub failed_entries: u64,
    /// Retried sink calls.
    pub retries: u64,
    /// Entries waiting in the queue now.
    pub queue_depth: usize,
}
