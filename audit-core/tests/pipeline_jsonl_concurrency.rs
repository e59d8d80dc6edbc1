//! 16 tasks record 100,000 entries concurrently through a JSONL sink; after shutdown every
//! entry is in the files exactly once, as a valid line.

use std::collections::HashSet;

use audit_core::jsonl::JsonlSink;
use audit_core::{AuditEntry, Auditor};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_record_100_000_entries_and_all_arrive_once() {
    const TASKS: usize = 16;
    const PER_TASK: usize = 6_250;
    let dir = tempfile::tempdir().unwrap();
    let auditor = Auditor::builder()
        .build(JsonlSink::open(dir.path()).unwrap())
        .unwrap();

    let mut recorded = Vec::new();
    for task in 0..TASKS {
        let auditor = auditor.clone();
        recorded.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let mut entry = AuditEntry::new("load");
                entry.fields.insert("task".into(), task.into());
                entry.fields.insert("i".into(), i.into());
                ids.push(entry.id);
                auditor.record(entry).await.unwrap();
            }
            ids
        }));
    }
    let mut expected = HashSet::new();
    for task in recorded {
        expected.extend(task.await.unwrap());
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(expected.len(), TASKS * PER_TASK);

    let mut seen = HashSet::new();
    let mut lines = 0;
    let mut checkpoints = 0;
    let mut seqs = HashSet::new();
    for file in audit_core::jsonl::log_files(dir.path()).unwrap() {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.ends_with('\n'));
        for line in text.lines() {
            let entry: AuditEntry =
                serde_json::from_str(line).expect("every line is a valid entry");
            assert!(seqs.insert(entry.chain.as_ref().expect("chained").seq));
            if entry.endpoint == audit_core::chain::CHECKPOINT_ENDPOINT {
                checkpoints += 1; // the final one, written on shutdown
                continue;
            }
            assert!(seen.insert(entry.id), "duplicate id {}", entry.id);
            lines += 1;
        }
    }
    assert_eq!(lines, 100_000);
    assert_eq!(checkpoints, 1);
    assert_eq!(seqs, (1..=100_001).collect::<HashSet<u64>>());
    assert_eq!(seen, expected);
    let stats = auditor.stats();
    assert_eq!(
        (stats.recorded, stats.written, stats.dropped),
        (100_000, 100_001, 0)
    );
    assert_eq!(stats.queue_depth, 0);
}
