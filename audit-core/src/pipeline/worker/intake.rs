//! Receiving: messages from the queue become the next batch, at most `batch_size`, after at
//! most `max_batch_wait` (cut short by a caller who waits), or the end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use super::super::{Ack, Msg};
use super::sealer::Sealer;
use super::Prepared;
use crate::chain::Numberer;

/// What the queue gave: a batch, or the end (shutdown asked, or every handle dropped).
pub(super) enum Next {
    Batch(Prepared),
    End(Prepared, Option<Ack>),
    /// Nothing arrived for [`IDLE`]: time for the sink's catch-up work.
    Idle,
}

/// After this long without an entry the sink gets to catch up (`Sink::start`: a spool replay).
const IDLE: std::time::Duration = std::time::Duration::from_secs(5);

/// Receives messages and forms batches.
pub(super) struct Intake {
    pub rx: mpsc::Receiver<Msg>,
    pub batch_size: usize,
    pub max_batch_wait: Duration,
    pub urgent: Arc<Notify>,
    pub msgs: Vec<Msg>,
}

impl Intake {
    /// Waits for messages and turns them into the next batch; with `waiting_work`, takes only
    /// what is queued now (possibly nothing).
    pub async fn next(&mut self, sealer: &mut Sealer, waiting_work: bool) -> Next {
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

#[cfg(test)]
mod tests {
    use super::super::sealer::tests::sealer;
    use super::*;
    use crate::entry::AuditEntry;

    fn intake(capacity: usize, batch_size: usize, wait: Duration) -> (mpsc::Sender<Msg>, Intake) {
        let (tx, rx) = mpsc::channel(capacity);
        let intake = Intake {
            rx,
            batch_size,
            max_batch_wait: wait,
            urgent: Arc::new(Notify::new()),
            msgs: Vec::new(),
        };
        (tx, intake)
    }

    fn entry() -> Msg {
        Msg::Entry(AuditEntry::new("e"))
    }

    fn sizes(next: Next) -> (usize, usize, bool, &'static str) {
        match next {
            Next::Batch(b) => (b.entries.len(), b.acks.len(), b.durable, "batch"),
            Next::End(b, _) => (b.entries.len(), b.acks.len(), b.durable, "end"),
            Next::Idle => (0, 0, false, "idle"),
        }
    }

    #[tokio::test]
    async fn batches_are_cut_at_batch_size_in_order() {
        let (tx, mut intake) = intake(64, 4, Duration::from_millis(1));
        for _ in 0..10 {
            tx.send(entry()).await.unwrap();
        }
        let mut sealer = sealer();
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(sizes(intake.next(&mut sealer, false).await).0);
        }
        assert_eq!(seen, [4, 4, 2]);
    }

    #[tokio::test]
    async fn a_flush_makes_a_durable_batch_that_answers_it() {
        let (tx, mut intake) = intake(64, 100, Duration::from_secs(600));
        tx.send(entry()).await.unwrap();
        let (ack, _done) = tokio::sync::oneshot::channel();
        tx.send(Msg::Flush(ack)).await.unwrap();
        let next = intake.next(&mut sealer(), false).await;
        assert_eq!(sizes(next), (1, 1, true, "batch"));
    }

    #[tokio::test]
    async fn shutdown_ends_and_stops_taking_entries() {
        let (tx, mut intake) = intake(64, 100, Duration::ZERO);
        tx.send(entry()).await.unwrap();
        let (ack, _done) = tokio::sync::oneshot::channel();
        tx.send(Msg::Shutdown(ack)).await.unwrap();
        assert_eq!(
            sizes(intake.next(&mut sealer(), false).await),
            (1, 0, false, "end")
        );
        assert!(tx.send(entry()).await.is_err(), "the queue is closed");
    }

    #[tokio::test]
    async fn every_handle_dropped_is_the_end() {
        let (tx, mut intake) = intake(64, 100, Duration::ZERO);
        drop(tx);
        assert_eq!(sizes(intake.next(&mut sealer(), false).await).3, "end");
    }

    /// With work waiting (a batch being linked), intake takes what is queued without waiting.
    #[tokio::test]
    async fn waiting_work_takes_only_what_is_queued() {
        let (tx, mut intake) = intake(64, 100, Duration::from_secs(600));
        assert_eq!(
            sizes(intake.next(&mut sealer(), true).await),
            (0, 0, false, "batch")
        );
        tx.send(entry()).await.unwrap();
        tx.send(entry()).await.unwrap();
        assert_eq!(sizes(intake.next(&mut sealer(), true).await).0, 2);
    }

    /// A long batch wait is cut short by a caller who waits.
    #[tokio::test]
    async fn a_waiting_caller_cuts_the_batch_wait_short() {
        let (tx, mut intake) = intake(64, 100, Duration::from_secs(600));
        let urgent = intake.urgent.clone();
        tx.send(entry()).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut sealer = sealer();
        let (next, ()) = tokio::join!(intake.next(&mut sealer, false), async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let (ack, _done) = tokio::sync::oneshot::channel();
            tx.send(Msg::Flush(ack)).await.unwrap();
            urgent.notify_waiters();
        });
        assert_eq!(sizes(next), (1, 1, true, "batch"));
        assert!(started.elapsed() < Duration::from_secs(600));
    }
}
