//! Writing: the sink gets each batch with retries, its callers their answer, and what could
//! not be written is counted for the loss report. A panicking sink is an error, not the end
//! of the writer.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::super::faults::{quietly, FaultLog};
use super::super::{Ack, Counters, RetryPolicy};
use super::loss::Lost;
use super::{Committed, Prepared};
use crate::entry::AuditEntry;
use crate::error::panic_message;
use crate::error::SinkError;
use crate::sink::{write_to, JsonLines, Sink};

/// Owns the sink.
pub(super) struct Writer {
    pub sink: Box<dyn Sink>,
    pub retry: RetryPolicy,
    pub counters: Arc<Counters>,
    pub faults: FaultLog,
    pub metrics: crate::metrics::PipelineMetrics,
    /// The chain's sequence number of the last entry written, for the metrics.
    pub last_seq: Option<u64>,
}

impl Writer {
    /// The sink's catch-up work (`Sink::start`), at start and whenever the writer is idle.
    pub async fn catch_up(&mut self) {
        if let Err(e) = guard(self.sink.start()).await {
            let name = self.sink.name();
            quietly(
                || tracing::warn!(sink = name, error = %e, "the audit sink could not catch up; it tries again when idle or with the next batch"),
            );
        }
        self.note_spooled();
    }

    /// Publishes how many entries the sink holds in its spool.
    pub fn note_spooled(&self) {
        let spooled = self.sink.spooled();
        self.counters.spooled.store(spooled, Ordering::Relaxed);
    }

    /// Writes the batch with retries, answers its callers, and says what was lost.
    pub async fn commit(&mut self, mut batch: Prepared) -> Committed {
        if !batch.numbered.is_empty() {
            // Every path links before it writes; lines with blank hashes must never be written.
            quietly(|| {
                tracing::error!(
                    "an audit batch reached the sink without being linked; written unchained"
                )
            });
            batch.lines.clear();
        }
        let linked = match batch.failed.take() {
            Some(message) => Err(SinkError::other(message)),
            None => Ok(()),
        };
        let complete = !batch.lines.is_empty() && batch.lines.len() == batch.entries.len();
        let lines = complete.then_some(&mut batch.lines);
        let result = match linked {
            Err(e) => Err(Arc::new(e)),
            Ok(()) if batch.entries.is_empty() && !batch.durable => Ok(()),
            Ok(()) => {
                let started = std::time::Instant::now();
                let written = self
                    .write_with_retry(&batch.entries, lines, batch.durable)
                    .await;
                self.metrics.batch_written(started.elapsed().as_secs_f64());
                written
            }
        };
        let mut lost = None;
        if let Err(e) = &result {
            let own = batch.own;
            // The batch's own entries are lost and counted; the reports go back to be written later.
            if own > 0 {
                self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .failed_entries
                    .fetch_add(own as u64, Ordering::Relaxed);
                quietly(
                    || tracing::error!(sink = self.sink.name(), entries = own, error = %e, "audit batch given up after every retry failed"),
                );
            }
            let seq = |e: Option<&AuditEntry>| e.and_then(|e| e.chain.as_ref()).map(|c| c.seq);
            let own_entries = batch.entries.get(..own).unwrap_or(&[]);
            lost = Some(Lost {
                count: own as u64,
                first: own_entries.first().map(|e| e.timestamp),
                last: own_entries.last().map(|e| e.timestamp),
                seqs: seq(batch.entries.first())
                    .zip(seq(batch.entries.last()))
                    .into_iter()
                    .collect(),
            });
        }
        if result.is_ok() {
            let last = batch.entries.last().and_then(|e| e.chain.as_ref());
            self.last_seq = last.map(|chain| chain.seq).or(self.last_seq);
        }
        // Counted before the callers hear: `stats()` right after an answer includes it.
        answer(&mut batch.acks, &result);
        let reports = std::mem::take(&mut batch.reports);
        Committed {
            result,
            lost,
            reports,
            spare: batch,
        }
    }

    async fn write_with_retry(
        &mut self,
        batch: &[AuditEntry],
        mut lines: Option<&mut JsonLines>,
        durable: bool,
    ) -> Result<(), Arc<SinkError>> {
        let mut written = batch.is_empty();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut result = Ok(());
            if !written {
                // Lines serialised while chaining are written as they are.
                let lines = lines.as_deref_mut();
                result = guard(Box::pin(write_to(&mut self.sink, batch, lines))).await;
                written = result.is_ok();
            }
            if durable && result.is_ok() {
                result = guard(self.sink.flush()).await;
            }
            self.note_spooled();
            match result {
                Ok(()) => {
                    self.counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.faults.succeeded(self.sink.name());
                    return Ok(());
                }
                Err(e) if attempt >= self.retry.attempts() => return Err(Arc::new(e)),
                Err(e) => {
                    let delay = self.retry.delay(attempt);
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    self.faults.failed(self.sink.name(), delay, &e);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

fn answer(acks: &mut Vec<Ack>, result: &Result<(), Arc<SinkError>>) {
    for ack in acks.drain(..) {
        // A caller that stopped waiting (cancelled) no longer needs the answer.
        let _ = ack.send(result.clone());
    }
}

/// Turns a panic inside a sink into an error, so a faulty sink cannot kill the writer.
pub(super) async fn guard(
    future: impl Future<Output = Result<(), SinkError>>,
) -> Result<(), SinkError> {
    use futures_util::FutureExt as _;
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(SinkError::Panicked(panic_message(&*panic))))
}
