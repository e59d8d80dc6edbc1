//! The quickstart: audits a few calls of a "statement of work" service and shows where they go.
//!
//! ```sh
//! cargo run -p examples --bin quickstart
//! # then: jq 'select(.endpoint == "sow_create" and .request.client_id == "CLIENT-001")' audit_logs/audit_*.jsonl
//! ```
//!
//! The sinks come from `AUDIT_SINK` (default here: `jsonl:./audit_logs,stdout:pretty`), so the
//! same program writes to other stores per environment without a code change.

use std::time::Instant;

use audit_core::{AuditEntry, Auditor, EnvConfig, Outcome};
use serde_json::json;

const DEFAULT_SINKS: &str = "jsonl:./audit_logs,stdout:pretty";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config =
        EnvConfig::from_lookup_with_default(|name| std::env::var(name).ok(), DEFAULT_SINKS)?;
    for sink in &config.sinks {
        println!("audit log -> {sink}");
    }
    let auditor = config.build()?;

    // A successful call whose response holds a long text: the log keeps its length only.
    let sow_text = "Scope: migrate the payment rails. ".repeat(160);
    audit_call(
        &auditor,
        "sow_create",
        "alice",
        json!({"client_id": "CLIENT-001", "product": "Real-Time Payments", "quality_mode": "production"}),
        200,
        json!({"sow_text": sow_text, "cost_usd": 0.23, "llm_calls": 3, "quality_mode": "production"}),
    )
    .await?;

    // A login: the password never reaches the log.
    audit_call(
        &auditor,
        "login",
        "anonymous",
        json!({"username": "alice", "password": "hunter2"}),
        200,
        json!({"access_token": "eyJhbGciOi…", "expires_in": 3600}),
    )
    .await?;

    // A client error.
    audit_call(
        &auditor,
        "sow_get",
        "bob",
        json!({"id": "SOW-404"}),
        404,
        json!({"detail": "not found"}),
    )
    .await?;

    // shutdown() drains the queue and flushes every sink: nothing recorded before it is lost.
    auditor.shutdown().await?;
    println!(
        "{} entries written; query them with jq, e.g.:",
        auditor.stats().written
    );
    println!("  jq 'select(.endpoint == \"sow_create\")' audit_logs/audit_*.jsonl");
    Ok(())
}

async fn audit_call(
    auditor: &Auditor,
    endpoint: &str,
    user: &str,
    request: serde_json::Value,
    status: u16,
    response: serde_json::Value,
) -> Result<(), audit_core::RecordError> {
    let started = Instant::now();
    let mut entry = AuditEntry::new(endpoint);
    entry.method = Some("POST".into());
    entry.user = user.into();
    // The scrubber redacts secrets and summarises long values, as the HTTP layer does.
    entry.request = Some(auditor.scrubber().object(request));
    entry.response_summary = Some(auditor.scrubber().object(response));
    entry.status_code = Some(status);
    entry.outcome = Outcome::from_status(status);
    entry.duration_seconds = started.elapsed().as_secs_f64();
    auditor.record(entry).await
}
