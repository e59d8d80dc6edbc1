//! Configuring an [`Auditor`]: queue, batching, overflow policy, retries, redaction, chain,
//! and starting its writer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::{
    detached, worker, writer_thread, Auditor, Counters, OverflowPolicy, RetryPolicy, Shared,
};
use crate::chain::ChainConfig;
use crate::error::ConfigError;
use crate::sink::Sink;
use crate::summary::Scrubber;

/// Configures an [`Auditor`]; made by [`Auditor::builder`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use audit_core::{Auditor, MemorySink, OverflowPolicy};
///
/// let auditor = Auditor::builder()
///     .overflow(OverflowPolicy::DropNewest)
///     .queue_capacity(4096)
///     .batch_size(512)
///     .max_batch_wait(Duration::from_millis(2))
///     .build(MemorySink::new())
///     .unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuditorBuilder {
    overflow: OverflowPolicy,
    capacity: usize,
    batch_size: usize,
    max_batch_wait: Option<Duration>,
    retry: RetryPolicy,
    scrubber: Scrubber,
    chain: ChainConfig,
    drain_on_drop: Duration,
    metrics: bool,
}

impl Default for AuditorBuilder {
    fn default() -> Self {
        AuditorBuilder {
            overflow: OverflowPolicy::default(),
            capacity: 8192,
            batch_size: 1024,
            max_batch_wait: None,
            drain_on_drop: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            scrubber: Scrubber::default(),
            chain: ChainConfig::default(),
            metrics: true,
        }
    }
}

impl AuditorBuilder {
    /// The overflow policy (default [`OverflowPolicy::Block`]).
    #[must_use]
    pub fn overflow(mut self, overflow: OverflowPolicy) -> Self {
        self.overflow = overflow;
        self
    }

    /// How many entries the queue holds (default 8192). Memory is bounded by this times the
    /// size of a summarised entry.
    #[must_use]
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// The most entries handed to the sink at once (default 1024).
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// How long the writer waits for a batch to fill once its first entry arrived (default
    /// 5 ms; 0 in [`OverflowPolicy::Strict`], where callers wait for the write). Waiting
    /// turns many small writes into a few large ones and spares callers the cost of waking
    /// the writer on every entry.
    #[must_use]
    pub fn max_batch_wait(mut self, wait: Duration) -> Self {
        self.max_batch_wait = Some(wait);
        self
    }

    /// How failed sink writes are retried.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The redaction and summary limits producers use ([`Auditor::scrubber`]); pseudonymisation
    /// of users set here is applied by the writer to every entry.
    #[must_use]
    pub fn scrubber(mut self, scrubber: Scrubber) -> Self {
        self.scrubber = scrubber;
        self
    }

    /// Whether entries are chained and checkpoints signed ([`crate::chain`]); by default as
    /// the sink prefers (on for JSONL files, see [`Sink::chained_by_default`]).
    #[must_use]
    pub fn chain(mut self, chain: ChainConfig) -> Self {
        self.chain = chain;
        self
    }

    /// How long dropping the last [`Auditor`] handle waits for the writer to write what is
    /// still queued (default 5 s); past it, what is left is reported on stderr. `shutdown()`
    /// is the explicit, awaited way.
    #[must_use]
    pub fn drain_on_drop(mut self, wait: Duration) -> Self {
        self.drain_on_drop = wait;
        self
    }

    /// Whether the writer reports metrics ([`crate::metrics`]; default on, with the
    /// `metrics` feature and a recorder installed). Off, it measures nothing.
    #[must_use]
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    /// Starts the writer, on a thread of its own, writing to `sink`. Works inside or outside a
    /// tokio runtime; the writer outlives the runtime that built the auditor.
    pub fn build(self, sink: impl Sink) -> Result<Auditor, ConfigError> {
        let (tx, rx) = mpsc::channel(self.capacity);
        let counters = Arc::new(Counters::default());
        let urgent = Arc::new(Notify::new());
        // What an earlier run left in the sink's spool shows before the writer's first step.
        counters.spooled.store(sink.spooled(), Ordering::Relaxed);
        let max_batch_wait = self.max_batch_wait.unwrap_or(match self.overflow {
            OverflowPolicy::Strict => Duration::ZERO,
            _ => Duration::from_millis(5),
        });
        let chain = self
            .chain
            .is_on(sink.chained_by_default())
            .then(|| crate::chain::start(&self.chain));
        let worker = worker::Worker {
            rx,
            sink: Box::new(sink),
            batch_size: self.batch_size,
            max_batch_wait,
            retry: self.retry,
            redaction: self.scrubber.redaction.clone(),
            counters: counters.clone(),
            urgent: urgent.clone(),
            chain,
            pipelined: self.overflow != OverflowPolicy::Strict,
            metrics: crate::metrics::PipelineMetrics::new(self.metrics),
        };
        let writer = writer_thread::WriterThread::start(worker, self.drain_on_drop)?;
        Ok(Auditor {
            inner: Some(Arc::new(Shared {
                tx,
                overflow: self.overflow,
                capacity: self.capacity,
                counters,
                scrubber: self.scrubber,
                shut_down: AtomicBool::new(false),
                detached: detached::Detached::default(),
                drain_on_drop: self.drain_on_drop,
                urgent,
                _writer: writer,
            })),
        })
    }
}
