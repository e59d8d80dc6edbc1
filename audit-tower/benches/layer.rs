//! The per-request cost of the layer, in process (no sockets), beside the same service bare and
//! behind tower-http's `TraceLayer` with a JSON subscriber writing to a non-blocking file.
//!
//! ```sh
//! cargo bench -p audit-tower --bench layer
//! ```
//!
//! Each request carries a 1 KiB JSON body and gets a 1 KiB JSON answer, read to the end.
//!
//! `audit_metadata_nats` is `audit_metadata` with the NATS JetStream sink on the machine's
//! server (`AUDIT_TEST_NATS_URL`) instead of JSONL files: at `Block`, a request never waits for
//! NATS, so the two should not differ.

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
    let nats_url =
        std::env::var("AUDIT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let id = uuid::Uuid::now_v7().simple().to_string();
    let nats_auditor = rt.block_on(async {
        let sink = audit_core::nats::NatsSink::builder(&nats_url)
            .subject(format!("bench_layer_{id}.svc"))
            .stream(audit_core::nats::StreamSettings::named(format!(
                "BENCH_LAYER_{id}"
            )))
            .spool_dir(dir.path().join("nats_spool"))
            .open()
            .expect("sink");
        Auditor::builder().build(sink).expect("auditor")
    });
    let metadata_nats = bare
        .clone()
        .layer(AuditLayer::new(nats_auditor.clone()).default_level(AuditLevel::Metadata));

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
        ("audit_metadata_nats", &metadata_nats),
        ("audit_request_response", &full),
        ("tower_http_trace_json", &traced),
    ] {
        group.bench_function(name, |b| b.to_async(&rt).iter(|| one_request(app, &body)));
    }
    group.finish();
    rt.block_on(auditor.shutdown()).expect("shutdown");
    rt.block_on(nats_auditor.shutdown()).expect("shutdown");
    assert_eq!(nats_auditor.stats().spooled, 0, "NATS took every entry");
    rt.block_on(async {
        let client = async_nats::connect(nats_url).await.expect("NATS answers");
        let _ = async_nats::jetstream::new(client)
            .delete_stream(format!("BENCH_LAYER_{id}"))
            .await;
    });
}

criterion_group!(benches, bench_layer);
criterion_main!(benches);
