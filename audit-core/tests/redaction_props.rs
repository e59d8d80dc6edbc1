//! Property test of the redaction model: random nested documents with secrets under random
//! casings, naming styles, prefixes and positions, and secrets by form inside ordinary text.
//! No planted secret reaches the serialised entry, and every non-secret neighbour survives.

use audit_core::{AuditEntry, Redaction, Scrubber, SummaryLimits};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Sensitive names as words, the way real clients name them.
const SECRET_NAMES: &[&[&str]] = &[
    &["password"],
    &["new", "password"],
    &["client", "secret"],
    &["access", "token"],
    &["refresh", "token"],
    &["id", "token"],
    &["api", "key"],
    &["private", "key"],
    &["session", "id"],
    &["auth", "token"],
    &["csrf", "token"],
    &["credentials"],
    &["card", "number"],
    &["secret"],
    &["passwd"],
    &["signing", "key"],
    &["aws", "secret", "access", "key"],
];

/// Names that must be kept, some of them close to secret ones.
const NEUTRAL_NAMES: &[&str] = &[
    "name",
    "city",
    "amount",
    "description",
    "client_id",
    "tokens_used",
    "max_tokens",
    "secretary_name",
    "token_count",
    "items",
    "notes",
    "keyboard_layout",
    "author",
];

const CONTAINER_NAMES: &[&str] = &[
    "user", "profile", "items", "data", "meta", "settings", "orders",
];

fn styled(words: &[&str], style: u8, prefix: Option<&str>) -> String {
    let mut all: Vec<String> = prefix.into_iter().map(str::to_owned).collect();
    all.extend(words.iter().map(|w| (*w).to_owned()));
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
    };
    match style % 9 {
        0 => all.join("_"),
        1 => all.join("-"),
        2 => all
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.clone() } else { cap(w) })
            .collect(),
        3 => all.iter().map(|w| cap(w)).collect(),
        4 => all.join("_").to_uppercase(),
        5 => all.join("."),
        6 => all.iter().map(|w| cap(w)).collect::<Vec<_>>().join("-"),
        8 => all.join("_").to_uppercase(),
        // Compatibility forms NFKC folds back: full-width letters, the Kelvin sign, long s.
        7 if all.join("").contains(['k', 's']) => all
            .join("_")
            .chars()
            .map(|c| match c {
                'k' => '\u{212A}',
                's' => '\u{17F}',
                c => c,
            })
            .collect(),
        _ => all
            .join("_")
            .chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c)
                } else {
                    c
                }
            })
            .collect(),
    }
}

fn secret_name() -> impl Strategy<Value = String> {
    (
        0..SECRET_NAMES.len(),
        any::<u8>(),
        prop::option::of(prop::sample::select(vec!["user", "db", "x", "my", "old"])),
    )
        .prop_map(|(i, style, prefix)| styled(SECRET_NAMES[i], style, prefix))
}

/// A secret value: a string, a number, an array or an object, all holding `PLANTED` markers.
fn secret_value() -> impl Strategy<Value = Value> {
    let planted = "[a-z0-9]{6,12}".prop_map(|s| format!("PLANTED{s}"));
    prop_oneof![
        planted.clone().prop_map(Value::String),
        planted
            .clone()
            .prop_map(|s| Value::Array(vec![Value::String(s)])),
        planted.clone().prop_map(|s| {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(s));
            Value::Object(m)
        }),
        any::<u32>().prop_map(|n| Value::String(format!("PLANTED{n}"))),
    ]
}

/// Secrets recognised by their form, inside a string under an ordinary name.
fn secret_in_text() -> impl Strategy<Value = (String, String)> {
    let jwt = "[A-Za-z0-9_-]{20,40}".prop_map(|sig| {
        (
            format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJQTEFOVEVEIn0.{sig}"),
            "eyJzdWIiOiJQTEFOVEVEIn0".to_owned(),
        )
    });
    let bearer =
        "[A-Za-z0-9]{20,30}".prop_map(|t| (format!("Bearer PLANTED{t}"), format!("PLANTED{t}")));
    let card = Just((
        "4111 1111 1111 1111".to_owned(),
        "4111 1111 1111 1111".to_owned(),
    ));
    let pem = "[A-Za-z0-9+/]{16,40}".prop_map(|k| {
        (
            format!("-----BEGIN PRIVATE KEY-----\nPLANTED{k}\n-----END PRIVATE KEY-----"),
            format!("PLANTED{k}"),
        )
    });
    (
        prop_oneof![jwt, bearer, card, pem],
        "[a-z]{0,8}",
        "[a-z]{0,8}",
    )
        .prop_map(|((secret, needle), before, after)| {
            (format!("{before} {secret} {after}"), needle)
        })
}

#[derive(Debug, Clone)]
enum Node {
    Secret(String, Value),
    TextSecret(String, String, String),
    Keep(String, String),
    Object(String, Vec<Node>),
    Array(String, Vec<Vec<Node>>),
}

fn node() -> impl Strategy<Value = Node> {
    let neutral = prop::sample::select(NEUTRAL_NAMES.to_vec()).prop_map(str::to_owned);
    let leaf = prop_oneof![
        (secret_name(), secret_value()).prop_map(|(k, v)| Node::Secret(k, v)),
        (neutral.clone(), secret_in_text())
            .prop_map(|(k, (text, needle))| Node::TextSecret(k, text, needle)),
        (neutral.clone(), "[a-z0-9]{4,10}").prop_map(|(k, v)| Node::Keep(k, format!("KEEP{v}"))),
    ];
    let container = || prop::sample::select(CONTAINER_NAMES.to_vec()).prop_map(str::to_owned);
    leaf.prop_recursive(5, 60, 6, move |inner| {
        prop_oneof![
            (container(), prop::collection::vec(inner.clone(), 1..6))
                .prop_map(|(k, c)| Node::Object(k, c)),
            (
                container(),
                prop::collection::vec(prop::collection::vec(inner, 1..4), 1..4)
            )
                .prop_map(|(k, c)| Node::Array(k, c)),
        ]
    })
}

/// Builds the document; collects what must vanish.
fn build(nodes: &[Node], needles: &mut Vec<String>) -> Value {
    let mut map = Map::new();
    for node in nodes {
        let (key, value) = match node {
            Node::Secret(k, v) => (k.clone(), v.clone()),
            Node::TextSecret(k, text, needle) => {
                needles.push(needle.clone());
                (k.clone(), Value::String(text.clone()))
            }
            Node::Keep(k, v) => (k.clone(), Value::String(v.clone())),
            Node::Object(k, children) => (k.clone(), build(children, needles)),
            Node::Array(k, items) => (
                k.clone(),
                Value::Array(items.iter().map(|c| build(c, needles)).collect()),
            ),
        };
        map.insert(key, value);
    }
    Value::Object(map)
}

/// Keys can repeat, so what must stay is what the final document holds.
fn kept_values(value: &Value, keeps: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with("KEEP") => keeps.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| kept_values(v, keeps)),
        Value::Object(map) => map.values().for_each(|v| kept_values(v, keeps)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn no_planted_secret_reaches_the_entry(nodes in prop::collection::vec(node(), 1..8)) {
        let (mut needles, mut keeps) = (Vec::new(), Vec::new());
        let doc = build(&nodes, &mut needles);
        kept_values(&doc, &mut keeps);
        // Deep enough for every generated document: this is about redaction, not summaries.
        let scrubber = Scrubber::new(SummaryLimits::default().max_depth(64), Redaction::default());
        let bytes = serde_json::to_vec(&doc).unwrap();
        for (request, how) in [
            (scrubber.object(doc.clone()), "object"),
            (scrubber.body(&bytes, Some("application/json"), bytes.len() as u64).unwrap(), "json body"),
        ] {
            let mut entry = AuditEntry::new("props");
            entry.request = Some(request);
            let line = serde_json::to_string(&entry).unwrap();
            prop_assert!(!line.contains("PLANTED"), "{how}: planted value in {line}");
            for needle in &needles {
                prop_assert!(!line.contains(needle.as_str()), "{how}: {needle} in {line}");
            }
            for keep in &keeps {
                prop_assert!(line.contains(keep.as_str()), "{how}: neighbour {keep} lost in {line}");
            }
        }
    }

    /// The same documents as captured bodies the JSON parser refuses: cut at any byte, with a
    /// number out of range or nesting past any limit spliced in.
    #[test]
    fn no_planted_secret_survives_a_broken_body(
        nodes in prop::collection::vec(node(), 1..8),
        cut_at in 0.0f64..1.0,
        damage in 0u8..3,
    ) {
        let mut needles = Vec::new();
        let doc = build(&nodes, &mut needles);
        let mut text = serde_json::to_string(&doc).unwrap();
        match damage {
            0 => text.insert_str(1, r#""n": 1e999999, "#),
            1 => text.insert_str(1, &format!(r#""deep": {}1{}, "#, "[".repeat(300), "]".repeat(300))),
            _ => {}
        }
        let total = text.len();
        let mut cut = ((total as f64) * cut_at) as usize;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let scrubber = Scrubber::default();
        for content_type in [Some("application/json"), None, Some("text/plain")] {
            let Some(request) = scrubber.body(&text.as_bytes()[..cut], content_type, total as u64) else {
                continue;
            };
            let mut entry = AuditEntry::new("props");
            entry.request = Some(request);
            let line = serde_json::to_string(&entry).unwrap();
            prop_assert!(!line.contains("PLANTED"), "{content_type:?}, cut {cut} of {total}: {line}");
            for needle in &needles {
                prop_assert!(!line.contains(needle.as_str()), "{needle} in {line}");
            }
        }
    }
}
