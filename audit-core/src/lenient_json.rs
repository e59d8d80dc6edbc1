//! A tolerant reader for captured JSON bodies that `serde_json` refuses: a body cut at the
//! capture limit, numbers out of `f64`'s range (`1e999999`), `NaN`, nesting past any limit,
//! trailing commas, comments, single quotes, Python's `True`/`None`, a byte-order mark, two
//! values back to back. It keeps the structure, so the summariser can redact key by key
//! instead of falling back to raw text; it gives up (`None`) only on what is not JSON-like.
//!
//! Hand-written because no maintained crate reads cut and malformed JSON into `serde_json`
//! values with these bounds (json5 and friends still refuse cut input).

use serde_json::{Map, Number, Value};

/// How the reading ended, besides the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The value ended where the input did (whitespace aside).
    Whole,
    /// The input ended inside the value: what was read is kept.
    Cut,
    /// More followed the value (a second object, garbage): ignored.
    Trailing,
}

/// Reads the JSON-like object or array at the start of `input`; containers deeper than
/// `max_depth` are skipped and described.
pub(crate) fn read(input: &[u8], max_depth: usize) -> Option<(Value, Ending)> {
    let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
    let mut reader = Reader {
        input,
        at: 0,
        max_depth,
        cut: false,
    };
    reader.skip_space();
    if !matches!(reader.peek(), Some(b'{' | b'[')) {
        return None;
    }
    let value = reader.value(1)?;
    reader.skip_space();
    let ending = if reader.cut {
        Ending::Cut
    } else if reader.at < input.len() {
        Ending::Trailing
    } else {
        Ending::Whole
    };
    Some((value, ending))
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    max_depth: usize,
    cut: bool,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.at += 1,
                b'/' if self.input.get(self.at + 1) == Some(&b'/') => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.at += 1;
                    }
                }
                b'/' if self.input.get(self.at + 1) == Some(&b'*') => {
                    self.at += 2;
                    while self.at < self.input.len() && !self.input[self.at..].starts_with(b"*/") {
                        self.at += 1;
                    }
                    self.at = (self.at + 2).min(self.input.len());
                }
                _ => return,
            }
        }
    }

    /// A value; `None` on what is not JSON-like. At the end of the input, `Null` and `cut`.
    fn value(&mut self, depth: usize) -> Option<Value> {
        self.skip_space();
        let Some(b) = self.peek() else {
            self.cut = true;
            return Some(Value::Null);
        };
        match b {
            b'{' | b'[' if depth > self.max_depth => Some(self.skip_container()),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' | b'\'' => self.string().map(Value::String),
            _ => self.bare(),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    self.cut = true;
                    return Some(Value::Object(map));
                }
                Some(b'}') => {
                    self.at += 1;
                    return Some(Value::Object(map));
                }
                Some(b',') => self.at += 1,
                Some(b'"' | b'\'') => {
                    let key = self.string()?;
                    self.skip_space();
                    match self.peek() {
                        Some(b':') => self.at += 1,
                        None => {
                            // Cut after the key: the key stays, its value is unknown.
                            self.cut = true;
                            map.insert(key, Value::Null);
                            return Some(Value::Object(map));
                        }
                        Some(_) => return None,
                    }
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                }
                Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b'$' => {
                    // An unquoted key, as JavaScript writes them.
                    let start = self.at;
                    while self
                        .peek()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                    {
                        self.at += 1;
                    }
                    let key = String::from_utf8_lossy(&self.input[start..self.at]).into_owned();
                    self.skip_space();
                    if self.peek() != Some(b':') {
                        return None;
                    }
                    self.at += 1;
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                }
                Some(_) => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Value> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => {
                    self.cut = true;
                    return Some(Value::Array(items));
                }
                Some(b']') => {
                    self.at += 1;
                    return Some(Value::Array(items));
                }
                Some(b',') => self.at += 1,
                Some(_) => {
                    let value = self.value(depth + 1)?;
                    if !self.cut || !value.is_null() {
                        items.push(value);
                    }
                }
            }
        }
    }

    /// Skips a container too deep to keep, strings and all; describes it.
    fn skip_container(&mut self) -> Value {
        let kind = if self.peek() == Some(b'{') {
            "object"
        } else {
            "array"
        };
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.at += 1;
                        return Value::String(format!("<{kind} nested too deep>"));
                    }
                }
                b'"' | b'\'' => {
                    let _ = self.string();
                    continue;
                }
                _ => {}
            }
            self.at += 1;
        }
        self.cut = true;
        Value::String(format!("<{kind} nested too deep>"))
    }

    /// A string in double or single quotes; a cut one keeps what was read.
    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.at += 1;
            match b {
                b if b == quote => return Some(String::from_utf8_lossy(&out).into_owned()),
                b'\\' => {
                    let Some(escaped) = self.peek() else { break };
                    self.at += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self.input.get(self.at..self.at + 4);
                            let code = hex
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok());
                            match code {
                                Some(code) => {
                                    self.at += 4;
                                    let c = char::from_u32(code).unwrap_or('\u{FFFD}');
                                    let mut buf = [0u8; 4];
                                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                                }
                                None => out.extend_from_slice(b"\\u"),
                            }
                        }
                        other => out.push(other),
                    }
                }
                other => out.push(other),
            }
        }
        self.cut = true;
        Some(String::from_utf8_lossy(&out).into_owned())
    }

    /// A number, `true`/`false`/`null` (and Python's `True`/`False`/`None`), or a token JSON
    /// has no value for (`NaN`, `Infinity`, `1e999999`), kept as its text.
    fn bare(&mut self) -> Option<Value> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_'))
        {
            self.at += 1;
        }
        let token = std::str::from_utf8(&self.input[start..self.at]).ok()?;
        if token.is_empty() {
            return None;
        }
        if self.at == self.input.len() {
            self.cut = true;
        }
        Some(match token {
            "true" | "True" => Value::Bool(true),
            "false" | "False" => Value::Bool(false),
            "null" | "None" => Value::Null,
            _ => match serde_json::from_str::<Number>(token) {
                Ok(number) => Value::Number(number),
                Err(_)
                    if token.starts_with(|c: char| {
                        c.is_ascii_digit() || c == '-' || c == '+' || c == '.'
                    }) || matches!(token, "NaN" | "Infinity" | "undefined") =>
                {
                    Value::String(token.to_owned())
                }
                Err(_) => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read8(text: &str) -> Option<(Value, Ending)> {
        read(text.as_bytes(), 8)
    }

    #[test]
    fn careless_json_keeps_its_structure() {
        for (text, expected) in [
            (
                r#"{"a": 1, "n": 1e999999}"#,
                json!({"a": 1, "n": "1e999999"}),
            ),
            (r#"{"a": 1,}"#, json!({"a": 1})),
            ("{'a': True, 'b': None}", json!({"a": true, "b": null})),
            (
                r#"{"n": NaN, "i": -Infinity}"#,
                json!({"n": "NaN", "i": "-Infinity"}),
            ),
            ("{/* c */ \"a\": 1 // d\n}", json!({"a": 1})),
            ("\u{feff}{\"a\": 1}", json!({"a": 1})),
            (r#"{a: "b"}"#, json!({"a": "b"})),
        ] {
            assert_eq!(read8(text), Some((expected, Ending::Whole)), "{text}");
        }
        assert_eq!(
            read8(r#"{"a": 1}{"b": 2}"#),
            Some((json!({"a": 1}), Ending::Trailing))
        );
    }

    #[test]
    fn cut_bodies_keep_what_was_read() {
        assert_eq!(
            read8(r#"{"a": "x", "b": "yy"#),
            Some((json!({"a": "x", "b": "yy"}), Ending::Cut))
        );
        assert_eq!(
            read8(r#"{"a": [1, 2"#),
            Some((json!({"a": [1, 2]}), Ending::Cut))
        );
        assert_eq!(read8(r#"{"a""#), Some((json!({"a": null}), Ending::Cut)));
        for cut in 0..30 {
            let text = &r#"{"password": "hunter2", "x": [1]}"#[..cut];
            let _ = read8(text);
        }
    }

    #[test]
    fn deep_nesting_is_skipped_and_described() {
        let text = format!(
            r#"{{"a": {}1{}, "b": 2}}"#,
            "[".repeat(500),
            "]".repeat(500)
        );
        let (value, ending) = read8(&text).unwrap();
        assert_eq!(ending, Ending::Whole);
        assert_eq!(value["b"], 2);
        let mut inner = &value["a"];
        while let Value::Array(items) = inner {
            inner = &items[0];
        }
        assert_eq!(inner, "<array nested too deep>");
    }

    #[test]
    fn what_is_not_json_like_is_refused() {
        for text in ["hello", "<xml/>", r#"{"a" 1}"#, "{=}", ""] {
            assert_eq!(read8(text), None, "{text}");
        }
    }
}
