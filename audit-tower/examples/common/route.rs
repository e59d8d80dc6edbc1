//! What every benchmark of the layer shares: the route (1 KiB JSON in, 1 KiB JSON out), the
//! request body, and the peer's setup (tower-http's `TraceLayer` with a JSON subscriber writing
//! to a non-blocking file), so the bench server, the instruction counter and the criterion
//! bench measure the same thing.
#![allow(dead_code)] // each user takes what it needs

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// The path of the route.
pub const PATH: &str = "/api/v1/sow/create";

/// Answers a 1 KiB JSON object for a 1 KiB JSON request.
pub async fn handler(Json(body): Json<Value>) -> Json<Value> {
    Json(json!({
        "client_id": body["client_id"],
        "summary": "s".repeat(900),
        "cost_usd": 0.23,
        "llm_calls": 3,
    }))
}

/// The bare router.
pub fn router() -> Router {
    Router::new().route(PATH, post(handler))
}

/// The 1 KiB JSON request body.
pub fn request_body() -> String {
    json!({"client_id": "CLIENT-001", "product": "Real-Time Payments", "notes": "n".repeat(940)})
        .to_string()
}

/// Installs the JSON subscriber writing to `DIR/trace.jsonl` through a non-blocking writer;
/// keep the guard until the end, and put `tower_http::trace::TraceLayer` on the router.
pub fn trace_json_subscriber(dir: &std::path::Path) -> tracing_appender::non_blocking::WorkerGuard {
    let appender = tracing_appender::rolling::never(dir, "trace.jsonl");
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .json()
        .with_writer(writer)
        .with_max_level(tracing::Level::DEBUG)
        .init();
    guard
}
