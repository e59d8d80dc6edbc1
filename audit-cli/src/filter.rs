//! Filters of `audit query` and `audit stats`, evaluated on each entry's JSON.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::CliError;

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
    pub tenant: Option<String>,
    /// Every one of these must be among the entry's `tags`.
    pub tags: Vec<String>,
    pub wheres: Vec<(Vec<String>, String)>,
}

#[derive(Debug)]
pub enum StatusFilter {
    Exact(u64),
    /// `5xx`: the hundreds digit.
    Class(u64),
}

/// Parses a span back from now in humantime's grammar (`30m`, `2h`, `7d`, `1h 30m`: the one
/// `AUDIT_*` durations use) or an RFC 3339 time, as the fixed-width UTC text entries carry, so
/// bounds compare as strings.
pub fn parse_time(text: &str, now: OffsetDateTime) -> Result<String, CliError> {
    let at = match humantime::parse_duration(text) {
        Ok(span) => time::Duration::try_from(span)
            .ok()
            .and_then(|span| now.checked_sub(span))
            .filter(|at| at.year() >= 1)
            .ok_or_else(|| CliError::TooFarBack(text.to_owned()))?,
        Err(humantime::DurationError::NumberOverflow) => {
            return Err(CliError::TooFarBack(text.to_owned()))
        }
        Err(_) => OffsetDateTime::parse(text, &Rfc3339).map_err(|_| CliError::Argument {
            what: "a time",
            value: text.to_owned(),
            expected: "RFC 3339 (2026-02-07T08:00:00Z) or a span back from now (30m, 2h, 7d)",
        })?,
    };
    Ok(audit_core::Timestamp::from(at).to_string())
}

pub fn parse_status(text: &str) -> Result<StatusFilter, CliError> {
    let bad = || CliError::Argument {
        what: "a status",
        value: text.to_owned(),
        expected: "a code (404) or a class (5xx)",
    };
    if let Some(class) = text.strip_suffix("xx") {
        return class.parse().map(StatusFilter::Class).map_err(|_| bad());
    }
    text.parse().map(StatusFilter::Exact).map_err(|_| bad())
}

/// `request.client_id=CLIENT-001` → (["request", "client_id"], "CLIENT-001").
pub fn parse_where(text: &str) -> Result<(Vec<String>, String), CliError> {
    let bad = || CliError::Argument {
        what: "a filter",
        value: text.to_owned(),
        expected: "a dotted path without empty parts, `=`, a value (request.client_id=CLIENT-001)",
    };
    let (path, value) = text.split_once('=').ok_or_else(bad)?;
    if path.is_empty() || path.split('.').any(str::is_empty) {
        return Err(bad());
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
/// Numbers are not: `3.0` is written `3`, `1e3` is `1000.0`, and both match as numbers.
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text.parse::<f64>().is_err()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b' ')
        })
}

impl Filter {
    /// The top-level fields the filter asks to equal a value, with that value.
    fn equalities(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            ("endpoint", &self.endpoint),
            ("user", &self.user),
            ("outcome", &self.outcome),
            ("correlation_id", &self.correlation_id),
            ("tenant", &self.tenant),
        ]
        .into_iter()
        .filter_map(|(name, wanted)| Some((name, wanted.as_deref()?)))
    }

    /// A cheap necessary condition on the raw line: every plain string the filter asks for must
    /// appear in it. Lines that fail it cannot match and are not parsed.
    pub fn may_match(&self, line: &str) -> bool {
        let wanted = [
            &self.endpoint,
            &self.user,
            &self.outcome,
            &self.correlation_id,
            &self.tenant,
        ];
        wanted
            .into_iter()
            .flatten()
            .chain(&self.tags)
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
        for (name, wanted) in self.equalities() {
            if field(name) != Some(wanted) {
                return false;
            }
        }
        if !self.tags.is_empty() {
            let tags = entry.get("tags").and_then(Value::as_array);
            let has = |wanted: &String| tags.is_some_and(|tags| tags.iter().any(|t| t == wanted));
            if !self.tags.iter().all(has) {
                return false;
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

/// A value bound to a SQL parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i32),
    Time(OffsetDateTime),
    Id(uuid::Uuid),
    Path(Vec<String>),
    /// A `text[]`.
    Texts(Vec<String>),
}

/// The part of a filter PostgreSQL can evaluate: a condition over the table's columns with
/// `$1`… placeholders, and whether it is the whole filter (then `LIMIT` can go to SQL too).
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    pub condition: String,
    pub params: Vec<SqlValue>,
    pub complete: bool,
}

/// Top-level entry fields stored as text columns of the same name (`user` is `user_id`).
const TEXT_COLUMNS: [(&str, &str); 13] = [
    ("endpoint", "endpoint"),
    ("user", "user_id"),
    ("outcome", "outcome"),
    ("correlation_id", "correlation_id"),
    ("method", "method"),
    ("route", "route"),
    ("path", "path"),
    ("query", "query"),
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
    ("client_addr", "client_addr"),
    ("peer_addr", "peer_addr"),
    ("tenant", "tenant"),
];

/// Entry fields stored as `jsonb` columns of the same name.
const JSON_COLUMNS: [&str; 4] = ["request", "response_summary", "headers", "fields"];

impl Filter {
    /// The filter as SQL, for a `postgres://` SOURCE. Rows it returns are filtered again
    /// with [`Filter::matches`], so a clause SQL cannot express exactly is simply left out.
    pub fn to_sql(&self) -> SqlFilter {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        let mut complete = true;
        let bind = |value: SqlValue, params: &mut Vec<SqlValue>| {
            params.push(value);
            format!("${}", params.len())
        };
        for (bound, op) in [(&self.since, ">="), (&self.until, "<")] {
            if let Some(text) = bound {
                match text.parse::<audit_core::Timestamp>() {
                    Ok(at) => {
                        let p = bind(SqlValue::Time(at.as_offset_date_time()), &mut params);
                        clauses.push(format!("ts {op} {p}"));
                    }
                    Err(_) => complete = false,
                }
            }
        }
        for (name, wanted) in self.equalities() {
            let column = TEXT_COLUMNS
                .iter()
                .find(|(field, _)| *field == name)
                .map_or(name, |(_, column)| column);
            let p = bind(SqlValue::Text(wanted.to_owned()), &mut params);
            clauses.push(format!("{column} = {p}"));
        }
        if !self.tags.is_empty() {
            let p = bind(SqlValue::Texts(self.tags.clone()), &mut params);
            clauses.push(format!("tags @> {p}"));
        }
        match &self.status {
            Some(StatusFilter::Exact(code)) => match i32::try_from(*code) {
                Ok(code) => {
                    let p = bind(SqlValue::Int(code), &mut params);
                    clauses.push(format!("status_code = {p}"));
                }
                Err(_) => clauses.push("false".into()),
            },
            Some(StatusFilter::Class(class)) => match i32::try_from(*class * 100) {
                Ok(low) => {
                    let p = bind(SqlValue::Int(low), &mut params);
                    clauses.push(format!("status_code >= {p} AND status_code < {p} + 100"));
                }
                Err(_) => clauses.push("false".into()),
            },
            None => {}
        }
        for (path, wanted) in &self.wheres {
            // Numbers, booleans and null compare as JSON values (3 = 3.0): left to `matches`.
            let textual = serde_json::from_str::<Value>(wanted).map_or(true, |v| v.is_string());
            let column = TEXT_COLUMNS.iter().find(|(field, _)| *field == path[0]);
            match (path.len(), column) {
                (1, Some((_, column))) if textual => {
                    let p = bind(SqlValue::Text(wanted.clone()), &mut params);
                    clauses.push(format!("{column} = {p}"));
                }
                (n, _) if n > 1 && textual && JSON_COLUMNS.contains(&path[0].as_str()) => {
                    let at = bind(SqlValue::Path(path[1..].to_vec()), &mut params);
                    let p = bind(SqlValue::Text(wanted.clone()), &mut params);
                    clauses.push(format!(
                        "jsonb_typeof({} #> {at}) = 'string' AND {} #>> {at} = {p}",
                        path[0], path[0]
                    ));
                }
                _ => complete = false,
            }
        }
        SqlFilter {
            condition: if clauses.is_empty() {
                "true".into()
            } else {
                clauses.join(" AND ")
            },
            params,
            complete,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_become_sql_with_parameters() {
        let filter = Filter {
            since: Some("2026-02-07T10:00:00.000000Z".into()),
            endpoint: Some("sow_create".into()),
            user: Some("alice'; DROP TABLE x; --".into()),
            status: Some(StatusFilter::Class(5)),
            wheres: vec![
                parse_where("request.client_id=CLIENT-001").unwrap(),
                parse_where("request.n=3").unwrap(),
            ],
            ..Filter::default()
        };
        let sql = filter.to_sql();
        assert_eq!(
            sql.condition,
            "ts >= $1 AND endpoint = $2 AND user_id = $3 AND status_code >= $4 AND status_code < $4 + 100 \
             AND jsonb_typeof(request #> $5) = 'string' AND request #>> $5 = $6"
        );
        assert_eq!(sql.params.len(), 6);
        assert_eq!(
            sql.params[2],
            SqlValue::Text("alice'; DROP TABLE x; --".into())
        );
        assert_eq!(sql.params[4], SqlValue::Path(vec!["client_id".into()]));
        assert!(!sql.complete, "request.n=3 is left to the client");
        assert_eq!(Filter::default().to_sql().condition, "true");
        assert!(Filter::default().to_sql().complete);
    }

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
    fn spans_past_the_calendar_are_an_error_not_a_panic() {
        let now = OffsetDateTime::now_utc();
        for span in ["99999999999999d", "999999999999999999999s", "3000000y"] {
            let error = parse_time(span, now).unwrap_err().to_string();
            assert!(error.contains("before year 1"), "{span}: {error}");
        }
        assert!(parse_time("1h 30m", now).is_ok());
    }

    #[test]
    fn numbers_are_not_looked_for_as_text() {
        let filter = Filter {
            wheres: vec![(vec!["n".into()], "3.0".into())],
            ..Filter::default()
        };
        let line = r#"{"n":3}"#;
        assert!(filter.may_match(line));
        let entry: Value = serde_json::from_str(line).unwrap();
        assert!(filter.matches(&entry));
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
            .to_string()
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
