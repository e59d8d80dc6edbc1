//! [`ResponseFuture`]: waits for the response head, catches panics, wraps the body.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use audit_core::context::CallContext;
use audit_core::Outcome;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;

use super::body::{Completion, ResponseBody};
use super::recorder::{record_detached, Capture, Ending, Recorder};
use crate::AuditUser;

pin_project! {
    /// The future of [`AuditService`](super::AuditService): the wrapped service's future, run
    /// with the call's context, its panics turned into `500 Internal Server Error`.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<CallContext, F>,
        recorder: Option<Recorder>,
        correlation: Option<(http::HeaderName, HeaderValue)>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: TaskLocalFuture<CallContext, F>,
        recorder: Option<Recorder>,
        correlation: Option<(http::HeaderName, HeaderValue)>,
    ) -> Self {
        ResponseFuture {
            inner,
            recorder,
            correlation,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
    E: std::fmt::Display,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| this.inner.poll(cx)));
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(result)) => result,
            Err(panic) => {
                let message = audit_core::panic_message(&*panic);
                if let Some(mut recorder) = this.recorder.take() {
                    let ending = Ending {
                        status: Some(500),
                        outcome: Outcome::Panic,
                        error: Some(message),
                        response: None,
                        response_type: None,
                        response_user: None,
                    };
                    if let Some(entry) = recorder.finish(ending) {
                        record_detached(recorder.record(entry));
                    }
                }
                let mut response = Response::new(ResponseBody::fixed(Bytes::from_static(
                    b"Internal Server Error",
                )));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                if let Some((name, value)) = this.correlation.take() {
                    response.headers_mut().insert(name, value);
                }
                return Poll::Ready(Ok(response));
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                if let Some(mut recorder) = this.recorder.take() {
                    let ending = Ending {
                        status: None,
                        outcome: Outcome::Error,
                        error: Some(error.to_string()),
                        response: None,
                        response_type: None,
                        response_user: None,
                    };
                    if let Some(entry) = recorder.finish(ending) {
                        record_detached(recorder.record(entry));
                    }
                }
                return Poll::Ready(Err(error));
            }
        };
        if let Some((name, value)) = this.correlation.take() {
            response.headers_mut().entry(name).or_insert(value);
        }
        let Some(mut recorder) = this.recorder.take() else {
            return Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, None))));
        };
        recorder.status = Some(response.status().as_u16());
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let user = response
            .extensions()
            .get::<AuditUser>()
            .map(|u| u.0.clone());
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
