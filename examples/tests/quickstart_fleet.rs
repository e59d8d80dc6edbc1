//! The quickstart publishing to NATS JetStream (`AUDIT_SINK=nats://…`) and, in the same run,
//! straight into PostgreSQL; a collector then moves the stream into a second table. Both
//! tables must hold the same entries, field for field: the fleet tier changes where entries
//! travel, not what they say.
#![cfg(all(feature = "nats", feature = "postgres"))]

mod support;

use std::time::Duration;

use audit_core::nats::Collector;
use audit_core::postgres::{entry_from_row, PostgresSink};
use audit_core::{AuditEntry, SinkSpec};
use support::Quickstart;
use tokio_postgres::NoTls;

fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn nats_url() -> String {
    std::env::var("AUDIT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

async fn entries(client: &tokio_postgres::Client, schema: &str) -> Vec<AuditEntry> {
    let rows = client
        .query(
            &format!("SELECT * FROM \"{schema}\".audit_log ORDER BY id"),
            &[],
        )
        .await
        .unwrap();
    rows.iter()
        .map(|row| entry_from_row(row).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collected_from_the_stream_equals_written_directly() {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let (direct, collected, stream) = (
        format!("qs_direct_{id}"),
        format!("qs_collected_{id}"),
        format!("QS_{id}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let sinks = format!(
        "nats://127.0.0.1:{}?stream={stream}&subject=qs_{id}.{{service}}&service=quickstart&spool={},{}?audit_schema={direct}&audit_spool={}",
        nats_url().rsplit(':').next().unwrap(),
        dir.path().join("nats_spool").display(),
        database_url(),
        dir.path().join("pg_spool").display()
    );
    let server = Quickstart::start(dir.path(), Some(&sinks));
    let sow =
        r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;
    for _ in 0..3 {
        assert_eq!(
            server.call("POST", "/api/v1/sow/create", sow, &[]).await.0,
            200
        );
    }
    let login = r#"{"username":"alice","password":"hunter2"}"#;
    assert_eq!(
        server.call("POST", "/api/v1/login", login, &[]).await.0,
        200
    );
    let trip = r#"{"destination":"Lisbon","fail_at":"reserve_car"}"#;
    assert_eq!(server.call("POST", "/api/v1/trips", trip, &[]).await.0, 409);
    assert_eq!(server.call("GET", "/no/such/route", "", &[]).await.0, 404);
    server.stop().await;

    // Collect the stream into the second table.
    let SinkSpec::Nats(source) =
        SinkSpec::parse(&format!("{}?stream={stream}", nats_url())).unwrap()
    else {
        panic!("a NATS spec");
    };
    let table = PostgresSink::builder(&database_url())
        .unwrap()
        .schema(&collected)
        .spool_dir(dir.path().join("collector_spool"))
        .open()
        .unwrap();
    let mut collector = Collector::builder(&source)
        .max_wait(Duration::from_millis(300))
        .connect(table)
        .await
        .unwrap();
    while collector.pending().await.unwrap() > 0 || collector.stats().collected() == 0 {
        collector.collect_once().await.unwrap();
    }
    assert_eq!(collector.stats().gaps(), 0);
    collector.close().await.unwrap();

    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let written = entries(&client, &direct).await;
    let moved = entries(&client, &collected).await;
    // 3 SOWs, a login, the trip and its saga's operations, a 404, the final checkpoint.
    assert!(written.len() > 10, "{}", written.len());
    assert_eq!(moved.len(), written.len());
    for (a, b) in moved.iter().zip(&written) {
        assert_eq!(a, b);
    }
    assert!(
        written.iter().all(|e| e.chain.is_some()),
        "one chain for both sinks"
    );
    let login = written.iter().find(|e| e.endpoint == "login");
    assert_eq!(
        login
            .and_then(|e| e.request.as_ref())
            .map(|r| r["password"].clone()),
        Some(serde_json::json!(audit_core::REDACTED))
    );
    for schema in [&direct, &collected] {
        client
            .execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"), &[])
            .await
            .unwrap();
    }
    let nats = async_nats::connect(nats_url()).await.unwrap();
    let _ = async_nats::jetstream::new(nats)
        .delete_stream(&stream)
        .await;
}
