//! Path selectors in the style of pino's `redact` option: `user.address.*.street`,
//! `items[*].secret`, `**.ssn`, `headers["x-custom"]`, for what names alone cannot express.

use std::fmt;

/// One step of a path into a JSON document, as the summariser walks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStep<'a> {
    /// An object key.
    Key(&'a str),
    /// An array index.
    Index(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
    /// `*` or `[*]`: any one key or index.
    Any,
    /// `**`: any number of steps, none included.
    AnyDepth,
}

/// A parsed selector; see [`Redaction::path`](super::Redaction::path).
#[derive(Clone, PartialEq, Eq)]
pub struct PathSelector {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Debug for PathSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A selector that does not parse: says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid redaction path {selector:?} at byte {at}: {reason}; write keys joined by dots, with `*`, `**`, `[N]`, `[*]` or `[\"key\"]`")]
pub struct PathError {
    /// The selector as given.
    pub selector: String,
    /// Where parsing stopped.
    pub at: usize,
    /// What was expected there.
    pub reason: &'static str,
}

impl PathSelector {
    /// Parses `selector`: keys joined by `.`, `*` for any one key or index, `**` for any depth,
    /// `[N]` for an index, `[*]`, and `["key with . or spaces"]`.
    pub fn parse(selector: &str) -> Result<Self, PathError> {
        let error = |at, reason| PathError {
            selector: selector.to_owned(),
            at,
            reason,
        };
        let bytes = selector.as_bytes();
        let mut segments = Vec::new();
        let mut i = 0;
        let mut expect_segment = true;
        while i < bytes.len() {
            match bytes[i] {
                b'.' if !expect_segment => {
                    expect_segment = true;
                    i += 1;
                }
                b'[' => {
                    let close = selector[i..]
                        .find(']')
                        .map(|n| i + n)
                        .ok_or_else(|| error(i, "`[` without `]`"))?;
                    let inner = selector[i + 1..close].trim();
                    let segment = if inner == "*" {
                        Segment::Any
                    } else if let Some(quoted) = inner
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .or_else(|| inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                    {
                        Segment::Key(quoted.to_owned())
                    } else {
                        Segment::Index(inner.parse().map_err(|_| {
                            error(i + 1, "an index, `*` or a quoted key inside `[]`")
                        })?)
                    };
                    segments.push(segment);
                    expect_segment = false;
                    i = close + 1;
                }
                b'.' => return Err(error(i, "a key before `.`")),
                _ if expect_segment => {
                    let end = selector[i..]
                        .find(['.', '['])
                        .map_or(selector.len(), |n| i + n);
                    segments.push(match &selector[i..end] {
                        "*" => Segment::Any,
                        "**" => Segment::AnyDepth,
                        key => Segment::Key(key.to_owned()),
                    });
                    expect_segment = false;
                    i = end;
                }
                _ => return Err(error(i, "`.` or `[` between segments")),
            }
        }
        if segments.is_empty() || expect_segment {
            return Err(error(selector.len(), "a key at the end"));
        }
        Ok(PathSelector {
            text: selector.to_owned(),
            segments,
        })
    }

    /// Whether the value at `path` (from the document's root) is selected.
    pub fn matches(&self, path: &[PathStep<'_>]) -> bool {
        matches(&self.segments, path)
    }
}

fn matches(segments: &[Segment], path: &[PathStep<'_>]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return path.is_empty();
    };
    if *first == Segment::AnyDepth {
        return (0..=path.len()).any(|skip| matches(rest, &path[skip..]));
    }
    let Some((step, path_rest)) = path.split_first() else {
        return false;
    };
    let step_matches = match (first, step) {
        (Segment::Any, _) => true,
        (Segment::Key(key), PathStep::Key(name)) => key == name,
        (Segment::Index(index), PathStep::Index(at)) => index == at,
        // `items.0` names the first item as pino's dotted form does.
        (Segment::Key(key), PathStep::Index(at)) => key.parse() == Ok(*at),
        _ => false,
    };
    step_matches && matches(rest, path_rest)
}

#[cfg(test)]
mod tests {
    use super::PathStep::{Index, Key};
    use super::*;

    fn sel(s: &str) -> PathSelector {
        PathSelector::parse(s).unwrap()
    }

    #[test]
    fn selectors_match_like_pino() {
        let street = [Key("user"), Key("address"), Index(0), Key("street")];
        assert!(sel("user.address.*.street").matches(&street));
        assert!(sel("user.address[*].street").matches(&street));
        assert!(sel("user.address[0].street").matches(&street));
        assert!(sel("user.address.0.street").matches(&street));
        assert!(!sel("user.address[1].street").matches(&street));
        assert!(sel("**.street").matches(&street));
        assert!(sel("user.**.street").matches(&street));
        assert!(sel("**").matches(&street));
        assert!(!sel("user.address").matches(&street));
        assert!(!sel("address.*.street").matches(&street));
        assert!(sel(r#"headers["x.custom"]"#).matches(&[Key("headers"), Key("x.custom")]));
    }

    #[test]
    fn bad_selectors_say_where() {
        for (bad, at) in [
            ("", 0),
            ("a..b", 2),
            ("a.", 2),
            ("a[", 1),
            ("a[x]", 2),
            (".a", 0),
        ] {
            let e = PathSelector::parse(bad).unwrap_err();
            assert_eq!(e.at, at, "{bad}: {e}");
        }
        // Brackets only open with `[`: `a]b` is one key.
        assert!(sel("a]b").matches(&[Key("a]b")]));
    }
}
