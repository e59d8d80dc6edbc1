//! The layer on an axum `Router`, driven with `tower::ServiceExt::oneshot`.

use std::time::Duration;

use audit_core::{AuditEntry, Auditor, MemorySink, Outcome};
use audit_tower::{AuditCall, AuditLayer, AuditLevel, Rule};
use axum::body::Body;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

async fn entries(sink: &MemorySink, expected: usize) -> Vec<AuditEntry> {
    for _ in 0..500 {
        if sink.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Give a wrong extra entry the chance to show up.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let entries = sink.entries();
    assert_eq!(entries.len(), expected, "{entries:#?}");
    entries
}

fn setup(layer: impl FnOnce(AuditLayer) -> AuditLayer) -> (Router, MemorySink, Auditor) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    let app = Router::new()
        .route(
            "/api/v1/sow/create",
            post(|Json(body): Json<Value>| async move {
                Json(json!({
                    "client_id": body["client_id"],
                    "sow_text": "x".repeat(5234),
                    "cost_usd": 0.23,
                    "access_token": "secret-token",
                }))
            }),
        )
        .route(
            "/api/v1/sow/{id}",
            get(|| async { (StatusCode::NOT_FOUND, "no such sow") }),
        )
        .route(
            "/panic",
            get(|| async { panic!("handler exploded") as &str }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/enriched",
            get(|audit: AuditCall| async move {
                audit.field("cost_usd", 0.5);
                audit.user("alice");
                audit.tenant("acme");
                audit.tag("beta");
                audit_core::context::add_field("via_task_local", true);
                audit_core::context::add_tag("via_task_local");
                "ok"
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .layer(layer(AuditLayer::new(auditor.clone())));
    (app, sink, auditor)
}

#[tokio::test]
async fn json_bodies_are_captured_redacted_and_summarised() {
    let (app, sink, _auditor) = setup(|l| l);
    let body =
        json!({"client_id": "CLIENT-001", "password": "hunter2", "quality_mode": "production"});
    let response = app
        .oneshot(
            Request::post("/api/v1/sow/create?api_key=abc&page=1")
                .header("content-type", "application/json")
                .header("authorization", "Bearer secret")
                .header("user-agent", "curl/8")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let correlation = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        answer["sow_text"].as_str().unwrap().len(),
        5234,
        "the client gets the whole body"
    );

    let entry = &entries(&sink, 1).await[0];
    assert_eq!(entry.endpoint, "/api/v1/sow/create");
    assert_eq!(entry.route.as_deref(), Some("/api/v1/sow/create"));
    assert_eq!(entry.method.as_deref(), Some("POST"));
    assert_eq!(entry.query.as_deref(), Some("api_key=[REDACTED]&page=1"));
    assert_eq!(entry.status_code, Some(200));
    assert_eq!(entry.outcome, Outcome::Success);
    assert_eq!(entry.user_agent.as_deref(), Some("curl/8"));
    assert_eq!(entry.headers["authorization"], "[REDACTED]");
    assert_eq!(entry.correlation_id.as_deref(), Some(correlation.as_str()));
    assert_eq!(
        entry.request,
        Some(
            json!({"client_id": "CLIENT-001", "password": "[REDACTED]", "quality_mode": "production"})
        )
    );
    let summary = entry.response_summary.as_ref().unwrap();
    assert_eq!(summary["sow_text"], "<5234 characters>");
    assert_eq!(summary["cost_usd"], 0.23);
    assert_eq!(summary["access_token"], "[REDACTED]");
    assert_eq!(entry.request_bytes, Some(body.to_string().len() as u64));
    assert_eq!(entry.response_bytes, Some(bytes.len() as u64));
    assert!(entry.duration_seconds > 0.0);
}

#[tokio::test]
async fn request_id_and_traceparent_are_propagated() {
    let (app, sink, _auditor) = setup(|l| l);
    let response = app
        .oneshot(
            Request::get("/api/v1/sow/7")
                .header("x-request-id", "req-123")
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let _ = response.into_body().collect().await.unwrap();
    let entry = &entries(&sink, 1).await[0];
    assert_eq!(entry.endpoint, "/api/v1/sow/{id}");
    assert_eq!(entry.path.as_deref(), Some("/api/v1/sow/7"));
    assert_eq!(entry.correlation_id.as_deref(), Some("req-123"));
    assert_eq!(
        entry.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(entry.span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(entry.outcome, Outcome::ClientError);
    assert_eq!(
        entry.response_summary,
        Some(json!({"value": "no such sow"}))
    );
}

#[tokio::test]
async fn a_panicking_handler_gives_500_and_a_panic_entry() {
    let (app, sink, _auditor) = setup(|l| l);
    let response = app
        .clone()
        .oneshot(Request::get("/panic").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let entry = &entries(&sink, 1).await[0];
    assert_eq!(entry.outcome, Outcome::Panic);
    assert_eq!(entry.status_code, Some(500));
    assert_eq!(entry.error.as_deref(), Some("handler exploded"));
    // The service keeps serving.
    let response = app
        .oneshot(Request::get("/api/v1/sow/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn policy_levels_decide_what_is_recorded() {
    let (app, sink, _auditor) = setup(|l| {
        l.rule(Rule::prefix("/health", AuditLevel::None))
            .rule(Rule::route("/echo", AuditLevel::Metadata).method(http::Method::POST))
            .rule(Rule::route("/api/v1/sow/create", AuditLevel::Request))
    });
    for req in [
        Request::get("/health").body(Body::empty()).unwrap(),
        Request::post("/echo").body(Body::from("hello")).unwrap(),
        Request::post("/api/v1/sow/create")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"client_id":"C"}"#))
            .unwrap(),
    ] {
        let response = app.clone().oneshot(req).await.unwrap();
        let _ = response.into_body().collect().await.unwrap();
    }
    let entries = entries(&sink, 2).await;
    let echo = entries.iter().find(|e| e.endpoint == "/echo").unwrap();
    assert_eq!(
        (echo.request.as_ref(), echo.response_summary.as_ref()),
        (None, None)
    );
    assert_eq!(
        (echo.request_bytes, echo.response_bytes),
        (Some(5), Some(5))
    );
    let create = entries
        .iter()
        .find(|e| e.endpoint == "/api/v1/sow/create")
        .unwrap();
    assert_eq!(create.request, Some(json!({"client_id": "C"})));
    assert_eq!(create.response_summary, None);
}

#[tokio::test]
async fn non_utf8_and_malformed_json_bodies_are_described() {
    let (app, sink, _auditor) = setup(|l| l);
    let binary: &'static [u8] = &[0xff, 0xfe, 0x00, 0x80];
    let response = app
        .clone()
        .oneshot(
            Request::post("/echo")
                .header("content-type", "application/octet-stream")
                .body(Body::from(binary))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        binary
    );
    let response = app
        .oneshot(
            Request::post("/echo")
                .header("content-type", "application/json")
                .body(Body::from("{\"a\": "))
                .unwrap(),
        )
        .await
        .unwrap();
    let _ = response.into_body().collect().await.unwrap();
    let entries = entries(&sink, 2).await;
    assert_eq!(
        entries[0].request,
        Some(json!({"value": "<binary 4 bytes>"}))
    );
    assert_eq!(
        entries[1].request,
        Some(json!({"a": null, "…": "<the JSON ended early>"}))
    );
}

#[tokio::test]
async fn handlers_enrich_their_own_entry() {
    let (app, sink, _auditor) = setup(|l| l);
    let response = app
        .oneshot(Request::get("/enriched").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let _ = response.into_body().collect().await.unwrap();
    let entry = &entries(&sink, 1).await[0];
    assert_eq!(entry.user, "alice");
    assert_eq!(entry.fields["cost_usd"], 0.5);
    assert_eq!(entry.fields["via_task_local"], true);
    assert_eq!(entry.tenant.as_deref(), Some("acme"));
    assert_eq!(entry.tags, ["beta", "via_task_local"]);
}

#[tokio::test]
async fn a_received_entry_is_written_when_the_request_arrives_if_asked() {
    let (app, sink, _auditor) = setup(|layer| layer.record_received(true));
    let gate = sink.clone();
    let response = app
        .oneshot(
            Request::post("/api/v1/sow/create")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"client_id":"CLIENT-001"}"#))
                .unwrap(),
        )
        .await
        .unwrap();
    // Written before the response: the handler has run, the body is not read yet.
    for _ in 0..500 {
        if !gate.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        gate.len(),
        1,
        "the received entry, before the response is complete"
    );
    let _ = response.into_body().collect().await.unwrap();
    let both = entries(&sink, 2).await;
    let received = &both[0];
    let finished = &both[1];
    let (Some(arrived), Some(done)) = (&received.operation, &finished.operation) else {
        panic!("both entries belong to one operation: {both:#?}");
    };
    assert_eq!(arrived.id, done.id);
    assert_eq!(
        (arrived.stage.as_str(), received.outcome),
        ("received", Outcome::Pending)
    );
    assert_eq!(
        (done.stage.as_str(), finished.outcome),
        ("finished", Outcome::Success)
    );
    assert_eq!(received.status_code, None);
    assert_eq!(received.method.as_deref(), Some("POST"));
    assert_eq!(received.correlation_id, finished.correlation_id);
    assert_ne!(received.id, finished.id);
    assert_eq!(finished.status_code, Some(200));

    // Off by default: one entry, no operation.
    let (app, sink, _auditor) = setup(|layer| layer);
    let response = app
        .oneshot(Request::get("/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let _ = response.into_body().collect().await.unwrap();
    assert_eq!(entries(&sink, 1).await[0].operation, None);
}

#[tokio::test]
async fn a_response_dropped_mid_body_is_cancelled() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder().build(sink.clone()).unwrap();
    let app = Router::new()
        .route("/report", get(|| async { Body::from_stream(lines(100)) }))
        .layer(AuditLayer::new(auditor.clone()));
    let response = app
        .oneshot(Request::get("/report").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    let entry = &entries(&sink, 1).await[0];
    assert_eq!(entry.outcome, Outcome::Cancelled);
    assert_eq!(entry.status_code, Some(200));
}

/// A stream of `n` lines, one chunk each, yielding between chunks.
pub fn lines(
    n: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::unfold(0, move |i| async move {
        if i == n {
            return None;
        }
        tokio::task::yield_now().await;
        Some((Ok(Bytes::from(format!("line {i}\n"))), i + 1))
    })
}

/// A sink that refuses every batch.
struct Down;

#[audit_core::async_trait]
impl audit_core::Sink for Down {
    async fn write(&mut self, _batch: &[AuditEntry]) -> Result<(), audit_core::SinkError> {
        Err(audit_core::SinkError::other(
            "the audit store is down (on purpose)",
        ))
    }
}

fn strict_app(auditor: Auditor) -> Router {
    Router::new()
        .route("/act", post(|| async { Json(json!({"done": true})) }))
        .layer(AuditLayer::new(auditor))
}

#[tokio::test]
async fn strict_mode_writes_the_entry_before_the_response_leaves() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .overflow(audit_core::OverflowPolicy::Strict)
        .build(sink.clone())
        .unwrap();
    let response = strict_app(auditor)
        .oneshot(Request::post("/act").body(Body::from("{}")).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Already durable when the head is handed to the server, before any body byte.
    let entries = sink.entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].status_code, Some(200));
    assert_eq!(entries[0].response_bytes, Some(13));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], br#"{"done":true}"#);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(sink.len(), 1, "one entry per request, also in strict mode");
}

#[tokio::test]
async fn strict_mode_answers_503_when_the_entry_cannot_be_written() {
    let auditor = Auditor::builder()
        .overflow(audit_core::OverflowPolicy::Strict)
        .retry(audit_core::RetryPolicy::default().max_attempts(1))
        .build(Down)
        .unwrap();
    let response = strict_app(auditor)
        .oneshot(
            Request::post("/act")
                .header("x-request-id", "must-audit-1")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("x-request-id"), None);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("audit log"));
}

#[tokio::test]
async fn without_the_auditor_enabled_the_layer_is_transparent() {
    let app = Router::new()
        .route("/x", get(|| async { "x" }))
        .layer(AuditLayer::new(Auditor::disabled()));
    let response = app
        .oneshot(Request::get("/x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-request-id").is_none());
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "x"
    );
}

#[tokio::test]
async fn user_and_client_address_come_from_configuration_only() {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .unwrap();
    let layer = AuditLayer::new(auditor.clone())
        .user_from(|parts| {
            parts
                .headers
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        })
        .trusted_client_addr_header(http::HeaderName::from_static("x-forwarded-for"))
        .headers(audit_tower::HeaderPolicy::All);
    let app = Router::new()
        .route("/from-header", get(|| async { "ok" }))
        .route(
            "/from-extension",
            get(|| async {
                let mut response = axum::response::IntoResponse::into_response("ok");
                response
                    .extensions_mut()
                    .insert(audit_tower::AuditUser("bob".into()));
                response
            }),
        )
        .layer(layer);
    for (path, user) in [("/from-header", Some("alice")), ("/from-extension", None)] {
        let mut request = Request::get(path)
            .header("x-forwarded-for", "203.0.113.7, 198.51.100.2")
            .header("cookie", "session=secret")
            .header("x-custom", "kept");
        if let Some(user) = user {
            request = request.header("x-user", user);
        }
        let response = app
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let _ = response.into_body().collect().await.unwrap();
    }
    let entries = entries(&sink, 2).await;
    let by_header = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/from-header"))
        .unwrap();
    assert_eq!(by_header.user, "alice");
    // The nearest proxy's view: the last address of the trusted header.
    assert_eq!(by_header.client_addr.as_deref(), Some("198.51.100.2"));
    assert_eq!(by_header.headers["cookie"], "[REDACTED]");
    assert_eq!(by_header.headers["x-custom"], "kept");
    let by_extension = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/from-extension"))
        .unwrap();
    assert_eq!(
        by_extension.user, "bob",
        "an AuditUser on the response wins"
    );
}
