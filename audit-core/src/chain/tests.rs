use serde_json::Value;

use super::*;
use crate::entry::AuditEntry;
use crate::json_lines::JsonLines;

fn entry(endpoint: &str) -> AuditEntry {
    let mut entry = AuditEntry::new(endpoint);
    entry.user = "alice".into();
    entry.duration_seconds = 0.000_000_123;
    entry.request = Some(serde_json::json!({"client_id": "CLIENT-001", "amount": 1e21}));
    entry.fields.insert("note".into(), "zwölf \u{1}".into());
    entry
}

fn line(entry: &AuditEntry) -> Vec<u8> {
    let mut buf = Vec::new();
    entry.write_json_line(&mut buf).unwrap();
    buf
}

/// Both halves of linking, as the pipeline runs them.
fn link(chain: &mut (Numberer, Hasher), batch: &mut Vec<AuditEntry>) -> JsonLines {
    let mut lines = JsonLines::default();
    let numbered = chain.0.number(batch, &mut lines);
    chain.1.finish(batch, &mut lines, &numbered);
    lines
}

#[test]
fn links_are_consecutive_and_hashes_match_the_canonical_form() {
    let mut chain = start(&ChainConfig::enabled());
    let mut batch = vec![entry("a"), entry("b")];
    let lines = link(&mut chain, &mut batch);
    let mut more = vec![entry("c")];
    link(&mut chain, &mut more);
    batch.extend(more);
    let links: Vec<Chain> = batch.iter().map(|e| e.chain.clone().unwrap()).collect();
    assert_eq!(links.iter().map(|l| l.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(links[0].prev, GENESIS);
    assert_eq!(links[1].prev, links[0].hash);
    assert_eq!(links[2].prev, links[1].hash, "across batches");
    assert!(links.iter().all(|l| l.id == links[0].id));
    for (i, e) in batch.iter().enumerate() {
        let written = line(e);
        if i < 2 {
            assert_eq!(
                lines.line(i).unwrap(),
                &written[..],
                "the line is the entry's line"
            );
        }
        assert_eq!(check_line_bytes(&written), Some(true));
        let value: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(hash_value(&value), e.chain.as_ref().unwrap().hash);
    }
}

#[test]
fn an_edited_byte_changes_the_hash() {
    let mut chain = start(&ChainConfig::enabled());
    let mut batch = vec![entry("a")];
    link(&mut chain, &mut batch);
    let written = String::from_utf8(line(&batch[0])).unwrap();
    let edited = written.replace("CLIENT-001", "CLIENT-002");
    assert_eq!(check_line_bytes(edited.as_bytes()), Some(false));
    let value: Value = serde_json::from_str(&edited).unwrap();
    assert_ne!(hash_value(&value), batch[0].chain.as_ref().unwrap().hash);
}

#[test]
fn reformatted_lines_keep_their_hash() {
    let mut chain = start(&ChainConfig::enabled());
    let mut batch = vec![entry("a")];
    link(&mut chain, &mut batch);
    let value: Value = serde_json::from_slice(&line(&batch[0])).unwrap();
    // Pretty-printed, as another tool might store it.
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let back: Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(check_line_bytes(pretty.as_bytes()), None);
    assert_eq!(hash_value(&back), batch[0].chain.as_ref().unwrap().hash);
}

#[test]
fn keys_beyond_the_basic_plane_are_hashed_in_utf16_order() {
    let mut chain = start(&ChainConfig::enabled());
    let mut odd = entry("a");
    odd.fields.insert("\u{fb01}".into(), 1.into());
    odd.fields.insert("\u{1f600}".into(), 2.into());
    let mut batch = vec![entry("plain"), odd, entry("plain")];
    let lines = link(&mut chain, &mut batch);
    for (i, e) in batch.iter().enumerate() {
        assert_eq!(lines.line(i).unwrap(), &line(e)[..]);
        let value: Value = serde_json::from_slice(&line(e)).unwrap();
        assert_eq!(
            hash_value(&value),
            e.chain.as_ref().unwrap().hash,
            "entry {i}"
        );
    }
    assert_eq!(
        batch[2].chain.as_ref().unwrap().prev,
        batch[1].chain.as_ref().unwrap().hash
    );
}

#[test]
fn checkpoints_are_signed_and_verifiable() {
    let key = CheckpointKey::from_bytes(&[7u8; 32]).unwrap();
    let mut chain = start(
        &ChainConfig::enabled()
            .checkpoint_key(key.clone())
            .checkpoint_every(2),
    );
    let mut first = vec![entry("a")];
    link(&mut chain, &mut first);
    assert_eq!(first.len(), 1, "not due after one entry");
    assert!(chain.0.checkpoint_deadline().is_some());
    let mut second = vec![entry("b")];
    let lines = link(&mut chain, &mut second);
    assert_eq!(second.len(), 2, "due after two: the checkpoint follows");
    assert_eq!(lines.len(), 2);
    assert_eq!(chain.0.checkpoint_deadline(), None, "nothing unsealed");
    let checkpoint = &second[1];
    assert_eq!(lines.line(1).unwrap(), &line(checkpoint)[..]);
    let link = checkpoint.chain.as_ref().unwrap();
    assert_eq!(link.seq, 3);
    let head_hash = second[0].chain.as_ref().unwrap().hash.clone();
    assert_eq!(link.prev, head_hash);
    assert_eq!(checkpoint.fields["head_seq"], 2);
    assert_eq!(checkpoint.fields["head_hash"], head_hash.as_str());
    assert_eq!(checkpoint.fields["entries"], 2);
    assert_eq!(checkpoint.fields["key_id"], key.key_id());
    let value: Value = serde_json::from_slice(&line(checkpoint)).unwrap();
    assert_eq!(hash_value(&value), link.hash);
    let message = checkpoint_message(&link.id, 2, &head_hash, false);
    let signature = checkpoint.fields["signature"].as_str().unwrap();
    assert!(key.verify(&message, signature));
    assert!(!key.verify(
        &checkpoint_message(&link.id, 2, &head_hash, true),
        signature
    ));
    let other = CheckpointKey::from_bytes(&[8u8; 32]).unwrap();
    assert!(!other.verify(&message, signature));
}

#[test]
fn unsigned_final_checkpoint_without_a_key() {
    let mut chain = start(&ChainConfig::enabled());
    assert!(
        chain.0.finish().is_none(),
        "nothing chained, nothing to seal"
    );
    let mut batch = vec![entry("a")];
    link(&mut chain, &mut batch);
    assert_eq!(batch.len(), 1);
    assert_eq!(chain.0.checkpoint_deadline(), None);
    let numbered = chain.0.finish().unwrap();
    let mut last = Vec::new();
    let mut lines = JsonLines::default();
    chain.1.finish(&mut last, &mut lines, &numbered);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].fields["alg"], "none");
    assert_eq!(last[0].fields["final"], true);
    assert!(last[0].fields.get("signature").is_none());
    assert_eq!(last[0].chain.as_ref().unwrap().seq, 2);
    assert_eq!(lines.line(0).unwrap(), &line(&last[0])[..]);
}

#[test]
fn keys_are_checked_and_never_shown() {
    let short = CheckpointKey::parse("abcd").unwrap_err().to_string();
    assert!(short.contains("too short"), "{short}");
    let bad = CheckpointKey::parse("not hex").unwrap_err().to_string();
    assert!(bad.contains("hex digits"), "{bad}");
    let missing = CheckpointKey::parse("file:/nonexistent/key")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/nonexistent/key"), "{missing}");
    let key = CheckpointKey::parse(&"ab".repeat(32)).unwrap();
    assert!(!format!("{key:?}").contains("abab"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
    let from_file = CheckpointKey::parse(&format!("file:{}", path.display())).unwrap();
    assert_eq!(from_file.key_id(), key.key_id());
}
