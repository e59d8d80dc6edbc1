//! Summarising request and response data so entries stay small, redacting as it goes.

mod body;
mod multipart;

pub use body::content_type_essence;

use serde_json::{Map, Value};

use crate::redact::{PathStep, Redaction, REDACTED};

/// Bounds on what a summarised JSON value may hold.
///
/// ```
/// use audit_core::SummaryLimits;
///
/// let limits = SummaryLimits::default().max_string_chars(64).max_array_items(8);
/// assert_ne!(limits, SummaryLimits::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryLimits {
    max_string_chars: usize,
    max_array_items: usize,
    max_object_keys: usize,
    max_depth: usize,
    max_total_bytes: usize,
}

impl Default for SummaryLimits {
    fn default() -> Self {
        SummaryLimits {
            max_string_chars: 256,
            max_array_items: 32,
            max_object_keys: 64,
            max_depth: 8,
            max_total_bytes: 16 * 1024,
        }
    }
}

impl SummaryLimits {
    /// Strings longer than this many characters become `"<N characters>"` (default 256).
    #[must_use]
    pub fn max_string_chars(mut self, chars: usize) -> Self {
        self.max_string_chars = chars;
        self
    }

    /// Arrays keep this many first items, then `"<M more items>"` (default 32).
    #[must_use]
    pub fn max_array_items(mut self, items: usize) -> Self {
        self.max_array_items = items;
        self
    }

    /// Objects keep this many keys (the first in key order), then a key `"…"` whose value is
    /// `"<M more keys>"` (default 64).
    #[must_use]
    pub fn max_object_keys(mut self, keys: usize) -> Self {
        self.max_object_keys = keys;
        self
    }

    /// Containers nested deeper than this become `"<object with K keys>"` / `"<array of K items>"`
    /// (default 8; the top-level object is depth 1).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// About how many bytes one summary may take in the serialised entry, whatever the input's
    /// shape (default 16 KiB). Past it, arrays and objects stop with their `"<M more items>"` /
    /// `"<M more keys>"` marker; the overshoot is at most one value and one marker per open
    /// level.
    #[must_use]
    pub fn max_total_bytes(mut self, bytes: usize) -> Self {
        self.max_total_bytes = bytes;
        self
    }
}

/// What is left of a summary's byte budget as it is built.
struct Budget(usize);

impl Budget {
    fn spend(&mut self, bytes: usize) {
        self.0 = self.0.saturating_sub(bytes);
    }

    fn exhausted(&self) -> bool {
        self.0 == 0
    }
}

/// Redaction and summarising together: what turns captured data into an entry's
/// `request` or `response_summary`.
///
/// ```
/// use audit_core::Scrubber;
/// use serde_json::json;
///
/// let scrubber = Scrubber::default();
/// let body = json!({"username": "alice", "password": "hunter2", "notes": "x".repeat(5234)});
/// assert_eq!(
///     scrubber.object(body),
///     json!({"username": "alice", "password": "[REDACTED]", "notes": "<5234 characters>"})
/// );
/// assert_eq!(scrubber.object(json!([1, 2])), json!({"value": [1, 2]}));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Scrubber {
    /// The bounds applied.
    pub limits: SummaryLimits,
    /// The secrets removed.
    pub redaction: Redaction,
}

impl Scrubber {
    /// A scrubber with these limits and this redaction.
    pub fn new(limits: SummaryLimits, redaction: Redaction) -> Self {
        Scrubber { limits, redaction }
    }

    /// Redacts and summarises `value` recursively.
    pub fn value(&self, value: Value) -> Value {
        let mut budget = Budget(self.limits.max_total_bytes);
        self.walk(value, 1, &mut Path::new(&self.redaction), &mut budget)
    }

    /// Like [`Scrubber::value`], but always returns an object: an object is summarised in
    /// place, anything else is wrapped as `{"value": …}`, so `jq '.request.x'` never fails.
    pub fn object(&self, value: Value) -> Value {
        match value {
            Value::Object(_) => self.value(value),
            other => {
                let mut budget = Budget(self.limits.max_total_bytes);
                wrap(self.walk(other, 2, &mut Path::new(&self.redaction), &mut budget))
            }
        }
    }

    fn walk(&self, value: Value, depth: usize, path: &mut Path, budget: &mut Budget) -> Value {
        let limits = &self.limits;
        match value {
            Value::String(s) => {
                let value = match summarize_string(s, limits.max_string_chars) {
                    Value::String(s) => match self.redaction.text(&s) {
                        std::borrow::Cow::Borrowed(_) => Value::String(s),
                        std::borrow::Cow::Owned(scrubbed) => Value::String(scrubbed),
                    },
                    other => other,
                };
                budget.spend(value.as_str().map_or(0, str::len) + 3);
                value
            }
            Value::Object(map) if depth > limits.max_depth => {
                budget.spend(24);
                Value::String(format!("<object with {} keys>", map.len()))
            }
            Value::Array(items) if depth > limits.max_depth => {
                budget.spend(24);
                Value::String(format!("<array of {} items>", items.len()))
            }
            Value::Object(map) => {
                let total = map.len();
                let keep = total.min(limits.max_object_keys);
                let mut out = Map::new();
                budget.spend(2);
                for (key, value) in map.into_iter().take(keep) {
                    if budget.exhausted() {
                        break;
                    }
                    budget.spend(key.len() + 4);
                    path.push(|| Step::Key(key.clone()));
                    let value = if self.redaction.is_sensitive_key(&key)
                        || path.is_selected(&self.redaction)
                    {
                        Value::String(REDACTED.to_owned())
                    } else {
                        self.walk(value, depth + 1, path, budget)
                    };
                    path.pop();
                    out.insert(cut_key(key, limits.max_string_chars), value);
                }
                let kept = out.len();
                if total > kept {
                    out.insert(
                        "…".to_owned(),
                        Value::String(format!("<{} more keys>", total - kept)),
                    );
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let total = items.len();
                let keep = total.min(limits.max_array_items);
                let mut out = Vec::with_capacity(keep + usize::from(total > keep));
                budget.spend(2);
                for (index, item) in items.into_iter().take(keep).enumerate() {
                    if budget.exhausted() {
                        break;
                    }
                    budget.spend(1);
                    path.push(|| Step::Index(index));
                    out.push(if path.is_selected(&self.redaction) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        self.walk(item, depth + 1, path, budget)
                    });
                    path.pop();
                }
                if total > out.len() {
                    let more = total - out.len();
                    out.push(Value::String(format!("<{more} more items>")));
                }
                Value::Array(out)
            }
            scalar => {
                // Numbers print in at most 24 bytes; `true`, `false`, `null` in 5.
                budget.spend(if scalar.is_number() { 24 } else { 5 });
                scalar
            }
        }
    }
}

/// One step of the path being walked, owned (keys move into the output as they are walked).
enum Step {
    Key(String),
    Index(usize),
}

/// The path from the document's root, tracked only when path selectors are configured.
struct Path {
    steps: Option<Vec<Step>>,
}

impl Path {
    fn new(redaction: &Redaction) -> Self {
        Path {
            steps: redaction.has_paths().then(Vec::new),
        }
    }

    fn push(&mut self, step: impl FnOnce() -> Step) {
        if let Some(steps) = &mut self.steps {
            steps.push(step());
        }
    }

    fn pop(&mut self) {
        if let Some(steps) = &mut self.steps {
            steps.pop();
        }
    }

    fn is_selected(&self, redaction: &Redaction) -> bool {
        let Some(steps) = &self.steps else {
            return false;
        };
        let view: Vec<PathStep<'_>> = steps
            .iter()
            .map(|step| match step {
                Step::Key(key) => PathStep::Key(key),
                Step::Index(index) => PathStep::Index(*index),
            })
            .collect();
        redaction.is_sensitive_path(&view)
    }
}

/// A key longer than `max_chars` characters keeps its start and says how long it was (keys
/// come from the client as much as values do).
fn cut_key(key: String, max_chars: usize) -> String {
    if key.len() <= max_chars {
        return key;
    }
    match key.char_indices().nth(max_chars) {
        None => key,
        Some((end, _)) => format!("{}… <{} characters>", &key[..end], key.chars().count()),
    }
}

fn summarize_string(s: String, max_chars: usize) -> Value {
    // A string of at most `max_chars` bytes has at most that many characters: skip counting.
    if s.len() <= max_chars {
        return Value::String(s);
    }
    let chars = s.chars().count();
    if chars <= max_chars {
        Value::String(s)
    } else {
        Value::String(format!("<{chars} characters>"))
    }
}

fn wrap(value: Value) -> Value {
    let mut map = Map::with_capacity(1);
    map.insert("value".to_owned(), value);
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scrubber() -> Scrubber {
        Scrubber::default()
    }

    #[test]
    fn long_strings_become_character_counts() {
        let s = scrubber();
        assert_eq!(s.value(json!("short")), json!("short"));
        assert_eq!(s.value(json!("x".repeat(256))), json!("x".repeat(256)));
        assert_eq!(s.value(json!("x".repeat(257))), json!("<257 characters>"));
        // Characters, not bytes: 256 two-byte characters stay.
        assert_eq!(s.value(json!("é".repeat(256))), json!("é".repeat(256)));
        assert_eq!(s.value(json!("é".repeat(300))), json!("<300 characters>"));
    }

    #[test]
    fn long_arrays_keep_their_head() {
        let s = Scrubber::new(
            SummaryLimits::default().max_array_items(3),
            Redaction::default(),
        );
        assert_eq!(s.value(json!([1, 2, 3])), json!([1, 2, 3]));
        assert_eq!(
            s.value(json!([1, 2, 3, 4, 5])),
            json!([1, 2, 3, "<2 more items>"])
        );
    }

    #[test]
    fn objects_with_many_keys_keep_their_first() {
        let s = Scrubber::new(
            SummaryLimits::default().max_object_keys(2),
            Redaction::default(),
        );
        assert_eq!(
            s.value(json!({"a": 1, "b": 2, "c": 3, "d": 4})),
            json!({"a": 1, "b": 2, "…": "<2 more keys>"})
        );
        assert_eq!(s.value(json!({"a": 1, "b": 2})), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn deep_nesting_is_described() {
        let s = Scrubber::new(SummaryLimits::default().max_depth(2), Redaction::default());
        let v = json!({"a": {"b": {"c": 1, "d": 2}, "l": [[1, 2, 3]]}});
        assert_eq!(
            s.value(v),
            json!({"a": {"b": "<object with 2 keys>", "l": "<array of 1 items>"}})
        );
    }

    #[test]
    fn sensitive_keys_are_redacted_at_any_depth() {
        let v = json!({
            "user": {"Password": "p", "profile": {"SSN": "123", "cards": [{"card_number": "4111", "cvv": 1}]}},
            "access_token": {"nested": "objects are redacted whole"},
            "tokens_used": 5
        });
        assert_eq!(
            scrubber().value(v),
            json!({
                "user": {"Password": "[REDACTED]", "profile": {"SSN": "[REDACTED]", "cards": [{"card_number": "[REDACTED]", "cvv": "[REDACTED]"}]}},
                "access_token": "[REDACTED]",
                "tokens_used": 5
            })
        );
    }

    #[test]
    fn non_objects_are_wrapped() {
        let s = scrubber();
        assert_eq!(s.object(json!(3)), json!({"value": 3}));
        assert_eq!(s.object(json!(null)), json!({"value": null}));
        assert_eq!(
            s.object(json!([{"token": "t"}])),
            json!({"value": [{"token": "[REDACTED]"}]})
        );
    }
}
