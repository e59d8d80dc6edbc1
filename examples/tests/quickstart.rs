//! Drives the quickstart binary as a new user would (HTTP calls, then Ctrl-C) and checks the
//! log it leaves, including the README's jq queries when jq is installed.

mod support;

use std::process::Command;

use audit_core::{AuditEntry, Outcome};
use support::Quickstart;

fn jq(args: &[&str], dir: &std::path::Path) -> Option<String> {
    let files: Vec<_> = std::fs::read_dir(dir.join("audit_logs"))
        .ok()?
        .map(|d| d.unwrap().path())
        .collect();
    let output = Command::new("jq").args(args).args(&files).output().ok()?;
    assert!(
        output.status.success(),
        "jq {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_writes_the_entries_the_readme_promises() {
    let dir = tempfile::tempdir().unwrap();
    let server = Quickstart::start(dir.path(), None);
    let call = |method, path, body| server.call(method, path, body, &[]);

    let sow =
        r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;
    assert_eq!(call("POST", "/api/v1/sow/create", sow).await.0, 200);
    assert_eq!(
        call("POST", "/api/v1/sow/create", r#"{"client_id":"#)
            .await
            .0,
        422
    );
    assert_eq!(call("GET", "/api/v1/sow/SOW-0001", "").await.0, 200);
    assert_eq!(call("GET", "/api/v1/sow/SOW-9999", "").await.0, 404);
    let login = r#"{"username":"alice","password":"hunter2"}"#;
    assert_eq!(call("POST", "/api/v1/login", login).await.0, 200);
    let (status, report) = call("GET", "/api/v1/report?rows=5000", "").await;
    assert_eq!(
        (status, report.iter().filter(|b| **b == b'\n').count()),
        (200, 5000)
    );
    let upload = "u".repeat(3_000_000);
    let (status, uploaded) = call("POST", "/api/v1/upload", &upload).await;
    assert_eq!((status, &uploaded[..]), (200, &br#"{"bytes":3000000}"#[..]));
    assert_eq!(call("GET", "/api/v1/panic", "").await.0, 500);
    assert_eq!(call("GET", "/health", "").await.0, 200);

    // Ctrl-C: graceful shutdown flushes every entry.
    server.stop().await;

    let mut entries = Vec::new();
    for file in std::fs::read_dir(dir.path().join("audit_logs")).unwrap() {
        for line in std::fs::read_to_string(file.unwrap().path())
            .unwrap()
            .lines()
        {
            entries.push(serde_json::from_str::<AuditEntry>(line).unwrap());
        }
    }
    // Entries are written when each response ends; the calls were sequential, so order by start.
    entries.sort_by_key(|e| e.timestamp);
    // The chain's final checkpoint, written on shutdown, seals the log.
    let sealed = entries.pop().unwrap();
    assert_eq!(sealed.endpoint, audit_core::chain::CHECKPOINT_ENDPOINT);
    assert_eq!(sealed.fields["final"], true);
    let endpoints: Vec<&str> = entries.iter().map(|e| e.endpoint.as_str()).collect();
    assert_eq!(
        endpoints,
        [
            "sow_create",
            "sow_create",
            "sow_get",
            "sow_get",
            "login",
            "report",
            "upload",
            "panic_demo"
        ],
        "one entry per audited call, none for /health"
    );
    let created = &entries[0];
    assert_eq!(created.request.as_ref().unwrap()["client_id"], "CLIENT-001");
    let sow_text = created.response_summary.as_ref().unwrap()["sow_text"]
        .as_str()
        .unwrap();
    assert!(
        sow_text.starts_with('<') && sow_text.ends_with(" characters>"),
        "{sow_text}"
    );
    assert_eq!(entries[1].status_code, Some(422));
    assert_eq!(entries[3].outcome, Outcome::ClientError);
    let login = &entries[4];
    assert_eq!(login.user, "alice");
    assert_eq!(login.request.as_ref().unwrap()["password"], "[REDACTED]");
    assert!(entries
        .iter()
        .all(|e| !serde_json::to_string(e).unwrap().contains("hunter2")));
    assert_eq!(entries[5].response_bytes, Some(report.len() as u64));
    assert_eq!(entries[6].request_bytes, Some(3_000_000));
    assert_eq!(
        (entries[7].outcome, entries[7].status_code),
        (Outcome::Panic, Some(500))
    );

    // The README's jq queries, where jq is installed.
    if let Some(found) = jq(
        &[
            "-c",
            r#"select(.endpoint == "sow_create" and .request.client_id == "CLIENT-001") | .status_code"#,
        ],
        dir.path(),
    ) {
        assert_eq!(found.trim(), "200");
        let averages = jq(
            &["-c", "-s", "map(select(.endpoint | startswith(\"audit.\") | not)) | group_by(.endpoint) | map({endpoint: .[0].endpoint, avg: (map(.duration_seconds) | add / length)})"],
            dir.path(),
        )
        .unwrap();
        let averages: serde_json::Value = serde_json::from_str(&averages).unwrap();
        assert_eq!(averages.as_array().unwrap().len(), 6);
        let cost = jq(
            &["-s", "map(.response_summary.cost_usd // 0) | add"],
            dir.path(),
        )
        .unwrap();
        assert_eq!(cost.trim(), "0.46");
    }
}
