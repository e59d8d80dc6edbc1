//! The layer in front of a real server on loopback, driven by a real HTTP client.

mod support;

use audit_core::{Auditor, MemorySink, Outcome};
use audit_tower::AuditLayer;
use axum::body::Bytes;
use axum::Router;
use http::Request;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::{app, generated_body, serve, wait_for};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn audited() -> (Router, MemorySink, Auditor) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    (app().layer(AuditLayer::new(auditor.clone())), sink, auditor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_entry_per_request_for_1000_concurrent_requests() {
    let (app, sink, auditor) = audited();
    let addr = serve(app).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Empty<Bytes>>();
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::get(format!("http://{addr}/hello?i={i}"))
                .header("x-request-id", format!("req-{i}"))
                .body(http_body_util::Empty::new())
                .unwrap();
            let response = client.request(req).await.unwrap();
            assert_eq!(response.status(), 200);
            response.into_body().collect().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    auditor.flush().await.unwrap();
    let entries = wait_for(&sink, 1000).await;
    assert_eq!(entries.len(), 1000);
    let mut ids: Vec<String> = entries
        .iter()
        .map(|e| e.correlation_id.clone().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 1000);
    assert!(entries.iter().all(|e| e
        .peer_addr
        .as_deref()
        .is_some_and(|p| p.starts_with("127.0.0.1:"))));
    assert!(entries
        .iter()
        .all(|e| e.outcome == Outcome::Success && e.endpoint == "/hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bodies_are_byte_identical_with_and_without_the_layer() {
    let (audited_app, sink, _auditor) = audited();
    let with_layer = serve(audited_app).await;
    let without_layer = serve(app()).await;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let mut answers = Vec::new();
    for addr in [with_layer, without_layer] {
        let req = Request::post(format!("http://{addr}/echo"))
            .header("content-type", "application/octet-stream")
            .body(generated_body(3 * 1024 * 1024 + 17, 70_001))
            .unwrap();
        let response = client.request(req).await.unwrap();
        answers.push(response.into_body().collect().await.unwrap().to_bytes());
    }
    let expected = BodyExt::collect(generated_body(3 * 1024 * 1024 + 17, 70_001))
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(answers[0], expected);
    assert_eq!(answers[1], expected);
    let entry = &wait_for(&sink, 1).await[0];
    assert_eq!(entry.request_bytes, Some(expected.len() as u64));
    assert_eq!(entry.response_bytes, Some(expected.len() as u64));
    assert_eq!(
        entry.request,
        Some(serde_json::json!({"value": format!("<binary {} bytes>", expected.len())}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_mid_response_is_cancelled() {
    let (app, sink, _auditor) = audited();
    let addr = serve(app).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    // Read the head and some of the body, then go away.
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while received.len() < 40 * 1024 {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0);
        received.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
    drop(stream);
    let entries = wait_for(&sink, 1).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].outcome, Outcome::Cancelled);
    assert_eq!(entries[0].status_code, Some(200));
    assert!(entries[0].response_bytes.unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_error_is_recorded() {
    let (app, sink, _auditor) = audited();
    let addr = serve(app).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Promise 1000 bytes, send 3, then close: the body ends in an error.
    stream
        .write_all(b"POST /upload HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\nabc")
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    let entries = wait_for(&sink, 1).await;
    assert_eq!(entries.len(), 1, "{entries:#?}");
    let error = entries[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("request body error"), "{entries:#?}");
    assert_eq!(entries[0].request_bytes, Some(3));
}
