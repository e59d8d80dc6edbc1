//! Losses the log itself must show: entries dropped at a full queue, and batches given up
//! after every retry. They are kept as typed reports until an `audit.dropped` entry carrying
//! them is written; a report whose own batch is given up goes back to be reported again.

use serde_json::Value;

use super::super::now_micros;
use crate::entry::{AuditEntry, Outcome, Timestamp};

/// The endpoint of the entry that reports lost entries in the log itself.
pub const DROPPED_ENDPOINT: &str = "audit.dropped";

/// Why entries were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LossReason {
    /// The queue was full under `DropNewest` (or a detached record found no room).
    QueueFull,
    /// The sink failed every retry of their batch.
    SinkFailed,
}

impl LossReason {
    fn as_str(self) -> &'static str {
        match self {
            LossReason::QueueFull => "queue_full",
            LossReason::SinkFailed => "sink_failed",
        }
    }
}

/// What one `audit.dropped` entry says.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LossReport {
    pub reason: LossReason,
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The chain positions the lost entries held, in order (sink failures of a chained log).
    pub seqs: Vec<(u64, u64)>,
}

impl LossReport {
    /// The entry that makes the gap visible in the log; `audit verify` accepts the chain
    /// positions it names as reported, not as tampering.
    pub fn entry(&self) -> AuditEntry {
        let mut entry = AuditEntry::system(DROPPED_ENDPOINT, self.first, Outcome::Error);
        let seconds =
            (self.last.as_offset_date_time() - self.first.as_offset_date_time()).as_seconds_f64();
        entry.duration_seconds = seconds.max(0.0);
        let count = self.count;
        entry.error = Some(match self.reason {
            LossReason::QueueFull => format!("{count} audit entries dropped: the queue was full"),
            LossReason::SinkFailed => {
                format!("{count} audit entries lost: the sink failed after every retry")
            }
        });
        let fields = &mut entry.fields;
        fields.insert("reason".into(), self.reason.as_str().into());
        fields.insert("count".into(), count.into());
        fields.insert("window_start".into(), self.first.to_string().into());
        fields.insert("window_end".into(), self.last.to_string().into());
        if let (Some((first, _)), Some((_, last))) = (self.seqs.first(), self.seqs.last()) {
            fields.insert("chain_seq_first".into(), (*first).into());
            fields.insert("chain_seq_last".into(), (*last).into());
            let ranges: Vec<Value> = self
                .seqs
                .iter()
                .map(|(a, b)| Value::from(vec![*a, *b]))
                .collect();
            fields.insert("chain_seq_ranges".into(), ranges.into());
        }
        entry
    }
}

/// Entries given up after failed retries and not reported yet.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Lost {
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// The chain positions they held: ranges, in order (batches written in between split them).
    pub seqs: Vec<(u64, u64)>,
}

impl Lost {
    /// Adds the losses of another batch.
    pub fn add(&mut self, other: Lost) {
        self.count += other.count;
        self.first = self.first.or(other.first);
        self.last = other.last.or(self.last);
        for range in other.seqs {
            add_range(&mut self.seqs, range);
        }
    }

    /// Takes back a sink-failure report whose own batch was given up.
    pub fn add_report(&mut self, report: &LossReport) {
        self.count += report.count;
        self.first = Some(self.first.map_or(report.first, |f| f.min(report.first)));
        self.last = Some(self.last.map_or(report.last, |l| l.max(report.last)));
        for range in &report.seqs {
            add_range(&mut self.seqs, *range);
        }
    }

    /// The report of everything lost so far, leaving nothing.
    pub fn take_report(&mut self) -> Option<LossReport> {
        if self.count == 0 {
            return None;
        }
        let lost = std::mem::take(self);
        let now = Timestamp::now();
        Some(LossReport {
            reason: LossReason::SinkFailed,
            count: lost.count,
            first: lost.first.unwrap_or(now),
            last: lost.last.unwrap_or(now),
            seqs: lost.seqs,
        })
    }
}

/// Adds a range of lost chain positions, joining it to a range it continues.
pub(super) fn add_range(ranges: &mut Vec<(u64, u64)>, (first, last): (u64, u64)) {
    match ranges
        .iter_mut()
        .find(|(_, end)| end.checked_add(1) == Some(first))
    {
        Some(range) => range.1 = range.1.max(last),
        None => {
            ranges.push((first, last));
            ranges.sort_unstable();
        }
    }
}

/// A time kept as µs since the epoch (0: not set, then now).
pub(super) fn micros_to_timestamp(micros: u64) -> Timestamp {
    let micros = if micros == 0 { now_micros() } else { micros };
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .map(Timestamp::from)
        .unwrap_or_else(|_| Timestamp::now())
}

/// µs since the epoch of `at`.
pub(super) fn timestamp_micros(at: Timestamp) -> u64 {
    u64::try_from(at.as_offset_date_time().unix_timestamp_nanos() / 1000).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_join_when_they_continue_and_stay_sorted() {
        let mut ranges = Vec::new();
        add_range(&mut ranges, (5, 6));
        add_range(&mut ranges, (7, 9));
        add_range(&mut ranges, (1, 2));
        add_range(&mut ranges, (12, 12));
        assert_eq!(ranges, [(1, 2), (5, 9), (12, 12)]);
    }

    #[test]
    fn a_report_names_reason_count_window_and_chain_positions() {
        let report = LossReport {
            reason: LossReason::SinkFailed,
            count: 4,
            first: at("2026-02-05T10:00:00Z"),
            last: at("2026-02-05T10:00:02Z"),
            seqs: vec![(3, 4), (8, 9)],
        };
        let entry = report.entry();
        assert_eq!(entry.endpoint, DROPPED_ENDPOINT);
        assert_eq!(entry.user, crate::SYSTEM_USER);
        assert_eq!(entry.outcome, Outcome::Error);
        assert_eq!(entry.duration_seconds, 2.0);
        assert_eq!(entry.fields["reason"], "sink_failed");
        assert_eq!(entry.fields["count"], 4);
        assert_eq!(entry.fields["chain_seq_first"], 3);
        assert_eq!(entry.fields["chain_seq_last"], 9);
        // What `audit verify` reads back.
        assert_eq!(crate::chain::reported_gaps(&entry.fields), [(3, 4), (8, 9)]);
    }

    #[test]
    fn a_queue_report_has_no_chain_positions() {
        let entry = LossReport {
            reason: LossReason::QueueFull,
            count: 2,
            first: at("2026-02-05T10:00:00Z"),
            last: at("2026-02-05T10:00:00Z"),
            seqs: Vec::new(),
        }
        .entry();
        assert_eq!(entry.fields["reason"], "queue_full");
        assert!(entry.error.unwrap().contains("2 audit entries dropped"));
        assert!(!entry.fields.contains_key("chain_seq_ranges"));
    }

    #[test]
    fn losses_accumulate_into_one_report_and_a_given_up_report_comes_back() {
        let mut lost = Lost::default();
        assert_eq!(lost.take_report(), None);
        lost.add(Lost {
            count: 2,
            first: Some(at("2026-02-05T10:00:00Z")),
            last: Some(at("2026-02-05T10:00:01Z")),
            seqs: vec![(1, 2)],
        });
        lost.add(Lost {
            count: 1,
            first: Some(at("2026-02-05T10:00:05Z")),
            last: Some(at("2026-02-05T10:00:05Z")),
            seqs: vec![(3, 3)],
        });
        let report = lost.take_report().unwrap();
        assert_eq!(report.count, 3);
        assert_eq!(report.seqs, [(1, 3)]);
        assert_eq!(report.first, at("2026-02-05T10:00:00Z"));
        assert_eq!(report.last, at("2026-02-05T10:00:05Z"));
        assert_eq!(lost, Lost::default(), "taken");
        // The report's own batch failed: it is reported again, with what came since.
        lost.add_report(&report);
        lost.add(Lost {
            count: 1,
            first: Some(at("2026-02-05T10:00:09Z")),
            last: Some(at("2026-02-05T10:00:09Z")),
            seqs: vec![(5, 5)],
        });
        let again = lost.take_report().unwrap();
        assert_eq!(again.count, 4);
        assert_eq!(again.seqs, [(1, 3), (5, 5)]);
        assert_eq!(again.last, at("2026-02-05T10:00:09Z"));
    }

    #[test]
    fn micros_round_trip() {
        let t = at("2026-02-05T10:00:00.123456Z");
        assert_eq!(micros_to_timestamp(timestamp_micros(t)), t);
    }
}
