//! # audit-tower
//!
//! [`AuditLayer`], a Tower middleware that turns every HTTP call through an axum `Router` or a
//! hyper service into exactly one audit entry, recorded through an [`audit_core::Auditor`].
//!
//! - Bodies are teed as they stream, never buffered: at most `max_body_bytes` (64 KiB) of each
//!   is kept for the entry, the full size is counted, and the service sees the same frames.
//! - The entry is completed when the response body ends, fails or is dropped, so
//!   `duration_seconds` covers the whole body; a dropped response is `cancelled`.
//! - A handler panic becomes `500 Internal Server Error` with outcome `panic`.
//! - Auditing never fails a request: a sink's failure stays in the pipeline.
//!
//! ```no_run
//! use audit_core::Auditor;
//! use audit_tower::AuditLayer;
//! use axum::{routing::post, Json, Router};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auditor = Auditor::from_env()?;
//! let app: Router = Router::new()
//!     .route("/api/v1/sow/create", post(|Json(body): Json<serde_json::Value>| async move { Json(body) }))
//!     .layer(AuditLayer::new(auditor.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! auditor.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! ## Where to put the layer in axum
//! Apply it with `Router::layer` so that axum's `MatchedPath` (the route template) is known;
//! wrapping the whole router from outside (`ServiceBuilder` around `Router`) still works, with
//! the path as the endpoint. For the client's address, serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`. [`AuditRouterExt::audited`] does
//! the same as `Router::layer` and fails to compile when the router comes from another axum
//! version than the layer's (then `route` would be null in every entry).
//!
//! ## gRPC (tonic)
//! `Server::builder().layer(AuditLayer::new(auditor))`: one entry per RPC, unary or streaming,
//! grpc-web included. The entry's `grpc` field holds `grpc-status`/`grpc-message` wherever
//! they travel (response head, trailers, grpc-web trailer frame) and decides the outcome; the
//! HTTP status stays as sent (200). A call past its `grpc-timeout` is `DEADLINE_EXCEEDED`; a
//! handler panic is answered with `INTERNAL`; the peer comes from tonic's `TcpConnectInfo`
//! (feature `tonic`); health checks and reflection are not audited by default.
#![deny(unsafe_code)]
#![warn(missing_docs, clippy::return_self_not_must_use)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod audit;
mod extract;
mod grpc;
mod policy;
#[cfg(feature = "axum")]
mod router;

pub use audit::{AuditLayer, AuditService, RequestBody, ResponseBody, ResponseFuture};
#[cfg(feature = "axum")]
pub use extract::AuditCall;
pub use extract::{AuditUser, PeerAddr};
pub use policy::{AuditLevel, AuditPolicy, HeaderPolicy, Rule, GRPC_INFRASTRUCTURE_SERVICES};
#[cfg(feature = "axum")]
pub use router::AuditRouterExt;
