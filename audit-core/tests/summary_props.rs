//! Property tests: summarised output is valid JSON within the configured bounds, and nothing
//! under a sensitive key survives.

use audit_core::{Redaction, Scrubber, SummaryLimits};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        "[a-zé]{0,400}".prop_map(Value::String),
    ];
    leaf.prop_recursive(12, 400, 40, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,12}",
                    Just("password".to_owned()),
                    Just("Token".to_owned())
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The bounds a test set on its [`SummaryLimits`].
struct Bounds {
    chars: usize,
    items: usize,
    keys: usize,
    depth: usize,
}

/// Checks the bounds; returns the depth of containers found.
fn check(value: &Value, limits: &Bounds, depth: usize) -> Result<(), TestCaseError> {
    match value {
        Value::String(s) => {
            let marker = (s.starts_with('<') && s.ends_with('>')) || s == "[REDACTED]";
            prop_assert!(
                s.chars().count() <= limits.chars || marker,
                "string too long: {}",
                s.len()
            );
        }
        Value::Array(items) => {
            prop_assert!(depth <= limits.depth, "array at depth {depth}");
            prop_assert!(items.len() <= limits.items + 1);
            for item in items {
                check(item, limits, depth + 1)?;
            }
        }
        Value::Object(map) => {
            prop_assert!(depth <= limits.depth, "object at depth {depth}");
            prop_assert!(map.len() <= limits.keys + 1);
            for (key, item) in map {
                if key.eq_ignore_ascii_case("password") || key.eq_ignore_ascii_case("token") {
                    prop_assert_eq!(item, &Value::String("[REDACTED]".into()));
                }
                check(item, limits, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn summaries_are_valid_json_within_bounds(
        value in json_value(),
        chars in 1usize..300,
        items in 1usize..40,
        keys in 1usize..10,
        depth in 1usize..10,
    ) {
        let limits = SummaryLimits::default()
            .max_string_chars(chars)
            .max_array_items(items)
            .max_object_keys(keys)
            .max_depth(depth);
        let scrubber = Scrubber::new(limits, Redaction::default());
        let summary = scrubber.object(value.clone());
        prop_assert!(summary.is_object());
        // Valid JSON: it serialises and parses back to the same value.
        let text = serde_json::to_string(&summary).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &summary);
        check(&summary, &Bounds { chars, items, keys, depth }, 1)?;
        // Never larger than the input, apart from the short markers that replace cut parts.
        let input = serde_json::to_string(&value).unwrap().len();
        prop_assert!(text.len() <= input + 64 * (1 + input / 8), "{} > {}", text.len(), input);
    }

    /// Hostile shapes (deep nesting, wide arrays of tiny containers, long keys) cannot grow a
    /// summary past its byte budget, beyond one value and one marker per open level.
    #[test]
    fn summaries_stay_within_their_byte_budget(
        width in 1usize..200,
        nesting in 1usize..200,
        key_len in 1usize..300,
        budget in 256usize..20_000,
    ) {
        let mut value = Value::Array((0..width).map(|_| Value::Array(vec![])).collect());
        for level in 0..nesting {
            value = if level % 2 == 0 {
                Value::Array(vec![value.clone(), value])
            } else {
                let mut map = serde_json::Map::new();
                map.insert("k".repeat(key_len), value.clone());
                map.insert("x".repeat(key_len), value);
                Value::Object(map)
            };
            if serde_json::to_string(&value).unwrap().len() > 200_000 {
                break;
            }
        }
        let limits = SummaryLimits::default().max_total_bytes(budget);
        let text = serde_json::to_string(&Scrubber::new(limits, Redaction::default()).object(value)).unwrap();
        // One key and one leaf (256 characters each, at most 6 bytes each once escaped) and
        // one marker per open level.
        // (The default depth bound is 8.)
        let slack = 2 * 6 * 256 + 8 * 64;
        prop_assert!(text.len() <= budget + slack, "{} > {budget} + {slack}", text.len());
    }

    /// Multipart bodies assembled from the pieces its parser looks for, in any order.
    #[test]
    fn multipart_shapes_never_panic(pieces in prop::collection::vec(prop::sample::select(vec![
        "--b", "--", "\r\n", "\r\n\r\n", "Content-Disposition: form-data; name=\"password\"",
        "; filename=\"f\"", "Content-Type: image/png", "hunter2", "\u{e9}", "\u{0}",
    ]), 0..40), cut in 0usize..100) {
        let body = pieces.concat();
        let end = body.len().saturating_sub(cut % (body.len() + 1));
        let scrubber = Scrubber::default();
        if let Some(v) = scrubber.body(&body.as_bytes()[..end], Some("multipart/form-data; boundary=b"), body.len() as u64) {
            let text = serde_json::to_string(&v).unwrap();
            prop_assert!(!text.contains("\"password\":\"hunter2"), "{text}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000), cut in 0usize..3000) {
        let scrubber = Scrubber::default();
        for content_type in [None, Some("application/json"), Some("text/plain"), Some("image/png"), Some("multipart/form-data; boundary=b"), Some("application/x-www-form-urlencoded")] {
            let total = (bytes.len() + cut) as u64;
            if let Some(v) = scrubber.body(&bytes, content_type, total) {
                prop_assert!(v.is_object());
                serde_json::to_string(&v).unwrap();
            }
        }
    }
}
