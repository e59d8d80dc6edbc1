//! The background writer: receives entries, forms batches, links and serialises them, and
//! writes them with retries.
//!
//! Three batches are in flight at once, one per stage: while the sink writes batch N, batch N+1
//! is hashed into the chain (on tokio's blocking pool, so on another core when there is one),
//! and the writer task receives, numbers and serialises batch N+2. Each stage keeps batch order
//! (each entry holds the previous one's hash; the sink sees batches in order).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, Notify};

use super::faults::quietly;
use super::{now_micros, Ack, Counters, Msg, RetryPolicy};
use crate::__private::panic_message;
use crate::chain::{Hasher, Numbered, Numberer};
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
    /// Woken by `flush()`, `shutdown()` and the last handle's drop, so a long
    /// `max_batch_wait` never delays them.
    pub urgent: Arc<Notify>,
    pub chain: Option<(Numberer, Hasher)>,
    /// Whether batches overlap in stages; not under `Strict`, where callers wait for each
    /// batch and a group commit should take everything that queued up during the last one.
    pub pipelined: bool,
}

/// Entries given up after failed retries, to report once the sink takes entries again.
#[derive(Default)]
struct Lost {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The chain positions the lost entries held (contiguous: nothing was written between).
    /// The chain positions the lost entries held: ranges, in order (batches written in between
    /// split them).
    seqs: Vec<(u64, u64)>,
}

/// A batch ready for the sink: linked, serialised when chained, with the callers waiting for it.
#[derive(Default)]
struct Prepared {
    entries: Vec<AuditEntry>,
    /// How many of `entries` the callers recorded (after them: reports and a checkpoint).
    own: usize,
    /// The reports in this batch, unlinked, to report again if the batch is given up.
    reports: Vec<AuditEntry>,
    /// The entries' JSON lines, when chaining serialised them.
    lines: JsonLines,
    /// What the chain's hashing half needs to finish linking the batch.
    numbered: Numbered,
    /// Why the batch cannot be written (its entries were lost while linking).
    failed: Option<String>,
    /// Callers waiting for this batch (`Strict` records, flushes).
    acks: Vec<Ack>,
    /// Whether the sink must flush after writing it.
    durable: bool,
}

impl Prepared {
    /// Nothing to write and nobody waiting.
    fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.acks.is_empty() && !self.durable && self.numbered.is_empty()
    }
}

/// What became of a written batch, for the report of lost entries.
struct Committed {
    result: Result<(), Arc<SinkError>>,
    lost: Option<Lost>,
    reports: Vec<AuditEntry>,
    /// The buffers, to reuse for a later batch.
    spare: Prepared,
}

/// What the queue gave: a batch, or the end (shutdown asked, or every handle dropped).
enum Next {
    Batch(Prepared),
    End(Prepared, Option<Ack>),
    /// Nothing arrived for [`IDLE`]: time for the sink's catch-up work.
    Idle,
}

/// After this long without an entry the sink gets to catch up (`Sink::start`: a spool replay).
const IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Receives messages and forms batches.
struct Intake {
    rx: mpsc::Receiver<Msg>,
    batch_size: usize,
    max_batch_wait: Duration,
    urgent: Arc<Notify>,
    msgs: Vec<Msg>,
}

/// Owns what batches are made with: redaction, reports of losses, the chain.
struct Sealer {
    redaction: Redaction,
    counters: Arc<Counters>,
    numberer: Option<Numberer>,
    lost: Lost,
    spare: Vec<Prepared>,
    faults: super::faults::FaultLog,
}

/// Owns the chain's hashing half.
struct Linker {
    hasher: Option<Hasher>,
    /// Hash on the blocking pool (pipelined), or right here (`Strict`: no hop, less latency).
    offload: bool,
}

/// Owns the sink.
struct Writer {
    sink: Box<dyn Sink>,
    retry: RetryPolicy,
    counters: Arc<Counters>,
    faults: super::faults::FaultLog,
}

impl Worker {
    pub(crate) async fn run(self) {
        let (numberer, hasher) = match self.chain {
            Some((numberer, hasher)) => (Some(numberer), Some(hasher)),
            None => (None, None),
        };
        let pipelined = self.pipelined;
        let mut stages = Stages {
            intake: Intake {
                rx: self.rx,
                batch_size: self.batch_size,
                max_batch_wait: self.max_batch_wait,
                urgent: self.urgent,
                msgs: Vec::with_capacity(self.batch_size),
            },
            sealer: Sealer {
                redaction: self.redaction,
                counters: self.counters.clone(),
                numberer,
                lost: Lost::default(),
                spare: Vec::new(),
                faults: super::faults::FaultLog::default(),
            },
            linker: Linker {
                hasher,
                offload: pipelined,
            },
            writer: Writer {
                sink: self.sink,
                retry: self.retry,
                counters: self.counters,
                faults: super::faults::FaultLog::default(),
            },
        };
        // Work an earlier run left (a spool) goes first, whether or not traffic comes.
        stages.writer.catch_up().await;
        if pipelined {
            stages.run_pipelined().await
        } else {
            stages.run_in_turn().await
        }
    }
}

/// Every stage of the writer.
struct Stages {
    intake: Intake,
    sealer: Sealer,
    linker: Linker,
    writer: Writer,
}

impl Stages {
    /// One batch at a time: received, linked, written.
    async fn run_in_turn(&mut self) {
        loop {
            match self.intake.next(&mut self.sealer, false).await {
                Next::Batch(batch) => {
                    // Callers waiting for this batch have their answer from `commit`.
                    let _ = self.write_now(batch).await;
                }
                Next::End(batch, ack) => return self.end([batch], ack).await,
                Next::Idle => self.writer.catch_up().await,
            }
        }
    }

    /// Three batches at a time, one per stage.
    async fn run_pipelined(&mut self) {
        // Linked and ready for the sink; numbered and ready to link.
        let mut linked: Option<Prepared> = None;
        let mut numbered: Option<Prepared> = None;
        loop {
            let Stages {
                intake,
                sealer,
                linker,
                writer,
            } = self;
            // A batch being linked must be written in the next round: then intake does not
            // wait for new messages, it takes what is queued.
            let waiting_work = numbered.is_some();
            let write = async {
                match linked.take() {
                    Some(batch) => Some(writer.commit(batch).await),
                    None => None,
                }
            };
            let link = async {
                match numbered.take() {
                    Some(batch) => Some(linker.link(batch).await),
                    None => None,
                }
            };
            let (committed, now_linked, next) =
                tokio::join!(write, link, intake.next(sealer, waiting_work));
            if let Some(committed) = committed {
                sealer.account(committed);
            }
            linked = now_linked;
            match next {
                Next::Batch(batch) => numbered = (!batch.is_empty()).then_some(batch),
                Next::End(batch, ack) => {
                    let rest = [linked.take(), numbered.take(), Some(batch)];
                    return self.end(rest.into_iter().flatten(), ack).await;
                }
                // Intake waited only with nothing in flight: the sink is free.
                Next::Idle => writer.catch_up().await,
            }
        }
    }

    /// Links (where still to do) and writes one batch now, and notes what it lost.
    async fn write_now(&mut self, batch: Prepared) -> Result<(), Arc<SinkError>> {
        let batch = self.linker.link(batch).await;
        let committed = self.writer.commit(batch).await;
        let result = committed.result.clone();
        self.sealer.account(committed);
        result
    }

    /// Writes the batches still in flight, in order, closes, and answers `shutdown()` with the
    /// result.
    async fn end(&mut self, rest: impl IntoIterator<Item = Prepared>, ack: Option<Ack>) {
        let mut result = Ok(());
        for batch in rest {
            result = result.and(self.write_now(batch).await);
        }
        let closed = self.close().await;
        if let Some(ack) = ack {
            let _ = ack.send(result.and(closed));
        }
    }

    /// Writes what is still queued (the queue is closed to new entries), the pending reports
    /// and the final checkpoint, then closes the sink.
    async fn close(&mut self) -> Result<(), Arc<SinkError>> {
        let mut result = Ok(());
        loop {
            let batch_size = self.intake.batch_size;
            let mut entries = self.sealer.take_entries(batch_size);
            let mut acks = Vec::new();
            while entries.len() < batch_size {
                match self.intake.rx.try_recv() {
                    Ok(Msg::Entry(entry)) => entries.push(entry),
                    Ok(Msg::Strict(entry, ack)) => {
                        entries.push(entry);
                        acks.push(ack);
                    }
                    Ok(Msg::Flush(ack) | Msg::Shutdown(ack)) => acks.push(ack),
                    Err(_) => break,
                }
            }
            if entries.is_empty() && acks.is_empty() {
                break;
            }
            let batch = self.sealer.prepare(entries, acks, false);
            result = result.and(self.write_now(batch).await);
        }
        // Reports of lost entries still pending get one last chance.
        if self.sealer.pending_report() > 0 {
            let batch = self.sealer.prepare(Vec::new(), Vec::new(), false);
            result = result.and(self.write_now(batch).await);
        }
        // The final checkpoint marks where the chain ends, so a truncated tail shows.
        if let Some(numbered) = self.sealer.numberer.as_mut().and_then(Numberer::finish) {
            let mut batch = self.sealer.prepare(Vec::new(), Vec::new(), true);
            batch.numbered = numbered;
            result = result.and(self.write_now(batch).await);
        }
        let writer = &mut self.writer;
        let closed = guard(writer.sink.close()).await.map_err(Arc::new);
        writer.note_spooled();
        if let Err(e) = &closed {
            quietly(
                || tracing::error!(sink = writer.sink.name(), error = %e, "the audit sink failed to close"),
            );
        }
        let failed = writer.counters.failed_entries.load(Ordering::Relaxed);
        if failed > 0 && result.is_ok() && closed.is_ok() {
            quietly(|| {
                tracing::error!(
                    failed_entries = failed,
                    "audit entries were given up after failed retries during this run"
                )
            });
        }
        result.and(closed)
    }
}

impl Intake {
    /// Waits for messages and turns them into the next batch; with `waiting_work`, takes only
    /// what is queued now (possibly nothing).
    async fn next(&mut self, sealer: &mut Sealer, waiting_work: bool) -> Next {
        if waiting_work {
            while self.msgs.len() < self.batch_size {
                match self.rx.try_recv() {
                    Ok(msg) => self.msgs.push(msg),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        if self.msgs.is_empty() {
                            return Next::End(sealer.prepare(Vec::new(), Vec::new(), false), None);
                        }
                        break;
                    }
                }
            }
            return self.form(sealer);
        }
        let deadline = sealer
            .numberer
            .as_ref()
            .and_then(Numberer::checkpoint_deadline);
        // Unsealed entries get their timed checkpoint even when no more entries come; an idle
        // writer lets the sink catch up.
        let checkpoint = deadline.map(tokio::time::Instant::from_std);
        let idle = tokio::time::Instant::now() + IDLE;
        let at = checkpoint.map_or(idle, |checkpoint| checkpoint.min(idle));
        // Listening before receiving: a caller who queues its message after `recv_many` and then
        // wakes waiters (flush, shutdown, the last drop) is heard. `notify_waiters` stores no
        // permit, so a wake-up meant for an earlier batch never cuts a later one short.
        let notify = Arc::clone(&self.urgent);
        let urgent = notify.notified();
        tokio::pin!(urgent);
        urgent.as_mut().enable();
        let receiving = self.rx.recv_many(&mut self.msgs, self.batch_size);
        let received = match tokio::time::timeout_at(at, receiving).await {
            Ok(received) => received,
            Err(_elapsed) if checkpoint.is_some_and(|c| c <= tokio::time::Instant::now()) => {
                return Next::Batch(sealer.prepare(Vec::new(), Vec::new(), false))
            }
            Err(_elapsed) => return Next::Idle,
        };
        if received == 0 {
            // Every handle was dropped without shutdown: drain and close.
            return Next::End(sealer.prepare(Vec::new(), Vec::new(), false), None);
        }
        let waiting_caller = self.msgs.iter().any(|m| !matches!(m, Msg::Entry(_)));
        let waiting = waiting_caller || self.rx.is_closed();
        if self.msgs.len() < self.batch_size && !waiting && !self.max_batch_wait.is_zero() {
            // Sleep rather than wait on the queue, so senders do not wake this task per entry;
            // a caller who waits (flush, shutdown, the last drop) cuts the sleep short.
            tokio::select! {
                () = tokio::time::sleep(self.max_batch_wait) => {}
                () = urgent => {}
            }
            while self.msgs.len() < self.batch_size {
                match self.rx.try_recv() {
                    Ok(msg) => self.msgs.push(msg),
                    Err(_) => break,
                }
            }
        }
        self.form(sealer)
    }

    /// The batch of the messages received.
    fn form(&mut self, sealer: &mut Sealer) -> Next {
        let mut entries = sealer.take_entries(self.msgs.len());
        let mut acks = Vec::new();
        let mut durable = false;
        let mut end = None;
        for msg in self.msgs.drain(..) {
            match msg {
                Msg::Entry(entry) => entries.push(entry),
                Msg::Strict(entry, ack) => {
                    entries.push(entry);
                    acks.push(ack);
                    durable = true;
                }
                Msg::Flush(ack) => {
                    acks.push(ack);
                    durable = true;
                }
                Msg::Shutdown(ack) => {
                    self.rx.close();
                    end = Some(ack);
                }
            }
        }
        let batch = sealer.prepare(entries, acks, durable);
        match end {
            Some(ack) => Next::End(batch, Some(ack)),
            None => Next::Batch(batch),
        }
    }
}

impl Sealer {
    /// An empty entry vector, reusing a spare one's allocation.
    fn take_entries(&mut self, capacity: usize) -> Vec<AuditEntry> {
        match self.spare.last_mut() {
            Some(spare) => std::mem::take(&mut spare.entries),
            None => Vec::with_capacity(capacity + 2),
        }
    }

    /// Makes a batch of `entries`: users pseudonymised, pending reports added, linked and
    /// serialised when chained, with a signed checkpoint when one is due.
    fn prepare(&mut self, mut entries: Vec<AuditEntry>, acks: Vec<Ack>, durable: bool) -> Prepared {
        let mut batch = self.spare.pop().unwrap_or_default();
        if self.redaction.pseudonymizes_users() {
            for entry in entries.iter_mut() {
                if let std::borrow::Cow::Owned(pseudonym) = self.redaction.user(&entry.user) {
                    entry.user = pseudonym;
                }
            }
        }
        // No request can make a line of megabytes, whoever built the entry.
        for entry in entries.iter_mut() {
            entry.enforce_bounds();
        }
        let reports = self.take_reports();
        let own = entries.len();
        entries.extend(reports.iter().cloned());
        batch.lines.clear();
        batch.numbered = match self.numberer.as_mut() {
            Some(numberer) => numberer.number(&entries, &mut batch.lines),
            None => Numbered::default(),
        };
        batch.entries = entries;
        batch.own = own;
        batch.reports = reports;
        batch.acks = acks;
        batch.durable = durable;
        batch
    }

    fn pending_report(&self) -> u64 {
        self.lost.count + self.counters.unreported_drops.load(Ordering::Acquire)
    }

    /// Takes back a written batch's buffers and notes what it lost.
    fn account(&mut self, committed: Committed) {
        if let Some(lost) = committed.lost {
            self.lost.count += lost.count;
            self.lost.first = self.lost.first.or(lost.first);
            self.lost.last = lost.last.or(self.lost.last);
            self.restore_reports(&committed.reports);
            for range in lost.seqs {
                add_range(&mut self.lost.seqs, range);
            }
        }
        let mut spare = committed.spare;
        spare.entries.clear();
        spare.lines.clear();
        if self.spare.len() < 2 {
            self.spare.push(spare);
        }
    }

    /// `audit.dropped` entries for drops and given-up batches not yet reported.
    fn take_reports(&mut self) -> Vec<AuditEntry> {
        let mut reports = Vec::new();
        let dropped = self.counters.unreported_drops.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            self.faults.dropped(dropped);
            let start = self.counters.drop_window_start.swap(0, Ordering::Relaxed);
            let end = self.counters.drop_window_end.load(Ordering::Relaxed);
            reports.push(gap_report(
                "queue_full",
                dropped,
                micros_to_timestamp(start),
                micros_to_timestamp(end.max(start)),
            ));
        }
        if self.lost.count > 0 {
            let lost = std::mem::take(&mut self.lost);
            let now = Timestamp::now();
            let mut report = gap_report(
                "sink_failed",
                lost.count,
                lost.first.unwrap_or(now),
                lost.last.unwrap_or(now),
            );
            if let (Some((first, _)), Some((_, last))) = (lost.seqs.first(), lost.seqs.last()) {
                // `audit verify` accepts these gaps in the chain as reported, not as tampering.
                report
                    .fields
                    .insert("chain_seq_first".into(), (*first).into());
                report
                    .fields
                    .insert("chain_seq_last".into(), (*last).into());
                let ranges: Vec<Value> = lost
                    .seqs
                    .iter()
                    .map(|(a, b)| Value::from(vec![*a, *b]))
                    .collect();
                report
                    .fields
                    .insert("chain_seq_ranges".into(), ranges.into());
            }
            reports.push(report);
        }
        reports
    }

    fn restore_reports(&mut self, reports: &[AuditEntry]) {
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
                let lost = &mut self.lost;
                lost.count += count;
                lost.first = Some(report.timestamp);
                for range in crate::chain::reported_gaps(&report.fields) {
                    add_range(&mut lost.seqs, range);
                }
            }
        }
    }
}

impl Linker {
    /// Finishes linking the batch (hashes, in order, and the checkpoint) on the blocking pool,
    /// so it overlaps with the writer task preparing the next batch and the sink writing the
    /// previous one.
    async fn link(&mut self, mut batch: Prepared) -> Prepared {
        if batch.numbered.is_empty() {
            // Nothing numbered (no chain, an empty batch, or linked already).
            return batch;
        }
        if !self.offload {
            if let Some(hasher) = self.hasher.as_mut() {
                let numbered = std::mem::take(&mut batch.numbered);
                hasher.finish(&mut batch.entries, &mut batch.lines, &numbered);
                return batch;
            }
        }
        let Some(mut hasher) = self.hasher.take() else {
            // The chain stopped: lines numbered for it are not written.
            batch.lines.clear();
            batch.numbered = Numbered::default();
            return batch;
        };
        let mut entries = std::mem::take(&mut batch.entries);
        let mut lines = std::mem::take(&mut batch.lines);
        let numbered = std::mem::take(&mut batch.numbered);
        let linked = tokio::task::spawn_blocking(move || {
            hasher.finish(&mut entries, &mut lines, &numbered);
            (hasher, entries, lines)
        })
        .await;
        match linked {
            Ok((hasher, entries, lines)) => {
                self.hasher = Some(hasher);
                batch.entries = entries;
                batch.lines = lines;
            }
            // Only a panic gets here: the batch went with it, and the chain's last hash. The
            // writer stops chaining rather than writing links that cannot be checked.
            Err(e) => {
                quietly(
                    || tracing::error!(error = %e, "linking an audit batch failed; chaining stops"),
                );
                batch.failed = Some(format!("linking the batch failed: {e}"));
            }
        }
        batch
    }
}

impl Writer {
    /// The sink's catch-up work (`Sink::start`), at start and whenever the writer is idle.
    async fn catch_up(&mut self) {
        if let Err(e) = guard(self.sink.start()).await {
            let name = self.sink.name();
            quietly(
                || tracing::warn!(sink = name, error = %e, "the audit sink could not catch up; it tries again when idle or with the next batch"),
            );
        }
        self.note_spooled();
    }

    /// Publishes how many entries the sink holds in its spool.
    fn note_spooled(&self) {
        let spooled = self.sink.spooled();
        self.counters.spooled.store(spooled, Ordering::Relaxed);
    }

    /// Writes the batch with retries, answers its callers, and says what was lost.
    async fn commit(&mut self, mut batch: Prepared) -> Committed {
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
                self.write_with_retry(&batch.entries, lines, batch.durable)
                    .await
            }
        };
        answer(&mut batch.acks, &result);
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

/// Adds a range of lost chain positions, joining it to a range it continues.
fn add_range(ranges: &mut Vec<(u64, u64)>, (first, last): (u64, u64)) {
    match ranges
        .iter_mut()
        .find(|(_, end)| end.checked_add(1) == Some(first))
    {
        Some(range) => range.1 = range.1.max(last),
        None => {
            ranges.push((first, last));
            ranges.sort_unstable();
        }
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
async fn guard(future: impl Future<Output = Result<(), SinkError>>) -> Result<(), SinkError> {
    use futures_util::FutureExt as _;
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(SinkError::Panicked(panic_message(&*panic))))
}
