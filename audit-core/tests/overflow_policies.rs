//! One test per overflow policy, plus retries, give-ups, panicking sinks and shutdown.

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use audit_core::{AuditEntry, Auditor, OverflowPolicy, RecordError, RetryPolicy, DROPPED_ENDPOINT};
use common::TestSink;

fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
        .max_attempts(attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_waits_for_room_and_loses_nothing_with_a_slow_sink() {
    let sink = TestSink::slow(Duration::from_millis(2));
    let auditor = Auditor::builder()
        .queue_capacity(16)
        .batch_size(8)
        .build(sink.clone())
        .unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    auditor.record(AuditEntry::new("slow")).await.unwrap();
                    assert!(auditor.stats().queue_depth <= 16);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(sink.memory.len(), 400);
    let stats = auditor.stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped),
        (400, 400, 0)
    );
}

#[tokio::test]
async fn a_sink_that_fails_then_recovers_loses_nothing() {
    let sink = TestSink::failing(3);
    let auditor = Auditor::builder()
        .retry(fast_retry(10))
        .build(sink.clone())
        .unwrap();
    let ids: Vec<_> = (0..50).map(|_| AuditEntry::new("retry")).collect();
    for entry in &ids {
        auditor.record(entry.clone()).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let written: Vec<_> = sink.memory.entries().into_iter().map(|e| e.id).collect();
    assert_eq!(
        written,
        ids.iter().map(|e| e.id).collect::<Vec<_>>(),
        "in order, once each"
    );
    let stats = auditor.stats();
    assert_eq!(stats.retries, 3);
    assert_eq!(
        (stats.written, stats.failed_batches, stats.failed_entries),
        (50, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_newest_never_waits_counts_drops_and_reports_them_in_the_log() {
    let sink = TestSink::slow(Duration::from_millis(20));
    let auditor = Auditor::builder()
        .overflow(OverflowPolicy::DropNewest)
        .queue_capacity(32)
        .batch_size(32)
        .build(sink.clone())
        .unwrap();
    let mut rejected = 0u64;
    for _ in 0..2_000 {
        match auditor.record(AuditEntry::new("burst")).await {
            Ok(()) => {}
            Err(RecordError::QueueFull { capacity: 32 }) => rejected += 1,
            Err(other) => panic!("unexpected {other}"),
        }
        // Memory stays bounded by the queue.
        assert!(auditor.stats().queue_depth <= 32);
    }
    auditor.shutdown().await.unwrap();
    let stats = auditor.stats();
    assert!(
        rejected > 1_000,
        "a 20 ms sink must drop most of a burst, dropped {rejected}"
    );
    assert_eq!(stats.dropped, rejected);
    assert_eq!(stats.recorded + stats.dropped, 2_000);

    let entries = sink.memory.entries();
    let reports: Vec<_> = entries
        .iter()
        .filter(|e| e.endpoint == DROPPED_ENDPOINT)
        .collect();
    let reported: u64 = reports
        .iter()
        .map(|e| e.fields["count"].as_u64().unwrap())
        .sum();
    assert_eq!(reported, rejected, "every drop is reported in the log");
    for report in &reports {
        assert_eq!(report.fields["reason"], "queue_full");
        assert!(report.fields["window_start"].as_str() <= report.fields["window_end"].as_str());
    }
    let kept = entries.len() - reports.len();
    assert_eq!(kept as u64, stats.recorded);
    assert_eq!(stats.written as usize, entries.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_returns_after_a_durable_write_with_one_flush_per_batch() {
    let sink = TestSink::slow(Duration::from_millis(5));
    let auditor = Auditor::builder()
        .overflow(OverflowPolicy::Strict)
        .build(sink.clone())
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let auditor = auditor.clone();
            let memory = sink.memory.clone();
            tokio::spawn(async move {
                let entry = AuditEntry::new(format!("strict-{i}"));
                let id = entry.id;
                auditor.record(entry).await.unwrap();
                // Once record returns, the entry is in the store.
                assert!(memory.entries().iter().any(|e| e.id == id));
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let flushes = sink.flushes.load(Ordering::SeqCst);
    assert!(flushes >= 1);
    assert!(
        flushes < 64,
        "group commit: {flushes} flushes for 64 concurrent records"
    );
    auditor.shutdown().await.unwrap();
    assert_eq!(sink.memory.len(), 64);
}

#[tokio::test]
async fn strict_reports_a_sink_that_stays_down_to_the_caller() {
    let sink = TestSink::failing(usize::MAX);
    let auditor = Auditor::builder()
        .overflow(OverflowPolicy::Strict)
        .retry(fast_retry(3))
        .build(sink.clone())
        .unwrap();
    let err = auditor
        .record(AuditEntry::new("must_be_audited"))
        .await
        .unwrap_err();
    assert!(matches!(err, RecordError::Sink(_)), "{err}");
    assert!(err.to_string().contains("the store is down"), "{err}");
    let stats = auditor.stats();
    assert_eq!(
        (stats.failed_batches, stats.failed_entries, stats.retries),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn batches_given_up_are_reported_once_the_sink_recovers() {
    // Two attempts per batch; the sink fails four times: the first batches are given up.
    let sink = TestSink::failing(4);
    let auditor = Auditor::builder()
        .retry(fast_retry(2))
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    for _ in 0..3 {
        auditor
            .record(AuditEntry::new("lost_or_not"))
            .await
            .unwrap();
        auditor.flush().await.ok();
    }
    auditor.shutdown().await.unwrap();
    let stats = auditor.stats();
    assert!(stats.failed_entries >= 1);
    let entries = sink.memory.entries();
    let reports: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| e.endpoint == DROPPED_ENDPOINT)
        .collect();
    assert!(!reports.is_empty(), "the gap is written into the log");
    assert!(reports.iter().all(|r| r.fields["reason"] == "sink_failed"));
    // One report per loss, or one for several: together they count every lost entry.
    let reported: u64 = reports
        .iter()
        .map(|r| r.fields["count"].as_u64().unwrap())
        .sum();
    assert_eq!(reported, stats.failed_entries);
    let kept = entries
        .iter()
        .filter(|e| e.endpoint == "lost_or_not")
        .count() as u64;
    assert_eq!(kept + stats.failed_entries, 3);
}

#[tokio::test]
async fn a_panicking_sink_is_retried_and_does_not_kill_the_writer() {
    let sink = TestSink::default();
    sink.panics_left.store(2, Ordering::SeqCst);
    let auditor = Auditor::builder()
        .retry(fast_retry(5))
        .build(sink.clone())
        .unwrap();
    auditor.record(AuditEntry::new("survives")).await.unwrap();
    auditor.shutdown().await.unwrap();
    assert_eq!(sink.memory.len(), 1);
    assert_eq!(auditor.stats().retries, 2);
}

#[tokio::test]
async fn records_after_shutdown_are_refused_and_shutdown_is_idempotent() {
    let sink = TestSink::default();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    let other = auditor.clone();
    auditor.record(AuditEntry::new("before")).await.unwrap();
    auditor.shutdown().await.unwrap();
    assert!(matches!(
        other.record(AuditEntry::new("after")).await,
        Err(RecordError::Closed)
    ));
    auditor.shutdown().await.unwrap();
    assert_eq!(sink.memory.len(), 1);
}

#[tokio::test]
async fn dropping_every_handle_still_drains_the_queue() {
    let sink = TestSink::default();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    for _ in 0..10 {
        auditor.record(AuditEntry::new("forgotten")).await.unwrap();
    }
    drop(auditor);
    for _ in 0..100 {
        if sink.memory.len() == 10 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} of 10 entries written", sink.memory.len());
}

#[tokio::test]
async fn users_are_pseudonymised_by_the_writer() {
    let sink = TestSink::default();
    let scrubber = audit_core::Scrubber::new(
        Default::default(),
        audit_core::Redaction::default().pseudonymize_users("secret-key"),
    );
    let auditor = Auditor::builder()
        .scrubber(scrubber)
        .build(sink.clone())
        .unwrap();
    let mut entry = AuditEntry::new("x");
    entry.user = "alice@example.com".into();
    auditor.record(entry).await.unwrap();
    auditor.record(AuditEntry::new("y")).await.unwrap();
    auditor.shutdown().await.unwrap();
    let users: Vec<String> = sink.memory.entries().into_iter().map(|e| e.user).collect();
    assert!(
        users[0].starts_with("hmac:") && !users[0].contains("alice"),
        "{users:?}"
    );
    assert_eq!(users[1], "anonymous");
}

#[tokio::test]
async fn stats_are_shared_by_clones() {
    let auditor = Auditor::builder().build(TestSink::default()).unwrap();
    let clone = auditor.clone();
    clone.record(AuditEntry::new("a")).await.unwrap();
    clone.flush().await.unwrap();
    assert_eq!(auditor.stats().written, 1);
    let _ = Arc::new(auditor);
}
