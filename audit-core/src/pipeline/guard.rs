//! A guard that shuts an auditor down when dropped, for handles that are never dropped (the
//! global auditor lives in a static), as tracing-appender's `WorkerGuard` flushes its writer.

use std::io::Write as _;
use std::time::Duration;

use super::Auditor;

/// Shuts its [`Auditor`] down when dropped: drains the queue, flushes and closes the sink,
/// waiting at most the builder's [`drain_on_drop`](crate::AuditorBuilder::drain_on_drop) time
/// (5 s by default), and says on stderr what went wrong. Made by [`Auditor::shutdown_guard`].
///
/// Dropping the last `Auditor` handle does the same, so only a handle that is never dropped
/// needs a guard: the one given to [`set_global_auditor`](crate::set_global_auditor). Keep the
/// guard in `main` until the end (`let _guard = …`; `let _ = …` drops it at once):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use audit_core::{AuditEntry, Auditor, MemorySink};
///
/// let sink = MemorySink::new();
/// let auditor = Auditor::builder().build(sink.clone()).unwrap();
/// let _ = audit_core::set_global_auditor(auditor.clone());
/// let guard = auditor.shutdown_guard();
/// auditor.record(AuditEntry::new("jobs.nightly")).await.unwrap();
/// drop(guard); // at the end of `main`
/// assert_eq!(sink.len(), 1);
/// # }
/// ```
#[must_use = "the guard shuts the auditor down when dropped: keep it (`let _guard = …`) until main ends"]
#[derive(Debug)]
pub struct ShutdownGuard {
    auditor: Auditor,
    wait: Duration,
}

impl Auditor {
    /// A guard that shuts this auditor down when dropped (see [`ShutdownGuard`]).
    pub fn shutdown_guard(&self) -> ShutdownGuard {
        let wait = self
            .inner
            .as_ref()
            .map_or(Duration::ZERO, |shared| shared.drain_on_drop);
        ShutdownGuard {
            auditor: self.clone(),
            wait,
        }
    }
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        if !self.auditor.is_enabled() {
            return;
        }
        let auditor = self.auditor.clone();
        let wait = self.wait;
        // A thread and a runtime of its own: the guard may drop inside a runtime, where
        // blocking on another one is refused.
        let shutdown = std::thread::Builder::new()
            .name("audit-shutdown".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .map_err(|e| format!("cannot start a runtime to shut down: {e}"))?;
                let shutdown = async { tokio::time::timeout(wait, auditor.shutdown()).await };
                match runtime.block_on(shutdown) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("shutting down failed: {e}")),
                    Err(_) => Err(format!(
                        "the writer had not written every queued entry {wait:?} after the guard \
                         was dropped; those still queued may be lost (raise \
                         AuditorBuilder::drain_on_drop)"
                    )),
                }
            });
        let outcome = match shutdown {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err("the shutdown thread panicked".into())),
            Err(e) => Err(format!("cannot start a thread to shut down: {e}")),
        };
        if let Err(message) = outcome {
            // `writeln!`, not `eprintln!`: a closed stderr must not turn this drop into a panic.
            let _ = writeln!(std::io::stderr(), "audit: {message}");
        }
    }
}
