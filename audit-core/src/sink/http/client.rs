//! One POST of a body to the endpoint, and what its answer means for the batch.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{
    HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER, USER_AGENT,
};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::error::SinkError;

/// What the endpoint said to a body.
#[derive(Debug)]
pub(super) enum Reply {
    /// 2xx: stored.
    Accepted,
    /// 408, 429, 5xx, or no answer: try again, after `after` when the endpoint said so.
    Retry {
        after: Option<Duration>,
        detail: String,
    },
    /// 413: the body is too large for the endpoint; split it.
    TooLarge(String),
    /// Another 4xx: the endpoint will not take it as configured (a token, a path); kept in the
    /// spool until the configuration is fixed.
    Refused(String),
}

pub(super) struct Client {
    inner: hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    headers: HeaderMap,
    timeout: Duration,
}

impl Client {
    pub fn new(uri: Uri, headers: HeaderMap, timeout: Duration, tls: rustls::ClientConfig) -> Self {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let inner = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Client {
            inner,
            uri,
            headers,
            timeout,
        }
    }

    /// POSTs `body` (already gzipped when `gzip`), bounded by the timeout.
    pub async fn post(&self, body: Bytes, content_type: &'static str, gzip: bool) -> Reply {
        let mut request = Request::post(self.uri.clone());
        if let Some(headers) = request.headers_mut() {
            headers.extend(self.headers.clone());
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            if gzip {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            headers
                .entry(USER_AGENT)
                .or_insert(HeaderValue::from_static(concat!(
                    "audited/",
                    env!("CARGO_PKG_VERSION")
                )));
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => return Reply::Refused(format!("the request could not be built: {e}")),
        };
        let response = match tokio::time::timeout(self.timeout, self.inner.request(request)).await {
            Err(_) => {
                return Reply::Retry {
                    after: None,
                    detail: format!("no answer within {:?}", self.timeout),
                }
            }
            Ok(Err(e)) => {
                return Reply::Retry {
                    after: None,
                    detail: error_chain(&e),
                }
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let after = retry_after(response.headers());
        // Read (a bounded part of) the answer, so the connection can be used again and an
        // error can say what the endpoint said.
        let text = match tokio::time::timeout(
            self.timeout,
            Limited::new(response.into_body(), 64 * 1024).collect(),
        )
        .await
        {
            Ok(Ok(body)) => String::from_utf8_lossy(&body.to_bytes()).trim().to_owned(),
            _ => String::new(),
        };
        let detail = || {
            let mut text: String = text.chars().take(300).collect();
            if text.is_empty() {
                text = "no explanation in the answer".into();
            }
            format!("{status}: {text}")
        };
        match status {
            s if s.is_success() => Reply::Accepted,
            StatusCode::PAYLOAD_TOO_LARGE => Reply::TooLarge(detail()),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => Reply::Retry {
                after,
                detail: detail(),
            },
            s if s.is_server_error() => Reply::Retry {
                after,
                detail: detail(),
            },
            _ => Reply::Refused(detail()),
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// An error with its causes (hyper's own message is often just "client error (Connect)").
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// gzip of a body (flate2, the fast level: bodies are sent once).
pub(super) fn gzip(body: &[u8]) -> Result<Vec<u8>, SinkError> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| SinkError::Invalid(format!("gzip failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }
}
