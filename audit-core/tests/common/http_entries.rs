//! What the HTTP sink's tests share: entries, recording them through an auditor, and
//! counting arrivals by each format's id field.
#![allow(dead_code)]

use std::collections::BTreeMap;

use audit_core::format::Format;
use audit_core::http::HttpSink;
use audit_core::{AuditEntry, Auditor};
use serde_json::Value;

pub fn entry(i: usize) -> AuditEntry {
    let mut entry = AuditEntry::new("invoice_pay");
    entry.method = Some("POST".into());
    entry.path = Some(format!("/invoices/{i}/pay"));
    entry.status_code = Some(200);
    entry.user = "alice".into();
    entry.request = Some(serde_json::json!({"amount": i, "card": "[REDACTED]"}));
    entry
}

/// Records `n` entries through an auditor on `sink` and shuts it down; returns their ids.
pub async fn record(sink: HttpSink, n: usize) -> Vec<String> {
    let auditor = Auditor::builder().batch_size(256).build(sink).unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let entry = entry(i);
        ids.push(entry.id.to_string());
        auditor.record(entry).await.unwrap();
    }
    auditor.shutdown().await.unwrap();
    ids
}

/// How often each id arrived, by the id field of each format.
pub fn arrivals(records: &[Value], format: Format) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in records {
        let id = match format {
            Format::Ecs => &record["event"]["id"],
            Format::Ocsf => &record["metadata"]["uid"],
            _ => &record["id"],
        };
        *seen.entry(id.as_str().unwrap().to_owned()).or_default() += 1;
    }
    seen
}

pub fn assert_each_once(ids: &[String], seen: &BTreeMap<String, usize>) {
    for id in ids {
        assert_eq!(seen.get(id), Some(&1), "{id} must arrive once");
    }
    assert_eq!(seen.len(), ids.len(), "nothing else arrives");
}
