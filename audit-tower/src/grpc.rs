//! gRPC over HTTP/2 and grpc-web as the layer sees them: which protocol a request speaks, its
//! deadline, and where the status travels (response headers of a trailers-only response, the
//! trailers, or a trailer frame inside a grpc-web body).

use std::time::{Duration, Instant};

use audit_core::GrpcStatus;
use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use percent_encoding::percent_decode_str;

/// The protocol of a call, from the request's `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    /// `application/grpc`, `application/grpc+proto` …
    Grpc,
    /// `application/grpc-web`, `application/grpc-web+proto`: trailers in the body, binary.
    GrpcWeb,
    /// `application/grpc-web-text`: the same, base64-encoded (its trailer frame is not read).
    GrpcWebText,
}

impl Protocol {
    pub fn of(content_type: Option<&str>) -> Self {
        let Some(content_type) = content_type else {
            return Protocol::Http;
        };
        // Nearly every request is not gRPC: decided without building the essence.
        const GRPC: &str = "application/grpc";
        let head = content_type.trim_start().as_bytes();
        if head.len() < GRPC.len() || !head[..GRPC.len()].eq_ignore_ascii_case(GRPC.as_bytes()) {
            return Protocol::Http;
        }
        let essence = audit_core::__private::content_type_essence(content_type);
        let subtype = |prefix: &str| {
            essence
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('+'))
        };
        if subtype("application/grpc-web-text") {
            Protocol::GrpcWebText
        } else if subtype("application/grpc-web") {
            Protocol::GrpcWeb
        } else if subtype("application/grpc") {
            Protocol::Grpc
        } else {
            Protocol::Http
        }
    }

    pub fn is_grpc(self) -> bool {
        self != Protocol::Http
    }
}

/// The deadline a client sets with `grpc-timeout` (`100m`, `5S`: at most 8 digits and a unit).
pub(crate) fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// A call's deadline from its `grpc-timeout`.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    /// When the call is cut, less a margin: the client's own timer runs out at the same moment
    /// and its cancellation can arrive a hair before the server's deadline.
    at: Instant,
    header: String,
}

impl Deadline {
    pub fn of(started: Instant, headers: &HeaderMap) -> Option<Self> {
        let header = headers.get("grpc-timeout")?.to_str().ok()?;
        let timeout = parse_timeout(header)?;
        let margin = (timeout / 10).max(Duration::from_millis(20));
        Some(Deadline {
            at: started.checked_add(timeout.saturating_sub(margin))?,
            header: header.to_owned(),
        })
    }

    /// `DEADLINE_EXCEEDED` once the deadline has passed: the call was cut by it (tonic's own
    /// timeout sits outside the layer and drops the call), not by the client leaving.
    pub fn exceeded(&self) -> Option<GrpcStatus> {
        (Instant::now() >= self.at).then(|| {
            GrpcStatus::new(
                GrpcStatus::DEADLINE_EXCEEDED,
                Some(format!("deadline exceeded (grpc-timeout {})", self.header)),
            )
        })
    }
}

/// The status in `grpc-status`/`grpc-message`, if `headers` carry one.
pub(crate) fn status_in(headers: &HeaderMap) -> Option<GrpcStatus> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers.get("grpc-message").map(|v| {
        percent_decode_str(&String::from_utf8_lossy(v.as_bytes()))
            .decode_utf8_lossy()
            .into_owned()
    });
    Some(GrpcStatus::new(code, message))
}

/// The largest grpc-web trailer frame read; a longer one is not a status block.
const MAX_TRAILER_FRAME: usize = 16 * 1024;

/// Follows the length-prefixed messages of a grpc-web body (1 flag byte, 4 length bytes, the
/// message) across data frames, and keeps the trailer frame (flag bit 0x80) to read the status.
#[derive(Debug, Default)]
pub(crate) struct WebTrailers {
    header: Vec<u8>,
    /// Bytes of the current message still to skip or keep.
    remaining: usize,
    /// The trailer frame being read, when the current message is one.
    trailer: Option<Vec<u8>>,
    pub status: Option<GrpcStatus>,
}

impl WebTrailers {
    pub fn push(&mut self, mut data: Bytes) {
        while data.has_remaining() {
            if self.remaining == 0 && self.trailer.is_none() {
                let need = 5 - self.header.len();
                let take = need.min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data.advance(take);
                if self.header.len() < 5 {
                    return;
                }
                let flag = self.header[0];
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]) as usize;
                self.header.clear();
                self.remaining = len;
                if flag & 0x80 != 0 && len <= MAX_TRAILER_FRAME {
                    self.trailer = Some(Vec::with_capacity(len));
                }
                if len == 0 {
                    self.end_message();
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            if let Some(trailer) = &mut self.trailer {
                trailer.extend_from_slice(&data[..take]);
            }
            data.advance(take);
            self.remaining -= take;
            if self.remaining == 0 {
                self.end_message();
            }
        }
    }

    fn end_message(&mut self) {
        let Some(block) = self.trailer.take() else {
            return;
        };
        // `name:value\r\n` lines, as HTTP/1 headers are written.
        let mut headers = HeaderMap::new();
        for line in String::from_utf8_lossy(&block).split("\r\n") {
            if let Some((name, value)) = line.split_once(':') {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.trim().to_ascii_lowercase().as_bytes()),
                    HeaderValue::from_str(value.trim()),
                ) {
                    headers.append(name, value);
                }
            }
        }
        if let Some(status) = status_in(&headers) {
            self.status = Some(status);
        }
    }
}

/// A trailers-only gRPC answer (`200`, `grpc-status`, `grpc-message`, no body): what a gRPC
/// client understands where an HTTP client gets a plain-text 500.
pub(crate) fn status_response<B>(protocol: Protocol, status: &GrpcStatus, body: B) -> Response<B> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let content_type = match protocol {
        Protocol::GrpcWeb => "application/grpc-web+proto",
        Protocol::GrpcWebText => "application/grpc-web-text+proto",
        _ => "application/grpc",
    };
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert("grpc-status", HeaderValue::from(status.code));
    if let Some(message) = &status.message {
        let encoded = percent_encoding::utf8_percent_encode(message, GRPC_MESSAGE).to_string();
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("grpc-message", value);
        }
    }
    response
}

/// What `grpc-message` percent-encodes: anything outside printable ASCII, and `%`.
const GRPC_MESSAGE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_by_content_type() {
        assert_eq!(Protocol::of(Some("application/grpc")), Protocol::Grpc);
        assert_eq!(Protocol::of(Some("application/grpc+proto")), Protocol::Grpc);
        assert_eq!(
            Protocol::of(Some("application/grpc-web+proto")),
            Protocol::GrpcWeb
        );
        assert_eq!(
            Protocol::of(Some("application/grpc-web-text")),
            Protocol::GrpcWebText
        );
        assert_eq!(Protocol::of(Some("application/grpcx")), Protocol::Http);
        assert_eq!(Protocol::of(Some("application/json")), Protocol::Http);
        assert_eq!(Protocol::of(None), Protocol::Http);
    }

    #[test]
    fn timeouts_parse_as_the_spec_writes_them() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("123456789S"), None);
        assert_eq!(parse_timeout("m"), None);
        assert_eq!(parse_timeout("10x"), None);
        assert_eq!(parse_timeout(""), None);
    }

    #[test]
    fn web_trailer_frames_are_found_across_chunks() {
        let mut body = vec![0u8, 0, 0, 0, 3, 1, 2, 3];
        let trailer = b"grpc-status:5\r\ngrpc-message:no%20such%20feature\r\n";
        body.push(0x80);
        body.extend_from_slice(&(trailer.len() as u32).to_be_bytes());
        body.extend_from_slice(trailer);
        for split in 0..body.len() {
            let mut web = WebTrailers::default();
            web.push(Bytes::copy_from_slice(&body[..split]));
            web.push(Bytes::copy_from_slice(&body[split..]));
            let status = web.status.expect("status");
            assert_eq!(
                (status.code, status.message.as_deref()),
                (5, Some("no such feature"))
            );
        }
    }
}
