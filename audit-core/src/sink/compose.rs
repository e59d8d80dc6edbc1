//! Sinks made of other sinks: [`Fallback`] and [`Fanout`].

use async_trait::async_trait;
use uuid::Uuid;

use super::{write_to, JsonLines, Sink};
use crate::entry::AuditEntry;
use crate::error::SinkError;

/// Writes to `primary`; a batch the primary refuses goes to `secondary` instead
/// (for instance PostgreSQL first, a local JSONL spool second).
///
/// Every batch tries the primary first, so it takes over again as soon as it recovers.
/// The write fails only when both refuse; the pipeline then retries the batch.
///
/// ```
/// use audit_core::{Fallback, MemorySink};
///
/// let sink = Fallback::new(MemorySink::new(), MemorySink::new());
/// ```
#[derive(Debug)]
pub struct Fallback<P, S> {
    primary: P,
    secondary: S,
    secondary_dirty: bool,
}

impl<P: Sink, S: Sink> Fallback<P, S> {
    /// A sink writing to `primary`, or to `secondary` when the primary fails.
    pub fn new(primary: P, secondary: S) -> Self {
        Fallback {
            primary,
            secondary,
            secondary_dirty: false,
        }
    }

    async fn write_either(
        &mut self,
        batch: &[AuditEntry],
        mut lines: Option<&mut JsonLines>,
    ) -> Result<(), SinkError> {
        let primary_error = match write_to(&mut self.primary, batch, lines.as_deref_mut()).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        tracing::warn!(
            primary = self.primary.name(),
            secondary = self.secondary.name(),
            entries = batch.len(),
            error = %primary_error,
            "audit sink failed, writing the batch to the fallback sink"
        );
        match write_to(&mut self.secondary, batch, lines).await {
            Ok(()) => {
                self.secondary_dirty = true;
                Ok(())
            }
            Err(secondary_error) => Err(SinkError::Several(vec![primary_error, secondary_error])),
        }
    }
}

#[async_trait]
impl<P: Sink, S: Sink> Sink for Fallback<P, S> {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        self.write_either(batch, None).await
    }

    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        self.write_either(batch, Some(lines)).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        if self.secondary_dirty {
            self.secondary.flush().await?;
            self.secondary_dirty = false;
        }
        self.primary.flush().await
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        let primary = self.primary.start().await;
        let secondary = self.secondary.start().await;
        primary.and(secondary)
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let primary = self.primary.close().await;
        let secondary = self.secondary.close().await;
        primary.and(secondary)
    }

    fn spooled(&self) -> u64 {
        self.primary.spooled() + self.secondary.spooled()
    }

    fn name(&self) -> &str {
        "fallback"
    }

    fn chained_by_default(&self) -> bool {
        self.primary.chained_by_default() || self.secondary.chained_by_default()
    }
}

/// Writes every batch to several sinks (a JSONL file and stdout, say).
///
/// A batch that some sinks refused is retried by the pipeline; on that retry, the sinks that
/// already stored it are skipped, so no sink receives an entry twice.
///
/// ```
/// use audit_core::{Fanout, MemorySink, Sink, StdoutSink};
///
/// let sinks: Vec<Box<dyn Sink>> = vec![Box::new(MemorySink::new()), Box::new(StdoutSink::default())];
/// let sink = Fanout::new(sinks);
/// ```
#[derive(Default)]
pub struct Fanout {
    sinks: Vec<Box<dyn Sink>>,
    /// The batch last refused by some sinks, and which sinks already stored it.
    partial: Option<(BatchKey, Vec<bool>)>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.sinks.iter().map(|s| s.name()).collect();
        f.debug_struct("Fanout").field("sinks", &names).finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BatchKey {
    first: Uuid,
    last: Uuid,
    len: usize,
}

impl BatchKey {
    fn of(batch: &[AuditEntry]) -> Option<Self> {
        Some(BatchKey {
            first: batch.first()?.id,
            last: batch.last()?.id,
            len: batch.len(),
        })
    }
}

impl Fanout {
    /// A sink writing to each of `sinks`.
    pub fn new(sinks: Vec<Box<dyn Sink>>) -> Self {
        Fanout {
            sinks,
            partial: None,
        }
    }

    /// Adds one more sink.
    #[must_use]
    pub fn with(mut self, sink: impl Sink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// How many sinks it writes to.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }

    /// Whether it writes to no sink at all.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    async fn write_each(
        &mut self,
        batch: &[AuditEntry],
        mut lines: Option<&mut JsonLines>,
    ) -> Result<(), SinkError> {
        let Some(key) = BatchKey::of(batch) else {
            return Ok(());
        };
        let mut done = match self.partial.take() {
            Some((partial_key, done)) if partial_key == key => done,
            _ => vec![false; self.sinks.len()],
        };
        let mut errors = Vec::new();
        for (sink, done) in self.sinks.iter_mut().zip(done.iter_mut()) {
            if *done {
                continue;
            }
            match write_to(sink.as_mut(), batch, lines.as_deref_mut()).await {
                Ok(()) => *done = true,
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            self.partial = Some((key, done));
        }
        all_ok(errors)
    }
}

fn all_ok(errors: Vec<SinkError>) -> Result<(), SinkError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(SinkError::Several(errors))
    }
}

#[async_trait]
impl Sink for Fanout {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        self.write_each(batch, None).await
    }

    async fn write_lines(
        &mut self,
        batch: &[AuditEntry],
        lines: &mut JsonLines,
    ) -> Result<(), SinkError> {
        self.write_each(batch, Some(lines)).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        let mut errors = Vec::new();
        for sink in &mut self.sinks {
            if let Err(e) = sink.flush().await {
                errors.push(e);
            }
        }
        all_ok(errors)
    }

    async fn start(&mut self) -> Result<(), SinkError> {
        let mut errors = Vec::new();
        for sink in &mut self.sinks {
            if let Err(e) = sink.start().await {
                errors.push(e);
            }
        }
        all_ok(errors)
    }

    async fn close(&mut self) -> Result<(), SinkError> {
        let mut errors = Vec::new();
        for sink in &mut self.sinks {
            if let Err(e) = sink.close().await {
                errors.push(e);
            }
        }
        all_ok(errors)
    }

    fn spooled(&self) -> u64 {
        self.sinks.iter().map(|sink| sink.spooled()).sum()
    }

    fn name(&self) -> &str {
        "fanout"
    }

    fn chained_by_default(&self) -> bool {
        self.sinks.iter().any(|sink| sink.chained_by_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemorySink;

    /// Fails its first `failures` writes.
    struct Flaky {
        failures: usize,
        inner: MemorySink,
    }

    #[async_trait]
    impl Sink for Flaky {
        async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
            if self.failures > 0 {
                self.failures -= 1;
                return Err(SinkError::other("flaky"));
            }
            self.inner.write(batch).await
        }
    }

    #[tokio::test]
    async fn fanout_retry_skips_sinks_that_already_stored_the_batch() {
        let good = MemorySink::new();
        let flaky = MemorySink::new();
        let mut fanout = Fanout::new(vec![Box::new(good.clone())]).with(Flaky {
            failures: 2,
            inner: flaky.clone(),
        });
        let batch = vec![AuditEntry::new("a"), AuditEntry::new("b")];
        assert!(fanout.write(&batch).await.is_err());
        assert!(fanout.write(&batch).await.is_err());
        fanout.write(&batch).await.unwrap();
        assert_eq!(good.len(), 2);
        assert_eq!(flaky.len(), 2);
        // A new batch goes to every sink again.
        fanout.write(&[AuditEntry::new("c")]).await.unwrap();
        assert_eq!(good.len(), 3);
        assert_eq!(flaky.len(), 3);
    }

    #[tokio::test]
    async fn fallback_takes_refused_batches_and_primary_takes_over_again() {
        let primary = MemorySink::new();
        let secondary = MemorySink::new();
        let mut sink = Fallback::new(
            Flaky {
                failures: 1,
                inner: primary.clone(),
            },
            secondary.clone(),
        );
        sink.write(&[AuditEntry::new("a")]).await.unwrap();
        sink.write(&[AuditEntry::new("b")]).await.unwrap();
        sink.flush().await.unwrap();
        assert_eq!(secondary.entries()[0].endpoint, "a");
        assert_eq!(primary.entries()[0].endpoint, "b");
    }

    #[tokio::test]
    async fn fallback_fails_only_when_both_fail() {
        let mut sink = Fallback::new(
            Flaky {
                failures: 1,
                inner: MemorySink::new(),
            },
            Flaky {
                failures: 1,
                inner: MemorySink::new(),
            },
        );
        let err = sink.write(&[AuditEntry::new("a")]).await.unwrap_err();
        assert!(
            matches!(err, SinkError::Several(ref v) if v.len() == 2),
            "{err}"
        );
    }
}
