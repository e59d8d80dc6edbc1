//! Request and response bodies that tee what streams through them, never buffering it.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use audit_core::Outcome;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::recorder::{lock, Capture, Ending, RecordFuture, Recorder, SharedCapture};
use crate::grpc::{Protocol, WebTrailers};
use audit_core::GrpcStatus;

pin_project! {
    /// The request body handed to the wrapped service: the same frames, trailers and errors,
    /// with the first bytes kept and the full size counted for the entry.
    pub struct RequestBody<B> {
        #[pin]
        inner: B,
        capture: Option<SharedCapture>,
    }
}

impl<B> RequestBody<B> {
    pub(crate) fn new(inner: B, capture: Option<SharedCapture>) -> Self {
        RequestBody { inner, capture }
    }
}

impl<B: Body> Body for RequestBody<B>
where
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = ready!(this.inner.poll_frame(cx));
        if let Some(capture) = this.capture {
            match &polled {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        lock(capture).push(data);
                    }
                }
                Some(Err(e)) => lock(capture).error = Some(format!("request body error: {e}")),
                None => {}
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: std::fmt::Debug> std::fmt::Debug for RequestBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody")
            .field("inner", &self.inner)
            .finish()
    }
}

/// What the response body needs to complete the entry.
pub(crate) struct Completion {
    pub recorder: Recorder,
    pub capture: Capture,
    pub content_type: Option<String>,
    pub user: Option<String>,
    pub pending: Option<RecordFuture>,
    /// The size the response announced (`content-length`, or an exact size hint).
    pub expected_bytes: Option<u64>,
    /// `content-encoding` (HTTP) or `grpc-encoding` (gRPC) of the response.
    pub response_encoding: Option<String>,
    /// The response's protocol, from its `content-type`.
    pub protocol: Protocol,
    /// The gRPC status from the response head (trailers-only) or the trailers.
    pub grpc: Option<GrpcStatus>,
    /// grpc-web: the trailer frame inside the body.
    pub web: Option<WebTrailers>,
    /// Completed by size while the body may still run: the rest passes through untouched.
    pub passthrough: bool,
    /// The last frame, held until its entry is queued: under `Block` a full queue pushes back
    /// on the response instead of on an unbounded set of background tasks.
    pub held: Option<Frame<Bytes>>,
}

impl Completion {
    /// Whether every announced byte was delivered: then the response is complete, whoever
    /// stops polling (hyper stops at `content-length` over HTTP/1.1). gRPC waits for its status.
    fn delivered(&self) -> bool {
        !self.protocol.is_grpc() && self.expected_bytes == Some(self.capture.total)
    }

    /// Completes the entry as the response ended on the wire.
    pub(crate) fn complete_now(&mut self) {
        let status = self.recorder.status;
        let grpc = self
            .grpc
            .take()
            .or_else(|| self.web.as_mut().and_then(|web| web.status.take()));
        let (outcome, error) = match (&grpc, self.protocol) {
            (Some(grpc), _) => (grpc.outcome(), grpc.error_text()),
            // grpc-web-text hides its trailers in base64: the HTTP status is all there is.
            (None, Protocol::Grpc | Protocol::GrpcWeb) => (
                Outcome::Error,
                Some("the gRPC response ended without a grpc-status".to_owned()),
            ),
            (None, _) => (status.map_or(Outcome::Success, Outcome::from_status), None),
        };
        self.complete(outcome, error, grpc);
    }

    /// Drives the entry's record into the queue; ready at once when none is pending.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(pending) = self.pending.as_mut() {
            let result = ready!(pending.as_mut().poll(cx));
            self.pending = None;
            if let Err(e) = result {
                tracing::warn!(error = %e, "audit entry not recorded");
            }
        }
        Poll::Ready(())
    }

    /// Completes the entry with what the caller knows of how it ended.
    fn complete(&mut self, outcome: Outcome, error: Option<String>, grpc: Option<GrpcStatus>) {
        let ending = Ending {
            status: self.recorder.status,
            outcome,
            error,
            response: Some(&self.capture),
            response_type: self.content_type.as_deref(),
            response_user: self.user.take(),
            grpc,
            response_encoding: self.response_encoding.take(),
        };
        if let Some(entry) = self.recorder.finish(ending) {
            self.pending = Some(self.recorder.record(entry));
        }
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.recorder.entry.is_some() {
            if self.delivered() {
                self.complete_now();
            } else {
                // Dropped short of its end: the client went away, or a timeout cut it.
                let cut = self.recorder.cut_short(
                    "the response body was dropped before it ended (client gone or timeout)",
                );
                self.complete(cut.outcome, cut.error, cut.grpc);
            }
        }
        // A pending record dropped unfinished hands its entry to the auditor's bounded
        // background recording (see `audit_core::Enqueue`).
        self.pending = None;
    }
}

pin_project! {
    /// The response body returned to the server: the wrapped service's body, unchanged, teed
    /// into the entry; the entry is completed when it ends, fails or is dropped.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
        completion: Option<Box<Completion>>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Fixed { data: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(body: B, completion: Option<Box<Completion>>) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
            completion,
        }
    }

    /// A body of fixed bytes (the 500 answer to a panic; empty for a gRPC status).
    pub(crate) fn fixed(data: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Fixed {
                data: (!data.is_empty()).then_some(data),
            },
            completion: None,
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        let mut body = match this.kind.project() {
            KindProj::Fixed { data } => {
                return Poll::Ready(data.take().map(|d| Ok(Frame::data(d))))
            }
            KindProj::Inner { body } => body,
        };
        let Some(completion) = this.completion.as_mut() else {
            return body.poll_frame(cx);
        };
        // The entry waits for room in the queue (back-pressure), with the last frame held.
        if completion.pending.is_some() {
            ready!(completion.poll_pending(cx));
            if let Some(frame) = completion.held.take() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if !completion.passthrough {
                return Poll::Ready(None);
            }
        }
        if completion.recorder.entry.is_none() {
            if completion.passthrough {
                return body.poll_frame(cx);
            }
            return Poll::Ready(None);
        }
        let polled = ready!(body.as_mut().poll_frame(cx));
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    completion.capture.push(data);
                    if let Some(web) = completion.web.as_mut() {
                        web.push(data.clone());
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    if let Some(status) = crate::grpc::status_in(trailers) {
                        completion.grpc = Some(status);
                    }
                }
                // Servers stop polling once a body says it is over, or (HTTP/1.1) once its
                // announced length went out: complete now, and let the last frame go once the
                // entry is queued.
                let ended = body.is_end_stream();
                if ended || completion.delivered() {
                    completion.passthrough = !ended;
                    completion.complete_now();
                    if completion.poll_pending(cx).is_pending() {
                        completion.held = Some(frame);
                        return Poll::Pending;
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                let grpc = completion.grpc.take();
                completion.complete(
                    Outcome::Error,
                    Some(format!("response body error: {e}")),
                    grpc,
                );
                Poll::Ready(Some(Err(e)))
            }
            None => {
                completion.complete_now();
                ready!(completion.poll_pending(cx));
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.completion.as_ref().is_some_and(|c| c.held.is_some()) {
            return false;
        }
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Fixed { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Fixed { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("audited", &self.completion.is_some())
            .finish()
    }
}
