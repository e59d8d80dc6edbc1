//! The entry of one call in flight, from the request to the end of the response body.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use audit_core::context::CallContext;
use audit_core::{AuditEntry, GrpcStatus, Outcome, OverflowPolicy, RecordError};
use bytes::Buf;

use super::layer::Config;
use crate::grpc::{Deadline, Protocol};
use crate::policy::AuditLevel;

pub(crate) type RecordFuture = Pin<Box<dyn Future<Output = Result<(), RecordError>> + Send>>;

/// The first bytes of a body, and its full size.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub bytes: Vec<u8>,
    pub total: u64,
    pub limit: usize,
    pub error: Option<String>,
    /// The size the sender announced (`content-length`).
    pub announced: Option<u64>,
}

impl Capture {
    pub fn new(limit: usize) -> Self {
        Capture {
            limit,
            ..Capture::default()
        }
    }

    /// Counts `data` and keeps what fits under the limit; never copies more than that.
    pub fn push(&mut self, data: &impl Buf) {
        self.total += data.remaining() as u64;
        let mut room = self.limit.saturating_sub(self.bytes.len());
        if room == 0 {
            return;
        }
        let mut slices = [std::io::IoSlice::new(&[]); 16];
        let n = data.chunks_vectored(&mut slices);
        for slice in &slices[..n] {
            let take = slice.len().min(room);
            self.bytes.extend_from_slice(&slice[..take]);
            room -= take;
            if room == 0 {
                break;
            }
        }
    }
}

pub(crate) type SharedCapture = Arc<Mutex<Capture>>;

pub(crate) fn lock(capture: &SharedCapture) -> std::sync::MutexGuard<'_, Capture> {
    capture.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the response ended, for [`Recorder::finish`].
pub(crate) struct Ending<'a> {
    pub status: Option<u16>,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub response: Option<&'a Capture>,
    pub response_type: Option<&'a str>,
    pub response_user: Option<String>,
    pub grpc: Option<GrpcStatus>,
    pub response_encoding: Option<String>,
}

impl Ending<'_> {
    /// A call that ended without a response body (a panic, an error, a drop).
    pub fn bodiless(status: Option<u16>, outcome: Outcome, error: Option<String>) -> Self {
        Ending {
            status,
            outcome,
            error,
            response: None,
            response_type: None,
            response_user: None,
            grpc: None,
            response_encoding: None,
        }
    }
}

/// The entry under construction. Dropped unfinished, it records the call as `cancelled`.
pub(crate) struct Recorder {
    pub config: Arc<Config>,
    pub entry: Option<AuditEntry>,
    pub started: Instant,
    pub level: AuditLevel,
    pub request: SharedCapture,
    pub request_type: Option<String>,
    /// The user the request named (`AuditUser` on it, or `user_from`).
    pub request_user: Option<String>,
    pub context: CallContext,
    /// The status, once the response head is known (for a cancelled body).
    pub status: Option<u16>,
    /// The request's protocol: plain HTTP, gRPC or grpc-web.
    pub protocol: Protocol,
    /// A gRPC call's deadline (`grpc-timeout`).
    pub deadline: Option<Deadline>,
}

impl Recorder {
    /// Completes the entry; `None` if it was already completed.
    pub fn finish(&mut self, ending: Ending<'_>) -> Option<AuditEntry> {
        let mut entry = self.entry.take()?;
        entry.duration_seconds = self.started.elapsed().as_secs_f64();
        entry.status_code = ending.status;
        entry.outcome = ending.outcome;
        let mut cut_short = false;
        let scrubber = self.config.auditor.scrubber();
        {
            let request = lock(&self.request);
            entry.request_bytes = Some(request.total);
            if self.level.captures_request() {
                entry.request =
                    scrubber.body(&request.bytes, self.request_type.as_deref(), request.total);
            }
            if entry.error.is_none() {
                entry.error = request.error.clone();
            }
            // The client stopped sending short of the size it announced: whatever the handler
            // answered (often a 400 about the body), the client was gone and never got it.
            if let (Some(error), Some(announced)) = (&request.error, request.announced) {
                if request.total < announced && ending.outcome != Outcome::Panic {
                    entry.outcome = Outcome::Cancelled;
                    entry.error = Some(format!(
                        "{error}: the client sent {} of the {announced} bytes it announced and went away",
                        request.total
                    ));
                    cut_short = true;
                }
            }
        }
        if let Some(response) = ending.response {
            entry.response_bytes = Some(response.total);
            if self.level.captures_response() {
                entry.response_summary =
                    scrubber.body(&response.bytes, ending.response_type, response.total);
            }
        }
        if let Some(error) = ending.error.filter(|_| !cut_short) {
            entry.error = Some(error);
        }
        // Who acted, decided here only: what the handler said (`context::set_user`, the
        // `AuditCall` extractor, `#[audited(user = …)]`, applied below) over an `AuditUser` on
        // the response, over one on the request, over `user_from`.
        if let Some(user) = ending.response_user.or(self.request_user.take()) {
            entry.user = user;
        }
        entry.grpc = ending.grpc;
        entry.response_encoding = ending.response_encoding;
        // A client that left is what happened on the wire: the handler's error does not hide it.
        self.context.take().apply_to(&mut entry, cut_short);
        // Error texts often quote what the client sent (serde's messages, panics).
        if let Some(error) = entry.error.take() {
            entry.error = Some(scrubber.redaction.text(&error).into_owned());
        }
        if let Some(message) = entry.grpc.as_mut().and_then(|grpc| grpc.message.as_mut()) {
            *message = scrubber.redaction.text(message).into_owned();
        }
        Some(entry)
    }

    /// Completes a call that ended without a response body (a panic, an error, a drop) and
    /// records it in the background.
    pub fn finish_detached(&mut self, ending: Ending<'_>) {
        if let Some(entry) = self.finish(ending) {
            // Nobody can wait here: queued at once, or by a bounded background task.
            self.config.auditor.record_detached(entry);
        }
    }

    /// A future that records `entry` under the auditor's overflow policy; dropped before the
    /// entry is queued, it records it in the background (bounded). `Strict` waits for the
    /// entry to be durable instead.
    pub fn record(&self, entry: AuditEntry) -> RecordFuture {
        let auditor = &self.config.auditor;
        if auditor.overflow() == Some(OverflowPolicy::Strict) {
            Box::pin(auditor.record_owned(entry))
        } else {
            Box::pin(auditor.enqueue(entry))
        }
    }

    /// How a call cut short ended: by its gRPC deadline if that has passed, else `cancelled`
    /// with `error`.
    pub fn cut_short(&self, error: &str) -> Ending<'static> {
        match self.deadline.as_ref().and_then(Deadline::exceeded) {
            Some(deadline) => {
                let mut ending =
                    Ending::bodiless(self.status, deadline.outcome(), deadline.error_text());
                ending.grpc = Some(deadline);
                ending
            }
            None => Ending::bodiless(self.status, Outcome::Cancelled, Some(error.to_owned())),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if self.entry.is_some() {
            let ending = self.cut_short(
                "the call was dropped before its response (the client went away, or a timeout outside the layer)",
            );
            self.finish_detached(ending);
        }
    }
}
