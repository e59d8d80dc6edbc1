//! Faults the operator meets, seen through the layer: a client that stops sending its body.

mod support;

use audit_core::Outcome;
use audit_tower::AuditLayer;
use axum::body::Body;
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use support::{auditor, entries, serve};
use tokio::io::AsyncWriteExt;

/// #11 finding 8: the handler answers 400 about the broken body, but the client is gone and
/// never gets it: the call was cancelled.
#[tokio::test]
async fn a_body_the_client_stopped_sending_is_cancelled() {
    let (auditor, sink) = auditor();
    let app = Router::new()
        .route(
            "/upload",
            post(|body: Body| async move {
                let mut stream = body.into_data_stream();
                while let Some(chunk) = stream.next().await {
                    if let Err(e) = chunk {
                        return (http::StatusCode::BAD_REQUEST, format!("upload failed: {e}"));
                    }
                }
                (http::StatusCode::OK, "stored".to_owned())
            }),
        )
        .layer(AuditLayer::new(auditor));
    let addr = serve(app).await;
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    drop(socket);
    let entry = entries(&sink, 1).await.remove(0);
    assert_eq!(entry.outcome, Outcome::Cancelled, "{entry:#?}");
    let error = entry.error.unwrap();
    assert!(error.contains("sent 10 of the 1000 bytes"), "{error}");
    assert_eq!(entry.request_bytes, Some(10));
}
