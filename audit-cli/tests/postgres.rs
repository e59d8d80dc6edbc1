//! `audit` with a `postgres://` SOURCE against the machine's real server
//! (`AUDIT_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`): the same
//! entries written to JSONL files and to a table answer every question the same way, and
//! `verify` finds edited and deleted rows. Each run works in its own schema and drops it.
#![cfg(feature = "postgres")]

use std::path::Path;
use std::process::{Command, Output};

use audit_core::chain::{ChainConfig, CheckpointKey};
use audit_core::jsonl::JsonlSink;
use audit_core::postgres::PostgresSink;
use audit_core::{AuditEntry, Auditor, Fanout, Outcome, Sink, Timestamp};
use serde_json::{json, Value};
use tokio_postgres::NoTls;

const KEY_HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs SQL as the test's administrator.
fn admin(sql: &str) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
            .await
            .expect("PostgreSQL must be reachable at AUDIT_TEST_DATABASE_URL (.ci/run starts it)");
        tokio::spawn(connection);
        client.execute(sql, &[]).await.unwrap()
    })
}

/// A schema of its own, dropped when the test ends, even by a failed assertion.
struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        admin(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
    }
}

fn entry(i: usize) -> AuditEntry {
    let (endpoint, client, status) = match i % 3 {
        0 => ("sow_create", "CLIENT-001", 200),
        1 => ("sow_create", "CLIENT-002", 503),
        _ => ("login", "CLIENT-003", 401),
    };
    let at: Timestamp = format!("2026-02-0{}T10:00:{:02}Z", 1 + i / 20, i % 60)
        .parse()
        .unwrap();
    let mut entry = AuditEntry::started_at(endpoint, at);
    entry.method = Some("POST".into());
    entry.path = Some(format!("/api/v1/{endpoint}"));
    entry.user = ["alice", "bob"][i % 2].into();
    entry.request = Some(json!({"client_id": client, "amount": i as f64 * 0.1}));
    entry.status_code = Some(status);
    entry.outcome = Outcome::from_status(status);
    entry.duration_seconds = (100 + i) as f64 / 1000.0;
    entry.correlation_id = Some(format!("req-{i}"));
    entry.request_bytes = Some(10);
    entry.response_bytes = Some(90);
    entry
}

/// 60 entries through one chained pipeline into both a JSONL directory and a table.
fn generate(dir: &Path, schema: &str, spool: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut table = PostgresSink::builder(&database_url())
            .unwrap()
            .schema(schema)
            .spool_dir(spool)
            .open()
            .unwrap();
        table.connect().await.unwrap();
        let sinks: Vec<Box<dyn Sink>> = vec![
            Box::new(JsonlSink::builder(dir).open().unwrap()),
            Box::new(table),
        ];
        let auditor = Auditor::builder()
            .chain(ChainConfig::enabled().checkpoint_key(CheckpointKey::parse(KEY_HEX).unwrap()))
            .build(Fanout::new(sinks))
            .unwrap();
        for i in 0..60 {
            auditor.record(entry(i)).await.unwrap();
        }
        auditor.shutdown().await.unwrap();
    });
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .env("AUDIT_CHECKPOINT_KEY", KEY_HEX)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success() || output.status.code() == Some(1),
        "{output:?}"
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_table_answers_like_the_files_and_verifies() {
    let schema = Schema(format!("audit_cli_{}", uuid::Uuid::now_v7().simple()));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    generate(&dir, &schema.0, &root.path().join("spool"));
    let files = dir.to_str().unwrap();
    let table = format!("{}?audit_schema={}", database_url(), schema.0);

    let questions: Vec<Vec<&str>> = vec![
        vec![
            "query",
            "--endpoint",
            "sow_create",
            "--where",
            "request.client_id=CLIENT-001",
        ],
        vec![
            "query",
            "--status",
            "5xx",
            "--since",
            "2026-02-02T00:00:00Z",
            "--until",
            "2026-02-03T00:00:00Z",
        ],
        vec![
            "query",
            "--user",
            "bob",
            "--outcome",
            "client_error",
            "--limit",
            "4",
        ],
        vec!["query", "--correlation-id", "req-7"],
        // Numbers compare as values on both sides (not pushed into SQL).
        vec!["query", "--where", "request.amount=0.5"],
        vec!["query", "--where", "method=POST", "--format", "csv"],
        vec!["stats", "--by", "endpoint", "--json"],
        vec![
            "stats",
            "--by",
            "day",
            "--where",
            "request.client_id=CLIENT-003",
            "--json",
        ],
    ];
    for question in questions {
        let with = |source: &str| {
            let mut args = vec![question[0], source];
            args.extend_from_slice(&question[1..]);
            stdout(&audit(&args))
        };
        let (from_files, from_table) = (with(files), with(&table));
        assert!(!from_files.trim().is_empty(), "{question:?} found nothing");
        assert_eq!(from_table, from_files, "{question:?}");
    }
    let one: Value = serde_json::from_str(
        stdout(&audit(&["query", &table, "--correlation-id", "req-7"])).trim(),
    )
    .unwrap();
    assert_eq!(one["request"]["client_id"], "CLIENT-002");

    // tail -n: the newest rows by start time.
    let tail = stdout(&audit(&["tail", &table, "-n", "2"]));
    assert_eq!(tail.lines().count(), 2, "{tail}");

    // verify: intact, with every signature checked; then an edited row and a deleted row.
    let intact = stdout(&audit(&["verify", &table]));
    assert!(
        intact.contains("61 entries") && intact.ends_with("intact\n"),
        "{intact}"
    );
    assert!(intact.contains("1 signature verified"), "{intact}");
    admin(&format!(
        "UPDATE \"{}\".audit_log SET user_id = 'mallory' WHERE correlation_id = 'req-11'",
        schema.0
    ));
    admin(&format!(
        "DELETE FROM \"{}\".audit_log WHERE correlation_id = 'req-30'",
        schema.0
    ));
    let output = audit(&["verify", &table]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("seq 12 (id") && text.contains("was edited"),
        "{text}"
    );
    assert!(text.contains("seq 31 is missing (deleted)"), "{text}");

    // A table that is not there, and a password kept out of messages.
    let missing = format!("{}?audit_schema=no_such_schema_here", database_url());
    let output = audit(&["query", &missing]);
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(error.contains("no_such_schema_here"), "{error}");
}
