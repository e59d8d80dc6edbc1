//! The PostgreSQL sink against the machine's real server (`AUDIT_TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test works in its own schema and drops it.
#![cfg(feature = "postgres")]

use std::collections::HashSet;
use std::time::Duration;

use audit_core::postgres::{entry_from_row, PostgresSink};
use audit_core::{AuditEntry, Auditor, Outcome, Sink};
use serde_json::json;
use tokio_postgres::{Client, NoTls};

#[path = "common/proxy.rs"]
mod proxy;
use proxy::Proxy;

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Host, port, user and database of [`database_url`], to build URLs to the same server.
fn server() -> (String, u16, String, String) {
    let config: tokio_postgres::Config = database_url().parse().unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        #[allow(unreachable_patterns)]
        _ => "127.0.0.1".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres").to_owned();
    let dbname = config.get_dbname().unwrap_or("test").to_owned();
    (host, port, user, dbname)
}

async fn admin() -> Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("PostgreSQL must be reachable at AUDIT_TEST_DATABASE_URL (.ci/run starts it)");
    tokio::spawn(connection);
    client
}

/// A schema of its own, dropped by [`TestSchema::drop`].
struct TestSchema {
    name: String,
    spool: tempfile::TempDir,
}

impl TestSchema {
    fn new() -> Self {
        TestSchema {
            name: format!("audit_test_{}", uuid::Uuid::now_v7().simple()),
            spool: tempfile::tempdir().unwrap(),
        }
    }

    /// A sink builder for `url`, writing into this schema, spooling into this test's directory.
    fn builder(&self, url: &str) -> audit_core::postgres::PostgresSinkBuilder {
        PostgresSink::builder(url)
            .unwrap()
            .schema(&self.name)
            .spool_dir(self.spool.path())
    }

    fn sink(&self, url: &str) -> PostgresSink {
        self.builder(url)
            .connect_timeout(Duration::from_secs(2))
            .open()
            .unwrap()
    }

    async fn count(&self, client: &Client) -> (i64, i64) {
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*), count(DISTINCT id) FROM \"{}\".audit_log",
                    self.name
                ),
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    }

    async fn drop(self, client: &Client) {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

fn full_entry() -> AuditEntry {
    let mut entry = AuditEntry::new("sow_create");
    entry.method = Some("POST".into());
    entry.route = Some("/api/v1/sow/{id}".into());
    entry.path = Some("/api/v1/sow/7".into());
    entry.query = Some("token=[REDACTED]&page=2".into());
    entry.user = "alice".into();
    entry.request =
        Some(json!({"client_id": "CLIENT-001", "nested": {"a": [1, 2, "<3 more items>"]}}));
    entry.response_summary = Some(json!({"sow_text": "<5234 characters>", "cost_usd": 0.23}));
    entry.status_code = Some(201);
    entry.duration_seconds = 0.034523;
    entry.outcome = Outcome::ClientError;
    entry.error = Some("boom \u{1F4A5} with 'quotes' and \"double\"".into());
    entry.correlation_id = Some("req-1".into());
    entry.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    entry.span_id = Some("00f067aa0ba902b7".into());
    entry.client_addr = Some("203.0.113.9".into());
    entry.peer_addr = Some("127.0.0.1:5000".into());
    entry.user_agent = Some("curl/8".into());
    entry.grpc = Some(audit_core::GrpcStatus::new(
        5,
        Some("no such feature".into()),
    ));
    entry.response_encoding = Some("gzip".into());
    entry.request_bytes = Some(12);
    entry.response_bytes = Some(5300);
    entry
        .headers
        .insert("authorization".into(), "[REDACTED]".into());
    entry.fields.insert("llm_calls".into(), 3.into());
    entry.tenant = Some("acme".into());
    entry.tags = vec!["llm".into(), "billing".into()];
    let mut operation = audit_core::OperationInfo::new(uuid::Uuid::now_v7(), "finished")
        .with_parent(uuid::Uuid::now_v7(), audit_core::Relation::Retry);
    operation.retryable = Some(false);
    entry.operation = Some(operation);
    entry
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_loses_and_duplicates_nothing() {
    let client = admin().await;
    let schema = TestSchema::new();
    let (host, port, user, dbname) = server();
    let proxy = Proxy::start(format!("{host}:{port}")).await;
    let via_proxy = format!("postgres://{user}@{}/{dbname}", proxy.addr);

    let sink = schema.sink(&via_proxy);
    let stats = sink.stats();
    let auditor = Auditor::builder().batch_size(200).build(sink).unwrap();
    let mut ids = HashSet::new();
    for round in 0..30 {
        if round == 10 {
            proxy.cut();
        }
        if round == 20 {
            proxy.restore();
        }
        for _ in 0..200 {
            let entry = AuditEntry::new("through_a_fault");
            ids.insert(entry.id);
            auditor.record(entry).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    auditor.shutdown().await.unwrap();
    assert_eq!(schema.count(&client).await, (6_000, 6_000));
    let stored: HashSet<uuid::Uuid> = client
        .query(
            &format!("SELECT id FROM \"{}\".audit_log", schema.name),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(stored, ids);
    assert!(
        stats.spooled_batches() > 0,
        "some batches went through the spool"
    );
    assert_eq!(stats.replayed_batches(), stats.spooled_batches());
    assert!(stats.connects() >= 2, "it reconnected");
    assert_eq!(
        std::fs::read_dir(schema.spool.path()).unwrap().count(),
        0,
        "the spool is empty again"
    );
    schema.drop(&client).await;
}

#[tokio::test]
async fn an_unreachable_database_spools_and_the_next_start_replays() {
    let client = admin().await;
    let schema = TestSchema::new();
    // Nothing listens on port 9 of loopback.
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..50).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    down.close().await.unwrap();
    assert_eq!(down.stats().spooled_batches(), 1);
    // The next start, with the database reachable, replays the spool before its own batch.
    let mut up = schema.sink(&database_url());
    up.write(&[AuditEntry::new("online")]).await.unwrap();
    assert_eq!(up.stats().replayed_batches(), 1);
    assert_eq!(schema.count(&client).await, (51, 51));
    schema.drop(&client).await;
}

/// #11 finding 5: a spool left by an earlier run is replayed when the writer starts, without
/// waiting for new traffic.
#[tokio::test]
async fn a_spool_is_replayed_at_start_without_new_traffic() {
    let client = admin().await;
    let schema = TestSchema::new();
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..30).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    down.close().await.unwrap();
    // A new auditor on the same spool, the database reachable, and no entry recorded.
    let up = schema.sink(&database_url());
    let stats = up.stats();
    let auditor = audit_core::Auditor::builder().build(up).unwrap();
    // The writer creates the table when it connects: until then there is nothing to count.
    let table = format!("SELECT count(*) FROM \"{}\".audit_log", schema.name);
    for _ in 0..100 {
        if let Ok(row) = client.query_one(&table, &[]).await {
            if row.get::<_, i64>(0) == 30 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(schema.count(&client).await, (30, 30));
    assert_eq!(stats.replayed_batches(), 1);
    auditor.shutdown().await.unwrap();
    schema.drop(&client).await;
}

/// #11 finding 5, the timer: batches that land in the spool while the writer runs are replayed
/// once it has been idle a few seconds, without new traffic.
#[tokio::test]
async fn an_idle_writer_replays_the_spool() {
    let client = admin().await;
    let schema = TestSchema::new();
    let up = schema.sink(&database_url());
    let auditor = audit_core::Auditor::builder().build(up).unwrap();
    auditor.record(AuditEntry::new("online")).await.unwrap();
    auditor.flush().await.unwrap();
    // Another writer spools into the same directory while the database is away for it.
    let mut down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let batch: Vec<AuditEntry> = (0..20).map(|_| AuditEntry::new("offline")).collect();
    down.write(&batch).await.unwrap();
    let mut rows = 0;
    for _ in 0..200 {
        rows = schema.count(&client).await.0;
        if rows == 21 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows, 21, "the spooled batch was replayed while idle");
    auditor.shutdown().await.unwrap();
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

/// Encrypted, verified against a given root, refused under a name the certificate does not
/// hold: the same for each TLS implementation. The machine's server has TLS on with Debian's
/// self-signed `localhost` certificate.
#[cfg(any(feature = "postgres-tls", feature = "postgres-rustls"))]
async fn tls_connections_are_encrypted_and_verified(provider: audit_core::postgres::TlsProvider) {
    const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let client = admin().await;
    let schema = TestSchema::new();
    let config: tokio_postgres::Config = database_url().parse().unwrap();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("postgres");
    let dbname = config.get_dbname().unwrap_or("test");
    let url = format!(
        "postgres://{user}@localhost:{port}/{dbname}?sslmode=require&application_name={}",
        schema.name
    );

    // Verified against the server's own certificate as root, host name `localhost`.
    let mut sink = schema
        .builder(&url)
        .tls_provider(provider)
        .tls_root_cert(SNAKEOIL)
        .open()
        .unwrap();
    sink.connect().await.unwrap();
    sink.write(&[AuditEntry::new("over_tls")]).await.unwrap();
    let encrypted: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.application_name = $1",
            &[&schema.name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(encrypted, 1, "the sink's connection is encrypted");
    assert_eq!(schema.count(&client).await, (1, 1));
    drop(sink);

    // Verified, but reached as 127.0.0.1: the certificate names `localhost` only, so it is
    // refused, and the error says why.
    let by_address = url.replace("@localhost:", "@127.0.0.1:");
    let mut strict = schema
        .builder(&by_address)
        .tls_provider(provider)
        .tls_root_cert(SNAKEOIL)
        .open()
        .unwrap();
    let err = strict.connect().await.unwrap_err().to_string();
    assert!(
        err.contains("certificate") || err.contains("tls") || err.contains("TLS"),
        "{provider:?}: {err}"
    );
    drop(strict);

    // Without a root: encrypted, not authenticated (libpq's sslmode=require), under any name.
    let mut encrypt_only = schema
        .builder(&by_address)
        .tls_provider(provider)
        .open()
        .unwrap();
    encrypt_only.connect().await.unwrap();
    encrypt_only
        .write(&[AuditEntry::new("encrypted_only")])
        .await
        .unwrap();
    assert_eq!(schema.count(&client).await, (2, 2));
    schema.drop(&client).await;
}

#[cfg(feature = "postgres-tls")]
#[tokio::test]
async fn tls_through_native_tls() {
    tls_connections_are_encrypted_and_verified(audit_core::postgres::TlsProvider::Native).await;
}

#[cfg(feature = "postgres-rustls")]
#[tokio::test]
async fn tls_through_rustls() {
    tls_connections_are_encrypted_and_verified(audit_core::postgres::TlsProvider::Rustls).await;
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

/// #11 finding 4: the auditor's counters tell entries in the spool from entries stored.
#[tokio::test]
async fn the_counters_tell_spooled_entries_from_stored_ones() {
    let client = admin().await;
    let schema = TestSchema::new();
    let down = schema.sink("postgres://postgres@127.0.0.1:9/test");
    let auditor = audit_core::Auditor::builder().build(down).unwrap();
    for _ in 0..40 {
        auditor.record(AuditEntry::new("offline")).await.unwrap();
    }
    auditor.flush().await.unwrap();
    let stats = auditor.stats();
    assert_eq!((stats.written, stats.spooled), (40, 40));
    auditor.shutdown().await.unwrap();
    assert_eq!(auditor.stats().spooled, 40);
    // The next run finds them, replays them at start, and says the spool is empty.
    let up = audit_core::Auditor::builder()
        .build(schema.sink(&database_url()))
        .unwrap();
    assert_eq!(
        up.stats().spooled,
        40,
        "counted at start, before the replay"
    );
    up.flush().await.unwrap();
    let mut spooled = 40;
    for _ in 0..100 {
        spooled = up.stats().spooled;
        if spooled == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(spooled, 0);
    assert_eq!(schema.count(&client).await, (40, 40));
    up.shutdown().await.unwrap();
    schema.drop(&client).await;
}
