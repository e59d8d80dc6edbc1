//! [`AuditLayer`]: the configuration, and the layer that wraps services.

use std::sync::Arc;

use audit_core::Auditor;
use http::HeaderName;
use tower_layer::Layer;

use super::service::AuditService;
use crate::policy::{AuditLevel, AuditPolicy, HeaderPolicy, Rule};

type UserFn = dyn Fn(&http::request::Parts) -> Option<String> + Send + Sync;

/// Turns every HTTP call through the wrapped service into one audit entry.
///
/// ```no_run
/// use audit_core::Auditor;
/// use audit_tower::{AuditLayer, AuditLevel, Rule};
/// use axum::{routing::get, Router};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let auditor = Auditor::from_env()?;
/// let app: Router = Router::new()
///     .route("/api/v1/items/{id}", get(|| async { "item" }))
///     .route("/health", get(|| async { "ok" }))
///     .layer(
///         AuditLayer::new(auditor.clone())
///             .rule(Rule::prefix("/health", AuditLevel::None))
///             .user_from(|parts| {
///                 parts.headers.get("x-user").and_then(|v| v.to_str().ok()).map(String::from)
///             }),
///     );
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AuditLayer {
    pub(crate) config: Arc<Config>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub auditor: Auditor,
    pub policy: AuditPolicy,
    pub headers: HeaderPolicy,
    /// For an allow-list: each header with whether its name is sensitive, decided once here
    /// instead of on every request.
    pub header_plan: Option<Vec<(HeaderName, bool)>>,
    pub max_body_bytes: usize,
    pub correlation_header: HeaderName,
    pub client_addr_header: Option<HeaderName>,
    pub user_from: Option<Arc<UserFn>>,
    pub catch_panics: bool,
    /// Whether a `received` entry is written when a request arrives.
    pub received: bool,
}

impl std::fmt::Debug for AuditLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.config;
        f.debug_struct("AuditLayer")
            .field("policy", &c.policy)
            .field("headers", &c.headers)
            .field("max_body_bytes", &c.max_body_bytes)
            .field("correlation_header", &c.correlation_header)
            .field("client_addr_header", &c.client_addr_header)
            .field("user_from", &c.user_from.is_some())
            .field("catch_panics", &c.catch_panics)
            .field("record_received", &c.received)
            .finish()
    }
}

impl AuditLayer {
    /// A layer recording through `auditor`, with the defaults: level `RequestResponse` for
    /// every route, 64 KiB of each body kept, `x-request-id` as the correlation header.
    pub fn new(auditor: Auditor) -> Self {
        AuditLayer {
            config: Arc::new(Config {
                header_plan: header_plan(&HeaderPolicy::default(), &auditor),
                auditor,
                policy: AuditPolicy::default(),
                headers: HeaderPolicy::default(),
                max_body_bytes: 64 * 1024,
                correlation_header: HeaderName::from_static("x-request-id"),
                client_addr_header: None,
                user_from: None,
                catch_panics: true,
                received: false,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        // Builders run before the layer is cloned into services, so this rarely copies.
        Arc::make_mut(&mut self.config)
    }

    /// The level of requests no rule matches (default [`AuditLevel::RequestResponse`]).
    #[must_use]
    pub fn default_level(mut self, level: AuditLevel) -> Self {
        let config = self.config_mut();
        config.policy = std::mem::take(&mut config.policy).default_level(level);
        self
    }

    /// Adds a per-route rule; the first matching rule wins.
    #[must_use]
    pub fn rule(mut self, rule: Rule) -> Self {
        let config = self.config_mut();
        config.policy = std::mem::take(&mut config.policy).rule(rule);
        self
    }

    /// Replaces the whole policy.
    #[must_use]
    pub fn policy(mut self, policy: AuditPolicy) -> Self {
        self.config_mut().policy = policy;
        self
    }

    /// Which request headers go into the entry (sensitive ones always redacted).
    #[must_use]
    pub fn headers(mut self, headers: HeaderPolicy) -> Self {
        let config = self.config_mut();
        config.header_plan = header_plan(&headers, &config.auditor);
        config.headers = headers;
        self
    }

    /// How many bytes of each body are kept for the entry (default 64 KiB); the full size is
    /// counted either way, and the bodies themselves always pass through whole.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config_mut().max_body_bytes = bytes;
        self
    }

    /// The header carrying the correlation id (default `x-request-id`). When a request has none,
    /// the entry id is used and set on the request and the response.
    #[must_use]
    pub fn correlation_header(mut self, name: HeaderName) -> Self {
        self.config_mut().correlation_header = name;
        self
    }

    /// Takes `client_addr` from this header, set by a proxy you trust (`x-forwarded-for`,
    /// `x-real-ip`): the last address in it, the one your nearest proxy saw. Without it,
    /// `client_addr` is the socket peer. Never enable it when clients can reach the service
    /// directly: they could write any address there.
    #[must_use]
    pub fn trusted_client_addr_header(mut self, name: HeaderName) -> Self {
        self.config_mut().client_addr_header = Some(name);
        self
    }

    /// Whether this layer answers a handler's panic (default `true`): with `500 Internal
    /// Server Error`, or gRPC status `INTERNAL` for a gRPC request. With `false` the panic
    /// goes on unwinding to what handles it further out (tower-http's `CatchPanicLayer`,
    /// hyper's connection task), as tower-http keeps that concern in a layer of its own.
    /// Either way the entry says `panic`, with the panic's message.
    #[must_use]
    pub fn catch_panics(mut self, catch: bool) -> Self {
        self.config_mut().catch_panics = catch;
        self
    }

    /// Also writes a `received` entry when a request arrives, before the handler runs
    /// (Kubernetes' `RequestReceived` stage; default off): a request that never completes (a
    /// crash, a hang, a kill) still leaves a trace. The two entries share an `operation.id`;
    /// the request's own entry, written when the response is complete, has stage `finished`.
    #[must_use]
    pub fn record_received(mut self, record: bool) -> Self {
        self.config_mut().received = record;
        self
    }

    /// Derives `user` from the request (a header, a verified token's claims in the extensions…).
    /// An [`AuditUser`](crate::AuditUser) extension, or `audit_core::context::set_user` in the
    /// handler, takes precedence.
    #[must_use]
    pub fn user_from(
        mut self,
        user: impl Fn(&http::request::Parts) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.config_mut().user_from = Some(Arc::new(user));
        self
    }
}

/// The allow-listed headers with their sensitivity by name; `None` for the other policies.
fn header_plan(policy: &HeaderPolicy, auditor: &Auditor) -> Option<Vec<(HeaderName, bool)>> {
    let HeaderPolicy::Allow(names) = policy else {
        return None;
    };
    let redaction = &auditor.scrubber().redaction;
    Some(
        names
            .iter()
            .filter_map(|name| HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok())
            .map(|name| {
                let sensitive = redaction.is_sensitive_header(name.as_str(), false);
                (name, sensitive)
            })
            .collect(),
    )
}

impl<S> Layer<S> for AuditLayer {
    type Service = AuditService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuditService::new(inner, self.config.clone())
    }
}
