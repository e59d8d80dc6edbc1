//! What the PostgreSQL sink's tests share: the machine's server (`AUDIT_TEST_DATABASE_URL`,
//! default `postgres://postgres@127.0.0.1:5432/test`), a schema per test, a full entry.
#![allow(dead_code)]

use std::time::Duration;

use audit_core::postgres::PostgresSink;
use audit_core::{AuditEntry, Outcome};
use serde_json::json;
use tokio_postgres::{Client, NoTls};

pub fn database_url() -> String {
    std::env::var("AUDIT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Host, port, user and database of [`database_url`], to build URLs to the same server.
pub fn server() -> (String, u16, String, String) {
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

pub async fn admin() -> Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("PostgreSQL must be reachable at AUDIT_TEST_DATABASE_URL (.ci/run starts it)");
    tokio::spawn(connection);
    client
}

/// A schema of its own, dropped by [`TestSchema::drop`].
pub struct TestSchema {
    pub name: String,
    pub spool: tempfile::TempDir,
}

impl TestSchema {
    pub fn new() -> Self {
        TestSchema {
            name: format!("audit_test_{}", uuid::Uuid::now_v7().simple()),
            spool: tempfile::tempdir().unwrap(),
        }
    }

    /// A sink builder for `url`, writing into this schema, spooling into this test's directory.
    pub fn builder(&self, url: &str) -> audit_core::postgres::PostgresSinkBuilder {
        PostgresSink::builder(url)
            .unwrap()
            .schema(&self.name)
            .spool_dir(self.spool.path())
    }

    pub fn sink(&self, url: &str) -> PostgresSink {
        self.builder(url)
            .connect_timeout(Duration::from_secs(2))
            .open()
            .unwrap()
    }

    pub async fn count(&self, client: &Client) -> (i64, i64) {
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

    pub async fn drop(self, client: &Client) {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

pub fn full_entry() -> AuditEntry {
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
