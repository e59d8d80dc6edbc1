use super::*;
use crate::entry::Timestamp;
use std::io::Read;

fn entry_at(endpoint: &str, at: &str) -> AuditEntry {
    AuditEntry::started_at(endpoint, at.parse::<Timestamp>().unwrap())
}

fn lines(path: &Path) -> Vec<AuditEntry> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != ".lock")
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[tokio::test]
async fn creates_private_directory_and_files_named_by_utc_date() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("nested/audit_logs");
    let mut sink = JsonlSink::open(&dir).unwrap();
    let batch = vec![
        entry_at("a", "2026-02-07T23:59:59.999999Z"),
        entry_at("b", "2026-02-08T01:30:00+02:00"),
        entry_at("c", "2026-02-08T00:00:00Z"),
    ];
    sink.write(&batch).await.unwrap();
    sink.close().await.unwrap();
    assert_eq!(
        names(&dir),
        ["audit_2026-02-07.jsonl", "audit_2026-02-08.jsonl"]
    );
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let file = dir.join("audit_2026-02-08.jsonl");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // 01:30 at +02:00 is 23:30 UTC the day before.
    let day1 = lines(&dir.join("audit_2026-02-07.jsonl"));
    assert_eq!(day1, batch[..2]);
    assert_eq!(lines(&file), batch[2..]);
}

#[tokio::test]
async fn rotates_by_size_into_numbered_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::builder(dir.path())
        .max_file_bytes(2_000)
        .open()
        .unwrap();
    for i in 0..20 {
        sink.write(&[entry_at(&format!("e{i}"), "2026-02-07T10:00:00Z")])
            .await
            .unwrap();
    }
    sink.close().await.unwrap();
    let files = naming::scan(dir.path()).unwrap();
    assert!(files.len() >= 3, "{files:?}");
    let mut seen = Vec::new();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(f.index, i as u32);
        assert!(std::fs::metadata(&f.path).unwrap().len() <= 2_000);
        seen.extend(lines(&f.path).into_iter().map(|e| e.endpoint));
    }
    let expected: Vec<String> = (0..20).map(|i| format!("e{i}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn a_torn_line_is_repaired_on_open_and_writing_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit_2026-02-07.jsonl");
    let good = serde_json::to_string(&entry_at("good", "2026-02-07T10:00:00Z")).unwrap();
    std::fs::write(&path, format!("{good}\n{{\"v\":1,\"id\":\"0190")).unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    assert_eq!(sink.repaired_files(), 1);
    sink.write(&[entry_at("next", "2026-02-07T11:00:00Z")])
        .await
        .unwrap();
    sink.close().await.unwrap();
    let endpoints: Vec<String> = lines(&path).into_iter().map(|e| e.endpoint).collect();
    assert_eq!(endpoints, ["good", "next"]);
    // Opening again finds nothing to repair.
    assert_eq!(JsonlSink::open(dir.path()).unwrap().repaired_files(), 0);
}

#[tokio::test]
async fn a_late_entry_for_yesterday_goes_to_yesterdays_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    sink.write(&[entry_at("today", "2026-02-08T00:00:01Z")])
        .await
        .unwrap();
    sink.write(&[entry_at("late", "2026-02-07T23:59:59Z")])
        .await
        .unwrap();
    sink.close().await.unwrap();
    assert_eq!(
        lines(&dir.path().join("audit_2026-02-07.jsonl"))[0].endpoint,
        "late"
    );
    assert_eq!(
        lines(&dir.path().join("audit_2026-02-08.jsonl"))[0].endpoint,
        "today"
    );
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn closed_days_are_compressed_and_old_ones_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::builder(dir.path())
        .compression(Compression::Gzip)
        .max_files(2)
        .open()
        .unwrap();
    for day in ["2026-02-01", "2026-02-03", "2026-02-05", "2026-02-07"] {
        sink.write(&[entry_at(day, &format!("{day}T12:00:00Z"))])
            .await
            .unwrap();
    }
    sink.close().await.unwrap();
    assert_eq!(
        names(dir.path()),
        ["audit_2026-02-05.jsonl.gz", "audit_2026-02-07.jsonl"]
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir.path().join("audit_2026-02-05.jsonl.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let entry: AuditEntry = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(entry.endpoint, "2026-02-05");
}

#[cfg(feature = "zstd")]
#[tokio::test]
async fn zstd_compression() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = JsonlSink::builder(dir.path())
        .compression(Compression::Zstd)
        .open()
        .unwrap();
    sink.write(&[entry_at("old", "2026-02-01T12:00:00Z")])
        .await
        .unwrap();
    sink.write(&[entry_at("new", "2026-02-07T12:00:00Z")])
        .await
        .unwrap();
    sink.close().await.unwrap();
    assert_eq!(
        names(dir.path()),
        ["audit_2026-02-01.jsonl.zst", "audit_2026-02-07.jsonl"]
    );
    let bytes = zstd::decode_all(
        std::fs::File::open(dir.path().join("audit_2026-02-01.jsonl.zst")).unwrap(),
    )
    .unwrap();
    assert!(String::from_utf8(bytes)
        .unwrap()
        .contains("\"endpoint\":\"old\""));
}

#[tokio::test]
async fn retention_by_age_keeps_recent_days() {
    let dir = tempfile::tempdir().unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let old = today - time::Duration::days(40);
    let recent = today - time::Duration::days(3);
    for date in [old, recent] {
        std::fs::write(dir.path().join(naming::file_name(date, 0)), "").unwrap();
    }
    let deleted = archive::enforce_retention(
        dir.path(),
        Retention {
            max_age_days: Some(30),
            max_files: None,
        },
        &[],
    )
    .unwrap();
    assert_eq!(deleted, [dir.path().join(naming::file_name(old, 0))]);
    assert_eq!(names(dir.path()), [naming::file_name(recent, 0)]);
}

#[tokio::test]
async fn a_restart_continues_todays_file_and_skips_compressed_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit_2026-02-07.jsonl.gz"), b"").unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    sink.write(&[entry_at("a", "2026-02-07T12:00:00Z")])
        .await
        .unwrap();
    sink.close().await.unwrap();
    let mut sink = JsonlSink::open(dir.path()).unwrap();
    sink.write(&[entry_at("b", "2026-02-07T13:00:00Z")])
        .await
        .unwrap();
    sink.close().await.unwrap();
    let endpoints: Vec<String> = lines(&dir.path().join("audit_2026-02-07.1.jsonl"))
        .into_iter()
        .map(|e| e.endpoint)
        .collect();
    assert_eq!(endpoints, ["a", "b"]);
}

#[tokio::test]
async fn interrupted_compression_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("audit_2026-02-01.jsonl.gz.tmp"), b"partial").unwrap();
    std::fs::write(dir.path().join("audit_2026-02-02.jsonl"), b"{}\n").unwrap();
    std::fs::write(dir.path().join("audit_2026-02-02.jsonl.gz"), b"complete").unwrap();
    std::fs::write(dir.path().join("audit_2026-02-03.jsonl"), b"{}\n").unwrap();
    JsonlSink::open(dir.path()).unwrap();
    assert_eq!(
        names(dir.path()),
        ["audit_2026-02-02.jsonl.gz", "audit_2026-02-03.jsonl"]
    );
}

#[tokio::test]
async fn sync_policies_write_the_same_lines() {
    for sync in [
        SyncPolicy::Never,
        SyncPolicy::EveryBatch,
        SyncPolicy::Interval(Duration::from_millis(1)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = JsonlSink::builder(dir.path()).sync(sync).open().unwrap();
        let batch: Vec<AuditEntry> = (0..100)
            .map(|_| entry_at("x", "2026-02-07T12:00:00Z"))
            .collect();
        sink.write(&batch).await.unwrap();
        sink.flush().await.unwrap();
        sink.close().await.unwrap();
        assert_eq!(
            lines(&dir.path().join("audit_2026-02-07.jsonl")),
            batch,
            "{sync:?}"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn an_unwritable_directory_is_a_clear_error() {
    let err = JsonlSink::open("/proc/audit_logs_cannot_exist").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("create directory") && text.contains("/proc/audit_logs_cannot_exist"),
        "{text}"
    );
}
