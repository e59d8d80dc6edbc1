//! Golden tests of the formats (`audit_core::format`) on entries that cover every field,
//! null and redacted ones included; the ECS output against the ECS field list, the OCSF output
//! against API Activity's required attributes (both shipped in `tests/data/`); and the rule
//! that no field is silently dropped.
//!
//! `AUDIT_UPDATE_GOLDEN=1 cargo test -p audit-core --test formats` rewrites the golden files
//! after a deliberate change; review the diff.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use audit_core::format::Format;
use audit_core::AuditEntry;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn entries() -> Vec<(Value, AuditEntry)> {
    std::fs::read_to_string(data("data/format_entries.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            (
                serde_json::from_str(line).unwrap(),
                serde_json::from_str(line).unwrap(),
            )
        })
        .collect()
}

#[test]
fn each_format_matches_its_golden_file() {
    let entries = entries();
    for format in Format::ALL {
        let rendered: String = entries
            .iter()
            .map(|(_, entry)| format.render(entry) + "\n")
            .collect();
        let golden = data(&format!("golden/{format}.txt"));
        if std::env::var_os("AUDIT_UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &rendered).unwrap();
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (AUDIT_UPDATE_GOLDEN=1 writes it)",
                golden.display()
            )
        });
        for (i, (got, want)) in rendered.lines().zip(expected.lines()).enumerate() {
            assert_eq!(got, want, "{format}, entry {}", i + 1);
        }
        assert_eq!(
            rendered.lines().count(),
            expected.lines().count(),
            "{format}"
        );
    }
}

/// The field of each format that carries the canonical line.
fn original(format: Format, record: &str) -> String {
    match format {
        Format::Native => record.to_owned(),
        Format::Cef => cef_extension(record)
            .into_iter()
            .find(|(k, _)| k == "rawEvent")
            .map(|(_, v)| v)
            .unwrap(),
        json => {
            let v: Value = serde_json::from_str(record).unwrap();
            let found = match json {
                Format::Ecs => v["event"]["original"].clone(),
                Format::Ocsf => v["raw_data"].clone(),
                Format::Otel => v["attributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|a| a["key"] == "log.record.original")
                    .map(|a| a["value"]["stringValue"].clone())
                    .unwrap(),
                _ => unreachable!(),
            };
            found.as_str().unwrap().to_owned()
        }
    }
}

#[test]
fn every_format_carries_the_canonical_line_so_a_copy_verifies() {
    for (_, entry) in entries() {
        let mut native = Vec::new();
        entry.write_json_line(&mut native).unwrap();
        let native = String::from_utf8(native).unwrap();
        for format in Format::ALL {
            let carried = original(format, &format.render(&entry));
            assert_eq!(carried, native.trim_end(), "{format}");
            let back: AuditEntry = serde_json::from_str(&carried).unwrap();
            assert_eq!(back, entry, "{format}");
        }
    }
}

/// Every scalar of a JSON value, as text (strings unquoted); strings that hold JSON are
/// opened too, so a label holding an object counts.
fn leaves(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::String(s) => {
            out.push(s.clone());
            if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(s) {
                leaves(&inner, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| leaves(v, out)),
        other => out.push(other.to_string()),
    }
}

/// The scalars of the entry a format must keep outside its copy of the line. `timestamp`,
/// `duration_seconds` are checked in each schema's unit below; an address may be split into
/// ip and port.
fn expected_leaves(entry: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in entry.as_object().unwrap() {
        if matches!(key.as_str(), "timestamp" | "duration_seconds") {
            continue;
        }
        if let Some(addr) = value.as_str().and_then(|s| s.parse::<SocketAddr>().ok()) {
            out.push(addr.ip().to_string());
            out.push(addr.port().to_string());
            continue;
        }
        leaves(value, &mut out);
    }
    out
}

#[test]
fn json_formats_drop_no_field() {
    for (raw, entry) in entries() {
        for format in [Format::Otel, Format::Ecs, Format::Ocsf] {
            let mut record = format.to_value(&entry).unwrap();
            // Not counting the copy of the whole line.
            match format {
                Format::Ecs => record["event"]["original"] = Value::Null,
                Format::Ocsf => record["raw_data"] = Value::Null,
                _ => {
                    let attributes = record["attributes"].as_array_mut().unwrap();
                    attributes.retain(|a| a["key"] != "log.record.original");
                }
            }
            let mut got = Vec::new();
            leaves(&record, &mut got);
            for want in expected_leaves(&raw) {
                assert!(
                    got.iter().any(|g| g == &want || g.contains(&want)),
                    "{format} lost `{want}` of entry {}",
                    entry.id
                );
            }
        }
    }
}

#[test]
fn times_and_durations_keep_their_precision() {
    for (_, entry) in entries() {
        let micros = entry.timestamp.as_offset_date_time().unix_timestamp_nanos() / 1000;
        let ecs = Format::Ecs.to_value(&entry).unwrap();
        assert_eq!(ecs["@timestamp"], entry.timestamp.to_string());
        let nanos = (entry.duration_seconds * 1e9).round() as u64;
        assert_eq!(ecs["event"]["duration"], nanos);
        let ocsf = Format::Ocsf.to_value(&entry).unwrap();
        assert_eq!(ocsf["time"], (micros / 1000) as i64);
        assert_eq!(ocsf["time_dt"], entry.timestamp.to_string());
        assert_eq!(ocsf["unmapped"]["duration_seconds"], entry.duration_seconds);
        let otel = Format::Otel.to_value(&entry).unwrap();
        assert_eq!(otel["timeUnixNano"], (micros * 1000).to_string());
        assert_eq!(
            otel_attribute(&otel, "audit.duration_seconds")["doubleValue"],
            entry.duration_seconds
        );
    }
}

/// Dotted names of every field of an ECS document (`labels.*` kept as `labels`).
fn ecs_names(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if prefix != "labels" => {
            for (key, value) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                ecs_names(value, &name, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

#[test]
fn ecs_uses_only_ecs_field_names() {
    let known: BTreeSet<String> = std::fs::read_to_string(data("data/ecs_fields.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let mut used = BTreeSet::new();
    for (_, entry) in entries() {
        let doc = Format::Ecs.to_value(&entry).unwrap();
        ecs_names(&doc, "", &mut used);
        for (key, value) in doc["labels"].as_object().unwrap() {
            assert!(!key.contains('.'), "ECS label keys hold no dots: {key}");
            assert!(value.is_string(), "ECS labels are keywords: {key}");
        }
    }
    let unknown: Vec<_> = used.difference(&known).collect();
    assert!(unknown.is_empty(), "not ECS fields: {unknown:?}");
    for must in [
        "@timestamp",
        "event.duration",
        "event.outcome",
        "http.request.method",
        "url.path",
        "user.name",
        "client.ip",
        "trace.id",
    ] {
        assert!(used.contains(must), "{must} not written");
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| v.get(key))
}

/// Checks an event against the class requirements shipped in `tests/data`.
fn ocsf_violations(event: &Value, schema: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for name in schema["required"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        if event.get(name).is_none_or(Value::is_null) {
            problems.push(format!("required `{name}` missing"));
        }
    }
    for (name, ty) in schema["types"].as_object().unwrap() {
        if let Some(value) = event.get(name) {
            if json_type(value) != ty.as_str().unwrap() {
                problems.push(format!("`{name}` is {}, not {ty}", json_type(value)));
            }
        }
    }
    for (name, allowed) in schema["enums"].as_object().unwrap() {
        if let Some(value) = event.get(name) {
            if !allowed.as_array().unwrap().contains(value) {
                problems.push(format!("`{name}` = {value} not in {allowed}"));
            }
        }
    }
    if event["class_uid"] != schema["class_uid"] || event["category_uid"] != schema["category_uid"]
    {
        problems.push("wrong class or category".into());
    }
    let type_uid =
        event["class_uid"].as_u64().unwrap_or(0) * 100 + event["activity_id"].as_u64().unwrap_or(0);
    if event["type_uid"] != type_uid {
        problems.push(format!(
            "type_uid {} is not class_uid * 100 + activity_id",
            event["type_uid"]
        ));
    }
    for (path, rules) in schema["objects"].as_object().unwrap() {
        let Some(object) = at(event, path) else {
            continue;
        };
        for name in rules["required"].as_array().into_iter().flatten() {
            if object.get(name.as_str().unwrap()).is_none() {
                problems.push(format!("`{path}.{}` missing", name.as_str().unwrap()));
            }
        }
        if let Some(any) = rules["at_least_one"].as_array() {
            if !any
                .iter()
                .any(|n| object.get(n.as_str().unwrap()).is_some())
            {
                problems.push(format!("`{path}` has none of {}", rules["at_least_one"]));
            }
        }
    }
    problems
}

#[test]
fn ocsf_events_hold_api_activitys_required_attributes() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(data("data/ocsf_api_activity.json")).unwrap(),
    )
    .unwrap();
    for (_, entry) in entries() {
        let event = Format::Ocsf.to_value(&entry).unwrap();
        let problems = ocsf_violations(&event, &schema);
        assert!(problems.is_empty(), "entry {}: {problems:?}", entry.id);
    }
    // The checker itself finds what is missing.
    let mut broken = Format::Ocsf.to_value(&entries()[0].1).unwrap();
    broken.as_object_mut().unwrap().remove("actor");
    broken["activity_id"] = 7.into();
    broken["src_endpoint"] = serde_json::json!({"port": 1});
    assert_eq!(
        ocsf_violations(&broken, &schema).len(),
        4,
        "{:?}",
        ocsf_violations(&broken, &schema)
    );
}

fn otel_attribute<'a>(record: &'a Value, key: &str) -> &'a Value {
    let found: Vec<&Value> = record["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["key"] == key)
        .collect();
    assert_eq!(found.len(), 1, "attribute {key} once");
    &found[0]["value"]
}

#[test]
fn otel_uses_the_http_semantic_conventions() {
    let entries = entries();
    let full = Format::Otel.to_value(&entries[0].1).unwrap();
    for (key, want) in [
        (
            "http.request.method",
            serde_json::json!({"stringValue": "POST"}),
        ),
        (
            "http.route",
            serde_json::json!({"stringValue": "/api/v1/sow/{id}"}),
        ),
        (
            "url.path",
            serde_json::json!({"stringValue": "/api/v1/sow/7"}),
        ),
        (
            "url.query",
            serde_json::json!({"stringValue": "draft=true&token=[REDACTED]"}),
        ),
        (
            "http.response.status_code",
            serde_json::json!({"intValue": "201"}),
        ),
        (
            "client.address",
            serde_json::json!({"stringValue": "203.0.113.9"}),
        ),
        (
            "user_agent.original",
            serde_json::json!({"stringValue": "curl/8.5.0"}),
        ),
        ("user.id", serde_json::json!({"stringValue": "alice"})),
        (
            "http.request.header.authorization",
            serde_json::json!({"arrayValue": {"values": [{"stringValue": "[REDACTED]"}]}}),
        ),
    ] {
        assert_eq!(otel_attribute(&full, key), &want, "{key}");
    }
    assert_eq!(full["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(full["spanId"], "00f067aa0ba902b7");
    assert_eq!(full["severityText"], "INFO");
    let failed = Format::Otel.to_value(&entries[2].1).unwrap();
    assert_eq!(
        otel_attribute(&failed, "error.type"),
        &serde_json::json!({"stringValue": "503"})
    );
    assert_eq!(failed["severityNumber"], 17);
}

/// `key=value` pairs of a CEF line's extension, unescaped.
fn cef_extension(line: &str) -> Vec<(String, String)> {
    // The extension starts after the 7th unescaped `|`.
    let mut pipes = 0;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '|' => {
                pipes += 1;
                if pipes == 7 {
                    start = i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    let ext = &line[start..];
    // Keys are the words before an unescaped `=`; a value runs until the next ` key=`.
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut chars = ext.chars().peekable();
    let mut token = String::new();
    let mut key: Option<String> = None;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => token.push('\n'),
                Some('r') => token.push('\r'),
                Some(other) => token.push(other),
                None => {}
            },
            '=' => {
                // The key is the last word of what came before.
                let (value, new_key) = match token.rfind(' ') {
                    Some(space) => (token[..space].to_owned(), token[space + 1..].to_owned()),
                    None => (String::new(), token.clone()),
                };
                if let Some(k) = key.take() {
                    pairs.push((k, value));
                }
                key = Some(new_key);
                token.clear();
            }
            c => token.push(c),
        }
    }
    if let Some(k) = key {
        pairs.push((k, token));
    }
    pairs
}

#[test]
fn cef_lines_parse_into_the_entrys_fields() {
    let entries = entries();
    let line = Format::Cef.render(&entries[2].1);
    let header: Vec<&str> = line.splitn(8, '|').collect();
    assert_eq!(
        &header[..4],
        &["CEF:0", "audited", "audited", env!("CARGO_PKG_VERSION")]
    );
    let ext = cef_extension(&line);
    let get = |k: &str| {
        ext.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("msg"), Some("database said: a=b | c\\d\nsecond line"));
    assert_eq!(get("suser"), Some("pseudo:3f9a1c"));
    assert_eq!(get("requestMethod"), Some("DELETE"));
    assert_eq!(get("src"), Some("2001:db8::7"));
    assert_eq!(get("sourceTranslatedAddress"), Some("2001:db8::1"));
    assert_eq!(get("cn1"), Some("503"));
    assert_eq!(get("cn1Label"), Some("status_code"));
    assert_eq!(get("cs3"), Some("req-=|\\"));
    assert_eq!(
        get("requestClientApplication"),
        Some("Mozilla/5.0 (X11; Linux x86_64)")
    );
    let keys: BTreeSet<&str> = ext.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), ext.len(), "each key once");
}
