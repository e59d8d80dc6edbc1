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

use std::fmt;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::canonical;
use crate::entry::{AuditEntry, Outcome, Timestamp};
use crate::error::{ConfigError, KeyError};
use crate::sink::JsonLines;

/// The endpoint of checkpoint entries.
pub const CHECKPOINT_ENDPOINT: &str = "audit.checkpoint";

/// `chain.prev` of a chain's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The `chain` object of an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Chain {
    /// SHA-256 (lowercase hex) of the entry's canonical form without this field.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    /// The chain: one per `Auditor` instance.
    pub id: Uuid,
    /// The previous entry's `hash` ([`GENESIS`] for the first).
    pub prev: String,
    /// Position in the chain, from 1.
    pub seq: u64,
}

/// The longest [`ChainConfig::checkpoint_interval`]: a day. Longer would leave entries
/// unsealed for longer than any review cycle, and far deadlines overflow clocks.
pub const MAX_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether and how the pipeline chains entries; given to
/// [`AuditorBuilder::chain`](crate::AuditorBuilder::chain).
///
/// Chaining is on by default when the sink writes JSONL files (see
/// [`Sink::chained_by_default`](crate::Sink::chained_by_default)), off otherwise.
///
/// ```
/// use std::time::Duration;
/// use audit_core::chain::{ChainConfig, CheckpointKey};
///
/// let key = CheckpointKey::from_bytes(b"a secret of at least 32 bytes, kept elsewhere").unwrap();
/// let config = ChainConfig::enabled()
///     .checkpoint_key(key)
///     .checkpoint_every(10_000)
///     .checkpoint_interval(Duration::from_secs(60));
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct ChainConfig {
    pub(crate) enabled: Option<bool>,
    pub(crate) key: Option<CheckpointKey>,
    pub(crate) every: u64,
    pub(crate) interval: Duration,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            enabled: None,
            key: None,
            every: 10_000,
            interval: Duration::from_secs(60),
        }
    }
}

impl ChainConfig {
    /// Chaining as the sink prefers it (on for JSONL).
    pub fn sink_default() -> Self {
        Self::default()
    }

    /// Chaining on, whatever the sink.
    pub fn enabled() -> Self {
        ChainConfig {
            enabled: Some(true),
            ..Self::default()
        }
    }

    /// Chaining off: entries carry no `chain` object.
    pub fn disabled() -> Self {
        ChainConfig {
            enabled: Some(false),
            ..Self::default()
        }
    }

    /// Signs checkpoints with `key`: every [`checkpoint_every`](Self::checkpoint_every)
    /// entries, every [`checkpoint_interval`](Self::checkpoint_interval) while entries are
    /// unsealed, and on shutdown. Without a key only the shutdown checkpoint is written,
    /// unsigned (it shows truncation by accident, not by intent).
    #[must_use]
    pub fn checkpoint_key(mut self, key: CheckpointKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Entries between signed checkpoints (default 10,000).
    #[must_use]
    pub fn checkpoint_every(mut self, entries: u64) -> Self {
        self.every = entries.max(1);
        self
    }

    /// The longest time entries stay unsealed (default 60 s), from 1 ms to
    /// [`MAX_CHECKPOINT_INTERVAL`] (a day); values outside are brought to the nearer bound.
    #[must_use]
    pub fn checkpoint_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.clamp(Duration::from_millis(1), MAX_CHECKPOINT_INTERVAL);
        self
    }

    /// Whether chaining is on for a sink that prefers `sink_default`.
    pub(crate) fn is_on(&self, sink_default: bool) -> bool {
        self.enabled.unwrap_or(sink_default)
    }
}

/// The HMAC-SHA256 key that signs checkpoints.
///
/// Keep it outside the log's host (a secret store): whoever holds it can forge checkpoints.
/// Verifiers need the same key (`audit verify --key-file`). Its `key_id` (the first 8 bytes of
/// its SHA-256, in hex) is written into checkpoints so a verifier knows which key to use.
#[derive(Clone)]
pub struct CheckpointKey {
    key: Vec<u8>,
    id: String,
}

impl fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointKey")
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The shortest key accepted: 256 bits, HMAC-SHA256's own strength.
pub const MIN_KEY_BYTES: usize = 32;

impl CheckpointKey {
    /// A key from raw bytes (at least [`MIN_KEY_BYTES`]).
    pub fn from_bytes(key: &[u8]) -> Result<Self, ConfigError> {
        if key.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort {
                bytes: key.len(),
                min: MIN_KEY_BYTES,
            }
            .into());
        }
        let id = hex::encode(&Sha256::digest(key)[..8]);
        Ok(CheckpointKey {
            key: key.to_vec(),
            id,
        })
    }

    /// A key as configured: `file:PATH` (the file holds hex, or raw bytes) or hex digits.
    ///
    /// ```
    /// let key = audit_core::chain::CheckpointKey::parse(&"ab".repeat(32)).unwrap();
    /// assert_eq!(key.key_id().len(), 16);
    /// ```
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let bytes = match spec.strip_prefix("file:") {
            Some(path) => {
                let raw = std::fs::read(path).map_err(|source| KeyError::File {
                    path: path.into(),
                    source,
                })?;
                let text = String::from_utf8_lossy(&raw);
                hex::decode(text.trim()).unwrap_or(raw)
            }
            None => hex::decode(spec.trim()).map_err(|_| KeyError::NotHex)?,
        };
        Self::from_bytes(&bytes)
    }

    /// The key's public name, written into checkpoints.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The HMAC-SHA256 of `message`, in hex.
    pub fn sign(&self, message: &str) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }

    /// Whether `signature` (hex) is this key's signature of `message` (compared in constant time).
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        match hex::decode(signature).ok() {
            Some(bytes) => self.mac(message).verify_slice(&bytes).is_ok(),
            None => false,
        }
    }

    fn mac(&self, message: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(message.as_bytes());
        mac
    }
}

/// The text a checkpoint signs: the chain, the sequence number and hash of its head (the entry
/// just before the checkpoint), and whether the chain ends there.
///
/// ```
/// let id = uuid::Uuid::nil();
/// assert_eq!(
///     audit_core::chain::checkpoint_message(&id, 7, "ab", true),
///     "audited-checkpoint/1 00000000-0000-0000-0000-000000000000 7 ab final"
/// );
/// ```
pub fn checkpoint_message(chain_id: &Uuid, head_seq: u64, head_hash: &str, last: bool) -> String {
    let state = if last { "final" } else { "open" };
    format!("audited-checkpoint/1 {chain_id} {head_seq} {head_hash} {state}")
}

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

/// Starts a chain: the half that numbers entries and serialises their lines (on the writer
/// task), and the half that fills in the hashes in order (off it, while the writer prepares
/// the next batch).
pub(crate) fn start(config: &ChainConfig) -> (Numberer, Hasher) {
    let id = Uuid::now_v7();
    (
        Numberer {
            id,
            next_seq: 1,
            signed: config.key.is_some(),
            every: config.every,
            interval: config.interval,
            unsealed: 0,
            sealed_at: Instant::now(),
        },
        Hasher {
            id,
            prev: GENESIS.to_owned(),
            key: config.key.clone(),
            buf: Vec::with_capacity(2048),
        },
    )
}

/// The first half of linking: sequence numbers, checkpoint timing, and each entry's line with
/// its `prev` and `hash` left as zeros.
pub(crate) struct Numberer {
    id: Uuid,
    next_seq: u64,
    signed: bool,
    every: u64,
    interval: Duration,
    unsealed: u64,
    sealed_at: Instant,
}

/// What [`Hasher::finish`] needs to know about a numbered batch.
#[derive(Debug, Default)]
pub(crate) struct Numbered {
    /// The sequence number of the batch's first entry.
    first_seq: u64,
    /// How many entries were numbered (all of the batch, or none when it could not be).
    count: usize,
    /// Entries whose keys need RFC 8785's UTF-16 order: hashed the general way.
    general: Vec<usize>,
    /// A checkpoint to add after the entries: `Some(final)`.
    checkpoint: Option<bool>,
    /// Entries sealed by that checkpoint.
    sealing: u64,
}

/// `{"chain":{"hash":"` + 64 + `","id":"` + 36 + `","prev":"` + 64 + `","seq":`
const OPEN: &[u8] = br#"{"chain":{"#;
const HASH_AT: usize = OPEN.len() + br#""hash":""#.len();
const FIELDS_AT: usize = HASH_AT + 64 + 2;
const PREV_AT: usize = FIELDS_AT + br#""id":""#.len() + 36 + br#"","prev":""#.len();

impl Numbered {
    /// Whether there is nothing to link (no entry, no checkpoint).
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0 && self.checkpoint.is_none()
    }
}

impl Numberer {
    /// Numbers `batch` and appends its lines to `lines`; plans a signed checkpoint when one is
    /// due. `lines` is left empty if an entry cannot be serialised (the sink then reports it).
    pub(crate) fn number(&mut self, batch: &[AuditEntry], lines: &mut JsonLines) -> Numbered {
        let mut numbered = Numbered {
            first_seq: self.next_seq,
            ..Numbered::default()
        };
        for (i, entry) in batch.iter().enumerate() {
            let seq = self.next_seq + i as u64;
            match self.write_line(entry, seq, lines) {
                Ok(true) => {}
                Ok(false) => numbered.general.push(i),
                Err(e) => {
                    tracing::error!(id = %entry.id, error = %e, "an audit batch could not be chained");
                    lines.clear();
                    return Numbered::default();
                }
            }
        }
        numbered.count = batch.len();
        self.next_seq += batch.len() as u64;
        self.unsealed += batch.len() as u64;
        if self.checkpoint_due() {
            self.plan_checkpoint(&mut numbered, false);
        }
        numbered
    }

    /// A batch holding only the final checkpoint, if anything was chained.
    pub(crate) fn finish(&mut self) -> Option<Numbered> {
        if self.next_seq == 1 {
            return None;
        }
        let mut numbered = Numbered {
            first_seq: self.next_seq,
            ..Numbered::default()
        };
        self.plan_checkpoint(&mut numbered, true);
        Some(numbered)
    }

    fn plan_checkpoint(&mut self, numbered: &mut Numbered, last: bool) {
        numbered.checkpoint = Some(last);
        numbered.sealing = self.unsealed;
        self.next_seq += 1;
        self.unsealed = 0;
        self.sealed_at = Instant::now();
    }

    /// Writes the line of `entry` at `seq`: the chain object with zeros for `hash` and `prev`,
    /// then the entry's own canonical bytes, whose opening `{` becomes the `,` after the chain.
    /// Returns `false` for an entry that must be hashed the general way.
    fn write_line(
        &self,
        entry: &AuditEntry,
        seq: u64,
        lines: &mut JsonLines,
    ) -> Result<bool, serde_json::Error> {
        let out = lines.buffer();
        let start = out.len();
        out.extend_from_slice(OPEN);
        out.extend_from_slice(br#""hash":""#);
        out.extend_from_slice(&[b'0'; 64]);
        out.extend_from_slice(br#"","id":""#);
        let mut id = [0u8; 36];
        out.extend_from_slice(self.id.hyphenated().encode_lower(&mut id).as_bytes());
        out.extend_from_slice(br#"","prev":""#);
        out.extend_from_slice(&[b'0'; 64]);
        out.extend_from_slice(br#"","seq":"#);
        out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
        out.push(b'}');
        let rest = out.len();
        let mut plain = entry.chain.is_none();
        let written = if plain {
            canonical::write_sorted(entry, out)
        } else {
            // Not expected (the writer links fresh entries); hashed the general way.
            let mut unlinked = entry.clone();
            unlinked.chain = None;
            canonical::write_sorted(&unlinked, out)
        };
        if let Err(e) = written {
            out.truncate(start);
            return Err(e);
        }
        // Keys from U+E000 up sort differently in UTF-16 than in byte order. (A max over all
        // bytes, unlike `any`, vectorises.)
        plain &= out[rest..].iter().fold(0u8, |max, &b| max.max(b)) < 0xEE;
        out[rest] = b',';
        out.push(b'\n');
        lines.end_line();
        Ok(plain)
    }

    /// Whether a signed checkpoint is due (a key is set and entries are unsealed).
    pub(crate) fn checkpoint_due(&self) -> bool {
        self.signed
            && self.unsealed > 0
            && (self.unsealed >= self.every || self.sealed_at.elapsed() >= self.interval)
    }

    /// When the next timed checkpoint falls due, if entries are waiting for one.
    pub(crate) fn checkpoint_deadline(&self) -> Option<Instant> {
        (self.signed && self.unsealed > 0).then(|| {
            // Checked: the interval is bounded, but a clock near its end must not panic here.
            self.sealed_at
                .checked_add(self.interval)
                .unwrap_or(self.sealed_at)
        })
    }
}

/// The second half of linking: fills in `prev` and `hash`, in order, and makes checkpoints.
pub(crate) struct Hasher {
    id: Uuid,
    prev: String,
    key: Option<CheckpointKey>,
    buf: Vec<u8>,
}

impl Hasher {
    /// Links the numbered `batch`: fills each line's `prev` and `hash`, sets each entry's
    /// `chain`, and appends the planned checkpoint (entry and line).
    pub(crate) fn finish(
        &mut self,
        batch: &mut Vec<AuditEntry>,
        lines: &mut JsonLines,
        numbered: &Numbered,
    ) {
        let mut general = numbered.general.iter().peekable();
        for i in 0..numbered.count {
            let seq = numbered.first_seq + i as u64;
            let Some(entry) = batch.get_mut(i) else {
                break;
            };
            let Some(line) = lines.line_mut(i) else {
                break;
            };
            line[PREV_AT..PREV_AT + 64].copy_from_slice(self.prev.as_bytes());
            let hash = if general.next_if_eq(&&i).is_some() {
                entry.chain = Some(self.link_of(seq, String::new()));
                hash_entry(entry, &mut self.buf)
            } else {
                let mut hasher = Sha256::new();
                hasher.update(OPEN);
                hasher.update(&line[FIELDS_AT..line.len() - 1]);
                hex::encode(hasher.finalize())
            };
            line[HASH_AT..HASH_AT + 64].copy_from_slice(hash.as_bytes());
            entry.chain = Some(self.link_of(seq, hash.clone()));
            self.prev = hash;
        }
        if let Some(last) = numbered.checkpoint {
            let seq = numbered.first_seq + numbered.count as u64;
            let mut checkpoint = self.checkpoint(seq, last, numbered.sealing);
            let hash = hash_entry(&mut checkpoint, &mut self.buf);
            if let Some(link) = checkpoint.chain.as_mut() {
                link.hash = hash.clone();
            }
            self.prev = hash;
            // Lines stay complete only if every entry had one.
            if lines.len() == batch.len() && checkpoint.write_json_line(lines.buffer()).is_ok() {
                lines.end_line();
            } else {
                lines.clear();
            }
            batch.push(checkpoint);
        }
    }

    fn link_of(&self, seq: u64, hash: String) -> Chain {
        Chain {
            hash,
            id: self.id,
            prev: self.prev.clone(),
            seq,
        }
    }

    /// The checkpoint at `seq`, sealing the head (the entry before it), not yet hashed.
    fn checkpoint(&self, seq: u64, last: bool, sealing: u64) -> AuditEntry {
        let head_seq = seq - 1;
        let mut entry = AuditEntry::system(CHECKPOINT_ENDPOINT, Timestamp::now(), Outcome::Success);
        let fields = &mut entry.fields;
        fields.insert("head_seq".into(), head_seq.into());
        fields.insert("head_hash".into(), self.prev.clone().into());
        fields.insert("entries".into(), sealing.into());
        fields.insert("final".into(), last.into());
        match &self.key {
            Some(key) => {
                let message = checkpoint_message(&self.id, head_seq, &self.prev, last);
                fields.insert("alg".into(), "hmac-sha256".into());
                fields.insert("key_id".into(), key.key_id().into());
                fields.insert("signature".into(), key.sign(&message).into());
            }
            None => {
                fields.insert("alg".into(), "none".into());
            }
        }
        entry.chain = Some(self.link_of(seq, String::new()));
        entry
    }
}

/// SHA-256 of an entry's canonical form without `chain.hash` (which must be empty), the
/// general way: through a `Value`, with keys in UTF-16 order.
fn hash_entry(entry: &mut AuditEntry, buf: &mut Vec<u8>) -> String {
    if let Some(link) = entry.chain.as_mut() {
        link.hash.clear();
    }
    buf.clear();
    match serde_json::to_value(&*entry) {
        Ok(value) => canonical::write_value(&value, buf),
        Err(e) => tracing::error!(id = %entry.id, error = %e, "an audit entry could not be hashed"),
    }
    hex::encode(Sha256::digest(&*buf))
}

#[cfg(test)]
mod tests;
