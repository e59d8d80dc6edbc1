//! Sinks for the pipeline tests: slow, failing, counting.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use audit_core::{async_trait, AuditEntry, MemorySink, Sink, SinkError};

/// Records into a [`MemorySink`], optionally slowly, failing a number of writes first, and
/// counting writes and flushes.
#[derive(Clone, Default)]
pub struct TestSink {
    pub memory: MemorySink,
    pub delay: Duration,
    pub failures_left: Arc<AtomicUsize>,
    pub panics_left: Arc<AtomicUsize>,
    pub writes: Arc<AtomicUsize>,
    pub flushes: Arc<AtomicUsize>,
}

impl TestSink {
    pub fn failing(times: usize) -> Self {
        let sink = TestSink::default();
        sink.failures_left.store(times, Ordering::SeqCst);
        sink
    }

    pub fn slow(delay: Duration) -> Self {
        TestSink {
            delay,
            ..TestSink::default()
        }
    }
}

#[async_trait]
impl Sink for TestSink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if self
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("test sink panics on purpose");
        }
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(SinkError::other("the store is down (on purpose)"));
        }
        self.memory.write(batch).await
    }

    async fn flush(&mut self) -> Result<(), SinkError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}
