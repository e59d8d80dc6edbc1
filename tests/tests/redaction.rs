//! Finding 1: secrets under the names real clients use, and inside free text, never reach the
//! log: an OAuth-style app driven over HTTP, its failed attempts included.

mod support;

use audit_tower::AuditLayer;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Form, Json, Router};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use serde_json::{json, Value};
use support::{auditor, entries, http1, send, serve};

const JWT: &str =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLWFsaWNlLXRva2Vu";
const SECRETS: &[&str] = &[
    "bar-secret-1",
    "camel-secret-2",
    "kebab-secret-3",
    "form-secret-4",
    "query-token-5",
    "header-token-6",
    "sk_live_api_key_7",
    "eyJzdWIiOiJhbGljZSJ9",
    "opaque0123456789bearer",
    "4111 1111 1111 1111",
];

fn app() -> Router {
    Router::new()
        .route(
            "/authorize",
            post(|Json(body): Json<Value>| async move {
                if body["client_secret"] == "right" {
                    (
                        StatusCode::OK,
                        Json(json!({"access_token": "granted", "token_type": "Bearer"})),
                    )
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({"error": "invalid_client"})),
                    )
                }
            }),
        )
        .route(
            "/token",
            post(|Form(form): Form<Vec<(String, String)>>| async move {
                format!("{} fields", form.len())
            }),
        )
        // Echoes the body back as plain text, secrets and all.
        .route("/echo", post(|body: String| async move { body }))
}

#[tokio::test]
async fn secrets_under_real_names_and_inside_text_are_redacted() {
    let (auditor, sink) = auditor();
    let app = app().layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let client = http1();
    let post = |path: &str, content_type: &str, body: String| {
        Request::post(format!("http://{addr}{path}"))
            .header("content-type", content_type)
            .header("x-auth-token", "header-token-6")
            .header("X-Api-Key", "sk_live_api_key_7")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    let json_body = json!({
        "client_id": "foo",
        "client_secret": "bar-secret-1",
        "clientSecret": "camel-secret-2",
        "nested": {"x-refresh-token": "kebab-secret-3", "tokens_used": 42},
    });
    let (parts, _) = send(
        &client,
        post("/authorize", "application/json", json_body.to_string()),
    )
    .await;
    assert_eq!(parts.status, StatusCode::UNAUTHORIZED);
    let form = "grant_type=client_credentials&client_id=foo&client_secret=form-secret-4";
    send(
        &client,
        post(
            "/token?access_token=query-token-5&page=2",
            "application/x-www-form-urlencoded",
            form.into(),
        ),
    )
    .await;
    let text = format!(
        "token {JWT} and Authorization: Bearer opaque0123456789bearer, card 4111 1111 1111 1111"
    );
    let (_, echoed) = send(&client, post("/echo", "text/plain", text.clone())).await;
    assert_eq!(echoed, text.as_bytes());

    let entries = entries(&sink, 3).await;
    for entry in &entries {
        let line = serde_json::to_string(entry).unwrap();
        for secret in SECRETS {
            assert!(!line.contains(secret), "{secret} leaked: {line}");
        }
    }
    let authorize = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/authorize"))
        .unwrap();
    let request = authorize.request.as_ref().unwrap();
    assert_eq!(request["client_id"], "foo");
    assert_eq!(request["nested"]["tokens_used"], 42);
    assert_eq!(authorize.status_code, Some(401));
    let token = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/token"))
        .unwrap();
    assert_eq!(
        token.query.as_deref(),
        Some("access_token=[REDACTED]&page=2")
    );
    assert_eq!(
        token.request.as_ref().unwrap()["value"],
        "grant_type=client_credentials&client_id=foo&client_secret=[REDACTED]"
    );
    let echo = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/echo"))
        .unwrap();
    assert_eq!(
        echo.response_summary.as_ref().unwrap()["value"],
        "token [REDACTED] and Authorization: [REDACTED], card [REDACTED]"
    );
}
