use super::*;
use crate::entry::Chain;

fn entry() -> AuditEntry {
    let mut entry = AuditEntry::new("sow_create");
    entry.method = Some("POST".into());
    entry.path = Some("/api/v1/sow/7".into());
    entry.query = Some("token=[REDACTED]".into());
    entry.status_code = Some(503);
    entry.outcome = Outcome::ServerError;
    entry.client_addr = Some("203.0.113.9".into());
    entry.peer_addr = Some("127.0.0.1:5000".into());
    entry.error = Some("a=b|c\\d\nnext".into());
    entry.duration_seconds = 0.25;
    entry
}

#[test]
fn names_parse_back() {
    for format in Format::ALL {
        assert_eq!(format.name().parse::<Format>(), Ok(format));
    }
    let err = "splunk".parse::<Format>().unwrap_err().to_string();
    assert!(err.contains("native, otel, ecs, ocsf and cef"), "{err}");
}

#[test]
fn records_are_single_lines() {
    let mut entry = entry();
    entry.chain = Some(Chain {
        hash: "ab".repeat(32),
        id: uuid::Uuid::nil(),
        prev: "0".repeat(64),
        seq: 3,
    });
    for format in Format::ALL {
        let text = format.render(&entry);
        assert!(
            !text.contains('\n') && !text.contains('\r'),
            "{format}: {text}"
        );
        if format.is_json() {
            serde_json::from_str::<Value>(&text).unwrap();
        }
    }
}

#[test]
fn cef_escapes_headers_and_extensions() {
    let mut entry = entry();
    entry.endpoint = "a|b".into();
    let line = Format::Cef.render(&entry);
    assert!(line.starts_with("CEF:0|audited|audited|"), "{line}");
    assert!(line.contains("|a\\|b|a\\|b server_error|7|"), "{line}");
    assert!(line.contains("msg=a\\=b|c\\\\d\\nnext "), "{line}");
    assert!(line.contains("src=203.0.113.9 "), "{line}");
    assert!(line.contains("sourceTranslatedAddress=127.0.0.1 sourceTranslatedPort=5000"));
}

#[test]
fn durations_and_times_use_each_schemas_unit() {
    let entry = entry();
    let ecs = Format::Ecs.to_value(&entry).unwrap();
    assert_eq!(ecs["event"]["duration"], 250_000_000);
    let ocsf = Format::Ocsf.to_value(&entry).unwrap();
    assert_eq!(ocsf["duration"], 250);
    assert_eq!(
        ocsf["end_time"].as_i64().unwrap() - ocsf["time"].as_i64().unwrap(),
        250
    );
    assert_eq!(ocsf["type_uid"], 600301);
    let otel = Format::Otel.to_value(&entry).unwrap();
    assert!(otel["timeUnixNano"].as_str().unwrap().len() >= 19);
}
