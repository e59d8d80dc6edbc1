//! For `benches/chain.rs` only, not a public API: the writer's two linking halves driven from
//! outside the crate, so the chain's cost per entry can be timed by criterion.

use super::{start, ChainConfig, Hasher, Numberer};
use crate::entry::AuditEntry;
use crate::json_lines::JsonLines;

/// One chain, linked batch by batch as the chained writer links them.
#[doc(hidden)]
pub struct Linking {
    numberer: Numberer,
    hasher: Hasher,
    lines: JsonLines,
}

impl Linking {
    /// A new chain (unsigned, so no checkpoint but the final one, which is never asked for).
    pub fn new() -> Self {
        let (numberer, hasher) = start(&ChainConfig::enabled());
        Linking {
            numberer,
            hasher,
            lines: JsonLines::default(),
        }
    }

    /// Numbers and serialises `batch` (hashes left blank), then hashes it in order, as the
    /// writer's two halves do; returns the bytes of the lines.
    pub fn link(&mut self, batch: &mut Vec<AuditEntry>) -> usize {
        self.lines.clear();
        let numbered = self.numberer.number(batch, &mut self.lines);
        self.hasher.finish(batch, &mut self.lines, &numbered);
        self.lines.as_bytes().len()
    }
}

impl Default for Linking {
    fn default() -> Self {
        Self::new()
    }
}
