//! A 100 MiB upload through the layer on a real server keeps memory bounded. In its own test
//! binary (its own process), so no other test's allocations blur the measurement.

mod support;

use audit_core::{Auditor, MemorySink};
use audit_tower::AuditLayer;
use http::Request;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::{app, generated_body, serve, wait_for};

fn audited() -> (axum::Router, MemorySink, Auditor) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    (app().layer(AuditLayer::new(auditor.clone())), sink, auditor)
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mib_upload_passes_with_bounded_memory() {
    const SIZE: usize = 100 * 1024 * 1024;
    let (app, sink, _auditor) = audited();
    let addr = serve(app).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let before = resident_bytes();
    let req = Request::post(format!("http://{addr}/upload"))
        .body(generated_body(SIZE, 256 * 1024))
        .unwrap();
    let response = client.request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, SIZE.to_string());
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 48 * 1024 * 1024,
        "resident memory grew by {} MiB for a 100 MiB body",
        grown >> 20
    );
    let entry = &wait_for(&sink, 1).await[0];
    assert_eq!(entry.request_bytes, Some(SIZE as u64));
}
