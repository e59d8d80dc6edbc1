//! The writer's own thread, with a small tokio runtime of its own, as tracing-appender runs
//! its worker: the writer does not die with the runtime that built the auditor (a
//! `#[tokio::test]`, a `main` returning early through `?`), and dropping the last handle drains
//! the queue into the sink, waiting a bounded time; what cannot be written is said on stderr.

use std::io::Write as _;
use std::sync::{mpsc, Mutex, PoisonError};
use std::time::Duration;

use super::worker::Worker;
use crate::error::ConfigError;

/// Joined (within a bound) when dropped: the last field of the auditor's shared state, so the
/// queue's sender is dropped first and the writer sees the queue close.
pub(super) struct WriterThread {
    // In a mutex only to be `Sync`: it is read once, in `drop`, through `get_mut`.
    done: Mutex<mpsc::Receiver<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    wait: Duration,
}

impl WriterThread {
    /// Starts `worker` on a thread named `audit-writer`.
    pub(super) fn start(worker: Worker, wait: Duration) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("audit-writer-blocking")
            .build()
            .map_err(ConfigError::WriterThread)?;
        let (finished, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                runtime.block_on(worker.run());
                let _ = finished.send(());
            })
            .map_err(ConfigError::WriterThread)?;
        Ok(WriterThread {
            done: Mutex::new(done),
            thread: Some(thread),
            wait,
        })
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        let done = self.done.get_mut().unwrap_or_else(PoisonError::into_inner);
        match done.recv_timeout(self.wait) {
            Ok(()) => {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
            }
            // `writeln!`, not `eprintln!`: a closed stderr must not turn this drop into a panic.
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "audit: the writer had not written every queued entry {:?} after the last \
                     Auditor was dropped; those still queued may be lost (call \
                     Auditor::shutdown().await before exiting, or raise \
                     AuditorBuilder::drain_on_drop)",
                    self.wait
                );
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "audit: the writer thread stopped unexpectedly; queued entries may be lost"
                );
            }
        }
    }
}
