//! Recording where nobody can wait (#11 findings 2 and 3): bounded while the sink is stuck,
//! and nothing handed over is lost at `shutdown()`.

mod common;

use std::time::Duration;

use audit_core::{AuditEntry, Auditor};
use common::TestSink;

/// An auditor writing to a sink that takes `delay_ms` per batch.
fn auditor(delay_ms: u64, capacity: usize, batch_size: usize) -> (Auditor, TestSink) {
    let sink = TestSink::slow(Duration::from_millis(delay_ms));
    let auditor = Auditor::builder()
        .queue_capacity(capacity)
        .batch_size(batch_size)
        .build(sink.clone())
        .unwrap();
    (auditor, sink)
}

/// How many entries of `endpoint` the sink holds.
fn kept(sink: &TestSink, endpoint: &str) -> u64 {
    sink.memory
        .entries()
        .iter()
        .filter(|e| e.endpoint == endpoint)
        .count() as u64
}

/// A stuck sink: the queue fills, at most `capacity` entries wait in the background, the rest
/// are dropped and counted (reported as `audit.dropped`), never an unbounded set of tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detached_records_are_bounded_while_the_sink_is_stuck() {
    let (auditor, sink) = auditor(300, 4, 1);
    for _ in 0..1000 {
        auditor.record_detached(AuditEntry::new("dropped_body"));
    }
    let stats = auditor.stats();
    // Queue (4) + background tasks (4) + the few batches the writer's stages hold in flight:
    // the rest counted as dropped.
    assert!(stats.dropped >= 1000 - 4 - 4 - 8, "{stats:?}");
    auditor.shutdown().await.unwrap();
    let stats = auditor.stats();
    let kept = kept(&sink, "dropped_body");
    assert_eq!(kept + stats.dropped, 1000, "{stats:?}");
}

/// #11 finding 2: entries handed over at the moment of shutdown (bodies dropped as the server
/// stops) are waited for, not lost with "the auditor is shut down".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_entries_handed_over_in_the_background() {
    let (auditor, sink) = auditor(20, 8, 2);
    for _ in 0..16 {
        auditor.record_detached(AuditEntry::new("late"));
    }
    auditor.shutdown().await.unwrap();
    let stats = auditor.stats();
    let kept = kept(&sink, "late");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(kept, 16);
}

/// `enqueue` dropped before the queue had room still records its entry (in the background).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_enqueue_keeps_its_entry() {
    let (auditor, sink) = auditor(50, 1, 1);
    for _ in 0..3 {
        let mut pending = Box::pin(auditor.enqueue(AuditEntry::new("abandoned")));
        // Poll once (it may wait for room), then give up on it.
        let _ = tokio::time::timeout(Duration::from_millis(1), pending.as_mut()).await;
    }
    auditor.shutdown().await.unwrap();
    let kept = kept(&sink, "abandoned");
    assert_eq!(kept, 3);
}
