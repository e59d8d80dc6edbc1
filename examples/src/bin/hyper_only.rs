//! Auditing a plain hyper 1 server, without axum.
//!
//! ```sh
//! cargo run -p examples --bin hyper_only      # 127.0.0.1:3001 (PORT to change)
//! curl -s localhost:3001/hello -H 'content-type: application/json' -d '{"name":"ada","token":"t"}'
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;

use audit_core::EnvConfig;
use audit_tower::{AuditLayer, PeerAddr, RequestBody};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower::ServiceBuilder;

/// Echoes the request body back as JSON.
async fn handler(req: Request<RequestBody<Incoming>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let answer = serde_json::json!({"received_bytes": body.len()});
    let mut response = Response::new(Full::new(Bytes::from(answer.to_string())));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auditor =
        EnvConfig::from_lookup_with_default(|k| std::env::var(k).ok(), "stdout:pretty")?.build()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let layer = AuditLayer::new(auditor.clone());

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer): (_, SocketAddr) = accepted?;
                let service = ServiceBuilder::new()
                    // hyper has no ConnectInfo: hand the socket peer to the layer yourself.
                    .map_request(move |mut req: Request<Incoming>| {
                        req.extensions_mut().insert(PeerAddr(peer));
                        req
                    })
                    .layer(layer.clone())
                    .service_fn(handler);
                tokio::spawn(async move {
                    let served = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                        .await;
                    if let Err(e) = served {
                        eprintln!("connection error: {e}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    auditor.shutdown().await?;
    Ok(())
}
