//! A server whose audit sink always fails (as a full disk does), for `bench/failing_sink.sh`:
//! under sustained load its memory must stay flat, whatever the overflow policy.
//!
//! ```sh
//! cargo run --release -p audit-tower --example failing_sink -- block 3300
//! ```

use std::time::Duration;

use audit_core::{async_trait, AuditEntry, Auditor, OverflowPolicy, RetryPolicy, Sink, SinkError};
use audit_tower::AuditLayer;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// Fails every write, as a sink on a full disk does.
struct DiskFull;

#[async_trait]
impl Sink for DiskFull {
    async fn write(&mut self, _batch: &[AuditEntry]) -> Result<(), SinkError> {
        Err(SinkError::other("No space left on device (simulated)"))
    }

    fn name(&self) -> &str {
        "disk_full"
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let policy = match args.get(1).map(String::as_str) {
        Some("drop_newest") => OverflowPolicy::DropNewest,
        _ => OverflowPolicy::Block,
    };
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let auditor = Auditor::builder()
            .overflow(policy)
            .retry(
                RetryPolicy::default()
                    .initial_delay(Duration::from_millis(50))
                    .max_attempts(3),
            )
            .build(DiskFull)?;
        let app = Router::new()
            .route(
                "/api/v1/sow/create",
                post(|Json(body): Json<Value>| async move {
                    Json(json!({"client_id": body["client_id"], "summary": "s".repeat(900)}))
                }),
            )
            .layer(AuditLayer::new(auditor));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {port}");
        axum::serve(listener, app).await?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
