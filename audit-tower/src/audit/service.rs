//! [`AuditService`]: starts the entry from the request and wraps the request body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use audit_core::context::CallContext;
use audit_core::{AuditEntry, Timestamp};
use http::{HeaderValue, Request, Response};
use http_body::Body;
use tower_service::Service;

use super::body::{RequestBody, ResponseBody};
use super::future::ResponseFuture;
use super::layer::Config;
use super::recorder::{Capture, Recorder};
use crate::grpc::{Deadline, Protocol};
use crate::policy::AuditLevel;
use crate::{AuditUser, PeerAddr};

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
        let level = config
            .policy
            .level(req.method(), req.uri().path(), route.as_deref());
        if level == AuditLevel::None || !config.auditor.is_enabled() {
            let req = req.map(|body| RequestBody::new(body, None));
            return ResponseFuture::new(context.scope(self.inner.call(req)), None, protocol, None);
        }

        let mut entry = AuditEntry::started_at(String::new(), Timestamp::now());
        let redaction = &config.auditor.scrubber().redaction;
        let path = req.uri().path().to_owned();
        entry.endpoint = route.clone().unwrap_or_else(|| path.clone());
        entry.method = Some(req.method().as_str().to_owned());
        entry.route = route;
        entry.path = Some(path);
        entry.query = req.uri().query().map(|q| redaction.query(q).into_owned());
        let headers = req.headers();
        let header_text = |name: &http::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        entry.user_agent = header_text(&http::header::USER_AGENT).map(String::from);
        let logged = |value: &HeaderValue, sensitive_name: bool| -> serde_json::Value {
            if redaction.is_enabled() && (sensitive_name || value.is_sensitive()) {
                return audit_core::REDACTED.into();
            }
            redaction
                .text(&String::from_utf8_lossy(value.as_bytes()))
                .into()
        };
        match &config.header_plan {
            Some(plan) => {
                for (name, sensitive) in plan {
                    // The last value, as a repeated header's last line wins below.
                    if let Some(value) = headers.get_all(name).iter().next_back() {
                        entry
                            .headers
                            .insert(name.as_str().to_owned(), logged(value, *sensitive));
                    }
                }
            }
            None => {
                for (name, value) in headers {
                    if config.headers.keeps(name.as_str()) {
                        let sensitive = redaction.is_sensitive_header(name.as_str(), false);
                        entry
                            .headers
                            .insert(name.as_str().to_owned(), logged(value, sensitive));
                    }
                }
            }
        }
        if let Some((trace_id, span_id)) =
            header_text(&http::header::HeaderName::from_static("traceparent"))
                .and_then(parse_traceparent)
        {
            entry.trace_id = Some(trace_id);
            entry.span_id = Some(span_id);
        }
        let request_type = header_text(&http::header::CONTENT_TYPE).map(String::from);
        let peer = peer_addr(&req);
        entry.peer_addr = peer.map(|addr| addr.to_string());
        entry.client_addr = config
            .client_addr_header
            .as_ref()
            .and_then(&header_text)
            .and_then(|value| value.rsplit(',').next())
            .map(|addr| addr.trim().to_owned())
            .filter(|addr| !addr.is_empty())
            .or_else(|| peer.map(|addr| addr.ip().to_string()));

        // The correlation id: the caller's, or this entry's id, passed on to the handler and the response.
        let correlation = match header_text(&config.correlation_header) {
            Some(id) => {
                entry.correlation_id = Some(id.to_owned());
                None
            }
            None => {
                let id = entry.id.to_string();
                entry.correlation_id = Some(id.clone());
                HeaderValue::from_str(&id).ok().map(|value| {
                    req.headers_mut()
                        .insert(config.correlation_header.clone(), value.clone());
                    (config.correlation_header.clone(), value)
                })
            }
        };

        if let Some(user) = req.extensions().get::<AuditUser>() {
            entry.user = user.0.clone();
        } else if let Some(user_from) = &config.user_from {
            let (parts, body) = req.into_parts();
            if let Some(user) = user_from(&parts) {
                entry.user = user;
            }
            req = Request::from_parts(parts, body);
        }
        req.extensions_mut().insert(context.clone());

        let limit = if level.captures_request() {
            config.max_body_bytes
        } else {
            0
        };
        let capture = Arc::new(Mutex::new(Capture::new(limit)));
        let recorder = Recorder {
            config: config.clone(),
            entry: Some(entry),
            started,
            level,
            request: capture.clone(),
            request_type,
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
        )
    }
}

/// The route template axum matched, when axum routed the request; `None` for a fallback,
/// which has no template (axum names it with an internal wildcard).
fn matched_route<B>(req: &Request<B>) -> Option<String> {
    #[cfg(feature = "axum")]
    if let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() {
        let path = path.as_str();
        if !is_axum_fallback(path) {
            return Some(path.to_owned());
        }
    }
    let _ = req;
    None
}

/// axum routes fallbacks (`Router::fallback`, `fallback_service`, a nested router's) through
/// `/{*__private__axum_fallback}` or a route ending in it.
fn is_axum_fallback(template: &str) -> bool {
    template.contains("__private__axum_fallback")
}

/// The socket peer: a [`PeerAddr`] extension, axum's `ConnectInfo<SocketAddr>` or
/// `MockConnectInfo`, or tonic's `TcpConnectInfo`.
fn peer_addr<B>(req: &Request<B>) -> Option<SocketAddr> {
    let extensions = req.extensions();
    if let Some(PeerAddr(addr)) = extensions.get::<PeerAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    {
        use axum::extract::connect_info::{ConnectInfo, MockConnectInfo};
        if let Some(info) = extensions.get::<ConnectInfo<SocketAddr>>() {
            return Some(info.0);
        }
        if let Some(info) = extensions.get::<MockConnectInfo<SocketAddr>>() {
            return Some(info.0);
        }
    }
    #[cfg(feature = "tonic")]
    if let Some(info) = extensions.get::<tonic::transport::server::TcpConnectInfo>() {
        return info.remote_addr();
    }
    None
}

/// Trace and parent span ids of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
pub(crate) fn parse_traceparent(value: &str) -> Option<(String, String)> {
    let mut parts = value.trim().split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let span_id = parts.next()?;
    let flags = parts.next()?;
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && trace_id.bytes().any(|b| b != b'0')
        && hex(span_id, 16)
        && span_id.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| (trace_id.to_owned(), span_id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::{is_axum_fallback, parse_traceparent};

    #[test]
    fn axum_fallback_templates_are_not_routes() {
        assert!(is_axum_fallback("/{*__private__axum_fallback}"));
        assert!(is_axum_fallback("/api/{*__private__axum_fallback}"));
        assert!(!is_axum_fallback("/api/{*rest}"));
    }

    #[test]
    fn traceparent_is_parsed_strictly() {
        assert_eq!(
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some((
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                "00f067aa0ba902b7".into()
            ))
        );
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f35-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }
}
