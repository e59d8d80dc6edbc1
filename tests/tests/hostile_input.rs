//! Hostile and careless input over raw sockets: bodies the handler accepts but the log's JSON
//! parser rejects, form logins, responses past the capture limit, oversized fields, odd request
//! heads. No planted password reaches the log, and no line grows without bound.

mod support;

use std::net::SocketAddr;

use audit_core::AuditEntry;
use audit_tower::{AuditCall, AuditLayer};
use axum::body::Bytes;
use axum::routing::{any, get, post};
use axum::Router;
use support::{auditor, entries, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `request` as raw bytes on a fresh connection and reads until the server closes it.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read_to_end(&mut response),
    )
    .await;
    String::from_utf8_lossy(&response).into_owned()
}

fn post_raw(path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

#[derive(serde::Deserialize)]
struct Login {
    pin: u32,
}

fn app() -> Router {
    Router::new()
        // Accepts anything: the log's parser must not be the weaker side.
        .route("/login", post(|_: Bytes| async { "welcome" }))
        .route(
            "/whoami",
            post(|audit: AuditCall, body: Bytes| async move {
                audit.user(String::from_utf8_lossy(&body).into_owned());
                "ok"
            }),
        )
        .route(
            "/token",
            get(|| async {
                let body = format!(
                    r#"{{"access_token": "hunter2-response", "padding": "{}"}}"#,
                    "p".repeat(70_000)
                );
                ([("content-type", "application/json")], body)
            }),
        )
        // Answers 422 with serde's message, which quotes the field.
        .route(
            "/typed",
            post(|axum::Json(login): axum::Json<Login>| async move { login.pin.to_string() }),
        )
        .route("/{*rest}", any(|| async { "any" }))
}

#[tokio::test]
async fn no_parser_path_lets_a_password_through() {
    let (auditor, sink) = auditor();
    let addr = serve(app().layer(AuditLayer::new(auditor))).await;
    let deep = format!(
        r#"{{"password": "hunter2-deep", "x": {}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let long = format!(
        r#"{{"password": "hunter2-long", "notes": "{}"}}"#,
        "n".repeat(70_000)
    );
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "application/json",
            br#"{"password": "hunter2-range", "n": 1e999999}"#.to_vec(),
        ),
        ("application/json", long.into_bytes()),
        ("application/json", deep.into_bytes()),
        (
            "application/x-www-form-urlencoded",
            b"username=a&password=hunter2-form".to_vec(),
        ),
        (
            "application/json",
            br#"{"password": "hunter2-comma",}"#.to_vec(),
        ),
        (
            "application/json",
            b"{'password': 'hunter2-python'}".to_vec(),
        ),
        (
            "application/json",
            br#"{"password": "hunter2-nan", "n": NaN}"#.to_vec(),
        ),
        (
            "application/json",
            br#"{"a": 1}{"password": "hunter2-two"}"#.to_vec(),
        ),
        (
            "application/json",
            b"{/* c */ \"password\": \"hunter2-comment\"}".to_vec(),
        ),
        (
            "application/json",
            b"\xef\xbb\xbf{\"password\": \"hunter2-bom\"}".to_vec(),
        ),
        (
            "text/plain",
            b"password=hunter2-text and token: hunter2-colon".to_vec(),
        ),
    ];
    for (content_type, body) in &bodies {
        let response = raw(addr, &post_raw("/login", content_type, body)).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
    raw(
        addr,
        b"GET /token HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    let entries = entries(&sink, bodies.len() + 1).await;
    for entry in &entries {
        let line = serde_json::to_string(entry).unwrap();
        assert!(!line.contains("hunter2"), "{line}");
    }
}

fn line_of(entry: &AuditEntry) -> String {
    serde_json::to_string(entry).unwrap()
}

#[tokio::test]
async fn oversized_fields_are_capped_and_marked() {
    let (auditor, sink) = auditor();
    let addr = serve(app().layer(AuditLayer::new(auditor))).await;
    // A 1 MB user name, taken from the body by the handler.
    raw(
        addr,
        &post_raw("/whoami", "text/plain", "u".repeat(1_000_000).as_bytes()),
    )
    .await;
    // A 10 KB request id and a 60 KB Host.
    let request = format!(
        "GET /x HTTP/1.1\r\nHost: {}\r\nX-Request-Id: {}\r\nConnection: close\r\n\r\n",
        "h".repeat(60_000),
        "r".repeat(10_000)
    );
    raw(addr, request.as_bytes()).await;
    // 59,803 bytes of nested arrays: each level would add a marker.
    let nested = format!("[{}]", vec!["[[[[[[[[[[1]]]]]]]]]]"; 2_700].join(","));
    raw(
        addr,
        &post_raw("/login", "application/json", nested.as_bytes()),
    )
    .await;
    let entries = entries(&sink, 3).await;
    for entry in &entries {
        assert!(line_of(entry).len() < 40_000, "{}", line_of(entry).len());
    }
    let who = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/whoami"))
        .unwrap();
    assert_eq!(
        who.user,
        format!("{}… <1000000 characters>", "u".repeat(256))
    );
    let x = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/x"))
        .unwrap();
    assert!(x
        .correlation_id
        .as_deref()
        .unwrap()
        .ends_with("… <10000 characters>"));
    assert!(x.headers["host"]
        .as_str()
        .unwrap()
        .ends_with("… <60000 characters>"));
}

#[tokio::test]
async fn odd_request_heads_are_recorded_without_being_trusted() {
    let (auditor, sink) = auditor();
    let addr = serve(app().layer(AuditLayer::new(auditor))).await;
    raw(
        addr,
        b"GET http://evil.example/abs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    raw(addr, b"GET /ua HTTP/1.1\r\nHost: localhost\r\nUser-Agent: caf\xe9/1.0\r\nX-Request-Id: r\xe9q\r\nConnection: close\r\n\r\n").await;
    raw(
        addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    raw(addr, b"GET /two HTTP/1.1\r\nHost: first.example\r\nHost: second.example\r\nConnection: close\r\n\r\n").await;
    let entries = entries(&sink, 4).await;
    let connect = entries
        .iter()
        .find(|e| e.method.as_deref() == Some("CONNECT"))
        .unwrap();
    assert_eq!(
        (connect.endpoint.as_str(), connect.path.as_deref()),
        ("example.com:443", None)
    );
    let two = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/two"))
        .unwrap();
    assert_eq!(two.headers["host"], "first.example, second.example");
    let abs = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/abs"))
        .unwrap();
    assert_eq!(abs.headers[":authority"], "evil.example");
    assert_eq!(abs.headers["host"], "localhost");
    let ua = entries
        .iter()
        .find(|e| e.path.as_deref() == Some("/ua"))
        .unwrap();
    assert_eq!(ua.user_agent.as_deref(), Some("caf\u{FFFD}/1.0"));
    assert_eq!(ua.fields["correlation_id_replaced"], "r\u{FFFD}q");
    assert_ne!(ua.correlation_id.as_deref(), Some("r\u{FFFD}q"));
}
