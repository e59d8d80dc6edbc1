//! `audit show`, `audit operations` and the `--tenant`/`--tag` filters, on a log written by
//! the operation API: a retry chain, a retryable failure nobody retried, a saga whose third
//! step failed. With the `postgres` feature the same entries also go to a table of the
//! machine's server (`AUDIT_TEST_DATABASE_URL`), and every answer must be the same from both.

use std::process::{Command, Output};

use audit_core::jsonl::JsonlSink;
use audit_core::{AuditEntry, Auditor, Sink};
use serde_json::{json, Value};

/// The ids the assertions need.
struct Written {
    first_try: String,
    third_try: String,
    unretried: String,
    other_tenant: String,
    flight: String,
    hotel: String,
}

fn write(sink: Box<dyn Sink>) -> Written {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let auditor = Auditor::builder().build(sink).unwrap();
        let blog = || {
            auditor
                .operation("blog_generate")
                .user("alice")
                .tenant("acme")
                .tag("llm")
        };
        let first = blog().input(json!({"topic_id": 7})).start();
        first.stage("topic_ranked");
        let first_try = first.id();
        first.fail("provider timeout", true);
        let second = blog().retry_of(first_try).start();
        let second_try = second.id();
        second.fail("provider timeout again", true);
        let third = blog()
            .field("provider", "anthropic")
            .retry_of(second_try)
            .start();
        let third_try = third.id();
        third.succeed(json!({"words": 1200}));

        let import = auditor
            .operation("import_csv")
            .user("alice")
            .tenant("acme")
            .start();
        let unretried = import.id();
        import.fail("the file server was down", true);
        let other = auditor
            .operation("blog_generate")
            .user("bob")
            .tenant("globex")
            .tag("llm")
            .start();
        let other_tenant = other.id();
        other.fail("quota exceeded", true);

        let mut saga = auditor
            .operation("book_trip")
            .user("alice")
            .tenant("acme")
            .start_saga();
        let undo = |_: &String| async { Ok::<_, String>(()) };
        saga.step_compensable(
            "reserve_flight",
            async { Ok::<_, String>("FL-1".to_owned()) },
            undo,
        )
        .await
        .unwrap();
        saga.step_compensable(
            "reserve_hotel",
            async { Ok::<_, String>("HT-2".to_owned()) },
            undo,
        )
        .await
        .unwrap();
        let failed = saga
            .step_compensable("reserve_car", async { Err::<String, _>("no cars") }, undo)
            .await;
        let reports = failed.unwrap_err().compensations().to_vec();

        let mut plain = AuditEntry::new("invoice_send");
        plain.tenant = Some("acme".into());
        plain.tags = vec!["billing".into()];
        auditor.record(plain).await.unwrap();
        auditor.shutdown().await.unwrap();
        let id_of = |step: &str| {
            reports
                .iter()
                .find(|r| r.step == step)
                .map(|r| r.step_id.to_string())
                .unwrap()
        };
        Written {
            first_try: first_try.to_string(),
            third_try: third_try.to_string(),
            unretried: unretried.to_string(),
            other_tenant: other_tenant.to_string(),
            flight: id_of("reserve_flight"),
            hotel: id_of("reserve_hotel"),
        }
    })
}

fn audit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_audit"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let output = audit(args);
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The listed operations' ids, in order.
fn listed(source: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["operations", source, "--json"];
    args.extend_from_slice(extra);
    json_lines(&stdout(&args))
        .iter()
        .map(|o| o["operation"].as_str().unwrap().to_owned())
        .collect()
}

/// Every question of this file, asked of `source`.
#[cfg(feature = "postgres")]
fn answers(source: &str, ids: &Written) -> Vec<String> {
    let questions: Vec<Vec<&str>> = vec![
        vec!["show", source, &ids.third_try],
        vec!["show", source, &ids.first_try, "--json"],
        vec!["operations", source, "--retryable", "--json"],
        vec!["operations", source, "--retryable", "--tenant", "acme"],
        vec!["operations", source, "--compensated", "--json"],
        vec!["operations", source, "--tag", "llm"],
        vec!["query", source, "--tenant", "acme", "--tag", "billing"],
        vec!["query", source, "--tag", "llm", "--user", "bob"],
        vec!["stats", source, "--tenant", "globex", "--json"],
    ];
    questions.iter().map(|q| stdout(q)).collect()
}

fn check(source: &str, ids: &Written) {
    // The retry chain, from its first attempt, whichever attempt is asked for.
    let tree = stdout(&["show", source, &ids.third_try]);
    let heads: Vec<&str> = tree
        .lines()
        .filter(|l| !l.starts_with("  ") || l.trim_start().starts_with("retry"))
        .collect();
    assert!(
        heads[0].starts_with("blog_generate ") && heads[0].contains(&ids.first_try),
        "{tree}"
    );
    assert!(tree.contains("retry blog_generate"), "{tree}");
    assert!(
        tree.contains("attempt 2") && tree.contains("attempt 3"),
        "{tree}"
    );
    assert!(tree.contains("topic_ranked"), "{tree}");
    assert!(tree.contains("provider timeout (retryable)"), "{tree}");
    let asked = tree.lines().find(|l| l.contains("<- asked")).unwrap();
    assert!(
        asked.contains(&ids.third_try) && asked.contains("success"),
        "{tree}"
    );

    // As JSON lines: every entry of the three attempts, in order.
    let entries = json_lines(&stdout(&["show", source, &ids.first_try, "--json"]));
    let stages: Vec<&str> = entries
        .iter()
        .map(|e| e["operation"]["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "started",
            "topic_ranked",
            "finished",
            "started",
            "finished",
            "started",
            "finished"
        ]
    );

    // Retryable failures that nothing made good: not the chain that finally succeeded.
    assert_eq!(
        listed(source, &["--retryable"]),
        [ids.unretried.clone(), ids.other_tenant.clone()]
    );
    assert_eq!(
        listed(source, &["--retryable", "--tenant", "acme"]),
        std::slice::from_ref(&ids.unretried)
    );
    // Compensated successes: the saga's first two steps.
    assert_eq!(
        listed(source, &["--compensated"]),
        [ids.flight.clone(), ids.hotel.clone()]
    );

    let billing = json_lines(&stdout(&[
        "query", source, "--tenant", "acme", "--tag", "billing",
    ]));
    assert_eq!(billing.len(), 1);
    assert_eq!(billing[0]["endpoint"], "invoice_send");
    let bob = json_lines(&stdout(&["query", source, "--tag", "llm", "--user", "bob"]));
    assert_eq!(bob.len(), 2, "bob's started and finished entries");
    assert!(bob.iter().all(|e| e["tenant"] == "globex"));

    // An unknown id says what to give instead.
    let unknown = audit(&["show", source, "not-an-id"]);
    assert_eq!(unknown.status.code(), Some(2));
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("no operation `not-an-id`"), "{message}");
}

#[test]
fn operations_are_shown_and_listed_from_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    let ids = write(Box::new(JsonlSink::builder(&dir).open().unwrap()));
    check(dir.to_str().unwrap(), &ids);
}

#[cfg(feature = "postgres")]
#[test]
fn the_table_answers_operation_questions_like_the_files() {
    use audit_core::postgres::PostgresSink;
    use audit_core::Fanout;

    let url = std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("audit_ops_{}", uuid::Uuid::now_v7().simple());
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("audit_logs");
    let table = PostgresSink::builder(&url)
        .unwrap()
        .schema(&schema)
        .spool_dir(root.path().join("spool"))
        .open()
        .unwrap();
    let sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(JsonlSink::builder(&dir).open().unwrap()),
        Box::new(table),
    ];
    let ids = write(Box::new(Fanout::new(sinks)));
    let table_url = format!("{url}?audit_schema={schema}");
    let result = std::panic::catch_unwind(|| {
        check(&table_url, &ids);
        assert_eq!(
            answers(&table_url, &ids),
            answers(dir.to_str().unwrap(), &ids)
        );
    });
    drop_schema(&url, &schema);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

#[cfg(feature = "postgres")]
fn drop_schema(url: &str, schema: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"), &[])
            .await
            .unwrap();
    });
}
