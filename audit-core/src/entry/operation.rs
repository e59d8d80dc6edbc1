//! Where an entry sits in an operation's lifecycle (its `operation` field): which operation,
//! which stage, and what the operation follows from. Written by [`crate::operation`] and, for
//! a request's `received` entry, by the HTTP layer.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The stage of an operation's first entry.
pub const STARTED: &str = "started";
/// The stage of an operation's last entry, the one with its outcome.
pub const FINISHED: &str = "finished";
/// The stage of the entry the HTTP layer writes when a request arrives (Kubernetes'
/// `RequestReceived`), when asked to; the call's own entry then has stage [`FINISHED`].
pub const RECEIVED: &str = "received";

/// An entry's place in an operation: one operation is a sequence of linked entries, never an
/// updated row (the log is append-only; the chain depends on it).
///
/// ```
/// use audit_core::operation::{OperationInfo, Relation, FINISHED};
///
/// let failed = uuid::Uuid::now_v7();
/// let retry = OperationInfo::new(uuid::Uuid::now_v7(), FINISHED)
///     .with_parent(failed, Relation::Retry);
/// assert_eq!(retry.parent, Some(failed));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The operation's id, shared by all its entries (a UUIDv7 made when it started).
    pub id: Uuid,
    /// The operation this one follows from: the failed operation a retry repeats, the
    /// successful one a compensation undoes, the saga a step belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Uuid>,
    /// How this operation relates to `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relation: Option<Relation>,
    /// On a failed operation's last entry: whether trying again may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// [`STARTED`], a stage the code named (`context_built`), [`FINISHED`], or [`RECEIVED`].
    pub stage: String,
}

impl OperationInfo {
    /// Stage `stage` of operation `id`, linked to nothing.
    pub fn new(id: Uuid, stage: impl Into<String>) -> Self {
        OperationInfo {
            id,
            parent: None,
            relation: None,
            retryable: None,
            stage: stage.into(),
        }
    }

    /// Linked to `parent` as `relation`.
    #[must_use]
    pub fn with_parent(mut self, parent: Uuid, relation: Relation) -> Self {
        self.parent = Some(parent);
        self.relation = Some(relation);
        self
    }
}

/// Why an operation names a parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Relation {
    /// Repeats the parent, which failed.
    Retry,
    /// Undoes the parent, which succeeded.
    Compensation,
    /// One step of the parent (a saga).
    Step,
}

impl Relation {
    /// The name written in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Retry => "retry",
            Relation::Compensation => "compensation",
            Relation::Step => "step",
        }
    }
}
