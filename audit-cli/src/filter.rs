//! Filters of `audit query` and `audit stats`, evaluated on each entry's JSON.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Which entries to keep.
#[derive(Debug, Default)]
pub struct Filter {
    pub since: Option<String>,
    pub until: Option<String>,
    pub endpoint: Option<String>,
    pub user: Option<String>,
    pub status: Option<StatusFilter>,
    pub outcome: Option<String>,
    pub correlation_id: Option<String>,
    pub wheres: Vec<(Vec<String>, String)>,
}

#[derive(Debug)]
pub enum StatusFilter {
    Exact(u64),
    /// `5xx`: the hundreds digit.
    Class(u64),
}

/// Parses `2h`, `30m`, `7d`, `45s` (before now) or an RFC 3339 time, as the fixed-width UTC text
/// entries carry, so bounds compare as strings.
pub fn parse_time(text: &str, now: OffsetDateTime) -> Result<String, String> {
    let relative = |unit: char, seconds: i64| -> Option<OffsetDateTime> {
        let number: i64 = text.strip_suffix(unit)?.parse().ok()?;
        Some(now - time::Duration::seconds(number * seconds))
    };
    let at = relative('s', 1)
        .or_else(|| relative('m', 60))
        .or_else(|| relative('h', 3600))
        .or_else(|| relative('d', 86_400))
        .or_else(|| OffsetDateTime::parse(text, &Rfc3339).ok())
        .ok_or_else(|| format!("`{text}` is not a time: use RFC 3339 (2026-02-07T08:00:00Z) or a span back from now (30m, 2h, 7d)"))?;
    Ok(audit_core::Timestamp::from(at).to_string())
}

pub fn parse_status(text: &str) -> Result<StatusFilter, String> {
    let bad = || format!("`{text}` is not a status: use a code (404) or a class (5xx)");
    if let Some(class) = text.strip_suffix("xx") {
        return class.parse().map(StatusFilter::Class).map_err(|_| bad());
    }
    text.parse().map(StatusFilter::Exact).map_err(|_| bad())
}

/// `request.client_id=CLIENT-001` → (["request", "client_id"], "CLIENT-001").
pub fn parse_where(text: &str) -> Result<(Vec<String>, String), String> {
    let (path, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not a filter: use a dotted path, `=`, a value (request.client_id=CLIENT-001)"))?;
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(format!(
            "`{text}`: the path before `=` is empty or has an empty part"
        ));
    }
    Ok((
        path.split('.').map(String::from).collect(),
        value.to_owned(),
    ))
}

fn values_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn text_of(value: &Value) -> Option<&str> {
    value.as_str()
}

/// Whether `text` appears the same in any JSON writer's output (no character anyone escapes).
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b' ')
        })
}

impl Filter {
    /// A cheap necessary condition on the raw line: every plain string the filter asks for must
    /// appear in it. Lines that fail it cannot match and are not parsed.
    pub fn may_match(&self, line: &str) -> bool {
        let wanted = [
            &self.endpoint,
            &self.user,
            &self.outcome,
            &self.correlation_id,
        ];
        wanted
            .into_iter()
            .flatten()
            .chain(self.wheres.iter().map(|(_, value)| value))
            .filter(|value| plain(value))
            .all(|value| line.contains(value.as_str()))
    }

    pub fn matches(&self, entry: &Value) -> bool {
        let field = |name: &str| entry.get(name).and_then(text_of);
        if let Some(since) = &self.since {
            if field("timestamp").is_none_or(|t| t < since.as_str()) {
                return false;
            }
        }
        if let Some(until) = &self.until {
            if field("timestamp").is_none_or(|t| t >= until.as_str()) {
                return false;
            }
        }
        for (name, wanted) in [
            ("endpoint", &self.endpoint),
            ("user", &self.user),
            ("outcome", &self.outcome),
            ("correlation_id", &self.correlation_id),
        ] {
            if let Some(wanted) = wanted {
                if field(name) != Some(wanted.as_str()) {
                    return false;
                }
            }
        }
        if let Some(status) = &self.status {
            let code = entry.get("status_code").and_then(Value::as_u64);
            let ok = match (status, code) {
                (StatusFilter::Exact(wanted), Some(code)) => code == *wanted,
                (StatusFilter::Class(class), Some(code)) => code / 100 == *class,
                (_, None) => false,
            };
            if !ok {
                return false;
            }
        }
        self.wheres.iter().all(|(path, wanted)| {
            let mut at = entry;
            for part in path {
                match at.get(part) {
                    Some(next) => at = next,
                    None => return false,
                }
            }
            match at {
                Value::String(s) => s == wanted,
                Value::Null => wanted == "null",
                // Numbers and booleans compare as JSON values: `n=3` matches 3 and 3.0 alike.
                other => {
                    serde_json::from_str::<Value>(wanted).is_ok_and(|w| values_equal(&w, other))
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_raw_line_check_never_rejects_a_match() {
        let filter = Filter {
            endpoint: Some("sow_create".into()),
            wheres: vec![parse_where("request.path=/a\\b").unwrap()],
            ..Filter::default()
        };
        assert!(filter.may_match(r#"{"endpoint":"sow_create","request":{"path":"\/a\\b"}}"#));
        assert!(!filter.may_match(r#"{"endpoint":"login"}"#));
    }

    #[test]
    fn times_relative_and_absolute() {
        let now = OffsetDateTime::parse("2026-02-07T12:00:00Z", &Rfc3339).unwrap();
        assert_eq!(
            parse_time("2h", now).unwrap(),
            "2026-02-07T10:00:00.000000Z"
        );
        assert_eq!(
            parse_time("7d", now).unwrap(),
            "2026-01-31T12:00:00.000000Z"
        );
        assert_eq!(
            parse_time("2026-02-07T09:00:00+01:00", now).unwrap(),
            "2026-02-07T08:00:00.000000Z"
        );
        assert!(parse_time("yesterday", now)
            .unwrap_err()
            .contains("RFC 3339"));
    }

    #[test]
    fn where_paths_compare_strings_numbers_and_null() {
        let entry = json!({"request": {"client_id": "C-1", "n": 3, "x": null}, "status_code": 503});
        let filter = |w: &str| Filter {
            wheres: vec![parse_where(w).unwrap()],
            ..Filter::default()
        };
        assert!(filter("request.client_id=C-1").matches(&entry));
        assert!(filter("request.n=3").matches(&entry));
        assert!(filter("request.x=null").matches(&entry));
        assert!(!filter("request.missing=1").matches(&entry));
        assert!(parse_where("no-equals").is_err());
        assert!(parse_where("a..b=1").is_err());
        let status = Filter {
            status: Some(parse_status("5xx").unwrap()),
            ..Filter::default()
        };
        assert!(status.matches(&entry));
        assert!(parse_status("5x").is_err());
    }
}
