//! The pipeline chains entries for every sink: links, checkpoints, lost ranges, JSONL default.

mod common;

use std::time::Duration;

use audit_core::chain::{self, ChainConfig, CheckpointKey, CHECKPOINT_ENDPOINT, GENESIS};
use audit_core::jsonl::JsonlSink;
use audit_core::{AuditEntry, Auditor, MemorySink, RetryPolicy, DROPPED_ENDPOINT};
use common::TestSink;

fn key() -> CheckpointKey {
    CheckpointKey::from_bytes(&[42u8; 32]).unwrap()
}

/// Checks links and hashes of entries in written order; returns the chain's entries.
fn assert_linked(entries: &[AuditEntry]) {
    let mut prev = GENESIS.to_owned();
    for (i, entry) in entries.iter().enumerate() {
        let link = entry.chain.as_ref().expect("every entry is chained");
        assert_eq!(link.seq, i as u64 + 1);
        assert_eq!(link.prev, prev, "seq {}", link.seq);
        let value = serde_json::to_value(entry).unwrap();
        assert_eq!(chain::hash_value(&value), link.hash, "seq {}", link.seq);
        prev = link.hash.clone();
    }
}

#[tokio::test]
async fn entries_are_linked_in_written_order_and_sealed_on_shutdown() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .chain(
            ChainConfig::enabled()
                .checkpoint_key(key())
                .checkpoint_every(10),
        )
        .batch_size(7)
        .build(sink.clone())
        .unwrap();
    for i in 0..25 {
        let mut entry = AuditEntry::new("linked");
        entry.fields.insert("i".into(), i.into());
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let entries = sink.entries();
    assert_linked(&entries);
    let checkpoints: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| e.endpoint == CHECKPOINT_ENDPOINT)
        .collect();
    // Batches of 7: checkpoints after the batch that reaches 10 unsealed entries, and one final.
    assert!(checkpoints.len() >= 3, "{}", checkpoints.len());
    let last = entries.last().unwrap();
    assert_eq!(last.endpoint, CHECKPOINT_ENDPOINT);
    assert_eq!(last.fields["final"], true);
    for checkpoint in checkpoints {
        let link = checkpoint.chain.as_ref().unwrap();
        let head = &entries[link.seq as usize - 2];
        assert_eq!(
            checkpoint.fields["head_seq"],
            head.chain.as_ref().unwrap().seq
        );
        assert_eq!(checkpoint.fields["head_hash"], link.prev.as_str());
        let message = chain::checkpoint_message(
            &link.id,
            link.seq - 1,
            &link.prev,
            checkpoint.fields["final"] == true,
        );
        assert!(key().verify(&message, checkpoint.fields["signature"].as_str().unwrap()));
    }
    assert_eq!(
        entries.iter().filter(|e| e.endpoint == "linked").count(),
        25
    );
}

#[tokio::test]
async fn a_timed_checkpoint_seals_entries_when_traffic_stops() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .chain(
            ChainConfig::enabled()
                .checkpoint_key(key())
                .checkpoint_interval(Duration::from_millis(100)),
        )
        .build(sink.clone())
        .unwrap();
    auditor.record(AuditEntry::new("lonely")).await.unwrap();
    auditor.flush().await.unwrap();
    assert_eq!(sink.len(), 1);
    // The writer wakes on its own deadline, without another entry or a flush.
    for _ in 0..200 {
        if sink.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let entries = sink.entries();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[1].endpoint, CHECKPOINT_ENDPOINT);
    assert_eq!(entries[1].fields["final"], false);
    auditor.shutdown().await.unwrap();
}

/// #13: an interval too long for the clock (`Duration::MAX`) used to overflow inside the
/// writer, and every later record failed; it is brought to a day.
#[tokio::test]
async fn an_endless_checkpoint_interval_is_bounded_not_a_panic() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .chain(
            ChainConfig::enabled()
                .checkpoint_key(key())
                .checkpoint_interval(Duration::MAX),
        )
        .build(sink.clone())
        .unwrap();
    for _ in 0..3 {
        auditor.record(AuditEntry::new("call")).await.unwrap();
        auditor.flush().await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let entries = sink.entries();
    assert_eq!(entries.len(), 4, "three calls and the final checkpoint");
    assert_linked(&entries);
}

#[tokio::test]
async fn not_chained_unless_asked_for_sinks_other_than_jsonl() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    auditor.record(AuditEntry::new("plain")).await.unwrap();
    auditor.shutdown().await.unwrap();
    let entries = sink.entries();
    assert_eq!(entries.len(), 1, "no checkpoint without a chain");
    assert!(entries[0].chain.is_none());
}

#[tokio::test]
async fn jsonl_is_chained_by_default_across_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let sink = JsonlSink::builder(dir.path())
        .max_file_bytes(2_000)
        .open()
        .unwrap();
    let auditor = Auditor::builder().batch_size(3).build(sink).unwrap();
    for _ in 0..20 {
        auditor.record(AuditEntry::new("rotated")).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let files = audit_core::jsonl::log_files(dir.path()).unwrap();
    assert!(files.len() > 2, "rotated into {} files", files.len());
    let mut entries = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            assert_eq!(
                chain::check_line_bytes(line.as_bytes()),
                Some(true),
                "{line}"
            );
            entries.push(serde_json::from_str::<AuditEntry>(line).unwrap());
        }
    }
    assert_eq!(entries.len(), 21, "20 entries and the final checkpoint");
    assert_linked(&entries);
    assert_eq!(entries[20].fields["alg"], "none");
}

#[tokio::test]
async fn a_given_up_batch_leaves_a_reported_gap_in_the_chain() {
    let sink = TestSink::failing(2);
    let auditor = Auditor::builder()
        .chain(ChainConfig::enabled())
        .retry(
            RetryPolicy::default()
                .initial_delay(Duration::from_millis(1))
                .max_attempts(2),
        )
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    let mut lost = AuditEntry::new("lost");
    lost.fields.insert("n".into(), 1.into());
    auditor.record(lost).await.unwrap();
    auditor.flush().await.ok();
    auditor.record(AuditEntry::new("kept")).await.unwrap();
    auditor.shutdown().await.unwrap();
    let entries = sink.memory.entries();
    let seqs: Vec<u64> = entries
        .iter()
        .map(|e| e.chain.as_ref().unwrap().seq)
        .collect();
    assert_eq!(seqs[0], 2, "seq 1 was given up: {seqs:?}");
    let report = entries
        .iter()
        .find(|e| e.endpoint == DROPPED_ENDPOINT)
        .expect("the loss is reported");
    assert_eq!(report.fields["chain_seq_first"], 1);
    assert_eq!(report.fields["chain_seq_last"], 1);
    // The chain still links across the gap: entry 2's prev is the lost entry's hash.
    assert_ne!(entries[0].chain.as_ref().unwrap().prev, GENESIS);
}
