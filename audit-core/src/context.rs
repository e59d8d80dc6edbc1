//! The in-flight call: what a handler (or the `#[audited]` macro) adds to its own entry
//! without knowing about the sink.
//!
//! A producer (the HTTP layer) runs the call inside [`CallContext::scope`]; code inside it
//! calls the free functions below. Outside any scope they do nothing.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::entry::AuditEntry;

/// What the call itself contributed to its entry.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallDetails {
    /// A logical endpoint name (`sow_create`), overriding the route template.
    pub endpoint: Option<String>,
    /// The acting user.
    pub user: Option<String>,
    /// An error message.
    pub error: Option<String>,
    /// The tenant acted for.
    pub tenant: Option<String>,
    /// Tags to add to the entry.
    pub tags: Vec<String>,
    /// Custom fields.
    pub fields: Map<String, Value>,
    /// The id of the entry an `#[audited]` call records for itself (for nested calls' `parent_id`).
    pub entry_id: Option<uuid::Uuid>,
    /// The correlation id nested calls inherit.
    pub correlation_id: Option<String>,
    claimed: bool,
}

impl CallDetails {
    /// Puts what the call contributed into its entry, the one way every recorder does it:
    /// its endpoint name, user and correlation id when it set them, its fields, and its error,
    /// which replaces an error the recorder only inferred. With `keep_error` the entry's own
    /// error stands: it is what happened on the wire (the client left) or the call's own
    /// result (the `Err` an `#[audited]` function returned).
    pub fn apply_to(self, entry: &mut AuditEntry, keep_error: bool) {
        if let Some(endpoint) = self.endpoint {
            entry.endpoint = endpoint;
        }
        if let Some(user) = self.user {
            entry.user = user;
        }
        if let Some(correlation_id) = self.correlation_id {
            entry.correlation_id = Some(correlation_id);
        }
        if let Some(tenant) = self.tenant {
            entry.tenant = Some(tenant);
        }
        for tag in self.tags {
            if !entry.tags.contains(&tag) {
                entry.tags.push(tag);
            }
        }
        if self.error.is_some() && !(keep_error && entry.error.is_some()) {
            entry.error = self.error;
        }
        entry.fields.extend(self.fields);
    }

    /// Names the endpoint if no `#[audited]` call did yet; returns whether this call did.
    pub fn claim_endpoint(&mut self, name: &str) -> bool {
        if self.claimed {
            return false;
        }
        self.claimed = true;
        self.endpoint = Some(name.to_owned());
        true
    }
}

/// A shared handle to one in-flight call's [`CallDetails`]; clones share the same details.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use audit_core::context::{self, CallContext};
///
/// let call = CallContext::new();
/// call.scope(async {
///     context::add_field("cost_usd", 0.23);
///     context::set_user("alice");
/// })
/// .await;
/// let details = call.details();
/// assert_eq!(details.user.as_deref(), Some("alice"));
/// assert_eq!(details.fields["cost_usd"], 0.23);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct CallContext {
    details: Arc<Mutex<CallDetails>>,
}

tokio::task_local! {
    static CURRENT: CallContext;
}

/// Set once any call context exists, so `#[audited]` without an auditor or a request skips the
/// task-local look-up entirely.
static IN_USE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[inline]
pub(crate) fn in_use() -> bool {
    IN_USE.load(std::sync::atomic::Ordering::Relaxed)
}

impl CallContext {
    /// A context with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `body` with this context as the current one (synchronous code).
    pub fn sync_scope<R>(&self, body: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.clone(), body)
    }

    /// Runs `future` with this context as the current one.
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            inner: CURRENT.scope(self.clone(), future),
        }
    }

    /// The context of the call running on this task, if any.
    pub fn current() -> Option<CallContext> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Changes the details.
    pub fn update<R>(&self, change: impl FnOnce(&mut CallDetails) -> R) -> R {
        change(&mut self.details.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A copy of the details.
    pub fn details(&self) -> CallDetails {
        self.update(|details| details.clone())
    }

    /// Takes the details out, leaving them empty.
    pub fn take(&self) -> CallDetails {
        self.update(std::mem::take)
    }
}

pin_project_lite::pin_project! {
    /// A future that runs with a [`CallContext`] as the current one; made by
    /// [`CallContext::scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<CallContext, F>,
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scoped")
    }
}

fn with_current(change: impl FnOnce(&mut CallDetails)) {
    let _ = CURRENT.try_with(|context| context.update(change));
}

impl Default for CallContext {
    fn default() -> Self {
        IN_USE.store(true, std::sync::atomic::Ordering::Relaxed);
        CallContext {
            details: Arc::default(),
        }
    }
}

/// Adds a custom field to the current call's entry (`fields.KEY`).
pub fn add_field(key: impl Into<String>, value: impl Into<Value>) {
    let (key, value) = (key.into(), value.into());
    with_current(|details| {
        details.fields.insert(key, value);
    });
}

/// Sets the acting user of the current call.
pub fn set_user(user: impl Into<String>) {
    let user = user.into();
    with_current(|details| details.user = Some(user));
}

/// Sets the tenant (customer, company, workspace) the current call acts for.
pub fn set_tenant(tenant: impl Into<String>) {
    let tenant = tenant.into();
    with_current(|details| details.tenant = Some(tenant));
}

/// Adds a tag to the current call's entry (a repeat is ignored).
pub fn add_tag(tag: impl Into<String>) {
    let tag = tag.into();
    with_current(|details| {
        if !details.tags.contains(&tag) {
            details.tags.push(tag);
        }
    });
}

/// Records an error message for the current call.
pub fn set_error(error: impl Into<String>) {
    let error = error.into();
    with_current(|details| details.error = Some(error));
}

/// Sets the correlation id of the current `#[audited]` call; audited calls it makes afterwards
/// inherit it (an agent run's id shared by its tool calls, say).
pub fn set_correlation_id(id: impl Into<String>) {
    let id = id.into();
    with_current(|details| details.correlation_id = Some(id));
}

/// Names the current call's endpoint (what `#[audited("name")]` does).
pub fn set_endpoint(endpoint: impl Into<String>) {
    let endpoint = endpoint.into();
    with_current(|details| details.endpoint = Some(endpoint));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_scope_nothing_happens() {
        add_field("x", 1);
        set_user("u");
        assert!(CallContext::current().is_none());
    }

    #[tokio::test]
    async fn spawned_tasks_do_not_inherit_the_context() {
        let call = CallContext::new();
        call.scope(async {
            set_endpoint("outer");
            tokio::spawn(async { set_endpoint("inner") }).await.unwrap();
            set_error("failed");
        })
        .await;
        let details = call.details();
        assert_eq!(details.endpoint.as_deref(), Some("outer"));
        assert_eq!(details.error.as_deref(), Some("failed"));
    }
}
