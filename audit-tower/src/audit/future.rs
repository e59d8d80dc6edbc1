//! [`ResponseFuture`]: waits for the response head, catches panics, wraps the body.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use audit_core::context::Scoped;
use audit_core::{GrpcStatus, Outcome, OverflowPolicy};
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;

use super::body::{Completion, ResponseBody};
use super::recorder::{Capture, Ending, RecordFuture, Recorder};
use crate::grpc::{self, Protocol, WebTrailers};
use crate::AuditUser;

pin_project! {
    /// The future of [`AuditService`](super::AuditService): the wrapped service's future, run
    /// with the call's context, its panics turned into `500 Internal Server Error`.
    pub struct ResponseFuture<F, B> {
        #[pin]
        inner: Scoped<F>,
        recorder: Option<Recorder>,
        // The request's protocol, for answering a panic in it.
        protocol: Protocol,
        correlation: Option<(http::HeaderName, HeaderValue)>,
        // Strict mode: the response, held until its entry is durably written.
        held: Option<Held<B>>,
        // Whether a panic is answered here or goes on unwinding (after its entry).
        catch_panics: bool,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(crate) fn new(
        inner: Scoped<F>,
        recorder: Option<Recorder>,
        protocol: Protocol,
        correlation: Option<(http::HeaderName, HeaderValue)>,
        catch_panics: bool,
    ) -> Self {
        ResponseFuture {
            inner,
            recorder,
            protocol,
            correlation,
            held: None,
            catch_panics,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
    E: std::fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(held) = this.held.as_mut() {
            let written = ready!(held.pending.as_mut().poll(cx));
            return match this.held.take() {
                Some(held) => Poll::Ready(Ok(held.release(written))),
                None => Poll::Pending,
            };
        }
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| this.inner.poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(panic) => {
                let message = audit_core::__private::panic_message(&*panic);
                let recorder = this.recorder.take();
                if !*this.catch_panics {
                    // What reaches the wire is decided further out; the entry says `panic`.
                    if let Some(mut recorder) = recorder {
                        recorder.finish_detached(Ending::bodiless(
                            None,
                            Outcome::Panic,
                            Some(message),
                        ));
                    }
                    std::panic::resume_unwind(panic);
                }
                let protocol = recorder.as_ref().map_or(*this.protocol, |r| r.protocol);
                let correlation = this.correlation.take();
                // Answer in the request's protocol: a gRPC client cannot read a plain-text 500.
                if protocol.is_grpc() {
                    let status =
                        GrpcStatus::new(GrpcStatus::INTERNAL, Some("the handler panicked".into()));
                    if let Some(mut recorder) = recorder {
                        let mut ending = Ending::bodiless(Some(200), Outcome::Panic, Some(message));
                        ending.grpc = Some(status.clone());
                        recorder.finish_detached(ending);
                    }
                    let mut response =
                        grpc::status_response(protocol, &status, ResponseBody::fixed(Bytes::new()));
                    if let Some((name, value)) = correlation {
                        response.headers_mut().insert(name, value);
                    }
                    return Poll::Ready(Ok(response));
                }
                if let Some(mut recorder) = recorder {
                    recorder.finish_detached(Ending::bodiless(
                        Some(500),
                        Outcome::Panic,
                        Some(message),
                    ));
                }
                return Poll::Ready(Ok(fixed_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error",
                    correlation,
                )));
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                if let Some(mut recorder) = this.recorder.take() {
                    recorder.finish_detached(Ending::bodiless(
                        None,
                        Outcome::Error,
                        Some(error.to_string()),
                    ));
                }
                return Poll::Ready(Err(error));
            }
        };
        let correlation = this.correlation.take();
        if let Some((name, value)) = &correlation {
            response
                .headers_mut()
                .entry(name.clone())
                .or_insert(value.clone());
        }
        let Some(mut recorder) = this.recorder.take() else {
            return Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, None))));
        };
        recorder.status = Some(response.status().as_u16());
        let user = response
            .extensions()
            .get::<AuditUser>()
            .map(|u| u.0.clone());
        let headers = response.headers();
        // Typed names: no parsing of the name on every response.
        let header_text = |name: &http::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let content_type = header_text(&http::header::CONTENT_TYPE);
        let protocol = Protocol::of(content_type.as_deref());
        let (grpc, response_encoding) = if protocol.is_grpc() {
            let grpc_encoding = http::HeaderName::from_static("grpc-encoding");
            (grpc::status_in(headers), header_text(&grpc_encoding))
        } else {
            (None, header_text(&http::header::CONTENT_ENCODING))
        };
        if recorder.config.auditor.overflow() == Some(OverflowPolicy::Strict) {
            // No byte leaves before the entry is durable: record at the response head.
            let status = response.status().as_u16();
            let mut ending = match &grpc {
                Some(grpc) => Ending::bodiless(Some(status), grpc.outcome(), grpc.error_text()),
                None => Ending::bodiless(Some(status), Outcome::from_status(status), None),
            };
            ending.response_user = user;
            ending.grpc = grpc;
            ending.response_encoding = response_encoding;
            let Some(mut entry) = recorder.finish(ending) else {
                return Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, None))));
            };
            entry.response_bytes = response.body().size_hint().exact();
            let mut held = Held {
                pending: recorder.record(entry),
                response,
                correlation,
            };
            return match held.pending.as_mut().poll(cx) {
                Poll::Ready(written) => Poll::Ready(Ok(held.release(written))),
                Poll::Pending => {
                    *this.held = Some(held);
                    Poll::Pending
                }
            };
        }
        let expected_bytes = response.body().size_hint().exact().or_else(|| {
            response
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        });
        let limit = if recorder.level.captures_response() {
            recorder.config.max_body_bytes
        } else {
            0
        };
        let mut completion = Box::new(Completion {
            recorder,
            capture: Capture::new(limit),
            content_type,
            user,
            pending: None,
            expected_bytes,
            response_encoding,
            protocol,
            web: matches!(protocol, Protocol::GrpcWeb).then(WebTrailers::default),
            grpc,
            passthrough: false,
            held: None,
        });
        let (parts, body) = response.into_parts();
        if body.is_end_stream() {
            // An empty body may never be polled: the call is complete now.
            completion.complete_now();
        }
        Poll::Ready(Ok(Response::from_parts(
            parts,
            ResponseBody::new(body, Some(completion)),
        )))
    }
}

/// A short plain-text answer from the layer itself (a panic's 500, strict mode's 503).
fn fixed_response<B>(
    status: StatusCode,
    text: &'static str,
    correlation: Option<(http::HeaderName, HeaderValue)>,
) -> Response<ResponseBody<B>> {
    let mut response = Response::new(ResponseBody::fixed(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some((name, value)) = correlation {
        response.headers_mut().insert(name, value);
    }
    response
}

/// Strict mode: a response waiting for its entry to be durably written.
struct Held<B> {
    pending: RecordFuture,
    response: Response<B>,
    correlation: Option<(http::HeaderName, HeaderValue)>,
}

impl<B> Held<B> {
    /// The response once the entry is written, or `503` if it could not be.
    fn release(self, written: Result<(), audit_core::RecordError>) -> Response<ResponseBody<B>> {
        match written {
            Ok(()) => self.response.map(|body| ResponseBody::new(body, None)),
            Err(e) => {
                tracing::error!(error = %e, "audit entry not durably written (strict mode): answering 503");
                fixed_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Service Unavailable: the audit log cannot record this request",
                    self.correlation,
                )
            }
        }
    }
}
