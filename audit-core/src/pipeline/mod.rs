//! The pipeline: a cheap [`Auditor`] handle, a bounded queue, and one background writer task
//! that batches entries into the sink.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::entry::AuditEntry;
use crate::error::{RecordError, SinkError};
use crate::summary::Scrubber;

mod builder;
mod detached;
mod faults;
mod guard;
pub use builder::AuditorBuilder;
pub use detached::Enqueue;
pub use guard::ShutdownGuard;
mod retry;
mod worker;
mod writer_thread;

pub use crate::stats::Stats;
pub use retry::RetryPolicy;
pub use worker::DROPPED_ENDPOINT;

/// What [`Auditor::record`] does when the queue is full, and what it promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OverflowPolicy {
    /// The caller waits for room: nothing is lost, a slow sink slows callers (back-pressure).
    #[default]
    Block,
    /// The caller never waits: entries that find the queue full are dropped and counted, and the
    /// gap is written into the log as an `audit.dropped` entry (count and time window).
    DropNewest,
    /// `record` returns only once the sink has durably accepted the entry (one flush serves a
    /// whole batch: group commit), and returns the failure otherwise: "no action without an
    /// audit record".
    Strict,
}

/// Why [`Auditor::try_record`] did not queue an entry.
#[derive(Debug)]
#[non_exhaustive]
pub enum TryRecordError {
    /// The queue is full; here is the entry back (policies `Block` and `Strict`).
    Full(Box<AuditEntry>),
    /// The queue is full and the entry was dropped and counted (policy `DropNewest`).
    Dropped,
    /// The auditor is shut down.
    Closed,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    recorded: AtomicU64,
    written: AtomicU64,
    spooled: AtomicU64,
    dropped: AtomicU64,
    failed_batches: AtomicU64,
    failed_entries: AtomicU64,
    retries: AtomicU64,
    /// Drops not yet reported in the log, and the window they fall in (µs since the epoch).
    unreported_drops: AtomicU64,
    drop_window_start: AtomicU64,
    drop_window_end: AtomicU64,
}

pub(crate) enum Msg {
    Entry(AuditEntry),
    Strict(AuditEntry, Ack),
    Flush(Ack),
    Shutdown(Ack),
}

pub(crate) type Ack = oneshot::Sender<Result<(), Arc<SinkError>>>;

/// The handle that records audit entries: cheap to clone, safe to share across tasks.
///
/// Entries go into a bounded queue; a writer on a thread of its own forms batches and writes
/// them to the sink, retrying failures. Call [`Auditor::shutdown`] before the program exits to
/// drain the queue and flush the sink, and to learn whether that worked.
///
/// **If you forget `shutdown`:** dropping the last handle drains the queue and closes the sink,
/// waiting up to [`AuditorBuilder::drain_on_drop`] (5 s); the writer does not depend on the
/// runtime that built the auditor, so a `#[tokio::test]` or a `main` that returns early through
/// `?` loses nothing. A handle that is never dropped (a global) needs `shutdown()`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use audit_core::{AuditEntry, Auditor, MemorySink};
///
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().build(sink.clone()).unwrap();
/// let mut entry = AuditEntry::new("invoice_send");
/// entry.user = "alice".into();
/// auditor.record(entry).await.unwrap();
/// auditor.shutdown().await.unwrap();
/// assert_eq!(sink.len(), 1);
/// assert_eq!(auditor.stats().written, 1);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Auditor {
    inner: Option<Arc<Shared>>,
}

struct Shared {
    tx: mpsc::Sender<Msg>,
    overflow: OverflowPolicy,
    capacity: usize,
    counters: Arc<Counters>,
    scrubber: Scrubber,
    shut_down: AtomicBool,
    detached: detached::Detached,
    drain_on_drop: Duration,
    urgent: Arc<Notify>,
    /// Last, so that `tx` is dropped (the queue closes) before the writer is waited for.
    _writer: writer_thread::WriterThread,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle is gone: the writer should not finish a long batch wait first.
        self.urgent.notify_waiters();
    }
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("Auditor(disabled)"),
            Some(shared) => f
                .debug_struct("Auditor")
                .field("overflow", &shared.overflow)
                .field("capacity", &shared.capacity)
                .field("stats", &self.stats())
                .finish(),
        }
    }
}

impl Auditor {
    /// A builder with the defaults: [`OverflowPolicy::Block`], a queue of 8192, batches of 1024.
    pub fn builder() -> AuditorBuilder {
        AuditorBuilder::default()
    }

    /// An auditor that records nothing (what `AUDIT_ENABLED=false` gives). Every call returns at once.
    pub fn disabled() -> Self {
        Auditor { inner: None }
    }

    /// Whether entries are recorded at all.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The overflow policy in force (`None` when disabled).
    pub fn overflow(&self) -> Option<OverflowPolicy> {
        self.inner.as_ref().map(|shared| shared.overflow)
    }

    /// The redaction and summary limits that producers (the layer, the macro) apply to captured data.
    pub fn scrubber(&self) -> &Scrubber {
        static DEFAULT: std::sync::OnceLock<Scrubber> = std::sync::OnceLock::new();
        match &self.inner {
            Some(shared) => &shared.scrubber,
            None => DEFAULT.get_or_init(Scrubber::default),
        }
    }

    /// Records `entry` according to the overflow policy. Never does I/O on the caller's task:
    /// under `Block` it waits only for room in the queue, under `DropNewest` never, under
    /// `Strict` until the sink has durably written the entry.
    pub async fn record(&self, entry: AuditEntry) -> Result<(), RecordError> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        match shared.overflow {
            OverflowPolicy::Block => {
                shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                // The common case, room in the queue, without building a send future.
                let msg = match shared.tx.try_send(Msg::Entry(entry)) {
                    Ok(()) => return Ok(()),
                    Err(mpsc::error::TrySendError::Full(msg)) => msg,
                    Err(mpsc::error::TrySendError::Closed(_)) => {
                        shared.counters.recorded.fetch_sub(1, Ordering::Relaxed);
                        return Err(RecordError::Closed);
                    }
                };
                shared.tx.send(msg).await.map_err(|_| {
                    shared.counters.recorded.fetch_sub(1, Ordering::Relaxed);
                    RecordError::Closed
                })
            }
            OverflowPolicy::DropNewest => match shared.tx.try_send(Msg::Entry(entry)) {
                Ok(()) => {
                    shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                    Ok(())
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    shared.counters.note_drop();
                    Err(RecordError::QueueFull {
                        capacity: shared.capacity,
                    })
                }
                Err(mpsc::error::TrySendError::Closed(_)) => Err(RecordError::Closed),
            },
            OverflowPolicy::Strict => {
                let (ack, done) = oneshot::channel();
                shared
                    .tx
                    .send(Msg::Strict(entry, ack))
                    .await
                    .map_err(|_| RecordError::Closed)?;
                shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                match done.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(RecordError::Sink(e)),
                    Err(_) => Err(RecordError::Closed),
                }
            }
        }
    }

    /// Records `entry` if the queue has room, without waiting and without a runtime: for
    /// synchronous code. Under [`OverflowPolicy::DropNewest`] a full queue drops and counts the
    /// entry as [`Auditor::record`] does; under `Block` and `Strict` it hands the entry back
    /// ([`TryRecordError::Full`]) so the caller can wait elsewhere. No durability is awaited.
    pub fn try_record(&self, entry: AuditEntry) -> Result<(), TryRecordError> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        match shared.tx.try_send(Msg::Entry(entry)) {
            Ok(()) => {
                shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(msg)) => {
                if shared.overflow == OverflowPolicy::DropNewest {
                    shared.counters.note_drop();
                    return Err(TryRecordError::Dropped);
                }
                match msg {
                    Msg::Entry(entry) => Err(TryRecordError::Full(Box::new(entry))),
                    _ => Err(TryRecordError::Closed),
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(TryRecordError::Closed),
        }
    }

    /// Like [`Auditor::record`], but the future owns what it needs (`'static`), for producers
    /// that must keep it in a struct: a response body that records when it ends, for instance.
    pub fn record_owned(
        &self,
        entry: AuditEntry,
    ) -> impl std::future::Future<Output = Result<(), RecordError>> + Send + 'static {
        let auditor = self.clone();
        async move { auditor.record(entry).await }
    }

    /// Waits until every entry recorded before this call is written and flushed (made durable).
    pub async fn flush(&self) -> Result<(), RecordError> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        let (ack, done) = oneshot::channel();
        shared
            .tx
            .send(Msg::Flush(ack))
            .await
            .map_err(|_| RecordError::Closed)?;
        shared.urgent.notify_waiters();
        match done.await {
            Ok(result) => result.map_err(RecordError::Sink),
            Err(_) => Err(RecordError::Closed),
        }
    }

    /// Drains the queue, writes and flushes every entry recorded before it, closes the sink and
    /// stops the writer. Later `record` calls (from any clone) return [`RecordError::Closed`].
    /// Calling it again returns `Ok` at once.
    ///
    /// Returns the sink's error if the final flush or close failed, or if entries had to be
    /// given up (see [`Stats::failed_entries`]).
    pub async fn shutdown(&self) -> Result<(), RecordError> {
        let Some(shared) = &self.inner else {
            return Ok(());
        };
        if shared.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Entries handed over where nobody could wait (bodies dropped at this very moment)
        // go in first.
        shared.detached.settled().await;
        let (ack, done) = oneshot::channel();
        let sent = shared.tx.send(Msg::Shutdown(ack)).await;
        shared.urgent.notify_waiters();
        let result = match (sent, done.await) {
            (Ok(()), Ok(result)) => result.map_err(RecordError::Sink),
            _ => Err(RecordError::Closed),
        };
        result
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> Stats {
        let Some(shared) = &self.inner else {
            return Stats::default();
        };
        shared
            .counters
            .stats(shared.tx.max_capacity() - shared.tx.capacity())
    }
}

fn now_micros() -> u64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    u64::try_from(nanos / 1000).unwrap_or(0)
}

impl Counters {
    /// The counters as [`Stats`], with the queue's depth as the caller sees it.
    pub(crate) fn stats(&self, queue_depth: usize) -> Stats {
        Stats {
            recorded: self.recorded.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed_batches: self.failed_batches.load(Ordering::Relaxed),
            failed_entries: self.failed_entries.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            queue_depth,
        }
    }

    fn note_drop(&self) {
        let now = now_micros();
        self.dropped.fetch_add(1, Ordering::Relaxed);
        let _ =
            self.drop_window_start
                .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.drop_window_end.fetch_max(now, Ordering::Relaxed);
        self.unreported_drops.fetch_add(1, Ordering::Release);
    }
}
