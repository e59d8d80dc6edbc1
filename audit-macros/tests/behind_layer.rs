//! Handlers with `#[audited]` behind `AuditLayer`: one entry per request, named by the macro.

use std::time::Duration;

use audit_core::{audited, Auditor, MemorySink};
use audit_tower::AuditLayer;
use axum::body::Body;
use axum::routing::post;
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[audited("sow_create", fields(cost_usd = 0.23), user = "alice")]
async fn create_sow(Json(body): Json<Value>) -> Json<Value> {
    helper(body["client_id"].as_str().unwrap_or_default().len()).await;
    Json(json!({"client_id": body["client_id"], "sow_id": "SOW-1"}))
}

/// Audited too: called inside the handler, it does not take over the request's entry.
#[audited("helper")]
async fn helper(n: usize) -> usize {
    n
}

#[tokio::test]
async fn the_request_entry_carries_the_macros_name_fields_and_user() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    let app = Router::new()
        .route("/api/v1/sow/create", post(create_sow))
        .layer(AuditLayer::new(auditor.clone()));
    for _ in 0..3 {
        let response = app
            .clone()
            .oneshot(
                http::Request::post("/api/v1/sow/create")
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"client_id":"CLIENT-001"}"#))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }
    auditor.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let entries = sink.entries();
    assert_eq!(
        entries.len(),
        3,
        "exactly one entry per request: {entries:#?}"
    );
    for entry in &entries {
        assert_eq!(entry.endpoint, "sow_create");
        assert_eq!(entry.route.as_deref(), Some("/api/v1/sow/create"));
        assert_eq!(entry.user, "alice");
        assert_eq!(entry.fields["cost_usd"], 0.23);
        assert_eq!(entry.request, Some(json!({"client_id": "CLIENT-001"})));
        assert_eq!(entry.status_code, Some(200));
    }
}
