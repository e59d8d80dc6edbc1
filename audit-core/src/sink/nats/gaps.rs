//! The chain watch of a collector: each chain's last entry, judged only over messages seen
//! back to back on the stream, and the `audit.gap` entries that report a break.

use std::collections::HashMap;

use uuid::Uuid;

use crate::entry::{AuditEntry, Outcome, Timestamp};

use super::collect::GAP_ENDPOINT;

/// A break in a chain, as one collector saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Gap {
    /// Sequence numbers that never came, between two that did.
    Missing { chain: Uuid, first: u64, last: u64 },
    /// An entry whose `prev` is not the hash of the one before it.
    Broken { chain: Uuid, seq: u64 },
}

impl Gap {
    pub(super) fn entry(&self, stream: &str, consumer: &str) -> AuditEntry {
        let mut entry = AuditEntry::system(GAP_ENDPOINT, Timestamp::now(), Outcome::Error);
        let fields = &mut entry.fields;
        fields.insert("stream".into(), stream.into());
        fields.insert("consumer".into(), consumer.into());
        match self {
            Gap::Missing { chain, first, last } => {
                fields.insert("chain_id".into(), chain.to_string().into());
                fields.insert("first_seq".into(), (*first).into());
                fields.insert("last_seq".into(), (*last).into());
                fields.insert("count".into(), (last - first + 1).into());
                entry.error = Some(format!(
                    "entries {first} to {last} of chain {chain} are not on the stream"
                ));
            }
            Gap::Broken { chain, seq } => {
                fields.insert("chain_id".into(), chain.to_string().into());
                fields.insert("seq".into(), (*seq).into());
                entry.error = Some(format!(
                    "entry {seq} of chain {chain} does not link to the entry before it"
                ));
            }
        }
        entry
    }
}

/// Each chain's last entry seen, judged only over messages this collector saw back to back
/// (consecutive stream sequence numbers): messages another collector took, or a redelivery,
/// leave nothing to judge, and the watch starts again.
#[derive(Debug, Default)]
pub(super) struct GapWatch {
    last_stream_seq: Option<u64>,
    chains: HashMap<Uuid, (u64, String)>,
}

impl GapWatch {
    pub(super) fn observe(&mut self, stream_seq: u64, entry: &AuditEntry) -> Option<Gap> {
        let back_to_back = self
            .last_stream_seq
            .is_some_and(|last| stream_seq == last + 1);
        if !back_to_back {
            self.chains.clear();
        }
        self.last_stream_seq = Some(stream_seq);
        let link = entry.chain.as_ref()?;
        let before = self.chains.insert(link.id, (link.seq, link.hash.clone()));
        let (seq, hash) = before?;
        if link.seq == seq + 1 {
            return (link.prev != hash).then_some(Gap::Broken {
                chain: link.id,
                seq: link.seq,
            });
        }
        if link.seq > seq + 1 {
            return Some(Gap::Missing {
                chain: link.id,
                first: seq + 1,
                last: link.seq - 1,
            });
        }
        // Not after the last one (a repeat, or another order): nothing to say.
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Chain;

    fn linked(chain: Uuid, seq: u64, prev: &str, hash: &str) -> AuditEntry {
        let mut entry = AuditEntry::new("x");
        entry.chain = Some(Chain {
            id: chain,
            seq,
            prev: prev.into(),
            hash: hash.into(),
        });
        entry
    }

    #[test]
    fn gaps_are_judged_only_over_messages_seen_back_to_back() {
        let chain = Uuid::now_v7();
        let mut watch = GapWatch::default();
        assert_eq!(watch.observe(1, &linked(chain, 1, "0", "a")), None);
        assert_eq!(watch.observe(2, &linked(chain, 2, "a", "b")), None);
        // Seq 3 and 4 never came, though nothing was skipped on the stream.
        assert_eq!(
            watch.observe(3, &linked(chain, 5, "d", "e")),
            Some(Gap::Missing {
                chain,
                first: 3,
                last: 4
            })
        );
        // A link to the wrong hash.
        assert_eq!(
            watch.observe(4, &linked(chain, 6, "zzz", "f")),
            Some(Gap::Broken { chain, seq: 6 })
        );
        // Stream messages 5 to 9 went to another collector: no judgement.
        assert_eq!(watch.observe(10, &linked(chain, 12, "k", "l")), None);
        assert_eq!(watch.observe(11, &linked(chain, 13, "l", "m")), None);
        // A repeat says nothing.
        assert_eq!(watch.observe(12, &linked(chain, 13, "l", "m")), None);
        let report = Gap::Missing {
            chain,
            first: 3,
            last: 4,
        }
        .entry("AUDIT", "pg");
        assert_eq!(report.endpoint, GAP_ENDPOINT);
        assert_eq!(report.fields["count"], 2);
        assert_eq!(report.user, crate::SYSTEM_USER);
    }
}
