//! PostgreSQL ingest, in one run against the same server: the sink beside raw binary COPY (the
//! practical limit), multi-row INSERTs of 1,000 and one INSERT per entry. Every table is made
//! by the sink's own migration (same columns, same indexes) in a schema of its own.
//!
//! ```sh
//! cargo bench -p audit-core --features postgres --bench postgres
//! ```
//! Uses `AUDIT_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and drops
//! its schemas at the end.

use std::time::Duration;

use audit_core::postgres::{column_names, copy_entries, PostgresSink, RowValues};
use audit_core::{AuditEntry, Outcome, Scrubber, Sink};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::json;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

const BATCH: usize = 1000;

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn batch(scrubber: &Scrubber) -> Vec<AuditEntry> {
    (0..BATCH)
        .map(|i| {
            let mut entry = AuditEntry::new("sow_create");
            entry.method = Some("POST".into());
            entry.route = Some("/api/v1/sow/create".into());
            entry.path = Some("/api/v1/sow/create".into());
            entry.user = format!("user-{}", i % 50);
            entry.request = Some(
                scrubber
                    .object(json!({"client_id": "CLIENT-001", "product": "Real-Time Payments"})),
            );
            entry.response_summary =
                Some(scrubber.object(json!({"sow_text": "<5234 characters>", "cost_usd": 0.23})));
            entry.status_code = Some(200);
            entry.duration_seconds = 0.0345;
            entry.outcome = Outcome::Success;
            entry.correlation_id = Some(entry.id.to_string());
            entry.peer_addr = Some("127.0.0.1:51234".into());
            entry.user_agent = Some("curl/8.5.0".into());
            entry
        })
        .collect()
}

async fn connect() -> Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("PostgreSQL");
    tokio::spawn(connection);
    client
}

fn bench_postgres(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scrubber = Scrubber::default();
    let spool = tempfile::tempdir().expect("spool dir");
    let run = uuid::Uuid::now_v7().simple().to_string();
    let schema = |name: &str| format!("bench_{name}_{}", &run[..16]);
    let client = rt.block_on(connect());
    // One table per contender, each created by the sink's migration.
    let mut sinks = Vec::new();
    for name in ["sink", "copy", "multi", "single"] {
        let mut sink = PostgresSink::builder(&database_url())
            .expect("url")
            .schema(schema(name))
            .spool_dir(spool.path())
            .open()
            .expect("sink");
        rt.block_on(sink.connect()).expect("connect");
        sinks.push(sink);
    }
    let mut sink = sinks.remove(0);
    let table = |name: &str| format!("\"{}\".\"audit_log\"", schema(name));
    // As many parameters per row as the table has columns, whatever migrations added.
    let width = column_names().len();
    let columns = column_names().join(", ");
    let multi_insert = {
        let rows: Vec<String> = (0..BATCH)
            .map(|r| {
                let params: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                format!("({})", params.join(", "))
            })
            .collect();
        format!(
            "INSERT INTO {} ({columns}) VALUES {}",
            table("multi"),
            rows.join(", ")
        )
    };
    let single_insert = {
        let params: Vec<String> = (1..=width).map(|c| format!("${c}")).collect();
        format!(
            "INSERT INTO {} ({columns}) VALUES ({})",
            table("single"),
            params.join(", ")
        )
    };
    let (multi_statement, single_statement) = rt.block_on(async {
        (
            client.prepare(&multi_insert).await.expect("prepare"),
            client.prepare(&single_insert).await.expect("prepare"),
        )
    });

    let mut group = c.benchmark_group("postgres_ingest");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(10));
    // ABBA for the two close contenders, so neither always meets the fuller table.
    for round in [1, 2] {
        let order: [&str; 2] = if round == 1 {
            ["copy", "sink"]
        } else {
            ["sink", "copy"]
        };
        for which in order {
            if which == "sink" {
                group.bench_function(format!("audit_sink/{round}"), |b| {
                    b.iter_batched(
                        || batch(&scrubber),
                        |entries| rt.block_on(sink.write(&entries)).expect("write"),
                        BatchSize::PerIteration,
                    )
                });
            } else {
                let target = table("copy");
                group.bench_function(format!("raw_binary_copy/{round}"), |b| {
                    b.iter_batched(
                        || batch(&scrubber),
                        |entries| {
                            rt.block_on(copy_entries(&client, &target, &entries))
                                .expect("copy")
                        },
                        BatchSize::PerIteration,
                    )
                });
            }
        }
    }
    group.bench_function("multi_row_insert_1000", |b| {
        b.iter_batched(
            || batch(&scrubber),
            |entries| {
                let rows: Vec<RowValues> = entries.iter().map(RowValues::new).collect();
                let params: Vec<&(dyn ToSql + Sync)> =
                    rows.iter().flat_map(|r| r.params()).collect();
                rt.block_on(client.execute(&multi_statement, &params))
                    .expect("insert")
            },
            BatchSize::PerIteration,
        )
    });
    group.sample_size(10);
    group.bench_function("insert_per_entry", |b| {
        b.iter_batched(
            || batch(&scrubber),
            |entries| {
                rt.block_on(async {
                    for entry in &entries {
                        let row = RowValues::new(entry);
                        client
                            .execute(&single_statement, &row.params())
                            .await
                            .expect("insert");
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    assert_eq!(
        sink.stats().spooled_batches(),
        0,
        "the sink never fell back to its spool"
    );
    rt.block_on(async {
        for name in ["sink", "copy", "multi", "single"] {
            client
                .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", schema(name)))
                .await
                .expect("drop");
        }
    });
}

criterion_group!(benches, bench_postgres);
criterion_main!(benches);
