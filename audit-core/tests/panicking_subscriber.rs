//! The writer emits warnings through the application's `tracing` subscriber; one that panics
//! while writing (tracing-subscriber's `fmt` with a closed stderr does) must not kill the
//! writer: the warnings are lost, the entries are not.

mod common;

use std::time::Duration;

use audit_core::{AuditEntry, Auditor, RetryPolicy};
use common::TestSink;

/// A writer for the subscriber that always panics.
struct Panicking;

impl std::io::Write for Panicking {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        panic!("the subscriber cannot write (on purpose)");
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_subscriber_does_not_stop_the_writer() {
    // Global: the writer runs on a thread of its own.
    tracing_subscriber::fmt().with_writer(|| Panicking).init();
    // Fails twice (two warnings: failing, then recovered), then writes.
    let sink = TestSink::failing(2);
    let auditor = Auditor::builder()
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(1))
                .max_attempts(5),
        )
        .build(sink.clone())
        .unwrap();
    for _ in 0..20 {
        auditor.record(AuditEntry::new("survives")).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(sink.memory.len(), 20);
}
