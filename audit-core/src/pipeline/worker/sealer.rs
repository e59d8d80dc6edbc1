//! Sealing: a batch's entries made ready to write (users pseudonymised, bounds enforced,
//! reports of losses added, numbered for the chain), and the bookkeeping of what written
//! batches lost.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::super::faults::FaultLog;
use super::super::{Ack, Counters};
use super::loss::{micros_to_timestamp, timestamp_micros, LossReason, LossReport, Lost};
use super::{Committed, Prepared};
use crate::chain::{Numbered, Numberer};
use crate::entry::AuditEntry;
use crate::redact::Redaction;

/// Owns what batches are made with: redaction, reports of losses, the chain.
pub(super) struct Sealer {
    pub redaction: Redaction,
    pub counters: Arc<Counters>,
    pub numberer: Option<Numberer>,
    pub lost: Lost,
    pub spare: Vec<Prepared>,
    pub faults: FaultLog,
    pub metrics: crate::metrics::PipelineMetrics,
}

impl Sealer {
    /// An empty entry vector, reusing a spare one's allocation.
    pub fn take_entries(&mut self, capacity: usize) -> Vec<AuditEntry> {
        match self.spare.last_mut() {
            Some(spare) => std::mem::take(&mut spare.entries),
            None => Vec::with_capacity(capacity + 2),
        }
    }

    /// Makes a batch of `entries`: users pseudonymised, pending reports added, linked and
    /// serialised when chained, with a signed checkpoint when one is due.
    pub fn prepare(
        &mut self,
        mut entries: Vec<AuditEntry>,
        acks: Vec<Ack>,
        durable: bool,
    ) -> Prepared {
        let mut batch = self.spare.pop().unwrap_or_default();
        // Counted before pseudonyms and bounds: labels come from names the code chose.
        self.metrics.observe(&entries);
        if self.redaction.pseudonymizes_users() {
            for entry in entries.iter_mut() {
                if let std::borrow::Cow::Owned(pseudonym) = self.redaction.user(&entry.user) {
                    entry.user = pseudonym;
                }
            }
        }
        // No request can make a line of megabytes, whoever built the entry.
        for entry in entries.iter_mut() {
            entry.enforce_bounds();
        }
        let reports = self.take_reports();
        let own = entries.len();
        entries.extend(reports.iter().map(LossReport::entry));
        batch.lines.clear();
        batch.numbered = match self.numberer.as_mut() {
            Some(numberer) => numberer.number(&entries, &mut batch.lines),
            None => Numbered::default(),
        };
        batch.entries = entries;
        batch.own = own;
        batch.reports = reports;
        batch.acks = acks;
        batch.durable = durable;
        batch
    }

    pub fn pending_report(&self) -> u64 {
        self.lost.count + self.counters.unreported_drops.load(Ordering::Acquire)
    }

    /// Takes back a written batch's buffers and notes what it lost.
    pub fn account(&mut self, committed: Committed) {
        if let Some(lost) = committed.lost {
            self.lost.add(lost);
            self.restore_reports(&committed.reports);
        }
        let mut spare = committed.spare;
        spare.entries.clear();
        spare.lines.clear();
        if self.spare.len() < 2 {
            self.spare.push(spare);
        }
    }

    /// Reports of drops and given-up batches not reported yet.
    fn take_reports(&mut self) -> Vec<LossReport> {
        let mut reports = Vec::new();
        let dropped = self.counters.unreported_drops.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            self.faults.dropped(dropped);
            let start = self.counters.drop_window_start.swap(0, Ordering::Relaxed);
            let end = self.counters.drop_window_end.load(Ordering::Relaxed);
            reports.push(LossReport {
                reason: LossReason::QueueFull,
                count: dropped,
                first: micros_to_timestamp(start),
                last: micros_to_timestamp(end.max(start)),
                seqs: Vec::new(),
            });
        }
        reports.extend(self.lost.take_report());
        reports
    }

    /// Reports whose own batch was given up: reported again with the next batch.
    fn restore_reports(&mut self, reports: &[LossReport]) {
        for report in reports {
            match report.reason {
                LossReason::QueueFull => {
                    self.counters
                        .unreported_drops
                        .fetch_add(report.count, Ordering::AcqRel);
                    let _ = self.counters.drop_window_start.compare_exchange(
                        0,
                        timestamp_micros(report.first),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                LossReason::SinkFailed => self.lost.add_report(report),
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::entry::Outcome;

    /// A sealer without a chain, as an auditor whose sink does not chain has.
    pub fn sealer() -> Sealer {
        Sealer {
            redaction: Redaction::default(),
            counters: Arc::default(),
            numberer: None,
            lost: Lost::default(),
            spare: Vec::new(),
            faults: FaultLog::default(),
            metrics: crate::metrics::PipelineMetrics::new(false),
        }
    }

    fn endpoints(batch: &Prepared) -> Vec<&str> {
        batch.entries.iter().map(|e| e.endpoint.as_str()).collect()
    }

    #[test]
    fn drops_are_reported_once_after_the_batch_s_own_entries() {
        let mut sealer = sealer();
        sealer.counters.note_drop();
        sealer.counters.note_drop();
        let batch = sealer.prepare(vec![AuditEntry::new("a")], Vec::new(), false);
        assert_eq!(endpoints(&batch), ["a", DROPPED]);
        assert_eq!(batch.own, 1);
        assert_eq!(batch.entries[1].fields["count"], 2);
        assert_eq!(batch.entries[1].fields["reason"], "queue_full");
        // Reported: the next batch carries no report.
        let next = sealer.prepare(vec![AuditEntry::new("b")], Vec::new(), false);
        assert_eq!(endpoints(&next), ["b"]);
        assert_eq!(sealer.pending_report(), 0);
    }

    const DROPPED: &str = super::super::DROPPED_ENDPOINT;

    /// A batch given up: its own entries are counted as lost, and the reports it carried come
    /// back, so the next batch reports both.
    #[test]
    fn a_given_up_batch_is_reported_with_the_reports_it_carried() {
        let mut sealer = sealer();
        sealer.counters.note_drop();
        let failed = sealer.prepare(
            vec![AuditEntry::new("a"), AuditEntry::new("b")],
            Vec::new(),
            false,
        );
        let lost = Lost {
            count: failed.own as u64,
            first: failed.entries.first().map(|e| e.timestamp),
            last: failed.entries.get(1).map(|e| e.timestamp),
            seqs: Vec::new(),
        };
        let reports = failed.reports.clone();
        sealer.account(Committed {
            result: Err(Arc::new(crate::SinkError::other("disk full"))),
            lost: Some(lost),
            reports,
            spare: failed,
        });
        assert_eq!(sealer.pending_report(), 3, "2 lost + 1 dropped");
        let next = sealer.prepare(vec![AuditEntry::new("c")], Vec::new(), false);
        assert_eq!(endpoints(&next), ["c", DROPPED, DROPPED]);
        let reasons: Vec<_> = next.entries[1..]
            .iter()
            .map(|e| (e.fields["reason"].clone(), e.fields["count"].clone()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("queue_full".into(), 1.into()),
                ("sink_failed".into(), 2.into())
            ]
        );
        assert!(next.entries[1..]
            .iter()
            .all(|e| e.outcome == Outcome::Error));
    }

    #[test]
    fn prepare_enforces_bounds_and_reuses_buffers() {
        let mut sealer = sealer();
        let mut long = AuditEntry::new("a");
        long.user = "u".repeat(10_000);
        let batch = sealer.prepare(vec![long], Vec::new(), true);
        assert!(batch.entries[0].user.chars().count() <= crate::bounds::MAX_USER_CHARS + 32);
        assert!(batch.durable);
        let capacity = batch.entries.capacity();
        sealer.account(Committed {
            result: Ok(()),
            lost: None,
            reports: Vec::new(),
            spare: batch,
        });
        assert_eq!(
            sealer.take_entries(1).capacity(),
            capacity,
            "the spare's allocation"
        );
    }
}
