//! The writer: one task on the writer thread that receives entries, makes batches, links
//! them into the chain and writes them to the sink, in stages that overlap (`intake.rs`,
//! `sealer.rs`, `linker.rs`, `writer.rs`), with what was lost reported in the log itself
//! (`loss.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::faults::{quietly, FaultLog};
use super::{Ack, Counters, Msg, RetryPolicy};
use crate::chain::{Hasher, Numbered, Numberer};
use crate::entry::AuditEntry;
use crate::error::SinkError;
use crate::metrics::PipelineMetrics;
use crate::redact::Redaction;
use crate::sink::{JsonLines, Sink};

mod intake;
mod linker;
mod loss;
mod sealer;
mod writer;

use intake::{Intake, Next};
use linker::Linker;
pub use loss::DROPPED_ENDPOINT;
use loss::{LossReport, Lost};
use sealer::Sealer;
use writer::{guard, Writer};

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
    pub metrics: PipelineMetrics,
}

/// A batch ready for the sink: linked, serialised when chained, with the callers waiting for it.
#[derive(Default)]
struct Prepared {
    entries: Vec<AuditEntry>,
    /// How many of `entries` the callers recorded (after them: reports and a checkpoint).
    own: usize,
    /// The reports in this batch, to report again if the batch is given up.
    reports: Vec<LossReport>,
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
    reports: Vec<LossReport>,
    /// The buffers, to reuse for a later batch.
    spare: Prepared,
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
                faults: FaultLog::default(),
                metrics: self.metrics.clone(),
            },
            linker: Linker {
                hasher,
                offload: pipelined,
            },
            writer: Writer {
                sink: self.sink,
                retry: self.retry,
                counters: self.counters,
                faults: FaultLog::default(),
                metrics: self.metrics,
                last_seq: None,
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

/// Publishes the pipeline's counters as metrics, after each batch.
fn publish(sealer: &mut Sealer, writer: &Writer, queue_depth: usize) {
    let stats = writer.counters.stats(queue_depth);
    sealer.metrics.publish(&stats, writer.last_seq);
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
                publish(sealer, writer, intake.rx.len());
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
        publish(&mut self.sealer, &self.writer, self.intake.rx.len());
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
