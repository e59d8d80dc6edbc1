//! #11 finding 1: entries reach the sink although nobody calls `shutdown()`: the writer runs
//! on its own thread, and dropping the last handle drains the queue (bounded wait).

mod common;

use std::time::Duration;

use audit_core::jsonl::JsonlSink;
use audit_core::{AuditEntry, Auditor};

fn lines(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .map(|text| {
            text.lines()
                .filter(|l| l.contains("\"endpoint\":\"test_call\""))
                .count()
        })
        .sum()
}

/// What a `#[tokio::test]` does: build the auditor on the test's runtime, record, and end the
/// test (the runtime stops) without `shutdown()`.
#[test]
fn a_test_runtime_that_ends_without_shutdown_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = JsonlSink::builder(dir.path()).open().unwrap();
        let auditor = Auditor::builder().build(sink).unwrap();
        for _ in 0..500 {
            auditor.record(AuditEntry::new("test_call")).await.unwrap();
        }
        // No shutdown: the test simply ends, and the auditor is dropped with it.
    });
    drop(runtime);
    assert_eq!(lines(dir.path()), 500);
}

/// A `main` that returns early through `?`: the auditor is dropped with the runtime still
/// running, and with a clone held by a task the runtime then cancels.
#[test]
fn an_early_return_with_clones_in_tasks_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let result: Result<(), String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let sink = JsonlSink::builder(dir.path()).open().unwrap();
        let auditor = Auditor::builder().build(sink).unwrap();
        let clone = auditor.clone();
        tokio::spawn(async move {
            clone.record(AuditEntry::new("test_call")).await.unwrap();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        });
        for _ in 0..99 {
            auditor.record(AuditEntry::new("test_call")).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err("something failed".to_owned())?;
        Ok(())
    });
    assert!(result.is_err());
    assert_eq!(lines(dir.path()), 100);
}

/// No runtime at all (a synchronous program): `try_record` and a drop are enough.
#[test]
fn a_synchronous_program_needs_no_runtime() {
    let sink = common::TestSink::default();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    for _ in 0..10 {
        auditor.try_record(AuditEntry::new("sync")).unwrap();
    }
    drop(auditor);
    assert_eq!(sink.memory.len(), 10);
}

/// A long `max_batch_wait` does not hold entries past the last drop, nor a `flush()`: the
/// writer's wait is cut short by whoever waits for it.
#[test]
fn a_long_batch_wait_delays_neither_flush_nor_the_last_drop() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let sink = JsonlSink::builder(dir.path()).open().unwrap();
        let auditor = Auditor::builder()
            .batch_size(10_000)
            .max_batch_wait(Duration::from_secs(600))
            .build(sink)
            .unwrap();
        for _ in 0..50 {
            auditor.record(AuditEntry::new("test_call")).await.unwrap();
        }
        // Bounded here only so that a regression fails instead of hanging the suite.
        tokio::time::timeout(Duration::from_secs(60), auditor.flush())
            .await
            .expect("flush waited out the batch wait")
            .unwrap();
        assert_eq!(lines(dir.path()), 50);
        for _ in 0..50 {
            auditor.record(AuditEntry::new("test_call")).await.unwrap();
        }
    });
    // The drop waited at most 5 s (`drain_on_drop`): without the wake-up, the writer would
    // still be sleeping and these 50 would be lost.
    assert_eq!(lines(dir.path()), 100);
}

/// A `#[tokio::main]` whose body panics: unwinding drops the auditor inside the runtime, and
/// the drop drains the queue before the panic leaves `main`.
#[test]
fn a_panic_in_main_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let panicked = std::panic::catch_unwind(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let sink = JsonlSink::builder(&path).open().unwrap();
            // Batches wait a minute: only the drop's drain writes them.
            let auditor = Auditor::builder()
                .batch_size(10_000)
                .max_batch_wait(Duration::from_secs(60))
                .build(sink)
                .unwrap();
            for _ in 0..200 {
                auditor.record(AuditEntry::new("test_call")).await.unwrap();
            }
            panic!("main failed");
        })
    });
    assert!(panicked.is_err());
    assert_eq!(lines(dir.path()), 200);
}
