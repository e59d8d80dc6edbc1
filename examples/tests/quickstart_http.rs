//! The quickstart sending to an HTTP endpoint (`AUDIT_SINK=…,https://…`) started by the test,
//! beside its JSONL files: the endpoint answers 503 with `Retry-After` at first, then takes
//! gzipped ECS batches; every entry of the source arrives once, carrying its exact line.
#![cfg(feature = "http")]

mod support;

#[path = "../../audit-core/tests/common/receiver.rs"]
mod receiver;

use std::collections::BTreeMap;

use receiver::{Answer, Receiver};
use support::Quickstart;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_reaches_the_endpoint_once_in_ecs() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::Unavailable(1)]);
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "jsonl:./audit_logs,{}?format=ecs&gzip=true&header.Authorization=Bearer%20t0ken&spool={}",
        receiver.url("/ingest"),
        dir.path().join("spool").display()
    );
    let server = Quickstart::start(dir.path(), Some(&sink));
    let sow =
        r#"{"client_id":"CLIENT-001","product":"Real-Time Payments","quality_mode":"production"}"#;
    for _ in 0..3 {
        assert_eq!(
            server.call("POST", "/api/v1/sow/create", sow, &[]).await.0,
            200
        );
    }
    let trip = r#"{"destination":"Lisbon","fail_at":"reserve_car"}"#;
    assert_eq!(server.call("POST", "/api/v1/trips", trip, &[]).await.0, 409);
    server.stop().await;

    let source = support::logged_lines(dir.path());
    let requests = receiver.requests();
    assert_eq!(requests[0].status, 503);
    assert!(requests[1].at - requests[0].at >= std::time::Duration::from_millis(990));
    assert!(requests
        .iter()
        .all(|r| r.headers["authorization"] == "Bearer t0ken"
            && r.headers["content-encoding"] == "gzip"));
    let mut seen = BTreeMap::new();
    for doc in receiver.accepted_records() {
        let id = doc["event"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            doc["event"]["original"].as_str(),
            source.get(&id).map(String::as_str)
        );
        *seen.entry(id).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), source.len());
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}
