//! The process-wide auditor that `#[audited]` functions record through outside an HTTP request.

use std::sync::OnceLock;

use crate::pipeline::Auditor;

static GLOBAL: OnceLock<Auditor> = OnceLock::new();

/// Sets the auditor that `#[audited]` functions use when they run outside a request handled by
/// `AuditLayer`. Set it once, at start-up; a second call returns the auditor back as `Err`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auditor = audit_core::Auditor::builder().build(audit_core::MemorySink::new()).unwrap();
/// audit_core::set_global_auditor(auditor.clone()).unwrap();
/// assert!(audit_core::global_auditor().is_some());
/// # }
/// ```
pub fn set_global_auditor(auditor: Auditor) -> Result<(), Auditor> {
    GLOBAL.set(auditor)
}

/// The auditor set by [`set_global_auditor`], if any.
#[inline]
pub fn global_auditor() -> Option<&'static Auditor> {
    GLOBAL.get().filter(|auditor| auditor.is_enabled())
}
