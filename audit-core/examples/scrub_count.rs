//! Redacts and summarises the layer bench's request and response bodies `N` times (first
//! argument, default 1000), for counting instructions with callgrind: `bench/callgrind_scrub.sh`
//! runs it with 0 and with N iterations and divides the difference.

use std::hint::black_box;

use audit_core::Scrubber;
use serde_json::json;

fn main() {
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let scrubber = Scrubber::default();
    // The bodies of `cargo bench -p audit-tower --bench layer` (1 KiB each), plus a login.
    let request = json!({"client_id": "CLIENT-001", "product": "Real-Time Payments", "notes": "n".repeat(940)}).to_string();
    let response = json!({"client_id": "CLIENT-001", "summary": "s".repeat(900), "cost_usd": 0.23, "llm_calls": 3}).to_string();
    let login = json!({"username": "alice", "password": "hunter2", "remember_me": true, "device": {"os": "linux", "app_version": "1.2.3"}}).to_string();
    for _ in 0..iterations {
        for body in [&request, &response, &login] {
            black_box(scrubber.body(
                black_box(body.as_bytes()),
                Some("application/json"),
                body.len() as u64,
            ));
        }
    }
}
