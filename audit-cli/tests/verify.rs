//! `audit verify` on logs written by the real pipeline, untouched and tampered with: an edited
//! byte, a deleted line, two swapped lines, a cut-off tail, a torn line, a rewritten chain, and
//! the reference verifier in Python (`docs/verify_chain.py`) on the same files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use audit_core::chain::{self, ChainConfig, CheckpointKey};
use audit_core::jsonl::{Compression, JsonlSink};
use audit_core::{AuditEntry, Auditor};
use serde_json::{json, Value};

const KEY_HEX: &str = "6b1f0e5a4c3d2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908f7e6d5c4b3a29";

/// 200 entries through the pipeline into JSONL files rotated every ~8 KB, with signed
/// checkpoints every 50 entries and the final one on shutdown.
fn generate(dir: &Path, compression: Compression) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sink = JsonlSink::builder(dir)
            .max_file_bytes(8_000)
            .compression(compression)
            .open()
            .unwrap();
        let key = CheckpointKey::parse(KEY_HEX).unwrap();
        let auditor = Auditor::builder()
            .chain(
                ChainConfig::enabled()
                    .checkpoint_key(key)
                    .checkpoint_every(50),
            )
            .batch_size(16)
            .build(sink)
            .unwrap();
        for i in 0..200 {
            let mut entry = AuditEntry::new(if i % 4 == 0 { "login" } else { "sow_create" });
            entry.user = format!("user-{}", i % 7);
            entry.request =
                Some(json!({"client_id": format!("CLIENT-{i:03}"), "amount": i as f64 / 8.0}));
            entry.status_code = Some(200);
            entry.duration_seconds = 0.001 * i as f64;
            auditor.record(entry).await.unwrap();
        }
        auditor.shutdown().await.unwrap();
    });
}

/// The log's files in reading order (the CLI's order: by date, then rotation index).
fn files(dir: &Path) -> Vec<PathBuf> {
    audit_core::jsonl::log_files(dir).unwrap()
}

/// The first file from the `from`-th on with at least `needed` lines: how many lines a file
/// holds depends on how the writer happened to batch (a file rotates before a batch that
/// would overflow it), so tests pick their file instead of assuming one.
fn file_with_lines(dir: &Path, from: usize, needed: usize) -> PathBuf {
    files(dir)
        .into_iter()
        .skip(from)
        .find(|f| lines(f).len() >= needed)
        .unwrap_or_else(|| panic!("no file from the {from}th on has {needed} lines"))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env_remove("AUDIT_CHECKPOINT_KEY")
        .output()
        .unwrap()
}

fn verify(dir: &Path, extra: &[&str]) -> (i32, String) {
    let key = dir.parent().unwrap().join("checkpoint.key");
    std::fs::write(&key, KEY_HEX).unwrap();
    let mut args = vec![
        "verify",
        dir.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = audit(&args);
    let text =
        String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
    (output.status.code().unwrap(), text)
}

/// A fresh plain (uncompressed) log, so lines can be edited in place.
fn plain_log() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    generate(&dir, Compression::None);
    assert!(files(&dir).len() >= 4, "the log rotated");
    (root, dir)
}

/// Every line of the log, in reading order (compressed files too).
fn all_lines(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for file in files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        let text = if file.extension().is_some_and(|e| e == "gz") {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(&bytes[..]),
                &mut text,
            )
            .unwrap();
            text
        } else {
            String::from_utf8(bytes).unwrap()
        };
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()),
        );
    }
    out
}

fn checkpoint_seqs(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .filter(|v| v["endpoint"] == chain::CHECKPOINT_ENDPOINT)
        .map(|v| v["chain"]["seq"].as_u64().unwrap())
        .collect()
}

fn seq_of(line: &str) -> u64 {
    let value: Value = serde_json::from_str(line).unwrap();
    value["chain"]["seq"].as_u64().unwrap()
}

#[test]
fn an_untouched_log_is_intact_even_rotated_and_compressed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    generate(&dir, Compression::Gzip);
    // Close-time compression runs in the background; some rotated files are .gz by now.
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 0, "{text}");
    let lines = all_lines(&dir);
    let checkpoints = checkpoint_seqs(&lines).len();
    assert!(
        checkpoints >= 4,
        "periodic checkpoints and the final one: {checkpoints}"
    );
    let summary = format!(
        "1 chain, {} entries, {checkpoints} checkpoints, {checkpoints} signatures verified: intact",
        lines.len()
    );
    assert!(text.contains(&summary), "{text}");
}

#[test]
fn an_edited_byte_is_named_with_its_file_line_and_seq() {
    let (_root, dir) = plain_log();
    let file = &file_with_lines(&dir, 1, 5);
    let mut content = lines(file);
    let seq = seq_of(&content[3]);
    // One byte: CLIENT-0xy becomes CLIENT-1xy.
    content[3] = content[3].replacen("CLIENT-0", "CLIENT-1", 1);
    write_lines(file, &content);
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    let expected = format!("{}:4: entry seq {seq} (id ", file.display());
    assert!(
        text.contains(&expected) && text.contains("was edited"),
        "{text}"
    );
    assert!(text.contains("NOT intact (1 problem)"), "{text}");
}

#[test]
fn a_deleted_line_is_named_by_its_sequence_number() {
    let (_root, dir) = plain_log();
    let file = &file_with_lines(&dir, 2, 7);
    let mut content = lines(file);
    let seq = seq_of(&content[5]);
    content.remove(5);
    write_lines(file, &content);
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("seq {seq} is missing (deleted) between")),
        "{text}"
    );
}

#[test]
fn two_swapped_lines_are_reported_as_out_of_order() {
    let (_root, dir) = plain_log();
    let file = &file_with_lines(&dir, 0, 9);
    let mut content = lines(file);
    let (a, b) = (seq_of(&content[6]), seq_of(&content[7]));
    content.swap(6, 7);
    write_lines(file, &content);
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    let expected = format!("{}:8: entry seq {a} (id", file.display());
    assert!(
        text.contains(&expected) && text.contains(&format!("out of order: it comes after seq {b}")),
        "{text}"
    );
    assert!(
        !text.contains("edited") && !text.contains("missing"),
        "{text}"
    );
}

#[test]
fn a_cut_off_tail_is_detected_after_the_last_checkpoint() {
    let (_root, dir) = plain_log();
    // The final checkpoint and two entries go (whichever files they stand in: where the log
    // rotated depends on how the writer batched); an earlier signed checkpoint stays.
    let mut to_cut = 3;
    for file in files(&dir).iter().rev() {
        let mut content = lines(file);
        let cut = to_cut.min(content.len());
        content.truncate(content.len() - cut);
        to_cut -= cut;
        if content.is_empty() {
            std::fs::remove_file(file).unwrap();
        } else {
            write_lines(file, &content);
        }
        if to_cut == 0 {
            break;
        }
    }
    let remaining = all_lines(&dir);
    let end = remaining.last().unwrap()["chain"]["seq"].as_u64().unwrap();
    let sealed = *checkpoint_seqs(&remaining).last().unwrap();
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("is not sealed: it ends at seq {end}")),
        "{text}"
    );
    let cut = format!("the entries after seq {sealed} (the last checkpoint) may have been cut off");
    assert!(text.contains(&cut), "{text}");
    // A live log may be accepted as open, with the note kept.
    let (code, text) = verify(&dir, &["--allow-open"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("note") && text.contains("not sealed"),
        "{text}"
    );
}

#[test]
fn a_torn_last_line_is_reported() {
    let (_root, dir) = plain_log();
    let last = files(&dir).pop().unwrap();
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() - 40]).unwrap();
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("torn line: the file ends in the middle of an entry"),
        "{text}"
    );
    assert!(text.contains(&last.display().to_string()), "{text}");
}

/// Whoever can write the log can recompute every hash after an edit; only the checkpoints'
/// signatures (and heads published elsewhere) expose that.
#[test]
fn a_rewritten_chain_fails_on_its_signatures_and_published_heads() {
    let (_root, dir) = plain_log();
    let (_, before) = verify(&dir, &["--heads"]);
    let published = before.lines().next().unwrap().to_owned();
    let mut prev: Option<String> = None;
    for file in files(&dir) {
        let mut content = lines(&file);
        for line in content.iter_mut() {
            let mut value: Value = serde_json::from_str(line).unwrap();
            if value["chain"]["seq"] == 10 {
                value["user"] = "someone-else".into();
            }
            if let Some(prev) = &prev {
                value["chain"]["prev"] = prev.clone().into();
                if value["endpoint"] == chain::CHECKPOINT_ENDPOINT {
                    value["fields"]["head_hash"] = prev.clone().into();
                }
            }
            let hash = chain::hash_value(&value);
            value["chain"]["hash"] = hash.clone().into();
            prev = Some(hash);
            *line = serde_json::to_string(&value).unwrap();
        }
        write_lines(&file, &content);
    }
    // Without the key, the chain looks whole; only the unchecked signatures are noted.
    let output = audit(&["verify", dir.to_str().unwrap()]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("signatures not checked"), "{text}");
    // The published head no longer matches…
    let output = audit(&["verify", dir.to_str().unwrap(), "--expect", &published]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("differs from its published head"), "{text}");
    // …and with the key, every checkpoint after the edit fails.
    let (code, text) = verify(&dir, &[]);
    assert_eq!(code, 1, "{text}");
    let checkpoints = checkpoint_seqs(&all_lines(&dir)).len();
    assert_eq!(
        text.matches("has a bad signature").count(),
        checkpoints,
        "{text}"
    );
}

#[test]
fn heads_can_be_published_and_checked_later() {
    let (_root, dir) = plain_log();
    let (code, text) = verify(&dir, &["--heads"]);
    assert_eq!(code, 0, "{text}");
    let head = text.lines().next().unwrap();
    let total = all_lines(&dir).len();
    assert!(
        head.ends_with(&format!(":{total}:{}", &head[head.len() - 64..])),
        "{head}"
    );
    let (code, text) = verify(&dir, &["--expect", head]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = verify(&dir, &["--expect", "not-a-head"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("expected CHAIN:SEQ:HASH"), "{text}");
}

#[test]
fn a_wrong_key_or_a_missing_log_is_a_clear_failure() {
    let (root, dir) = plain_log();
    let other = root.path().join("other.key");
    std::fs::write(&other, "11".repeat(32)).unwrap();
    let output = audit(&[
        "verify",
        dir.to_str().unwrap(),
        "--key-file",
        other.to_str().unwrap(),
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("was signed with another key"), "{text}");
    let output = audit(&["verify", "/nonexistent/audit_logs"]);
    assert_eq!(output.status.code(), Some(2));
    let output = audit(&[
        "verify",
        dir.to_str().unwrap(),
        "--key-file",
        "/nonexistent/key",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8(output.stderr)
        .unwrap()
        .contains("cannot read the key file"));
}

/// The canonical form is reproducible outside Rust: the reference verifier in Python agrees.
#[test]
fn the_python_reference_verifier_agrees() {
    let Ok(python) = Command::new("python3").arg("--version").output() else {
        eprintln!("python3 is not installed: skipped");
        return;
    };
    assert!(python.status.success());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/verify_chain.py");
    let (_root, dir) = plain_log();
    let run = |dir: &Path| {
        let output = Command::new("python3")
            .arg(&script)
            .arg(dir)
            .env("AUDIT_CHECKPOINT_KEY", KEY_HEX)
            .output()
            .unwrap();
        let text =
            String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap();
        (output.status.code().unwrap(), text)
    };
    let (code, text) = run(&dir);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} entries", all_lines(&dir).len())),
        "{text}"
    );
    let file = &file_with_lines(&dir, 1, 4);
    let mut content = lines(file);
    content[2] = content[2].replacen("sow_create", "sow_delete", 1);
    write_lines(file, &content);
    let (code, text) = run(&dir);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("edited"), "{text}");
}

/// Fails the writes whose number (from 1) is in `failing`, and otherwise writes JSONL.
struct Flaky {
    inner: JsonlSink,
    writes: usize,
    failing: std::ops::RangeInclusive<usize>,
}

#[audit_core::async_trait]
impl audit_core::Sink for Flaky {
    async fn write(&mut self, batch: &[AuditEntry]) -> Result<(), audit_core::SinkError> {
        self.writes += 1;
        if self.failing.contains(&self.writes) {
            return Err(audit_core::SinkError::other("disk unplugged (on purpose)"));
        }
        self.inner.write(batch).await
    }

    async fn flush(&mut self) -> Result<(), audit_core::SinkError> {
        self.inner.flush().await
    }

    async fn close(&mut self) -> Result<(), audit_core::SinkError> {
        self.inner.close().await
    }
}

/// Entries the pipeline gave up on leave a gap it reports in the log: not tampering.
#[test]
fn a_gap_the_pipeline_reported_is_a_note_not_a_failure() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sink = Flaky {
            inner: JsonlSink::builder(&dir).open().unwrap(),
            writes: 0,
            failing: 2..=3,
        };
        let auditor = Auditor::builder()
            .chain(ChainConfig::enabled())
            .retry(
                audit_core::RetryPolicy::default()
                    .initial_delay(std::time::Duration::from_millis(1))
                    .max_attempts(2),
            )
            .build(sink)
            .unwrap();
        for endpoint in ["kept", "lost", "kept_too"] {
            auditor.record(AuditEntry::new(endpoint)).await.unwrap();
            let _ = auditor.flush().await;
        }
        auditor.shutdown().await.unwrap();
        assert_eq!(auditor.stats().failed_entries, 1);
    });
    let output = audit(&["verify", dir.to_str().unwrap()]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("seq 2 is missing, as the pipeline reported (audit.dropped at"),
        "{text}"
    );
    // Deleting the report makes the same gap a deletion.
    let file = files(&dir).pop().unwrap();
    let kept: Vec<String> = lines(&file)
        .into_iter()
        .filter(|l| !l.contains("audit.dropped"))
        .collect();
    write_lines(&file, &kept);
    let output = audit(&["verify", dir.to_str().unwrap()]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("seq 2 is missing (deleted)"), "{text}");
}
