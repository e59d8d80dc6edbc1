//! [`AuditService`]: starts the entry from the request and wraps the request body.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use audit_core::context::CallContext;
use audit_core::operation::{OperationInfo, FINISHED, RECEIVED};
use audit_core::{AuditEntry, Outcome, Timestamp};
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::future::ResponseFuture;
use super::layer::Config;
use super::recorder::{Capture, Recorder};
use super::request::RequestHead;
use crate::grpc::{Deadline, Protocol};
use crate::policy::AuditLevel;
use crate::AuditUser;

/// The service made by [`AuditLayer`](super::AuditLayer).
#[derive(Clone)]
pub struct AuditService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> AuditService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        AuditService { inner, config }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for AuditService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditService")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuditService<S>
where
    S: Service<Request<RequestBody<ReqBody>>, Response = Response<ResBody>>,
    S::Error: std::fmt::Display,
    ReqBody: Body,
    ReqBody::Error: std::fmt::Display,
    ResBody: Body<Data = bytes::Bytes>,
    ResBody::Error: std::fmt::Display,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let started = Instant::now();
        let context = CallContext::new();
        let route = matched_route(&req);
        let config = &self.config;
        let protocol = Protocol::of(
            req.headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let level = config.policy.level(req.method(), req.uri().path(), route);
        if level == AuditLevel::None || !config.auditor.is_enabled() {
            let req = req.map(|body| RequestBody::new(body, None));
            return ResponseFuture::new(
                context.scope(self.inner.call(req)),
                None,
                protocol,
                None,
                config.catch_panics,
            );
        }

        let mut entry = AuditEntry::started_at(String::new(), Timestamp::now());
        let head = RequestHead::describe(&mut entry, &req, route, config);
        // Only a captured body is summarised by its media type.
        let request_type = if level.captures_request() {
            req.headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        } else {
            None
        };
        // The correlation id: the caller's, or this entry's id, passed on to the handler and
        // the response.
        let correlation = head.generated_correlation.map(|value| {
            req.headers_mut()
                .insert(config.correlation_header.clone(), value.clone());
            (config.correlation_header.clone(), value)
        });

        let request_user = match req.extensions().get::<AuditUser>() {
            Some(user) => Some(user.0.clone()),
            None => match &config.user_from {
                Some(user_from) => {
                    let (parts, body) = req.into_parts();
                    let user = user_from(&parts);
                    req = Request::from_parts(parts, body);
                    user
                }
                None => None,
            },
        };
        if config.received {
            record_received(&mut entry, request_user.as_deref(), config);
        }
        // `#[audited]` calls nested in the handler link their own entries to this one.
        context.update(|details| {
            details.entry_id = Some(entry.id);
            details.correlation_id = entry.correlation_id.clone();
        });
        req.extensions_mut().insert(context.clone());

        let limit = if level.captures_request() {
            config.max_body_bytes
        } else {
            0
        };
        let mut capture = Capture::new(limit);
        capture.announced = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let capture = Arc::new(Mutex::new(capture));
        let recorder = Recorder {
            config: config.clone(),
            entry: Some(entry),
            started,
            level,
            request: capture.clone(),
            request_type,
            request_user,
            context: context.clone(),
            status: None,
            protocol,
            deadline: if protocol.is_grpc() {
                Deadline::of(started, req.headers())
            } else {
                None
            },
        };
        let req = req.map(|body| RequestBody::new(body, Some(capture)));
        ResponseFuture::new(
            context.scope(self.inner.call(req)),
            Some(recorder),
            protocol,
            correlation,
            config.catch_panics,
        )
    }
}

/// Writes the `received` entry of a request that just arrived, and makes `entry` the
/// `finished` stage of the same operation.
fn record_received(entry: &mut AuditEntry, user: Option<&str>, config: &Config) {
    let id = uuid::Uuid::now_v7();
    let mut received = entry.clone();
    received.id = uuid::Uuid::now_v7();
    received.outcome = Outcome::Pending;
    received.operation = Some(OperationInfo::new(id, RECEIVED));
    if let Some(user) = user {
        received.user = user.to_owned();
    }
    entry.operation = Some(OperationInfo::new(id, FINISHED));
    config.auditor.record_detached(received);
}

/// The route template axum matched, when axum routed the request; `None` for a fallback,
/// which has no template (axum names it with an internal wildcard).
fn matched_route<B>(req: &Request<B>) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        let path = path.as_str();
        if !is_axum_fallback(path) {
            return Some(path);
        }
    }
    let _ = req;
    None
}

/// axum routes fallbacks (`Router::fallback`, `fallback_service`, a nested router's) through
/// `/{*__private__axum_fallback}` or a route ending in it.
#[cfg(feature = "axum")]
fn is_axum_fallback(template: &str) -> bool {
    template.contains("__private__axum_fallback")
}

#[cfg(all(test, feature = "axum"))]
mod tests {
    use super::is_axum_fallback;

    #[test]
    fn axum_fallback_templates_are_not_routes() {
        assert!(is_axum_fallback("/{*__private__axum_fallback}"));
        assert!(is_axum_fallback("/api/{*__private__axum_fallback}"));
        assert!(!is_axum_fallback("/api/{*rest}"));
    }
}
