//! The entry the benchmarks measure, shared so that their figures compare.

use audit_core::{AuditEntry, Outcome, Scrubber};
use serde_json::json;

/// A typical entry of an HTTP call, about 630 bytes as a JSON line.
pub fn sample_entry(scrubber: &Scrubber) -> AuditEntry {
    let mut entry = AuditEntry::new("sow_create");
    entry.method = Some("POST".into());
    entry.route = Some("/api/v1/sow/create".into());
    entry.path = Some("/api/v1/sow/create".into());
    entry.user = "alice@example.com".into();
    entry.request = Some(scrubber.object(json!({
        "client_id": "CLIENT-001",
        "product": "Real-Time Payments",
        "quality_mode": "production",
    })));
    entry.response_summary = Some(scrubber.object(json!({
        "sow_text": "<5234 characters>",
        "cost_usd": 0.23,
        "llm_calls": 3,
        "quality_mode": "production",
    })));
    entry.status_code = Some(200);
    entry.duration_seconds = 0.034523;
    entry.outcome = Outcome::Success;
    entry.correlation_id = Some("0192f0c1-7b3a-7cc2-9d4e-5f6a7b8c9d0e".into());
    entry.peer_addr = Some("127.0.0.1:51234".into());
    entry.user_agent = Some("curl/8.5.0".into());
    entry.request_bytes = Some(84);
    entry.response_bytes = Some(5342);
    entry
        .headers
        .insert("content-type".into(), "application/json".into());
    entry
}
