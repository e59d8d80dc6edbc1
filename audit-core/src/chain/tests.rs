use super::*;

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

#[test]
fn links_are_consecutive_and_hashes_match_the_canonical_form() {
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut first = entry("a");
    let mut second = entry("b");
    chainer.link(&mut first, None).unwrap();
    chainer.link(&mut second, None).unwrap();
    let (a, b) = (first.chain.clone().unwrap(), second.chain.clone().unwrap());
    assert_eq!((a.seq, b.seq), (1, 2));
    assert_eq!(a.prev, GENESIS);
    assert_eq!(b.prev, a.hash);
    assert_eq!(a.id, b.id);
    for e in [&first, &second] {
        let written = line(e);
        assert_eq!(check_line_bytes(&written), Some(true));
        let value: Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(hash_value(&value), e.chain.as_ref().unwrap().hash);
    }
    // A retried batch keeps its links.
    let before = second.chain.clone();
    chainer.link(&mut second, None).unwrap();
    assert_eq!(second.chain, before);
}

#[test]
fn an_edited_byte_changes_the_hash() {
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut e = entry("a");
    chainer.link(&mut e, None).unwrap();
    let written = String::from_utf8(line(&e)).unwrap();
    let edited = written.replace("CLIENT-001", "CLIENT-002");
    assert_eq!(check_line_bytes(edited.as_bytes()), Some(false));
    let value: Value = serde_json::from_str(&edited).unwrap();
    assert_ne!(hash_value(&value), e.chain.unwrap().hash);
}

#[test]
fn reformatted_lines_keep_their_hash() {
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut e = entry("a");
    chainer.link(&mut e, None).unwrap();
    let value: Value = serde_json::from_slice(&line(&e)).unwrap();
    // Pretty-printed with another key order, as another tool might store it.
    let pretty = serde_json::to_string_pretty(&value).unwrap();
    let back: Value = serde_json::from_str(&pretty).unwrap();
    assert_eq!(check_line_bytes(pretty.as_bytes()), None);
    assert_eq!(hash_value(&back), e.chain.unwrap().hash);
}

#[test]
fn keys_beyond_the_basic_plane_are_hashed_in_utf16_order() {
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut e = entry("a");
    e.fields.insert("\u{fb01}".into(), 1.into());
    e.fields.insert("\u{1f600}".into(), 2.into());
    chainer.link(&mut e, None).unwrap();
    let value: Value = serde_json::from_slice(&line(&e)).unwrap();
    assert_eq!(hash_value(&value), e.chain.unwrap().hash);
}

#[test]
fn checkpoints_are_signed_and_verifiable() {
    let key = CheckpointKey::from_bytes(&[7u8; 32]).unwrap();
    let mut chainer = Chainer::new(
        &ChainConfig::enabled()
            .checkpoint_key(key.clone())
            .checkpoint_every(2),
    );
    let mut a = entry("a");
    chainer.link(&mut a, None).unwrap();
    assert!(!chainer.checkpoint_due());
    let mut b = entry("b");
    chainer.link(&mut b, None).unwrap();
    assert!(chainer.checkpoint_due());
    let checkpoint = chainer.checkpoint(false).unwrap();
    assert!(!chainer.checkpoint_due());
    let link = checkpoint.chain.as_ref().unwrap();
    assert_eq!(link.seq, 3);
    let head_hash = b.chain.as_ref().unwrap().hash.clone();
    assert_eq!(checkpoint.fields["head_seq"], 2);
    assert_eq!(checkpoint.fields["head_hash"], head_hash.as_str());
    assert_eq!(checkpoint.fields["key_id"], key.key_id());
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
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut a = entry("a");
    chainer.link(&mut a, None).unwrap();
    assert!(!chainer.checkpoint_due());
    assert_eq!(chainer.checkpoint_deadline(), None);
    let last = chainer.checkpoint(true).unwrap();
    assert_eq!(last.fields["alg"], "none");
    assert_eq!(last.fields["final"], true);
    assert!(last.fields.get("signature").is_none());
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

#[test]
fn lines_written_while_linking_are_the_lines_the_entry_serialises_to() {
    let mut chainer = Chainer::new(&ChainConfig::enabled());
    let mut lines = JsonLines::default();
    let mut entries = [entry("a"), entry("b")];
    entries[1].fields.insert("\u{1f600}".into(), 1.into());
    for e in entries.iter_mut() {
        chainer.link(e, Some(&mut lines)).unwrap();
    }
    assert_eq!(lines.len(), 2);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(lines.line(i).unwrap(), &line(e)[..]);
    }
}
