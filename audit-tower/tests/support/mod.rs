//! What the server tests share: the app, a loopback server, a generated body.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use audit_core::{AuditEntry, MemorySink};
use axum::body::{Body, Bytes};
use axum::routing::{get, post};
use axum::Router;
use futures_util::StreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;

pub fn app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        // Streams the request body straight back.
        .route(
            "/echo",
            post(|body: Body| async move { Body::from_stream(body.into_data_stream()) }),
        )
        .route(
            "/upload",
            post(|body: Body| async move {
                let mut stream = body.into_data_stream();
                let mut total = 0u64;
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(chunk) => total += chunk.len() as u64,
                        Err(e) => {
                            return (http::StatusCode::BAD_REQUEST, format!("upload failed: {e}"))
                        }
                    }
                }
                (http::StatusCode::OK, total.to_string())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                let chunks = futures_util::stream::unfold(0u32, |i| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Some((
                        Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 16 * 1024])),
                        i + 1,
                    ))
                });
                Body::from_stream(chunks)
            }),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
}

pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

pub async fn wait_for(sink: &MemorySink, n: usize) -> Vec<AuditEntry> {
    for _ in 0..1000 {
        if sink.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sink.entries()
}

/// A body of `total` pseudo-random bytes in chunks of `chunk`, generated as it is sent.
pub fn generated_body(
    total: usize,
    chunk: usize,
) -> StreamBody<impl futures_util::Stream<Item = Result<Frame<Bytes>, std::io::Error>> + Send + Unpin>
{
    StreamBody::new(futures_util::stream::iter((0..total).step_by(chunk).map(
        move |start| {
            let end = (start + chunk).min(total);
            let bytes: Vec<u8> = (start..end).map(|i| (i * 31 % 251) as u8).collect();
            Ok(Frame::data(Bytes::from(bytes)))
        },
    )))
}
