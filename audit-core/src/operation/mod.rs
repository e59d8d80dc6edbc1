//! Operations with a lifecycle: jobs, agent runs, tool calls and sagas, each audited as a
//! sequence of linked entries (the log stays append-only): a `started` entry, optional stage
//! entries, and a `finished` entry with the outcome. A failed operation can be retried by a new
//! operation linked to it; a successful one can be compensated (undone) by another.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use audit_core::{Auditor, MemorySink};
//!
//! let sink = MemorySink::new();
//! let auditor = Auditor::builder().build(sink.clone()).unwrap();
//!
//! let run = auditor
//!     .operation("blog_generate")
//!     .user("alice")
//!     .tenant("acme")
//!     .tag("llm")
//!     .input(serde_json::json!({"topic_id": 7, "provider": "openai"}))
//!     .start();
//! run.stage("topic_ranked");
//! let failed = run.id();
//! run.fail("the provider timed out", true);
//!
//! // Later: a retry, linked to the failed run.
//! let retry = auditor.operation("blog_generate").user("alice").tenant("acme").retry_of(failed).start();
//! retry.succeed(serde_json::json!({"words": 1200}));
//!
//! auditor.shutdown().await.unwrap();
//! let entries = sink.entries();
//! let stages: Vec<_> = entries.iter().map(|e| e.operation.as_ref().unwrap().stage.as_str()).collect();
//! assert_eq!(stages, ["started", "topic_ranked", "finished", "started", "finished"]);
//! assert_eq!(entries[4].operation.as_ref().unwrap().parent, Some(failed));
//! # }
//! ```
//!
//! Every method records without waiting (as `#[audited]` does): the entry is queued at once
//! when the queue has room, else under the auditor's overflow policy by a bounded background
//! task. [`Auditor::flush`] makes them durable.

mod saga;

use std::fmt::Display;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::entry::{AuditEntry, Outcome, Timestamp};
pub use crate::entry::{OperationInfo, Relation, FINISHED, RECEIVED, STARTED};
use crate::global::global_auditor;
use crate::pipeline::Auditor;
pub use saga::{CompensationReport, Saga, SagaError};

/// The message of an operation dropped without an outcome.
pub const DROPPED_MESSAGE: &str = "the operation was dropped without an outcome";
/// The message of an operation dropped while its thread was panicking.
pub const PANIC_MESSAGE: &str = "the operation's code panicked";

impl Auditor {
    /// Describes an operation named `action` (the entries' `endpoint`), to [start](OperationBuilder::start).
    pub fn operation(&self, action: impl Into<String>) -> OperationBuilder {
        OperationBuilder {
            auditor: self.clone(),
            template: AuditEntry::new(action),
            input: None,
            link: None,
        }
    }
}

/// An operation recorded through the global auditor ([`crate::set_global_auditor`]); records
/// nothing when none is set.
pub fn operation(action: impl Into<String>) -> OperationBuilder {
    global_auditor()
        .cloned()
        .unwrap_or_else(Auditor::disabled)
        .operation(action)
}

/// What an operation is about, before it starts; made by [`Auditor::operation`].
#[must_use = "an operation is recorded only once started"]
pub struct OperationBuilder {
    auditor: Auditor,
    /// What every entry of the operation carries: endpoint, user, tenant, tags, fields.
    template: AuditEntry,
    input: Option<Value>,
    link: Option<(Uuid, Relation)>,
}

impl OperationBuilder {
    /// The acting user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.template.user = user.into();
        self
    }

    /// The tenant acted for.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.template.tenant = Some(tenant.into());
        self
    }

    /// Adds a tag (a repeat is ignored).
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        add_tag(&mut self.template.tags, tag.into());
        self
    }

    /// Adds tags.
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        for tag in tags {
            add_tag(&mut self.template.tags, tag.into());
        }
        self
    }

    /// The correlation id shared with other services' entries.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.template.correlation_id = Some(id.into());
        self
    }

    /// The operation's input, recorded (redacted and summarised) as the `started` entry's
    /// `request`.
    pub fn input(mut self, input: impl Serialize) -> Self {
        self.input = Some(to_value(&input));
        self
    }

    /// A custom field, carried by every entry of the operation (`provider`, `agent`).
    pub fn field(mut self, key: impl Into<String>, value: impl Serialize) -> Self {
        self.template.fields.insert(key.into(), to_value(&value));
        self
    }

    /// A retry of the operation `failed`.
    pub fn retry_of(mut self, failed: Uuid) -> Self {
        self.link = Some((failed, Relation::Retry));
        self
    }

    /// A compensation of the operation `succeeded`, for `reason` (recorded as `fields.reason`).
    pub fn compensates(mut self, succeeded: Uuid, reason: impl Display) -> Self {
        self.link = Some((succeeded, Relation::Compensation));
        self.template
            .fields
            .insert("reason".into(), Value::String(reason.to_string()));
        self
    }

    /// A step of the operation `parent` (a saga).
    pub fn step_of(mut self, parent: Uuid) -> Self {
        self.link = Some((parent, Relation::Step));
        self
    }

    /// Records the `started` entry and returns the running operation.
    pub fn start(self) -> Operation {
        let mut info = OperationInfo::new(Uuid::now_v7(), STARTED);
        if let Some((parent, relation)) = self.link {
            info = info.with_parent(parent, relation);
        }
        let operation = Operation {
            auditor: self.auditor,
            template: self.template,
            info,
            started: Instant::now(),
            finished: false,
        };
        let mut entry = operation.entry(STARTED, Outcome::Pending);
        if let Some(input) = self.input {
            entry.request = Some(operation.auditor.scrubber().object(input));
        }
        operation.auditor.record_detached(entry);
        operation
    }

    /// Starts a saga: this operation, whose steps are operations linked to it, compensated in
    /// reverse order when one fails.
    pub fn start_saga(self) -> Saga {
        Saga::new(self.start())
    }
}

/// A running operation. Finish it with [`succeed`](Self::succeed), [`fail`](Self::fail) or
/// [`cancel`](Self::cancel); dropped without an outcome it records `cancelled` (or `panic`
/// while its thread unwinds), so an abandoned operation is never silent.
#[must_use = "dropping an operation records it as cancelled"]
pub struct Operation {
    auditor: Auditor,
    template: AuditEntry,
    info: OperationInfo,
    started: Instant,
    finished: bool,
}

impl Operation {
    /// The operation's id (`operation.id` in its entries), for retries and compensations.
    pub fn id(&self) -> Uuid {
        self.info.id
    }

    /// A custom field for the entries still to come.
    pub fn add_field(&mut self, key: impl Into<String>, value: impl Serialize) {
        self.template.fields.insert(key.into(), to_value(&value));
    }

    /// Records reaching stage `name` (`context_built`).
    pub fn stage(&self, name: &str) {
        self.auditor
            .record_detached(self.entry(name, Outcome::Pending));
    }

    /// Records reaching stage `name`, with `details` (an object's keys become fields of this
    /// entry only, redacted).
    pub fn stage_with(&self, name: &str, details: impl Serialize) {
        let mut entry = self.entry(name, Outcome::Pending);
        merge_fields(
            &mut entry.fields,
            self.auditor.scrubber().object(to_value(&details)),
        );
        self.auditor.record_detached(entry);
    }

    /// Records success, with `result` (redacted and summarised) as `response_summary`; `()`
    /// records none.
    pub fn succeed(mut self, result: impl Serialize) {
        let mut entry = self.entry(FINISHED, Outcome::Success);
        let result = to_value(&result);
        if !result.is_null() {
            entry.response_summary = Some(self.auditor.scrubber().object(result));
        }
        self.finish(entry);
    }

    /// Records failure with `error`, saying whether a retry may succeed.
    pub fn fail(mut self, error: impl Display, retryable: bool) {
        let mut entry = self.entry(FINISHED, Outcome::Error);
        entry.error = Some(self.redacted(&error.to_string()));
        if let Some(info) = entry.operation.as_mut() {
            info.retryable = Some(retryable);
        }
        self.finish(entry);
    }

    /// Records that the operation was cancelled, for `reason`.
    pub fn cancel(mut self, reason: impl Display) {
        let mut entry = self.entry(FINISHED, Outcome::Cancelled);
        entry.error = Some(self.redacted(&reason.to_string()));
        self.finish(entry);
    }

    fn finish(&mut self, entry: AuditEntry) {
        self.finished = true;
        self.auditor.record_detached(entry);
    }

    fn redacted(&self, text: &str) -> String {
        self.auditor.scrubber().redaction.text(text).into_owned()
    }

    /// A new entry of this operation at `stage`, timed from its start.
    fn entry(&self, stage: &str, outcome: Outcome) -> AuditEntry {
        let t = &self.template;
        let mut entry = AuditEntry::started_at(t.endpoint.clone(), Timestamp::now());
        entry.user.clone_from(&t.user);
        entry.tenant.clone_from(&t.tenant);
        entry.tags.clone_from(&t.tags);
        entry.correlation_id.clone_from(&t.correlation_id);
        entry.fields.clone_from(&t.fields);
        entry.operation = Some(OperationInfo {
            stage: stage.to_owned(),
            ..self.info.clone()
        });
        entry.outcome = outcome;
        entry.duration_seconds = self.started.elapsed().as_secs_f64();
        entry
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let (outcome, message) = if std::thread::panicking() {
            (Outcome::Panic, PANIC_MESSAGE)
        } else {
            (Outcome::Cancelled, DROPPED_MESSAGE)
        };
        let mut entry = self.entry(FINISHED, outcome);
        entry.error = Some(message.to_owned());
        self.finish(entry);
    }
}

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("endpoint", &self.template.endpoint)
            .field("id", &self.id())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OperationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationBuilder")
            .field("endpoint", &self.template.endpoint)
            .finish_non_exhaustive()
    }
}

fn add_tag(tags: &mut Vec<String>, tag: String) {
    if !tags.contains(&tag) {
        tags.push(tag);
    }
}

fn to_value(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| Value::String(format!("<unserializable: {e}>")))
}

fn merge_fields(fields: &mut Map<String, Value>, details: Value) {
    if let Value::Object(details) = details {
        fields.extend(details);
    }
}

#[cfg(test)]
mod tests;
