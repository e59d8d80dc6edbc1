//! [`AuditRouterExt`]: applying the layer to an axum `Router`, checked against the axum
//! version the layer reads.

use crate::AuditLayer;

/// `router.audited(layer)`: the same as `router.layer(layer)`, but it only compiles when the
/// router comes from the axum version `audit-tower` was built with.
///
/// The layer reads axum's `MatchedPath` and `ConnectInfo` by type. When a build holds two
/// versions of axum (`cargo tree -d -i axum` lists both), `Router::layer` still accepts the
/// layer, but those types are not the ones the router inserts, so every entry's `route` is
/// null and `endpoint` is the raw path. `audited` turns that into a compile error
/// (``expected `axum::Router`, found `axum::Router` ``): align the versions in `Cargo.toml`.
///
/// ```no_run
/// use audit_tower::{AuditLayer, AuditRouterExt};
/// use axum::{routing::get, Router};
///
/// # fn app(auditor: audit_core::Auditor) -> Router {
/// Router::new()
///     .route("/items/{id}", get(|| async { "item" }))
///     .audited(AuditLayer::new(auditor))
/// # }
/// ```
pub trait AuditRouterExt {
    /// Applies `layer` to every route (as `Router::layer` does).
    #[must_use]
    fn audited(self, layer: AuditLayer) -> Self;
}

impl<S: Clone + Send + Sync + 'static> AuditRouterExt for axum::Router<S> {
    fn audited(self, layer: AuditLayer) -> Self {
        self.layer(layer)
    }
}
