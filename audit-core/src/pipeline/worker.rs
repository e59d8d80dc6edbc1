//! The background writer: receives entries, forms batches, writes them with retries.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::{now_micros, Ack, Counters, Msg, RetryPolicy};
use crate::chain::Chainer;
use crate::entry::{AuditEntry, Outcome, Timestamp};
use crate::error::SinkError;
use crate::redact::Redaction;
use crate::sink::{write_to, JsonLines, Sink};

/// The endpoint of the entry that reports lost entries in the log itself.
pub const DROPPED_ENDPOINT: &str = "audit.dropped";

pub(crate) struct Worker {
    pub rx: mpsc::Receiver<Msg>,
    pub sink: Box<dyn Sink>,
    pub batch_size: usize,
    pub max_batch_wait: Duration,
    pub retry: RetryPolicy,
    pub redaction: Redaction,
    pub counters: Arc<Counters>,
    pub chainer: Option<Chainer>,
    /// The chained batch's JSON lines, serialised once while hashing (reused between batches).
    pub lines: JsonLines,
}

/// Entries given up after failed retries, to report once the sink takes entries again.
#[derive(Default)]
struct Lost {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The chain positions the lost entries held (contiguous: nothing was written between).
    seqs: Option<(u64, u64)>,
}

impl Worker {
    pub(crate) async fn run(mut self) {
        let mut msgs = Vec::with_capacity(self.batch_size);
        let mut batch = Vec::with_capacity(self.batch_size + 2);
        let mut acks: Vec<Ack> = Vec::new();
        let mut lost = Lost::default();
        loop {
            let deadline = self.chainer.as_ref().and_then(Chainer::checkpoint_deadline);
            let received = match deadline {
                // Unsealed entries get their timed checkpoint even when no more entries come.
                Some(at) => {
                    let at = tokio::time::Instant::from_std(at);
                    match tokio::time::timeout_at(at, self.rx.recv_many(&mut msgs, self.batch_size))
                        .await
                    {
                        Ok(received) => received,
                        Err(_elapsed) => {
                            let _ = self.write(&mut batch, &mut lost, false).await;
                            continue;
                        }
                    }
                }
                None => self.rx.recv_many(&mut msgs, self.batch_size).await,
            };
            if received == 0 {
                // Every handle was dropped without shutdown: drain and close.
                let _ = self.close(&mut batch, &mut lost).await;
                return;
            }
            let waiting_caller = msgs.iter().any(|m| !matches!(m, Msg::Entry(_)));
            if msgs.len() < self.batch_size && !waiting_caller && !self.max_batch_wait.is_zero() {
                // Sleep rather than wait on the queue, so senders do not wake this task per entry.
                tokio::time::sleep(self.max_batch_wait).await;
                while msgs.len() < self.batch_size {
                    match self.rx.try_recv() {
                        Ok(msg) => msgs.push(msg),
                        Err(_) => break,
                    }
                }
            }
            for msg in msgs.drain(..) {
                match msg {
                    Msg::Entry(entry) => batch.push(entry),
                    Msg::Strict(entry, ack) => {
                        batch.push(entry);
                        acks.push(ack);
                    }
                    Msg::Flush(ack) => {
                        let result = self.write(&mut batch, &mut lost, true).await;
                        answer(&mut acks, &result);
                        let _ = ack.send(result);
                    }
                    Msg::Shutdown(ack) => {
                        let result = self.write(&mut batch, &mut lost, !acks.is_empty()).await;
                        answer(&mut acks, &result);
                        self.rx.close();
                        let _ = ack.send(self.close(&mut batch, &mut lost).await);
                        return;
                    }
                }
            }
            let result = self.write(&mut batch, &mut lost, !acks.is_empty()).await;
            answer(&mut acks, &result);
        }
    }

    /// Writes what is still queued (the queue is closed to new entries), then closes the sink.
    async fn close(
        &mut self,
        batch: &mut Vec<AuditEntry>,
        lost: &mut Lost,
    ) -> Result<(), Arc<SinkError>> {
        let mut acks = Vec::new();
        let mut result = Ok(());
        loop {
            while batch.len() < self.batch_size {
                match self.rx.try_recv() {
                    Ok(Msg::Entry(entry)) => batch.push(entry),
                    Ok(Msg::Strict(entry, ack)) => {
                        batch.push(entry);
                        acks.push(ack);
                    }
                    Ok(Msg::Flush(ack) | Msg::Shutdown(ack)) => acks.push(ack),
                    Err(_) => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            let written = self.write(batch, lost, false).await;
            answer(&mut acks, &written);
            result = result.and(written);
        }
        // Reports of lost entries still pending get one last chance.
        if self.pending_report(lost) > 0 {
            result = result.and(self.write(batch, lost, false).await);
        }
        // The final checkpoint marks where the chain ends, so a truncated tail shows.
        if let Some(chainer) = self.chainer.as_mut().filter(|c| c.has_entries()) {
            match chainer.checkpoint(true) {
                Ok(last) => {
                    batch.push(last);
                    result = result.and(self.write(batch, lost, true).await);
                }
                Err(e) => {
                    tracing::error!(error = %e, "the final audit checkpoint could not be made")
                }
            }
        }
        let closed = guard(self.sink.close()).await.map_err(Arc::new);
        answer(&mut acks, &closed);
        if let Err(e) = &closed {
            tracing::error!(sink = self.sink.name(), error = %e, "the audit sink failed to close");
        }
        let failed = self.counters.failed_entries.load(Ordering::Relaxed);
        if failed > 0 && result.is_ok() && closed.is_ok() {
            tracing::error!(
                failed_entries = failed,
                "audit entries were given up after failed retries during this run"
            );
        }
        result.and(closed)
    }

    /// Links the batch into the chain, and adds a signed checkpoint when one is due.
    fn seal(&mut self, batch: &mut Vec<AuditEntry>) {
        self.lines.clear();
        let Some(chainer) = self.chainer.as_mut() else {
            return;
        };
        let mut complete = true;
        for entry in batch.iter_mut() {
            if let Err(e) = chainer.link(entry, Some(&mut self.lines)) {
                // The sink meets the same error when it serialises the entry, and reports it.
                tracing::error!(id = %entry.id, error = %e, "an audit entry could not be chained");
                complete = false;
            }
        }
        if chainer.checkpoint_due() {
            match chainer.checkpoint(false) {
                Ok(checkpoint) => {
                    complete &= checkpoint.write_json_line(self.lines.buffer()).is_ok();
                    self.lines.end_line();
                    batch.push(checkpoint);
                }
                Err(e) => tracing::error!(error = %e, "an audit checkpoint could not be made"),
            }
        }
        if !complete {
            self.lines.clear();
        }
    }

    fn pending_report(&self, lost: &Lost) -> u64 {
        lost.count + self.counters.unreported_drops.load(Ordering::Acquire)
    }

    /// Writes `batch` (plus a report of lost entries, if any) with retries, and empties it.
    /// With `durable`, the sink is flushed too, once for the whole batch.
    async fn write(
        &mut self,
        batch: &mut Vec<AuditEntry>,
        lost: &mut Lost,
        durable: bool,
    ) -> Result<(), Arc<SinkError>> {
        if self.redaction.pseudonymizes_users() {
            for entry in batch.iter_mut() {
                if let std::borrow::Cow::Owned(pseudonym) = self.redaction.user(&entry.user) {
                    entry.user = pseudonym;
                }
            }
        }
        let reports = self.take_reports(lost);
        let entries = batch.len();
        batch.extend(reports.iter().cloned());
        self.seal(batch);
        if batch.is_empty() && !durable {
            return Ok(());
        }
        let result = self.write_with_retry(batch, durable).await;
        if let Err(e) = &result {
            // The batch's own entries are lost and counted; the reports go back to be written later.
            if entries > 0 {
                self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .failed_entries
                    .fetch_add(entries as u64, Ordering::Relaxed);
                tracing::error!(sink = self.sink.name(), entries, error = %e, "audit batch given up after every retry failed");
                lost.count += entries as u64;
                lost.first = lost.first.or(batch.first().map(|e| e.timestamp));
                lost.last = batch[..entries].last().map(|e| e.timestamp).or(lost.last);
            }
            self.restore_reports(&reports, lost);
            let seq = |e: Option<&AuditEntry>| e.and_then(|e| e.chain.as_ref()).map(|c| c.seq);
            if let (Some(first), Some(last)) = (seq(batch.first()), seq(batch.last())) {
                let first = lost.seqs.map_or(first, |(earlier, _)| earlier.min(first));
                lost.seqs = Some((first, last));
            }
        }
        batch.clear();
        result
    }

    async fn write_with_retry(
        &mut self,
        batch: &[AuditEntry],
        durable: bool,
    ) -> Result<(), Arc<SinkError>> {
        let mut written = batch.is_empty();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut result = Ok(());
            if !written {
                // Lines serialised while chaining are written as they are.
                let lines = (self.lines.len() == batch.len()).then_some(&self.lines);
                result = guard(Box::pin(write_to(&mut self.sink, batch, lines))).await;
                written = result.is_ok();
            }
            if durable && result.is_ok() {
                result = guard(self.sink.flush()).await;
            }
            match result {
                Ok(()) => {
                    self.counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return Ok(());
                }
                Err(e) if attempt >= self.retry.attempts() => return Err(Arc::new(e)),
                Err(e) => {
                    let delay = self.retry.delay(attempt);
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(sink = self.sink.name(), attempt, retry_in = ?delay, error = %e, "audit sink failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// `audit.dropped` entries for drops and given-up batches not yet reported.
    fn take_reports(&self, lost: &mut Lost) -> Vec<AuditEntry> {
        let mut reports = Vec::new();
        let dropped = self.counters.unreported_drops.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            let start = self.counters.drop_window_start.swap(0, Ordering::Relaxed);
            let end = self.counters.drop_window_end.load(Ordering::Relaxed);
            reports.push(gap_report(
                "queue_full",
                dropped,
                micros_to_timestamp(start),
                micros_to_timestamp(end.max(start)),
            ));
        }
        if lost.count > 0 {
            let lost = std::mem::take(lost);
            let now = Timestamp::now();
            let mut report = gap_report(
                "sink_failed",
                lost.count,
                lost.first.unwrap_or(now),
                lost.last.unwrap_or(now),
            );
            if let Some((first, last)) = lost.seqs {
                // `audit verify` accepts this gap in the chain as reported, not as tampering.
                report.fields.insert("chain_seq_first".into(), first.into());
                report.fields.insert("chain_seq_last".into(), last.into());
            }
            reports.push(report);
        }
        reports
    }

    fn restore_reports(&self, reports: &[AuditEntry], lost: &mut Lost) {
        for report in reports {
            let count = report
                .fields
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if report.fields.get("reason").and_then(Value::as_str) == Some("queue_full") {
                self.counters
                    .unreported_drops
                    .fetch_add(count, Ordering::AcqRel);
                let start = report
                    .timestamp
                    .as_offset_date_time()
                    .unix_timestamp_nanos()
                    / 1000;
                let _ = self.counters.drop_window_start.compare_exchange(
                    0,
                    u64::try_from(start).unwrap_or(0),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            } else {
                lost.count += count;
                lost.first = Some(report.timestamp);
                let field = |name: &str| report.fields.get(name).and_then(Value::as_u64);
                if let (Some(first), Some(last)) =
                    (field("chain_seq_first"), field("chain_seq_last"))
                {
                    lost.seqs = Some((first, last));
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

fn micros_to_timestamp(micros: u64) -> Timestamp {
    let micros = if micros == 0 { now_micros() } else { micros };
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map(Timestamp::from)
        .unwrap_or_else(|_| Timestamp::now())
}

/// The entry that makes a gap visible in the log: `count` entries lost between `first` and `last`.
fn gap_report(reason: &str, count: u64, first: Timestamp, last: Timestamp) -> AuditEntry {
    let mut entry = AuditEntry::started_at(DROPPED_ENDPOINT, first);
    entry.user = "audit".to_owned();
    entry.outcome = Outcome::Error;
    let seconds = (last.as_offset_date_time() - first.as_offset_date_time()).as_seconds_f64();
    entry.duration_seconds = seconds.max(0.0);
    entry.error = Some(match reason {
        "queue_full" => format!("{count} audit entries dropped: the queue was full"),
        _ => format!("{count} audit entries lost: the sink failed after every retry"),
    });
    entry.fields.insert("reason".into(), reason.into());
    entry.fields.insert("count".into(), count.into());
    entry
        .fields
        .insert("window_start".into(), first.to_string().into());
    entry
        .fields
        .insert("window_end".into(), last.to_string().into());
    entry
}

/// Turns a panic inside a sink into an error, so a faulty sink cannot kill the writer.
fn guard<'a>(
    future: Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>,
) -> impl Future<Output = Result<(), SinkError>> + Send + 'a {
    CatchPanic(future)
}

struct CatchPanic<'a>(Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>);

impl Future for CatchPanic<'_> {
    type Output = Result<(), SinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(poll) => poll,
            Err(panic) => {
                let message = crate::panic_message(&*panic);
                Poll::Ready(Err(SinkError::other(format!(
                    "the audit sink panicked: {message}"
                ))))
            }
        }
    }
}
