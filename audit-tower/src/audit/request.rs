//! What an entry takes from the request head: method, path, query, route, headers, user
//! agent, trace context, addresses, correlation id. Everything here comes from the client, so
//! it is redacted here and capped by the pipeline (`AuditEntry::enforce_bounds`).

use std::net::SocketAddr;

use audit_core::AuditEntry;
use http::{HeaderMap, HeaderName, HeaderValue, Request};

use super::layer::Config;
use crate::PeerAddr;

/// What the rest of the call needs from the head, besides the entry.
pub(crate) struct RequestHead {
    /// The correlation id generated for a request without a usable one, to set on the request
    /// and the response.
    pub generated_correlation: Option<HeaderValue>,
}

impl RequestHead {
    /// Fills `entry` from the request head.
    pub fn describe<B>(
        entry: &mut AuditEntry,
        req: &Request<B>,
        route: Option<&str>,
        config: &Config,
    ) -> RequestHead {
        let redaction = &config.auditor.scrubber().redaction;
        let uri = req.uri();
        let path = uri.path();
        entry.endpoint = match route {
            Some(route) => route.to_owned(),
            // CONNECT names an authority, not a path.
            None if path.is_empty() => uri.to_string(),
            None => path.to_owned(),
        };
        entry.method = Some(req.method().as_str().to_owned());
        entry.route = route.map(str::to_owned);
        entry.path = (!path.is_empty()).then(|| path.to_owned());
        entry.query = uri.query().map(|q| redaction.query(q).into_owned());
        let headers = req.headers();
        // Kept even when not UTF-8: invalid bytes show as U+FFFD.
        entry.user_agent = headers
            .get(http::header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        record_headers(entry, headers, config);
        // An absolute-form URI (`GET http://host/…`) or HTTP/2 names its authority in the URI;
        // recorded as sent, never trusted.
        if let Some(authority) = uri.authority() {
            entry
                .headers
                .insert(":authority".to_owned(), authority.as_str().into());
        }
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        if let Some((trace_id, span_id)) =
            text(&HeaderName::from_static("traceparent")).and_then(parse_traceparent)
        {
            entry.trace_id = Some(trace_id);
            entry.span_id = Some(span_id);
        }
        let peer = peer_addr(req);
        entry.peer_addr = peer.map(|addr| addr.to_string());
        entry.client_addr = config
            .client_addr_header
            .as_ref()
            .and_then(text)
            .and_then(|value| value.rsplit(',').next())
            .map(|addr| addr.trim().to_owned())
            .filter(|addr| !addr.is_empty())
            .or_else(|| peer.map(|addr| addr.ip().to_string()));

        let generated_correlation = match headers.get(&config.correlation_header) {
            Some(value) if value.to_str().is_ok_and(|id| !id.is_empty()) => {
                entry.correlation_id = value.to_str().ok().map(String::from);
                None
            }
            sent => {
                // tower-http's `SetRequestIdLayer`, outside this layer, may have made one under
                // another header name: the call keeps that id.
                if let Some(id) = request_id_extension(req) {
                    entry.correlation_id = id.to_str().ok().map(String::from);
                    return RequestHead {
                        generated_correlation: Some(id),
                    };
                }
                // Not visible ASCII (or empty): replaced, and the entry says what was sent.
                if let Some(sent) = sent {
                    entry.fields.insert(
                        "correlation_id_replaced".to_owned(),
                        String::from_utf8_lossy(sent.as_bytes()).into_owned().into(),
                    );
                }
                let id = entry.id.to_string();
                entry.correlation_id = Some(id.clone());
                HeaderValue::from_str(&id).ok()
            }
        };
        RequestHead {
            generated_correlation,
        }
    }
}

/// The id tower-http's `SetRequestIdLayer` put in the extensions, when usable.
#[cfg(feature = "tower-http")]
fn request_id_extension<B>(req: &http::Request<B>) -> Option<HeaderValue> {
    let id = req
        .extensions()
        .get::<tower_http::request_id::RequestId>()?
        .header_value();
    id.to_str()
        .is_ok_and(|text| !text.is_empty())
        .then(|| id.clone())
}

#[cfg(not(feature = "tower-http"))]
fn request_id_extension<B>(_req: &http::Request<B>) -> Option<HeaderValue> {
    None
}

/// The headers the policy keeps: sensitive ones as `[REDACTED]`, secrets inside the others
/// redacted; a header sent more than once keeps every value, joined by `, ` (so two `Host`
/// headers both show).
fn record_headers(entry: &mut AuditEntry, headers: &HeaderMap, config: &Config) {
    let redaction = &config.auditor.scrubber().redaction;
    // Whether the policy keeps `name`, and whether its name alone makes it sensitive.
    let wanted = |name: &HeaderName| -> Option<bool> {
        match &config.header_plan {
            // A short list of names compared in turn: cheaper than a hash look-up per listed
            // name, most of which a request does not send.
            Some(plan) => plan
                .iter()
                .find(|(kept, _)| kept == name)
                .map(|(_, sensitive)| *sensitive),
            None => config
                .headers
                .keeps(name.as_str())
                .then(|| redaction.is_sensitive_header(name.as_str(), false)),
        }
    };
    // One pass over the request's headers; the values of a repeated name come one after the
    // other and are joined.
    let mut kept: Vec<(&HeaderName, bool, String, bool)> = Vec::new();
    for (name, value) in headers {
        let text = match value.to_str() {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value.as_bytes()),
        };
        match kept.last_mut() {
            Some((last, _, joined, sensitive)) if *last == name => {
                joined.push_str(", ");
                joined.push_str(&text);
                *sensitive |= value.is_sensitive();
            }
            _ => {
                if let Some(sensitive_name) = wanted(name) {
                    kept.push((
                        name,
                        sensitive_name,
                        text.into_owned(),
                        value.is_sensitive(),
                    ));
                }
            }
        }
    }
    for (name, sensitive_name, text, sensitive) in kept {
        let value = if redaction.is_enabled() && (sensitive_name || sensitive) {
            audit_core::REDACTED.into()
        } else {
            match redaction.text(&text) {
                std::borrow::Cow::Borrowed(_) => text.into(),
                std::borrow::Cow::Owned(redacted) => redacted.into(),
            }
        };
        entry.headers.insert(name.as_str().to_owned(), value);
    }
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
fn parse_traceparent(value: &str) -> Option<(String, String)> {
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
    use super::parse_traceparent;

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
