//! The layer in stacks users build from tower-http and axum: static files, fallbacks,
//! compression in both orders, timeouts, caught panics, request ids, body limits, SSE, HTTP/2,
//! and clients that leave early. One true entry per call in each.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use audit_core::Outcome;
use audit_tower::{AuditLayer, AuditRouterExt};
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use support::{auditor, entries, get as get_req, http1, http2, send, serve, static_dir};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

const FILE_SIZE: usize = 300 * 1024;

/// Finding 2: hyper stops polling a body once `content-length` bytes went out (HTTP/1.1); the
/// file was delivered whole, so the call succeeded.
#[tokio::test]
async fn a_static_file_delivered_whole_is_a_success_over_http1_and_http2() {
    let dir = static_dir("report.txt", FILE_SIZE);
    let (auditor, sink) = auditor();
    let app = Router::new()
        .nest_service("/static", ServeDir::new(dir.path()))
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    for (client, version) in [(http1(), "HTTP/1.1"), (http2(), "HTTP/2")] {
        let (parts, body) = send(&client, get_req(addr, "/static/report.txt")).await;
        assert_eq!(parts.status, StatusCode::OK, "{version}");
        assert_eq!(body.len(), FILE_SIZE, "{version}");
    }
    for entry in entries(&sink, 2).await {
        assert_eq!(entry.outcome, Outcome::Success, "{entry:#?}");
        assert_eq!(entry.error, None);
        assert_eq!(entry.status_code, Some(200));
        assert_eq!(entry.response_bytes, Some(FILE_SIZE as u64));
    }
}

/// Bodies of a known size that are not streamed from a file complete the same way.
#[tokio::test]
async fn full_and_streamed_bodies_complete_by_their_size_or_their_end() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route("/full", get(|| async { vec![b'f'; 100_000] }))
        .route(
            "/stream",
            get(|| async {
                let chunks = (0..10).map(|_| Ok::<_, Infallible>(Bytes::from(vec![b's'; 10_000])));
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        )
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    for client in [http1(), http2()] {
        for path in ["/full", "/stream"] {
            let (_, body) = send(&client, get_req(addr, path)).await;
            assert_eq!(body.len(), 100_000);
        }
    }
    for entry in entries(&sink, 4).await {
        assert_eq!(
            (entry.outcome, entry.response_bytes),
            (Outcome::Success, Some(100_000)),
            "{entry:#?}"
        );
    }
}

/// A client that really leaves in the middle of a long body: `cancelled`, with the bytes sent.
#[tokio::test]
async fn a_client_that_leaves_early_is_cancelled() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route(
            "/endless",
            get(|| async {
                let chunks = futures_util::stream::unfold((), |()| async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((Ok::<_, Infallible>(Bytes::from(vec![b'e'; 8192])), ()))
                });
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/sized",
            get(|| async {
                // Announces 1 MB, sends 64 KiB, then stalls.
                let head = futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from(vec![
                        b'z';
                        65536
                    ]))]);
                let stall = futures_util::stream::pending();
                (
                    [(header::CONTENT_LENGTH, "1000000")],
                    Body::from_stream(futures_util::StreamExt::chain(head, stall)),
                )
            }),
        )
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    for path in ["/endless", "/sized"] {
        let client = http1();
        let response = client.request(get_req(addr, path)).await.unwrap();
        let mut body = response.into_body();
        let first = body.frame().await.unwrap().unwrap();
        assert!(first.is_data());
        drop(body);
        drop(client);
    }
    for entry in entries(&sink, 2).await {
        assert_eq!(entry.outcome, Outcome::Cancelled, "{entry:#?}");
        assert!(entry
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("dropped before it ended"));
        assert!(entry.response_bytes.unwrap_or(0) > 0);
    }
}

/// Finding 3: a fallback has no route template; axum's internal name never shows.
#[tokio::test]
async fn fallbacks_have_no_route_and_no_axum_internal_name() {
    let dir = static_dir("index.html", 1000);
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route("/api/items", get(|| async { "items" }))
        .fallback_service(ServeDir::new(dir.path()))
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let client = http1();
    send(&client, get_req(addr, "/index.html")).await;
    send(&client, get_req(addr, "/missing")).await;
    send(&client, get_req(addr, "/api/items")).await;
    let entries = entries(&sink, 3).await;
    for entry in &entries {
        let line = serde_json::to_string(entry).unwrap();
        assert!(!line.contains("__private__"), "{line}");
    }
    let by_path = |p: &str| {
        entries
            .iter()
            .find(|e| e.path.as_deref() == Some(p))
            .unwrap()
    };
    assert_eq!(by_path("/index.html").route, None);
    assert_eq!(by_path("/index.html").endpoint, "/index.html");
    assert_eq!(by_path("/missing").status_code, Some(404));
    assert_eq!(by_path("/missing").endpoint, "/missing");
    assert_eq!(by_path("/api/items").route.as_deref(), Some("/api/items"));
}

/// axum versions that route a fallback through the path router hand the layer axum's internal
/// template as the matched path; axum 0.8.9's `fallback_service` does not, so the template is
/// matched explicitly here.
#[tokio::test]
async fn axums_internal_fallback_template_is_not_a_route() {
    let client = http1();
    let (auditor, sink) = auditor();
    let internal = Router::new()
        .route("/{*__private__axum_fallback}", get(|| async { "fallback" }))
        .audited(AuditLayer::new(auditor));
    let addr = serve(internal).await;
    send(&client, get_req(addr, "/anything")).await;
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!((entry.route, entry.endpoint.as_str()), (None, "/anything"));
}

fn json_route() -> Router {
    Router::new().route(
        "/report",
        get(|| async { axum::Json(serde_json::json!({"rows": vec!["row"; 2000], "total": 2000})) }),
    )
}

fn gzip_request(addr: SocketAddr) -> Request<Full<Bytes>> {
    Request::get(format!("http://{addr}/report"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Full::default())
        .unwrap()
}

/// Compression outside the layer: the entry sees the JSON as the handler wrote it.
/// Compression inside: the entry says the body it saw was gzip, and counts the compressed bytes.
#[tokio::test]
async fn compression_in_both_orders_says_what_the_entry_saw() {
    let (auditor, sink) = auditor();
    let outside = json_route()
        .layer(AuditLayer::new(auditor.clone()))
        .layer(CompressionLayer::new());
    let addr = serve(outside).await;
    let (parts, _) = send(&http1(), gzip_request(addr)).await;
    assert_eq!(parts.headers[header::CONTENT_ENCODING], "gzip");
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.response_encoding, None);
    assert_eq!(entry.response_summary.as_ref().unwrap()["total"], 2000);

    sink.take();
    let inside = json_route()
        .layer(CompressionLayer::new())
        .layer(AuditLayer::new(auditor));
    let addr = serve(inside).await;
    let (parts, body) = send(&http1(), gzip_request(addr)).await;
    assert_eq!(parts.headers[header::CONTENT_ENCODING], "gzip");
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.response_encoding.as_deref(), Some("gzip"));
    assert_eq!(entry.response_bytes, Some(body.len() as u64));
    assert_eq!(entry.outcome, Outcome::Success);
}

/// tower-http's timeout inside the layer answers 408, which is what the entry says; outside
/// the layer it drops the call, which the entry records as cut short (not as a success).
#[tokio::test]
async fn timeouts_inside_and_outside_the_layer() {
    let slow = || {
        Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
    };
    let (auditor, sink) = auditor();
    let inside = slow()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ))
        .layer(AuditLayer::new(auditor.clone()));
    let response = inside
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    drop(response);
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (Some(408), Outcome::ClientError)
    );

    sink.take();
    let outside = slow()
        .layer(AuditLayer::new(auditor))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(50),
        ));
    let response = outside
        .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.outcome, Outcome::Cancelled);
    assert!(entry.error.unwrap().contains("timeout outside the layer"));
}

/// CatchPanicLayer inside the layer turns the panic into a 500 the entry records; outside,
/// the layer catches the panic first and records it as one.
#[tokio::test]
async fn caught_panics_in_both_orders() {
    let panicking = || Router::new().route("/boom", get(|| async { panic!("kaboom") as &str }));
    let (auditor, sink) = auditor();
    let inside = panicking()
        .layer(CatchPanicLayer::new())
        .layer(AuditLayer::new(auditor.clone()));
    let response = inside
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    response.into_body().collect().await.unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (Some(500), Outcome::ServerError)
    );

    sink.take();
    let outside = panicking()
        .layer(AuditLayer::new(auditor))
        .layer(CatchPanicLayer::new());
    let response = outside
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (Some(500), Outcome::Panic)
    );
    assert_eq!(entry.error.as_deref(), Some("kaboom"));
}

/// #13: with `catch_panics(false)` the layer leaves the answer to tower-http's
/// `CatchPanicLayer` outside it, and its entry still says `panic`.
#[tokio::test]
async fn a_panic_the_layer_does_not_catch_is_answered_outside_and_recorded() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route("/boom", get(|| async { panic!("kaboom") as &str }))
        .layer(AuditLayer::new(auditor).catch_panics(false))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                http::Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .body(Full::new(Bytes::from_static(b"outer")))
                    .unwrap()
            },
        ));
    let response = app
        .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "the outer layer answered"
    );
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!((entry.status_code, entry.outcome), (None, Outcome::Panic));
    assert_eq!(entry.error.as_deref(), Some("kaboom"));
}

/// #13: `SetRequestIdLayer` under a header of its own (not the layer's correlation header):
/// the entry takes the id from its `RequestId` extension instead of making another.
#[tokio::test]
async fn a_request_id_under_another_header_is_the_correlation_id() {
    let (auditor, sink) = auditor();
    let trace_id = http::HeaderName::from_static("x-trace-id");
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(AuditLayer::new(auditor))
        .layer(PropagateRequestIdLayer::new(trace_id.clone()))
        .layer(SetRequestIdLayer::new(trace_id, MakeRequestUuid));
    let response = app
        .oneshot(Request::get("/hello").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let id = response.headers()["x-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["x-request-id"].to_str().unwrap(), id);
    response.into_body().collect().await.unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.correlation_id.as_deref(), Some(id.as_str()));
}

/// The id SetRequestIdLayer gives a request is the entry's correlation id, and the one the
/// client gets back.
#[tokio::test]
async fn set_request_id_becomes_the_correlation_id() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(AuditLayer::new(auditor))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    let response = app
        .oneshot(Request::get("/hello").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    response.into_body().collect().await.unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.correlation_id.as_deref(), Some(id.as_str()));
}

/// RequestBodyLimitLayer's 413 is recorded as it was answered.
#[tokio::test]
async fn a_body_over_the_limit_is_recorded_as_413() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route(
            "/upload",
            post(|body: Bytes| async move { body.len().to_string() }),
        )
        .layer(RequestBodyLimitLayer::new(1024))
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let req = Request::post(format!("http://{addr}/upload"))
        .body(Full::new(Bytes::from(vec![b'u'; 4096])))
        .unwrap();
    let (parts, _) = send(&http1(), req).await;
    assert_eq!(parts.status, StatusCode::PAYLOAD_TOO_LARGE);
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(
        (entry.status_code, entry.outcome),
        (Some(413), Outcome::ClientError)
    );
}

/// Server-sent events over HTTP/1.1 and HTTP/2: one entry when the stream ends, with its bytes.
#[tokio::test]
async fn server_sent_events_end_in_one_entry() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route(
            "/events",
            get(|| async {
                let events = futures_util::stream::iter(
                    (0..3).map(|i| Ok::<_, Infallible>(Event::default().data(format!("tick {i}")))),
                );
                Sse::new(events)
            }),
        )
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let mut sizes = Vec::new();
    for client in [http1(), http2()] {
        let (parts, body) = send(&client, get_req(addr, "/events")).await;
        assert_eq!(parts.headers[header::CONTENT_TYPE], "text/event-stream");
        assert_eq!(
            String::from_utf8_lossy(&body).matches("data: tick").count(),
            3
        );
        sizes.push(body.len() as u64);
    }
    for (entry, size) in entries(&sink, 2).await.iter().zip(sizes) {
        assert_eq!(entry.outcome, Outcome::Success);
        assert_eq!(entry.response_bytes, Some(size));
    }
}

/// Finding 5: axum's `MockConnectInfo` (its testing example) gives the client address.
#[tokio::test]
async fn mock_connect_info_gives_the_client_address() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .layer(AuditLayer::new(auditor))
        .layer(MockConnectInfo(SocketAddr::from(([10, 1, 2, 3], 4567))));
    let response = app
        .oneshot(Request::get("/hello").body(Body::empty()).unwrap())
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.client_addr.as_deref(), Some("10.1.2.3"));
    assert_eq!(entry.peer_addr.as_deref(), Some("10.1.2.3:4567"));
}
