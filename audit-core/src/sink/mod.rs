//! The [`Sink`] trait and the built-in sinks.

use async_trait::async_trait;

use crate::entry::AuditEntry;
use crate::error::SinkError;
pub use crate::json_lines::JsonLines;

#[cfg(any(
    feature = "postgres",
    feature = "nats",
    feature = "syslog",
    feature = "http"
))]
mod backoff;
mod compose;
#[cfg(feature = "jsonl")]
mod dir_lock;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "jsonl")]
pub mod jsonl;
mod memory;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(
    feature = "postgres",
    feature = "nats",
    feature = "syslog",
    feature = "http"
))]
mod spool;
mod stdout;
#[cfg(feature = "syslog")]
pub mod syslog;
#[cfg(any(feature = "postgres-rustls", feature = "syslog", feature = "http"))]
mod tls;

pub use compose::{Fallback, Fanout};
pub use memory::MemorySink;
pub use stdout::{format_pretty, StdoutFormat, StdoutSink};

/// Where audit entries are stored.
///
/// Object-safe (choose one at run time as `Box<dyn Sink>`), async and batch-oriented: the
/// pipeline's single writer task owns the sink and calls `write` with batches in order, so a
/// sink needs no locking of its own. A failed `write` is retried with the same batch, so a
/// sink must not keep part of a failed batch, or must skip what it already stored.
///
/// ```
/// use audit_core::{async_trait, AuditEntry, Sink, SinkError};
///
/// /// Counts entries instead of storing them.
/// struct Counter(usize);
///
/// #[async_trait]
/// impl Sink for Counter {
///     async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
///         self.0 += batch.len();
///         Ok(())
///     }
/// }
///
/// let sink: Box<dyn Sink> = Box::new(Counter(0));
/// assert_eq!(sink.name(), "custom");
/// ```
#[async_trait]
pub trait Sink: Send + 'static {
    /// Stores a batch, in order, according to the sink's own durability setting.
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError>;

    /// Stores a batch the pipeline already serialised: `lines` holds entry `i` of `batch` as
    /// JSON line `i`, in the canonical form [`AuditEntry::write_json_line`] writes. The pipeline
    /// serialises each entry once when it chains them (to hash it), so sinks that write JSON
    /// lines use the bytes instead of serialising again, and may [take](JsonLines::take) them
    /// (a sink after it, or a retry, then finds no lines and serialises). By default,
    /// [`write`](Self::write).
    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        let _ = lines;
        self.write(batch).await
    }

    /// Catch-up work, called when the writer starts (before any batch) and again whenever no
    /// entry came for 5 seconds: the PostgreSQL sink replays its spool here, so spooled
    /// batches wait neither for new traffic nor for a restart. An error is reported and the
    /// writer goes on.
    async fn start(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Makes everything written so far durable (for files: `fdatasync`). The pipeline calls it
    /// once per batch in `Strict` mode (group commit) and on shutdown.
    async fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Flushes and releases the sink's resources; called once, on shutdown.
    async fn close(&mut self) -> Result<(), SinkError> {
        self.flush().await
    }

    /// Entries this sink holds in a local spool, waiting for their destination (those an
    /// earlier run left included). The pipeline reports it as [`Stats::spooled`](crate::Stats)
    /// after every write and catch-up; `0` for sinks without a spool.
    fn spooled(&self) -> u64 {
        0
    }

    /// A short name for logs and errors.
    fn name(&self) -> &str {
        "custom"
    }

    /// Whether the pipeline chains entries for this sink when the configuration does not say
    /// ([`AuditorBuilder::chain`](crate::AuditorBuilder::chain)): `true` for JSONL files,
    /// whose readers cannot otherwise tell an edited line.
    fn chained_by_default(&self) -> bool {
        false
    }
}

/// Writes through [`Sink::write_lines`] when the lines are there, else [`Sink::write`].
pub(crate) async fn write_to<S: Sink + ?Sized>(
    sink: &mut S,
    batch: &[AuditEntry],
    lines: Option<&mut JsonLines>,
) -> Result<(), SinkError> {
    match lines {
        Some(lines) => sink.write_lines(batch, lines).await,
        None => sink.write(batch).await,
    }
}

/// Appends `entry` as one JSON line to `buf`, naming the entry in the error.
pub(crate) fn write_line(entry: &AuditEntry, buf: &mut Vec<u8>) -> Result<(), SinkError> {
    entry
        .write_json_line(buf)
        .map_err(|source| SinkError::Serialize {
            id: entry.id,
            source,
        })
}

#[async_trait]
impl Sink for Box<dyn Sink> {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        (**self).write(batch).await
    }

    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        (**self).write_lines(batch, lines).await
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        (**self).start().await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        (**self).flush().await
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        (**self).close().await
    }

    fn spooled(&self) -> u64 {
        (**self).spooled()
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn chained_by_default(&self) -> bool {
        (**self).chained_by_default()
    }
}
