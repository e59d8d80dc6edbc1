//! #11 finding 1, the handle nobody drops: the global auditor lives in a static, so the guard
//! from `Auditor::shutdown_guard` is what drains it when `main` ends.

use std::time::Duration;

use audit_core::jsonl::JsonlSink;
use audit_core::{AuditEntry, Auditor};

#[test]
fn the_guard_drains_the_global_auditor_when_main_ends() {
    let dir = tempfile::tempdir().unwrap();
    // `#[tokio::main]`: the guard drops inside the runtime, at the end of the body.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let sink = JsonlSink::builder(dir.path()).open().unwrap();
        // Batches wait a minute: without the guard, every entry would still be in the writer.
        let auditor = Auditor::builder()
            .batch_size(10_000)
            .max_batch_wait(Duration::from_secs(60))
            .build(sink)
            .unwrap();
        audit_core::set_global_auditor(auditor.clone()).unwrap();
        let _guard = auditor.shutdown_guard();
        drop(auditor);
        let global = audit_core::global_auditor().unwrap();
        for _ in 0..300 {
            global.record(AuditEntry::new("nightly_job")).await.unwrap();
        }
    });
    let written: usize = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
        .map(|text| text.matches("\"endpoint\":\"nightly_job\"").count())
        .sum();
    assert_eq!(written, 300);
    // Shut down: later records say so instead of vanishing.
    let global = audit_core::global_auditor();
    assert!(global.is_none_or(|a| a.try_record(AuditEntry::new("late")).is_err()));
}
