//! Sensitive names in free text: the value after `password=`, `"client_secret": "…"`,
//! `'token': '…'`, `api_key: …` or `Authorization: Bearer …`, in any text that is not parsed
//! as JSON (plain text, broken JSON, Python reprs, logfmt, error messages) or inside a string.

use std::ops::Range;

use super::names::Vocabulary;

/// Whether `c` can be part of a name.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The spans of values that follow a sensitive name and a `=` or `:`.
pub(crate) fn sensitive_values(text: &str, vocabulary: &Vocabulary) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < text.len() {
        // The next separator; the name is the run of name characters before it.
        let Some(offset) = text[at..].find(['=', ':']) else {
            break;
        };
        let sep = at + offset;
        at = sep + 1;
        let separator = bytes[sep];
        // `==`, `://`, `::` are not assignments.
        if bytes
            .get(sep + 1)
            .is_some_and(|&b| b == b'=' || b == b'/' || b == b':')
            || (sep > 0 && bytes[sep - 1] == b':')
        {
            continue;
        }
        let mut name_end = sep;
        while name_end > 0 && matches!(bytes[name_end - 1], b' ' | b'\t') {
            name_end -= 1;
        }
        if name_end > 0 && matches!(bytes[name_end - 1], b'"' | b'\'') {
            name_end -= 1;
        }
        let name_start = text[..name_end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| name_char(*c))
            .last()
            .map_or(name_end, |(i, _)| i);
        if name_start == name_end || !vocabulary.is_sensitive(&text[name_start..name_end]) {
            continue;
        }
        let value = value_span(text, sep + 1, separator == b':');
        if !value.is_empty() {
            at = value.end;
            found.push(value);
        }
    }
    found
}

/// The value starting after the separator at `from`: a quoted string to its closing quote, a
/// bracketed value to its matching bracket, else up to a delimiter (with `:` spaces do not end
/// it, so `Authorization: Bearer x` loses both words). Runs to the end of a cut text.
fn value_span(text: &str, from: usize, colon: bool) -> Range<usize> {
    let bytes = text.as_bytes();
    let mut start = from;
    while start < bytes.len() && matches!(bytes[start], b' ' | b'\t') {
        start += 1;
    }
    let Some(&first) = bytes.get(start) else {
        return start..start;
    };
    let end = match first {
        b'"' | b'\'' => {
            let mut i = start + 1;
            while i < bytes.len() && bytes[i] != first {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            // Keep the quotes: only what is between them goes.
            return start + 1..i.min(bytes.len());
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < bytes.len() {
                match bytes[i] {
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i.min(bytes.len())
        }
        _ => {
            let stop: &[u8] = if colon {
                b"\n\r&,;}])"
            } else {
                b"\n\r&,;}]) \t"
            };
            bytes[start..]
                .iter()
                .position(|b| stop.contains(b))
                .map_or(bytes.len(), |p| start + p)
        }
    };
    // Trailing spaces stay outside.
    let mut end = end;
    while end > start && matches!(bytes[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrub(text: &str) -> String {
        let spans = sensitive_values(text, &Vocabulary::default());
        super::super::replace_spans(text, spans).into_owned()
    }

    #[test]
    fn values_after_sensitive_names_go() {
        for (text, expected) in [
            (
                "username=a&password=hunter2&x=1",
                "username=a&password=[REDACTED]&x=1",
            ),
            (
                r#"{"user": "a", "password": "hunter2", "n": 1e999999}"#,
                r#"{"user": "a", "password": "[REDACTED]", "n": 1e999999}"#,
            ),
            ("{'password': 'hunter2',}", "{'password': '[REDACTED]',}"),
            (
                "Authorization: Bearer abc def\nHost: x",
                "Authorization: [REDACTED]\nHost: x",
            ),
            (
                "level=info api_key=sk_live_123 msg=ok",
                "level=info api_key=[REDACTED] msg=ok",
            ),
            (
                r#"{"clientSecret": {"a": [1, 2]}, "b": 2}"#,
                r#"{"clientSecret": [REDACTED], "b": 2}"#,
            ),
            (r#"{"password": "cut here"#, r#"{"password": "[REDACTED]"#),
            (
                r#"{"password": "a\"b", "x": 1}"#,
                r#"{"password": "[REDACTED]", "x": 1}"#,
            ),
            ("ＰＡＳＳＷＯＲＤ=x", "ＰＡＳＳＷＯＲＤ=[REDACTED]"),
        ] {
            assert_eq!(scrub(text), expected, "{text}");
        }
    }

    #[test]
    fn other_text_is_kept() {
        for text in [
            "see https://example.com/a?b=c",
            "a == b, x: 1, tokens_used: 5",
            "std::mem::take",
            "password",
            "",
        ] {
            assert_eq!(scrub(text), text);
        }
    }
}
