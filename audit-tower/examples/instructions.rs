//! The driver of `bench/instructions.sh`: sends N in-process POSTs (1 KiB JSON in, 1 KiB JSON
//! out, ordinary headers, read to the end) through one stack on a current-thread runtime, then
//! shuts the audit writer down, so its work is counted too. Run under callgrind for N and 2N,
//! the difference divided by N is the cost of one request, setup excluded.
//!
//! ```sh
//! cargo run --release -p audit-tower --example instructions -- audit_metadata 1000
//! ```
//!
//! With `--features audit-core/metrics`, `AUDIT_METRICS=off` or `=prometheus` (a recorder
//! installed) choose what the writer's metrics cost (`bench/instructions.sh` with `METRICS=1`).
//!
//! Stacks: `bare`, `json_line` (a minimal hand-written middleware writing method, path, status
//! and duration as a JSON line), `trace_json` (tower-http's `TraceLayer` with a JSON subscriber
//! writing to a non-blocking file), and `audit_metadata`, `audit_request_response`, each also
//! with `_chain` (the tamper-evident chain on; callgrind runs SHA-256 in software).

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[path = "common/route.rs"]
mod route;

use audit_core::chain::ChainConfig;
use audit_core::jsonl::JsonlSink;
use audit_core::Auditor;
use audit_tower::{AuditLayer, AuditLevel};
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

fn request(body: &str) -> http::Request<Body> {
    http::Request::post(route::PATH)
        .header("host", "api.example.com")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("user-agent", "bench/1.0")
        .header("authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")
        .header("x-request-id", "7f1c2a9e-5b0d-4c8e-9a47-3d2b1e6f8a10")
        .body(Body::from(body.to_owned()))
        .unwrap_or_default()
}

/// The peer: a JSON line per request, written under a lock to a buffered file.
async fn json_line(
    axum::extract::State(out): axum::extract::State<Arc<Mutex<std::io::BufWriter<std::fs::File>>>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let line = json!({
        "method": method,
        "path": path,
        "status": response.status().as_u16(),
        "duration_seconds": started.elapsed().as_secs_f64(),
    });
    if let Ok(mut out) = out.lock() {
        let _ = writeln!(out, "{line}");
    }
    response
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args.next().unwrap_or_else(|| "bare".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("audit-instructions-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let bare = route::router();
    let mut auditor = None;
    let mut _guard = None;
    let app = match stack.as_str() {
        "bare" => bare,
        "json_line" => {
            let file = std::fs::File::create(dir.join("lines.jsonl"))
                .unwrap_or_else(|e| panic!("file: {e}"));
            let out = Arc::new(Mutex::new(std::io::BufWriter::new(file)));
            bare.layer(middleware::from_fn_with_state(out, json_line))
        }
        "trace_json" => {
            _guard = Some(route::trace_json_subscriber(&dir));
            bare.layer(tower_http::trace::TraceLayer::new_for_http())
        }
        audit => {
            let level = if audit.starts_with("audit_metadata") {
                AuditLevel::Metadata
            } else if audit.starts_with("audit_request_response") {
                AuditLevel::RequestResponse
            } else {
                panic!("unknown stack `{audit}`")
            };
            let chain = if audit.ends_with("_chain") {
                ChainConfig::enabled()
            } else {
                ChainConfig::disabled()
            };
            let sink = JsonlSink::open(dir.join("audit")).unwrap_or_else(|e| panic!("sink: {e}"));
            // AUDIT_METRICS=off turns the writer's metrics off; =prometheus also installs a
            // Prometheus recorder (what metrics cost when someone reads them).
            let metrics = std::env::var("AUDIT_METRICS").unwrap_or_default();
            if metrics == "prometheus" {
                let installed =
                    metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder();
                installed.unwrap_or_else(|e| panic!("recorder: {e}"));
            }
            let built = Auditor::builder()
                .chain(chain)
                .metrics(metrics != "off")
                .build(sink)
                .unwrap_or_else(|e| panic!("auditor: {e}"));
            auditor = Some(built.clone());
            bare.layer(AuditLayer::new(built).default_level(level))
        }
    };
    let body = route::request_body();
    runtime.block_on(async {
        for _ in 0..n {
            let response = app
                .clone()
                .oneshot(request(&body))
                .await
                .unwrap_or_else(|e| match e {});
            let bytes = response.into_body().collect().await.map(|b| b.to_bytes());
            assert!(bytes.is_ok_and(|b| b.len() > 900));
        }
        if let Some(auditor) = &auditor {
            auditor
                .shutdown()
                .await
                .unwrap_or_else(|e| panic!("shutdown: {e}"));
        }
    });
    drop(_guard);
    let _ = std::fs::remove_dir_all(&dir);
}
