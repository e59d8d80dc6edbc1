//! The `audit` command on generated logs: rotated and gzip-compressed files, a malformed line in
//! the middle, and bad input.

use std::path::Path;
use std::process::{Command, Output};

use audit_core::jsonl::{Compression, JsonlSink};
use audit_core::{AuditEntry, Outcome, Sink, Timestamp};
use serde_json::{json, Value};

fn entry(endpoint: &str, at: &str, client: &str, status: u16, ms: f64, user: &str) -> AuditEntry {
    let mut entry = AuditEntry::started_at(endpoint, at.parse::<Timestamp>().unwrap());
    entry.method = Some("POST".into());
    entry.path = Some(format!("/api/v1/{endpoint}"));
    entry.user = user.into();
    entry.request = Some(json!({"client_id": client}));
    entry.status_code = Some(status);
    entry.outcome = Outcome::from_status(status);
    entry.duration_seconds = ms / 1000.0;
    entry.request_bytes = Some(10);
    entry.response_bytes = Some(90);
    entry
}

/// The plain (uncompressed) file of day 5 that is still open: the newest one.
fn plain_file(dir: &Path) -> String {
    let mut plain: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("audit_2026-02-05") && n.ends_with(".jsonl"))
        .collect();
    plain.sort();
    plain.pop().expect("a plain file")
}

/// Day 1 (closed and gzip-compressed), day 5 (rotated by size; rotated-out files compressed),
/// one malformed line in the plain file.
fn generate(dir: &Path) -> Vec<AuditEntry> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut all = Vec::new();
    rt.block_on(async {
        let mut sink = JsonlSink::builder(dir)
            .compression(Compression::Gzip)
            .max_file_bytes(4_000)
            .open()
            .unwrap();
        let mut day1 = Vec::new();
        for i in 0..5 {
            day1.push(entry(
                "sow_create",
                &format!("2026-02-01T10:00:0{i}Z"),
                "CLIENT-001",
                200,
                10.0 + i as f64,
                "alice",
            ));
        }
        sink.write(&day1).await.unwrap();
        let mut day5 = Vec::new();
        for i in 0..30 {
            let (endpoint, client, status) = match i % 3 {
                0 => ("sow_create", "CLIENT-001", 200),
                1 => ("sow_create", "CLIENT-002", 503),
                _ => ("login", "CLIENT-003", 401),
            };
            day5.push(entry(
                endpoint,
                &format!("2026-02-05T10:00:{i:02}Z"),
                client,
                status,
                100.0 + i as f64,
                "bob",
            ));
        }
        for chunk in day5.chunks(5) {
            sink.write(chunk).await.unwrap();
        }
        sink.close().await.unwrap();
        all.extend(day1);
        all.extend(day5);
    });
    // A malformed line in the middle of a plain file.
    let plain = dir.join(plain_file(dir));
    let text = std::fs::read_to_string(&plain).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{\"v\":1, this is not json");
    std::fs::write(&plain, lines.join("\n") + "\n").unwrap();
    all
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn query_reads_rotated_and_compressed_files_and_skips_a_malformed_line() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path());
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.ends_with(".jsonl.gz")), "{names:?}");
    assert!(names.iter().any(|n| n.contains(".1.jsonl")), "{names:?}");

    let d = dir.path().to_str().unwrap();
    let output = audit(&[
        "query",
        d,
        "--endpoint",
        "sow_create",
        "--where",
        "request.client_id=CLIENT-001",
    ]);
    assert!(output.status.success());
    let found: Vec<AuditEntry> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| {
            e.endpoint == "sow_create" && e.request.as_ref().unwrap()["client_id"] == "CLIENT-001"
        })
        .collect();
    assert_eq!(found.len(), expected.len());
    assert_eq!(
        found.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected.iter().map(|e| e.id).collect::<Vec<_>>(),
        "in order"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let malformed = format!("{}:3: malformed entry", plain_file(dir.path()));
    assert!(stderr.contains(&malformed), "{stderr}");

    let output = audit(&[
        "query", d, "--status", "5xx", "--format", "csv", "--limit", "3",
    ]);
    let text = stdout(&output);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "timestamp,method,path,status,ms,endpoint,user,outcome,id"
    );
    assert_eq!(rows.len(), 4);
    assert!(rows[1..]
        .iter()
        .all(|r| r.contains(",503,") && r.contains("server_error")));

    let output = audit(&[
        "query",
        d,
        "--since",
        "2026-02-05T10:00:20Z",
        "--until",
        "2026-02-05T10:00:23Z",
        "--format",
        "table",
    ]);
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1 + 3, "{text}");
    assert!(text.lines().next().unwrap().starts_with("timestamp"));
}

#[test]
fn stats_by_endpoint_and_status() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let d = dir.path().to_str().unwrap();
    let output = audit(&["stats", d, "--by", "endpoint", "--json"]);
    assert!(output.status.success());
    let rows: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let login = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "login")
        .unwrap();
    assert_eq!(login["count"], 10);
    assert_eq!(login["error_rate"], 1.0);
    let sow = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "sow_create")
        .unwrap();
    assert_eq!(sow["count"], 25);
    assert_eq!(sow["error_rate"], 10.0 / 25.0);
    assert_eq!(sow["bytes"], 25 * 100);
    assert_eq!(sow["max_ms"], 128.0);

    let output = audit(&["stats", d, "--by", "day"]);
    let text = stdout(&output);
    assert!(text.lines().next().unwrap().starts_with("key"), "{text}");
    assert!(
        text.contains("2026-02-01") && text.contains("2026-02-05"),
        "{text}"
    );
}

#[test]
fn stats_html_writes_a_self_contained_page_with_charts_per_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let d = dir.path().to_str().unwrap();
    let page = dir.path().join("report.html");
    let output = audit(&[
        "stats",
        d,
        "--since",
        "2026-01-01T00:00:00Z",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    // The table still goes to stdout.
    assert!(stdout(&output).contains("sow_create"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!doctype html>"));
    assert!(
        html.contains("since 2026-01-01T00:00:00Z"),
        "the filters are named"
    );
    for endpoint in ["login", "sow_create"] {
        assert!(html.contains(&format!("<h2>{endpoint}</h2>")), "{endpoint}");
    }
    // Two charts per endpoint: latency histogram and calls over time, errors in red.
    assert_eq!(html.matches("<svg").count(), 4);
    assert!(html.contains("latency (ms"));
    assert!(
        html.contains("calls per 6 hours (errors in red)"),
        "four days of data, binned by 6 hours"
    );
    assert!(html.contains(r#"class="err""#));
    // login: ten calls of 101–128 ms, all failed (401).
    assert!(html.contains("100–200 ms: 10 calls"), "{html}");
    // Self-contained: nothing is fetched, nothing runs.
    for needle in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "{needle}");
    }
    let output = audit(&["stats", d, "--html", "/nonexistent/dir/report.html"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("cannot write /nonexistent/dir/report.html"));
}

#[test]
fn tail_shows_the_last_entries_as_human_lines() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let output = audit(&["tail", dir.path().to_str().unwrap(), "-n", "2"]);
    assert!(output.status.success());
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[1].starts_with("10:00:29.000 POST /api/v1/login 401"),
        "{text}"
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let output = audit(&["query", "/nonexistent/audit_logs"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read /nonexistent/audit_logs"));
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (vec!["--where", "request.client_id"], "is not a filter"),
        (vec!["--since", "yesterday"], "is not a time"),
        (vec!["--status", "5x"], "is not a status"),
    ] {
        let mut all = vec!["query", dir.path().to_str().unwrap()];
        all.extend(args);
        let output = audit(&all);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{stderr}");
    }
}

#[test]
fn tail_follow_prints_entries_written_later() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(["tail", dir.path().to_str().unwrap(), "-n", "1", "--follow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A watchdog: whatever happens, the follower is stopped within 20 s, so the test fails
    // instead of hanging.
    let pid = child.id().to_string();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(20));
        let _ = Command::new("kill").arg(&pid).status();
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("/api/v1/login"), "{first}");
    // A new entry appended by a writer.
    let late = entry(
        "sow_review",
        "2026-02-05T11:00:00Z",
        "CLIENT-009",
        200,
        5.0,
        "carol",
    );
    let plain = dir.path().join(plain_file(dir.path()));
    let mut text = std::fs::read_to_string(&plain).unwrap();
    text.push_str(&serde_json::to_string(&late).unwrap());
    text.push('\n');
    std::fs::write(&plain, text).unwrap();
    let next = lines.next().expect("a line within 20 s").unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        next.contains("sow_review") && next.contains("user=carol"),
        "{next}"
    );
}

/// #13: a line that is not UTF-8 is reported and skipped, the lines after it are still read,
/// and the exit status says the answer leaves a line out.
#[test]
fn a_line_that_is_not_utf8_is_skipped_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let mut bytes = Vec::new();
    for (i, user) in ["alice", "bob"].iter().enumerate() {
        let at = format!("2026-02-05T10:00:0{i}Z");
        let line = serde_json::to_string(&entry("a", &at, "C", 200, 1.0, user)).unwrap();
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if i == 0 {
            bytes.extend_from_slice(b"{\"endpoint\":\"\xff\xfe\"}\n");
        }
    }
    std::fs::write(&file, &bytes).unwrap();
    let output = audit(&["query", file.to_str().unwrap(), "--format", "csv"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("audit.jsonl:2: not UTF-8"), "{stderr}");
    assert!(stderr.contains("1 line could not be read"), "{stderr}");
    assert_eq!(output.status.code(), Some(2));
    let text = stdout(&output);
    assert!(text.contains(",alice,") && text.contains(",bob,"), "{text}");
}

/// #13: a number given to `--where` matches the number logged, however either is written.
#[test]
fn where_numbers_match_as_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let mut e = entry("a", "2026-02-05T10:00:00Z", "C", 200, 1.0, "alice");
    e.request = Some(json!({"qty": 3}));
    std::fs::write(&file, serde_json::to_string(&e).unwrap() + "\n").unwrap();
    for wanted in ["3", "3.0", "3e0"] {
        let clause = format!("request.qty={wanted}");
        let output = audit(&["query", file.to_str().unwrap(), "--where", &clause]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(stdout(&output).lines().count(), 1, "--where {clause}");
    }
}

/// #13: a span past the calendar is a usage error, not a panic.
#[test]
fn a_span_past_the_calendar_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let output = audit(&["query", d, "--since", "99999999999999d"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("before year 1"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn query_writes_the_entries_in_each_siem_schema() {
    let dir = tempfile::tempdir().unwrap();
    let all = generate(dir.path());
    let path = dir.path().to_str().unwrap();
    let jsonl = audit(&["query", path, "--user", "alice"]);
    let stored: Vec<String> = stdout(&jsonl).lines().map(str::to_owned).collect();
    assert_eq!(
        stored.len(),
        all.iter().filter(|e| e.user == "alice").count()
    );
    for format in ["otel", "ecs", "ocsf", "cef"] {
        let output = audit(&["query", path, "--user", "alice", "--format", format]);
        assert!(
            output.status.success() || output.status.code() == Some(1),
            "{format}"
        );
        let lines: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), stored.len(), "{format}");
        for (line, stored) in lines.iter().zip(&stored) {
            // Each record carries the stored line, so a copy can be verified.
            let carried = match format {
                "cef" => {
                    assert!(line.starts_with("CEF:0|audited|audited|"), "{line}");
                    let raw = line.split_once(" rawEvent=").unwrap().1;
                    raw.replace("\\=", "=").replace("\\\\", "\\")
                }
                _ => {
                    let record: Value = serde_json::from_str(line).unwrap();
                    let carried = match format {
                        "ecs" => &record["event"]["original"],
                        "ocsf" => &record["raw_data"],
                        _ => record["attributes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|a| a["key"] == "log.record.original")
                            .map(|a| &a["value"]["stringValue"])
                            .unwrap(),
                    };
                    carried.as_str().unwrap().to_owned()
                }
            };
            assert_eq!(&carried, stored, "{format}");
        }
    }
    let bad = audit(&["query", path, "--format", "leef"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("otel"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
