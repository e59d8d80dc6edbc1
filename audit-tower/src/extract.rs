//! Request extensions the layer reads, and the axum extractor handlers use.

use std::net::SocketAddr;

/// The acting user, as an auth middleware established it: insert it into the request's
/// extensions (before the layer runs) or the response's (after), and the entry's `user` is it.
///
/// ```
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(audit_tower::AuditUser("alice".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditUser(pub String);

/// The socket peer, for servers without axum's `ConnectInfo` (plain hyper): insert it into the
/// request's extensions and the entry's `peer_addr` is it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// An axum extractor for the handler's own entry: add fields, set the user or the error.
///
/// The same is possible without axum through `audit_core::context::{add_field, set_user,
/// set_error}`, which work anywhere in the handler's task.
///
/// ```no_run
/// use audit_tower::AuditCall;
///
/// async fn create(audit: AuditCall) -> &'static str {
///     audit.field("cost_usd", 0.23);
///     audit.user("alice");
///     "created"
/// }
/// ```
#[cfg(feature = "axum")]
#[derive(Debug, Clone, Default)]
pub struct AuditCall(Option<audit_core::context::CallContext>);

#[cfg(feature = "axum")]
impl AuditCall {
    /// Adds a custom field (`fields.KEY`).
    pub fn field(&self, key: impl Into<String>, value: impl Into<serde_json::Value>) {
        if let Some(call) = &self.0 {
            let (key, value) = (key.into(), value.into());
            call.update(|details| {
                details.fields.insert(key, value);
            });
        }
    }

    /// Sets the acting user.
    pub fn user(&self, user: impl Into<String>) {
        if let Some(call) = &self.0 {
            let user = user.into();
            call.update(|details| details.user = Some(user));
        }
    }

    /// Sets the tenant (customer, company, workspace) the request acts for.
    pub fn tenant(&self, tenant: impl Into<String>) {
        if let Some(call) = &self.0 {
            let tenant = tenant.into();
            call.update(|details| details.tenant = Some(tenant));
        }
    }

    /// Adds a tag to the request's entry (a repeat is ignored).
    pub fn tag(&self, tag: impl Into<String>) {
        if let Some(call) = &self.0 {
            let tag = tag.into();
            call.update(|details| {
                if !details.tags.contains(&tag) {
                    details.tags.push(tag);
                }
            });
        }
    }

    /// Records an error message.
    pub fn error(&self, error: impl Into<String>) {
        if let Some(call) = &self.0 {
            let error = error.into();
            call.update(|details| details.error = Some(error));
        }
    }

    /// Names the endpoint (overrides the route template).
    pub fn endpoint(&self, endpoint: impl Into<String>) {
        if let Some(call) = &self.0 {
            let endpoint = endpoint.into();
            call.update(|details| details.endpoint = Some(endpoint));
        }
    }

    /// Whether the request is being audited (false without the layer or at level `None`).
    pub fn is_audited(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(feature = "axum")]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for AuditCall {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(AuditCall(
            parts
                .extensions
                .get::<audit_core::context::CallContext>()
                .cloned(),
        ))
    }
}
