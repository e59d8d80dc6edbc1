//! Whether and how the pipeline chains entries.

use std::time::Duration;

use super::CheckpointKey;

/// The longest [`ChainConfig::checkpoint_interval`]: a day. Longer would leave entries
/// unsealed for longer than any review cycle, and far deadlines overflow clocks.
pub const MAX_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether and how the pipeline chains entries; given to
/// [`AuditorBuilder::chain`](crate::AuditorBuilder::chain).
///
/// Chaining is on by default when the sink writes JSONL files (see
/// [`Sink::chained_by_default`](crate::Sink::chained_by_default)), off otherwise.
///
/// ```
/// use std::time::Duration;
/// use audit_core::chain::{ChainConfig, CheckpointKey};
///
/// let key = CheckpointKey::from_bytes(b"a secret of at least 32 bytes, kept elsewhere").unwrap();
/// let config = ChainConfig::enabled()
///     .checkpoint_key(key)
///     .checkpoint_every(10_000)
///     .checkpoint_interval(Duration::from_secs(60));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub(crate) enabled: Option<bool>,
    pub(crate) key: Option<CheckpointKey>,
    pub(crate) every: u64,
    pub(crate) interval: Duration,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            enabled: None,
            key: None,
            every: 10_000,
            interval: Duration::from_secs(60),
        }
    }
}

impl ChainConfig {
    /// Chaining as the sink prefers it (on for JSONL).
    pub fn sink_default() -> Self {
        Self::default()
    }

    /// Chaining on, whatever the sink.
    pub fn enabled() -> Self {
        ChainConfig {
            enabled: Some(true),
            ..Self::default()
        }
    }

    /// Chaining off: entries carry no `chain` object.
    pub fn disabled() -> Self {
        ChainConfig {
            enabled: Some(false),
            ..Self::default()
        }
    }

    /// Signs checkpoints with `key`: every [`checkpoint_every`](Self::checkpoint_every)
    /// entries, every [`checkpoint_interval`](Self::checkpoint_interval) while entries are
    /// unsealed, and on shutdown. Without a key only the shutdown checkpoint is written,
    /// unsigned (it shows truncation by accident, not by intent).
    #[must_use]
    pub fn checkpoint_key(mut self, key: CheckpointKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Entries between signed checkpoints (default 10,000).
    #[must_use]
    pub fn checkpoint_every(mut self, entries: u64) -> Self {
        self.every = entries.max(1);
        self
    }

    /// The longest time entries stay unsealed (default 60 s), from 1 ms to
    /// [`MAX_CHECKPOINT_INTERVAL`] (a day); values outside are brought to the nearer bound.
    #[must_use]
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.clamp(Duration::from_millis(1), MAX_CHECKPOINT_INTERVAL);
        self
    }

    /// Whether chaining is on for a sink that prefers `sink_default`.
    pub(crate) fn is_on(&self, sink_default: bool) -> bool {
        self.enabled.unwrap_or(sink_default)
    }
}
