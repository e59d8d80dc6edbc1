//! An `#[audited]` call nested in a handler behind `AuditLayer` writes its own entry (through
//! the global auditor), linked to the request's: `fields.parent_id` and the correlation id.

use std::time::Duration;

use audit_core::{audited, Auditor, MemorySink};
use audit_tower::AuditLayer;
use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The handler: names the request's entry.
#[audited("items_list")]
async fn items() -> String {
    lookup(1).await.to_string()
}

/// Called by the handler: an entry of its own.
#[audited("lookup")]
async fn lookup(n: u32) -> u32 {
    n + 1
}

#[tokio::test]
async fn a_nested_call_is_linked_to_the_request_entry() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    audit_core::set_global_auditor(auditor.clone()).unwrap();
    let app = Router::new()
        .route("/items", get(items))
        .layer(AuditLayer::new(auditor.clone()));
    let response = app
        .oneshot(
            http::Request::get("/items")
                .header("x-request-id", "req-42")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();
    auditor.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let entries = sink.entries();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let request = entries.iter().find(|e| e.endpoint == "items_list").unwrap();
    let nested = entries.iter().find(|e| e.endpoint == "lookup").unwrap();
    assert_eq!(nested.fields["parent_id"], request.id.to_string());
    assert_eq!(nested.correlation_id.as_deref(), Some("req-42"));
    assert_eq!(request.correlation_id.as_deref(), Some("req-42"));
}
