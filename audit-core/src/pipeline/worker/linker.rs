//! Linking: the chain's hashing half fills in each entry's `prev` and `hash`, on the blocking
//! pool so it overlaps with the next batch's intake and the previous batch's write.

use super::super::faults::quietly;
use super::Prepared;
use crate::chain::{Hasher, Numbered};

/// Owns the chain's hashing half.
pub(super) struct Linker {
    pub hasher: Option<Hasher>,
    /// Hash on the blocking pool (pipelined), or right here (`Strict`: no hop, less latency).
    pub offload: bool,
}

impl Linker {
    /// Finishes linking the batch (hashes, in order, and the checkpoint) on the blocking pool,
    /// so it overlaps with the writer task preparing the next batch and the sink writing the
    /// previous one.
    pub async fn link(&mut self, mut batch: Prepared) -> Prepared {
        if batch.numbered.is_empty() {
            // Nothing numbered (no chain, an empty batch, or linked already).
            return batch;
        }
        if !self.offload {
            if let Some(hasher) = self.hasher.as_mut() {
                let numbered = std::mem::take(&mut batch.numbered);
                hasher.finish(&mut batch.entries, &mut batch.lines, &numbered);
                return batch;
            }
        }
        let Some(mut hasher) = self.hasher.take() else {
            // The chain stopped: lines numbered for it are not written.
            batch.lines.clear();
            batch.numbered = Numbered::default();
            return batch;
        };
        let mut entries = std::mem::take(&mut batch.entries);
        let mut lines = std::mem::take(&mut batch.lines);
        let numbered = std::mem::take(&mut batch.numbered);
        let linked = tokio::task::spawn_blocking(move || {
            hasher.finish(&mut entries, &mut lines, &numbered);
            (hasher, entries, lines)
        })
        .await;
        match linked {
            Ok((hasher, entries, lines)) => {
                self.hasher = Some(hasher);
                batch.entries = entries;
                batch.lines = lines;
            }
            // Only a panic gets here: the batch went with it, and the chain's last hash. The
            // writer stops chaining rather than writing links that cannot be checked.
            Err(e) => {
                quietly(
                    || tracing::error!(error = %e, "linking an audit batch failed; chaining stops"),
                );
                batch.failed = Some(format!("linking the batch failed: {e}"));
            }
        }
        batch
    }
}
