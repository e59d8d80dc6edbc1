//! The bench server's code, shared by `bench_server` and `bench_server_mimalloc`.

#[path = "route.rs"]
mod route;

use std::time::Duration;

use audit_core::jsonl::{JsonlSink, SyncPolicy};
use audit_core::{Auditor, OverflowPolicy};
use audit_tower::{AuditLayer, AuditLevel};

pub fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("bare").to_owned();
    let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(3100);
    let dir = std::path::PathBuf::from(
        args.get(3)
            .cloned()
            .unwrap_or_else(|| "./bench_logs".into()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = route::router();
        let mut auditor = None;
        let mut _guard = None;
        let app = match mode.as_str() {
            "bare" => app,
            "trace" => {
                _guard = Some(route::trace_json_subscriber(&dir));
                app.layer(tower_http::trace::TraceLayer::new_for_http())
            }
            "metadata" | "request_response" | "strict" => {
                let strict = mode == "strict";
                let sync = if strict {
                    SyncPolicy::EveryBatch
                } else {
                    SyncPolicy::Never
                };
                let sink = JsonlSink::builder(&dir).sync(sync).open()?;
                let overflow = if strict {
                    OverflowPolicy::Strict
                } else {
                    OverflowPolicy::Block
                };
                // AUDIT_CHAIN=off measures the layer without the tamper-evident chain.
                let chain = match std::env::var("AUDIT_CHAIN").as_deref() {
                    Ok("off") => audit_core::chain::ChainConfig::disabled(),
                    _ => audit_core::chain::ChainConfig::sink_default(),
                };
                let built = Auditor::builder()
                    .overflow(overflow)
                    .chain(chain)
                    .build(sink)?;
                let level = if mode == "metadata" {
                    AuditLevel::Metadata
                } else {
                    AuditLevel::RequestResponse
                };
                auditor = Some(built.clone());
                app.layer(AuditLayer::new(built).default_level(level))
            }
            other => {
                return Err(format!(
                    "unknown mode {other}: bare, metadata, request_response, trace, strict"
                )
                .into())
            }
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        eprintln!("bench_server {mode} on {}", listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        if let Some(auditor) = auditor {
            tokio::time::timeout(Duration::from_secs(30), auditor.shutdown()).await??;
            eprintln!("written: {}", auditor.stats().written);
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}
