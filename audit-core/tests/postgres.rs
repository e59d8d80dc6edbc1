//! The PostgreSQL sink against the machine's real server: the table and its schema, every
//! field stored and read back, deduplication, concurrency, the append-only role, partitions.
//! Each test works in its own schema and drops it.
#![cfg(feature = "postgres")]

use audit_core::postgres::{entry_from_row, PostgresSink};
use audit_core::{AuditEntry, Auditor, Sink};
use serde_json::json;
use tokio_postgres::NoTls;

#[path = "common/postgres.rs"]
mod pg;
use pg::{admin, database_url, full_entry, server, TestSchema};

#[tokio::test]
async fn two_concurrent_starters_create_the_table_once() {
    let client = admin().await;
    let schema = TestSchema::new();
    let (mut a, mut b) = (schema.sink(&database_url()), schema.sink(&database_url()));
    let (ra, rb) = tokio::join!(a.connect(), b.connect());
    ra.unwrap();
    rb.unwrap();
    let migrations: i64 = client
        .query_one(
            &format!(
                "SELECT count(*) FROM \"{}\".audit_log_migrations",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(migrations, 4);
    let indexes: Vec<String> = client
        .query("SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit_log' ORDER BY 1", &[&schema.name])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        indexes,
        [
            "audit_log_chain",
            "audit_log_correlation",
            "audit_log_endpoint_ts",
            "audit_log_failures",
            "audit_log_operation",
            "audit_log_operation_parent",
            "audit_log_pkey",
            "audit_log_tags",
            "audit_log_tenant_ts",
            "audit_log_ts_brin",
            "audit_log_user_ts"
        ]
    );
    let brin_options: Option<Vec<String>> = client
        .query_one(
            "SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'audit_log_ts_brin'",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(brin_options, Some(vec!["autosummarize=on".to_string()]));
    schema.drop(&client).await;
}

#[tokio::test]
async fn every_field_round_trips() {
    let client = admin().await;
    let schema = TestSchema::new();
    let mut sink = schema.sink(&database_url());
    let entry = full_entry();
    let mut minimal = AuditEntry::new("job");
    minimal.duration_seconds = 1.5;
    sink.write(&[entry.clone(), minimal.clone()]).await.unwrap();
    let rows = client
        .query(
            &format!("SELECT * FROM \"{}\".audit_log ORDER BY id", schema.name),
            &[],
        )
        .await
        .unwrap();
    let back: Vec<AuditEntry> = rows.iter().map(|r| entry_from_row(r).unwrap()).collect();
    for (stored, original) in back.iter().zip([&entry, &minimal]) {
        assert_eq!(stored, original);
    }
    schema.drop(&client).await;
}

/// Rows give back entries whose chain hashes still check: the chain can be verified from the
/// database (`audit verify postgres://…`).
#[tokio::test]
async fn chained_entries_read_back_from_rows_keep_their_hashes() {
    let client = admin().await;
    let schema = TestSchema::new();
    let auditor = Auditor::builder()
        .chain(audit_core::chain::ChainConfig::enabled())
        .build(schema.sink(&database_url()))
        .unwrap();
    let mut odd = full_entry();
    odd.duration_seconds = 0.1 + 0.2; // 0.30000000000000004: no decimal shortcut
    odd.fields.insert("big".into(), u64::MAX.into());
    odd.fields.insert("tiny".into(), 1e-300.into());
    odd.fields.insert("\u{1f600}".into(), "non-BMP key".into());
    for entry in [full_entry(), AuditEntry::new("job"), odd] {
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    let rows = client
        .query(
            &format!(
                "SELECT * FROM \"{}\".audit_log ORDER BY chain_seq",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 4, "three entries and the final checkpoint");
    let mut prev = audit_core::chain::GENESIS.to_owned();
    for row in &rows {
        let entry = entry_from_row(row).unwrap();
        let link = entry.chain.clone().expect("chained");
        assert_eq!(link.prev, prev);
        let value = serde_json::to_value(&entry).unwrap();
        assert_eq!(
            audit_core::chain::hash_value(&value),
            link.hash,
            "seq {}",
            link.seq
        );
        prev = link.hash;
    }
    schema.drop(&client).await;
}

#[tokio::test]
async fn a_retried_batch_is_not_duplicated() {
    let client = admin().await;
    let schema = TestSchema::new();
    let mut sink = schema.sink(&database_url());
    let batch: Vec<AuditEntry> = (0..500).map(|_| AuditEntry::new("retry")).collect();
    sink.write(&batch[..300]).await.unwrap();
    // The whole batch again, as after a commit whose answer was lost.
    sink.write(&batch).await.unwrap();
    sink.write(&batch).await.unwrap();
    assert_eq!(schema.count(&client).await, (500, 500));
    assert_eq!(sink.stats().deduplicated_batches(), 2);
    assert_eq!(sink.stats().spooled_batches(), 0);
    schema.drop(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_tasks_write_100_000_entries_exactly_once() {
    let client = admin().await;
    let schema = TestSchema::new();
    let auditor = Auditor::builder()
        .build(schema.sink(&database_url()))
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|task| {
            let auditor = auditor.clone();
            tokio::spawn(async move {
                for i in 0..6_250 {
                    let mut entry = AuditEntry::new("load");
                    entry.fields.insert("task".into(), task.into());
                    entry.fields.insert("i".into(), i.into());
                    auditor.record(entry).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(schema.count(&client).await, (100_000, 100_000));
    assert_eq!(auditor.stats().failed_entries, 0);
    schema.drop(&client).await;
}

#[tokio::test]
async fn the_append_only_role_of_the_docs_can_write_but_not_change() {
    let client = admin().await;
    let schema = TestSchema::new();
    // The owner creates the table once.
    schema.sink(&database_url()).connect().await.unwrap();
    let role = format!("audit_writer_{}", &schema.name[11..27]);
    let database: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    let s = &schema.name;
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA \"{s}\" TO {role};
             GRANT INSERT ON \"{s}\".audit_log TO {role};
             GRANT SELECT ON \"{s}\".audit_log_migrations TO {role};
             GRANT TEMPORARY ON DATABASE \"{database}\" TO {role};
             REVOKE UPDATE, DELETE, TRUNCATE ON \"{s}\".audit_log FROM {role}, PUBLIC;"
        ))
        .await
        .unwrap();
    let (host, port, _, _) = server();
    let writer_url = format!("postgres://{role}@{host}:{port}/{database}");
    let mut sink = schema.sink(&writer_url);
    sink.connect().await.unwrap();
    let batch: Vec<AuditEntry> = (0..10).map(|_| AuditEntry::new("append_only")).collect();
    sink.write(&batch).await.unwrap();
    sink.write(&batch).await.unwrap(); // the deduplicating path works with these rights too
    assert_eq!(sink.stats().spooled_batches(), 0);
    assert_eq!(sink.stats().deduplicated_batches(), 1);
    assert_eq!(schema.count(&client).await, (10, 10));

    let (writer, connection) = tokio_postgres::connect(&writer_url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let mut refused = Vec::new();
    for change in [
        format!("UPDATE \"{s}\".audit_log SET user_id = 'mallory'"),
        format!("DELETE FROM \"{s}\".audit_log"),
        format!("TRUNCATE \"{s}\".audit_log"),
    ] {
        let code = writer
            .batch_execute(&change)
            .await
            .err()
            .and_then(|e| e.code().cloned());
        refused.push((change, code));
    }
    drop(writer);
    drop(sink);
    schema.drop(&client).await;
    client
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"))
        .await
        .unwrap();
    for (change, code) in refused {
        assert_eq!(
            code,
            Some(tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{change}"
        );
    }
}

#[tokio::test]
async fn partitions_are_created_ahead_and_expire_whole() {
    use audit_core::postgres::Partitioning;
    let client = admin().await;
    let schema = TestSchema::new();
    let partitioned = |retention: Option<u32>| {
        let mut builder = schema
            .builder(&database_url())
            .partition_by(Partitioning::Daily);
        if let Some(days) = retention {
            builder = builder.retention_days(days);
        }
        builder.open().unwrap()
    };
    // Two instances starting at once, as for the plain table.
    let (mut a, mut b) = (partitioned(None), partitioned(None));
    let (ra, rb) = tokio::join!(a.connect(), b.connect());
    ra.unwrap();
    rb.unwrap();

    let now = time::OffsetDateTime::now_utc();
    let at = |days: i64| {
        let mut entry = AuditEntry::new("partitioned");
        entry.timestamp = audit_core::Timestamp::from(now + time::Duration::days(days));
        entry
    };
    let batch = vec![at(0), at(-1), at(3), at(-400), at(400)];
    a.write(&batch).await.unwrap();
    a.write(&batch).await.unwrap(); // a retry: deduplicated across partitions too
    assert_eq!(a.stats().spooled_batches(), 0);
    assert_eq!(schema.count(&client).await, (5, 5));

    let placement: Vec<(String, String)> = client
        .query(
            &format!(
                "SELECT tableoid::regclass::text, to_char(ts AT TIME ZONE 'UTC', 'YYYYMMDD') FROM \"{}\".audit_log ORDER BY ts",
                schema.name
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (partition, day) in &placement {
        let expected_in_own = !partition.ends_with("_pdefault");
        if expected_in_own {
            assert!(
                partition.ends_with(&format!("audit_log_p{day}")),
                "{partition} holds {day}"
            );
        }
    }
    let in_default = placement
        .iter()
        .filter(|(p, _)| p.ends_with("_pdefault"))
        .count();
    assert_eq!(
        in_default, 2,
        "a year back and a year ahead land in the default partition: {placement:?}"
    );

    // An old partition, as one created 40 days ago, with a row in it.
    let old = (now - time::Duration::days(40)).date();
    let old_name = format!(
        "audit_log_p{:04}{:02}{:02}",
        old.year(),
        u8::from(old.month()),
        old.day()
    );
    client
        .batch_execute(&format!(
            "CREATE TABLE \"{s}\".\"{old_name}\" PARTITION OF \"{s}\".audit_log FOR VALUES FROM ('{old} 00:00:00+00') TO ('{next} 00:00:00+00')",
            s = schema.name,
            next = old.next_day().unwrap()
        ))
        .await
        .unwrap();
    a.write(&[at(-40)]).await.unwrap();
    assert_eq!(schema.count(&client).await, (6, 6));
    // An instance with 30 days of retention drops the whole partition, row and all.
    let mut keeper = partitioned(Some(30));
    keeper.connect().await.unwrap();
    let dropped = keeper.maintain().await.unwrap();
    assert_eq!(dropped, std::slice::from_ref(&old_name));
    let remaining: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema.name, &old_name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(remaining, 0);
    assert_eq!(schema.count(&client).await, (5, 5));
    schema.drop(&client).await;
}

#[test]
fn retention_without_partitions_is_refused() {
    let err = PostgresSink::builder("postgres://u@h/db")
        .unwrap()
        .retention_days(30)
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("partition_by"), "{err}");
}

/// PostgreSQL refuses NUL characters in `text` and `jsonb`; an entry holding one must not
/// fail its batch forever (retries, spool replays): it is stored with U+FFFD instead.
#[tokio::test]
async fn nul_characters_do_not_poison_a_batch() {
    let client = admin().await;
    let schema = TestSchema::new();
    let mut sink = schema.sink(&database_url());
    let mut odd = AuditEntry::new("nul");
    odd.error = Some("bad\u{0}byte".into());
    odd.request = Some(json!({"name": "a\u{0}b", "k\u{0}": [1, "\u{0}"]}));
    odd.fields.insert("note".into(), "x\u{0}".into());
    let plain = AuditEntry::new("plain");
    sink.write(&[odd.clone(), plain]).await.unwrap();
    assert_eq!(schema.count(&client).await, (2, 2));
    assert_eq!(sink.stats().spooled_batches(), 0);
    let row = client
        .query_one(
            &format!("SELECT * FROM \"{}\".audit_log WHERE id = $1", schema.name),
            &[&odd.id],
        )
        .await
        .unwrap();
    let back = entry_from_row(&row).unwrap();
    assert_eq!(back.error.as_deref(), Some("bad\u{FFFD}byte"));
    assert_eq!(
        back.request,
        Some(json!({"name": "a\u{FFFD}b", "k\u{FFFD}": [1, "\u{FFFD}"]}))
    );
    assert_eq!(back.fields["note"], "x\u{FFFD}");
    schema.drop(&client).await;
}
