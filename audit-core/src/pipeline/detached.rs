//! Recording where nobody can wait for room in the queue: a response body dropped by the
//! server, a caught panic, a future dropped mid-call. Such entries go in at once when the queue
//! has room; otherwise a background task waits for room, but never more than the queue's
//! capacity of them at a time: past that the entry is dropped and counted (and reported as an
//! `audit.dropped` entry), so memory stays bounded while a sink is failing. `shutdown()` waits
//! for the tasks still waiting.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{ready, Context, Poll};

use tokio::sync::mpsc::error::SendError;
use tokio::sync::mpsc::OwnedPermit;
use tokio::sync::Notify;

use super::{Auditor, Msg};
use crate::entry::AuditEntry;
use crate::error::RecordError;

/// The entries waiting in background tasks for room in the queue.
#[derive(Default)]
pub(super) struct Detached {
    waiting: AtomicUsize,
    idle: Notify,
}

impl Detached {
    /// Takes a place unless `limit` are taken.
    fn reserve(&self, limit: usize) -> bool {
        self.waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self) {
        if self.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until no entry waits in the background.
    pub(super) async fn settled(&self) {
        loop {
            let idle = self.idle.notified();
            if self.waiting.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Auditor {
    /// Records `entry` without waiting, for code that cannot wait (a `Drop`): queued at once
    /// when there is room; else, under `Block` and `Strict`, queued by a background task, at
    /// most the queue's capacity of them at a time, past which (and under `DropNewest`) it is
    /// dropped and counted. [`Auditor::shutdown`] waits for the background tasks.
    pub fn record_detached(&self, entry: AuditEntry) {
        let Some(shared) = &self.inner else {
            return;
        };
        let entry = match self.try_record(entry) {
            Ok(()) | Err(crate::TryRecordError::Dropped) => return,
            Err(crate::TryRecordError::Full(entry)) => *entry,
            Err(crate::TryRecordError::Closed) => {
                tracing::warn!(error = %RecordError::Closed, "audit entry not recorded");
                return;
            }
        };
        let runtime = tokio::runtime::Handle::try_current();
        if runtime.is_err() || !shared.detached.reserve(shared.capacity) {
            shared.counters.note_drop();
            return;
        }
        let auditor = self.clone();
        if let Ok(runtime) = runtime {
            runtime.spawn(async move {
                if let Some(shared) = &auditor.inner {
                    match shared.tx.send(Msg::Entry(entry)).await {
                        Ok(()) => {
                            shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            tracing::warn!(error = %RecordError::Closed, "audit entry not recorded");
                        }
                    }
                    shared.detached.release();
                }
            });
        }
    }
}

type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Msg>, SendError<()>>> + Send>>;

/// Queues one entry, waiting for room (`Block`) or dropping and counting it (`DropNewest`).
/// Dropped before the entry is queued, it hands the entry to [`Auditor::record_detached`]:
/// a server that stops polling a response body loses no entry, and starts no unbounded task.
#[must_use = "a future does nothing unless polled (dropped, it records in the background)"]
pub struct Enqueue {
    auditor: Auditor,
    entry: Option<AuditEntry>,
    reserve: Option<Reserve>,
}

impl Auditor {
    /// A future that queues `entry` under the overflow policy, for callers that may stop
    /// waiting (see [`Enqueue`]). Under `Strict` it queues without waiting for durability:
    /// use [`Auditor::record`] for that.
    pub fn enqueue(&self, entry: AuditEntry) -> Enqueue {
        Enqueue {
            auditor: self.clone(),
            entry: Some(entry),
            reserve: None,
        }
    }
}

impl Future for Enqueue {
    type Output = Result<(), RecordError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(shared) = this.auditor.inner.clone() else {
            this.entry = None;
            return Poll::Ready(Ok(()));
        };
        if this.reserve.is_none() {
            let Some(entry) = this.entry.take() else {
                return Poll::Ready(Ok(()));
            };
            match this.auditor.try_record(entry) {
                Ok(()) | Err(crate::TryRecordError::Dropped) => return Poll::Ready(Ok(())),
                Err(crate::TryRecordError::Closed) => return Poll::Ready(Err(RecordError::Closed)),
                Err(crate::TryRecordError::Full(entry)) => this.entry = Some(*entry),
            }
            this.reserve = Some(Box::pin(shared.tx.clone().reserve_owned()));
        }
        let Some(reserve) = this.reserve.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let reserved = ready!(reserve.as_mut().poll(cx));
        this.reserve = None;
        match (reserved, this.entry.take()) {
            (Ok(permit), Some(entry)) => {
                permit.send(Msg::Entry(entry));
                shared.counters.recorded.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Ok(()))
            }
            (Ok(_), None) => Poll::Ready(Ok(())),
            (Err(_), _) => Poll::Ready(Err(RecordError::Closed)),
        }
    }
}

impl Drop for Enqueue {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.auditor.record_detached(entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_and_released() {
        let detached = Detached::default();
        assert!(detached.reserve(2));
        assert!(detached.reserve(2));
        assert!(!detached.reserve(2));
        detached.release();
        assert!(detached.reserve(2));
    }
}
