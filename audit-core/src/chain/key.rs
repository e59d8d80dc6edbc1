//! The key that signs checkpoints, and the text it signs.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{ConfigError, KeyError};

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
