//! Linking on the writer: one half numbers entries and serialises their lines with blank
//! hashes (on the writer task), the other fills in `prev` and `hash` in order and makes
//! checkpoints (off it).

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{checkpoint_message, ChainConfig, CheckpointKey, CHECKPOINT_ENDPOINT, GENESIS};
use crate::canonical;
use crate::entry::{AuditEntry, Chain, Outcome, Timestamp};
use crate::json_lines::JsonLines;

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
    /// due.
    pub(crate) fn number(&mut self, batch: &[AuditEntry], lines: &mut JsonLines) -> Numbered {
        let mut numbered = Numbered {
            first_seq: self.next_seq,
            ..Numbered::default()
        };
        for (i, entry) in batch.iter().enumerate() {
            let seq = self.next_seq + i as u64;
            if !self.write_line(entry, seq, lines) {
                numbered.general.push(i);
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
    fn write_line(&self, entry: &AuditEntry, seq: u64, lines: &mut JsonLines) -> bool {
        let out = lines.buffer();
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
        if plain {
            entry.write_canonical(out);
        } else {
            // Not expected (the writer links fresh entries); hashed the general way.
            let mut unlinked = entry.clone();
            unlinked.chain = None;
            unlinked.write_canonical(out);
        }
        // Keys from U+E000 up sort differently in UTF-16 than in byte order. (A max over all
        // bytes, unlike `any`, vectorises.)
        plain &= out[rest..].iter().fold(0u8, |max, &b| max.max(b)) < 0xEE;
        out[rest] = b',';
        out.push(b'\n');
        lines.end_line();
        plain
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
            // This hash is the next entry's `prev`; the old `prev` moves into this entry.
            let prev = std::mem::replace(&mut self.prev, hash.clone());
            entry.chain = Some(Chain {
                hash,
                id: self.id,
                prev,
                seq,
            });
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
