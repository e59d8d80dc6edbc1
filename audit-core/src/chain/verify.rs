//! What a verifier needs: an entry's hash recomputed from its JSON or from the line's bytes,
//! and the gaps the pipeline reported as lost.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical;

/// The hash an entry read back as JSON should carry: SHA-256 of its canonical form without
/// `chain.hash`, in hex.
pub fn hash_value(value: &Value) -> String {
    let mut value = value.clone();
    if let Some(chain) = value.get_mut("chain").and_then(Value::as_object_mut) {
        chain.remove("hash");
    }
    let mut canonical = Vec::with_capacity(1024);
    canonical::write_value(&value, &mut canonical);
    hex::encode(Sha256::digest(&canonical))
}

/// Checks a line exactly as the pipeline wrote it, without parsing: `Some(true)` when its bytes
/// minus the hash hash to that hash, `Some(false)` when they do not, `None` when the line does
/// not start with a chain object (then parse it and use [`hash_value`]). A `Some(false)` still
/// deserves [`hash_value`]: a line reformatted by another tool keeps its meaning.
pub fn check_line_bytes(line: &[u8]) -> Option<bool> {
    const PREFIX: &[u8] = br#"{"chain":{"hash":""#;
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    if !line.starts_with(PREFIX) || line.len() < PREFIX.len() + 66 {
        return None;
    }
    let hash_end = PREFIX.len() + 64;
    if &line[hash_end..hash_end + 2] != b"\"," {
        return None;
    }
    let claimed = &line[PREFIX.len()..hash_end];
    let mut hasher = Sha256::new();
    hasher.update(br#"{"chain":{"#);
    hasher.update(&line[hash_end + 2..]);
    Some(hex::encode(hasher.finalize()).as_bytes() == claimed)
}

/// The chain positions an `audit.dropped` report says were lost (its `fields`):
/// `chain_seq_ranges` (`[[first, last], …]`), or one range from `chain_seq_first` to
/// `chain_seq_last` (reports of a single range).
///
/// ```
/// let fields = serde_json::json!({"chain_seq_ranges": [[3, 5], [9, 9]]});
/// let gaps = audit_core::chain::reported_gaps(fields.as_object().unwrap());
/// assert_eq!(gaps, [(3, 5), (9, 9)]);
/// ```
pub fn reported_gaps(fields: &serde_json::Map<String, Value>) -> Vec<(u64, u64)> {
    let pair = |v: &Value| Some((v.get(0)?.as_u64()?, v.get(1)?.as_u64()?));
    if let Some(ranges) = fields.get("chain_seq_ranges").and_then(Value::as_array) {
        return ranges.iter().filter_map(pair).collect();
    }
    let field = |name: &str| fields.get(name).and_then(Value::as_u64);
    field("chain_seq_first")
        .zip(field("chain_seq_last"))
        .into_iter()
        .collect()
}
