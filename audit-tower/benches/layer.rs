//! The per-request cost of the layer, in process (no sockets), beside the same service bare and
//! behind tower-http's `TraceLayer` with a JSON subscriber writing to a non-blocking file.
//!
//! ```sh
//! cargo bench -p audit-tower --bench layer
//! ```
//!
//! Each request carries a 1 KiB JSON body and gets a 1 KiB JSON answer, read to the end.

#[path = "../examples/common/route.rs"]
mod route;

use std::time::Duration;

use audit_core::jsonl::JsonlSink;
use audit_core::Auditor;
use audit_tower::{AuditLayer, AuditLevel};
use axum::body::Body;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn one_request(app: &Router, body: &str) {
    let request = http::Request::post(route::PATH)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert!(bytes.len() > 900);
}

fn bench_layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let body = route::request_body();
    let bare = route::router();
    let auditor = rt.block_on(async {
        Auditor::builder()
            .build(JsonlSink::open(dir.path().join("audit")).expect("sink"))
            .expect("auditor")
    });
    let metadata = bare
        .clone()
        .layer(AuditLayer::new(auditor.clone()).default_level(AuditLevel::Metadata));
    let full = bare.clone().layer(AuditLayer::new(auditor.clone()));

    let _guard = route::trace_json_subscriber(dir.path());
    let traced = bare
        .clone()
        .layer(tower_http::trace::TraceLayer::new_for_http());

    let mut group = c.benchmark_group("layer");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(6));
    for (name, app) in [
        ("bare", &bare),
        ("audit_metadata", &metadata),
        ("audit_request_response", &full),
        ("tower_http_trace_json", &traced),
    ] {
        group.bench_function(name, |b| b.to_async(&rt).iter(|| one_request(app, &body)));
    }
    group.finish();
    rt.block_on(auditor.shutdown()).expect("shutdown");
}

criterion_group!(benches, bench_layer);
criterion_main!(benches);
