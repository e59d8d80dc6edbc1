//! The tamper-evident chain: every entry carries the hash of the one before it, and signed
//! checkpoints seal the chain's head.
//!
//! The pipeline's writer links entries in the order it writes them, so every sink stores the
//! same chain: `chain.id` (one per [`Auditor`](crate::Auditor), so processes never interleave
//! one chain), `chain.seq` (1, 2, …), `chain.prev` (the previous entry's hash, 64 zeros for the
//! first) and `chain.hash`: SHA-256 over the entry's canonical form ([`crate::canonical`])
//! without `chain.hash` itself, in lowercase hex. Editing, deleting or reordering entries breaks
//! the hashes or the links; the chain continues across file rotation.
//!
//! Recomputing every hash after an edit is possible for anyone who can write the log, so
//! [checkpoints](CheckpointKey) sign the head with a key the log's writers do not hold
//! elsewhere; and a final checkpoint written on shutdown makes a truncated tail visible.
//! `docs/schema.md` describes the form for independent verifiers, and `audit verify` checks it.
//!
//! ```
//! use audit_core::{chain, AuditEntry};
//!
//! // What a verifier does with a line it reads.
//! let line = r#"{"chain":{"hash":"00","id":"0192f0c1-7b3a-7cc2-9d4e-5f6a7b8c9d0e","prev":"00","seq":1},"endpoint":"x"}"#;
//! let value: serde_json::Value = serde_json::from_str(line).unwrap();
//! let hash = chain::hash_value(&value);
//! assert_eq!(hash.len(), 64);
//! assert_ne!(hash, "00"); // this line was not written by the pipeline
//! ```

#[doc(hidden)]
pub mod bench;
mod config;
mod key;
mod link;
mod verify;

pub use crate::entry::Chain;
pub use config::{ChainConfig, MAX_CHECKPOINT_INTERVAL};
pub use key::{checkpoint_message, CheckpointKey, MIN_KEY_BYTES};
pub(crate) use link::{start, Hasher, Numbered, Numberer};
pub use verify::{check_line_bytes, hash_value, reported_gaps};

/// The endpoint of checkpoint entries.
pub const CHECKPOINT_ENDPOINT: &str = "audit.checkpoint";

/// The endpoint of the entries a collector (`audit collect`) writes about a gap it saw in a
/// chain on the stream; unchained, by the library's own user.
pub const GAP_ENDPOINT: &str = "audit.gap";

/// `chain.prev` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[cfg(test)]
mod tests;
