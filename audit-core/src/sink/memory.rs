//! An in-memory sink for tests.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::Sink;
use crate::entry::AuditEntry;
use crate::error::SinkError;

/// Keeps every entry in memory; clones share the same entries, so keep one to inspect
/// what the pipeline wrote.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use audit_core::{AuditEntry, Auditor, MemorySink};
///
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().build(sink.clone()).unwrap();
/// auditor.record(AuditEntry::new("job_run")).await.unwrap();
/// auditor.shutdown().await.unwrap();
/// assert_eq!(sink.entries()[0].endpoint, "job_run");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    entries: Arc<Mutex<Vec<AuditEntry>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the entries written so far, in order.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.lock().clone()
    }

    /// How many entries were written.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Removes and returns the entries written so far.
    pub fn take(&self) -> Vec<AuditEntry> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AuditEntry>> {
        // A panic elsewhere while holding the lock leaves the Vec consistent; keep using it.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Sink for MemorySink {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), SinkError> {
        self.lock().extend_from_slice(batch);
        Ok(())
    }

    fn name(&self) -> &str {
        "memory"
    }
}
