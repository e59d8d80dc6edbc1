//! What the interop tests share: an auditor writing to memory, a loopback server for axum and
//! for tonic, HTTP/1.1 and HTTP/2 clients, and waiting for entries.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{AuditEntry, Auditor, MemorySink};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// An auditor that writes each entry at once into memory.
pub fn auditor() -> (Auditor, MemorySink) {
    let sink = MemorySink::new();
    let auditor = Auditor::builder()
        .max_batch_wait(Duration::ZERO)
        .build(sink.clone())
        .expect("auditor");
    (auditor, sink)
}

/// Waits until `sink` holds `n` entries, then a little longer so a wrong extra entry shows up;
/// fails unless exactly `n` were recorded.
pub async fn entries(sink: &MemorySink, n: usize) -> Vec<AuditEntry> {
    for _ in 0..1000 {
        if sink.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let entries = sink.entries();
    assert_eq!(entries.len(), n, "{entries:#?}");
    entries
}

/// Serves `app` on a loopback port (HTTP/1.1 and HTTP/2), with the peer address known.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("serve");
    });
    addr
}

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// An HTTP/1.1 client.
pub fn http1() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client over cleartext (prior knowledge).
pub fn http2() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// Sends `req` and reads the whole response.
pub async fn send(
    client: &HttpClient,
    req: http::Request<Full<Bytes>>,
) -> (http::response::Parts, Bytes) {
    let response = client.request(req).await.expect("request");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts, bytes)
}

/// A GET request to `addr` + `path`.
pub fn get(addr: SocketAddr, path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("http://{addr}{path}"))
        .body(Full::default())
        .expect("request")
}

/// A directory with one file of `size` bytes named `name`, for `ServeDir`.
pub fn static_dir(name: &str, size: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let content: Vec<u8> = (0..size).map(|i| b"abcdefghij"[i % 10]).collect();
    std::fs::write(dir.path().join(name), content).expect("write");
    dir
}
