//! Entry text made safe to show a person: control characters, bidirectional controls and line
//! separators become visible escapes, so that a logged value (a user name, a path) cannot move
//! the cursor, recolour the terminal, forge a line of output or reverse the text around it.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal or a table as it is.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL, C1 (NEL included)
        || matches!(c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' // Arabic letter mark, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{2028}' | '\u{2029}') // line and paragraph separators
}

/// `text` with every control character, bidirectional control and line separator written as
/// a visible escape (`\n`, `\r`, `\t`, `\x1b`, `\u{202e}`); borrowed when there is none.
///
/// ```
/// use audit_core::escape_for_display;
///
/// assert_eq!(escape_for_display("EVIL\x1b[31mRED\r\nroot"), r"EVIL\x1b[31mRED\r\nroot");
/// assert_eq!(escape_for_display("alice"), "alice");
/// ```
pub fn escape_for_display(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` escaped as [`escape_for_display`] does and cut to `max_chars` characters, the cut
/// marked with `…`: for a table cell that must stay readable whatever the log holds.
///
/// ```
/// use audit_core::display_cell;
///
/// assert_eq!(display_cell("abcdef", 4), "abc…");
/// assert_eq!(display_cell("abc", 4), "abc");
/// ```
pub fn display_cell(text: &str, max_chars: usize) -> String {
    let escaped = escape_for_display(text);
    match escaped.char_indices().nth(max_chars) {
        None => escaped.into_owned(),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = escaped
                .char_indices()
                .nth(keep)
                .map_or(escaped.len(), |(i, _)| i);
            format!("{}…", &escaped[..end])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unsafe_character_is_visible() {
        assert_eq!(escape_for_display("a\u{202E}b"), "a\\u{202e}b");
        assert_eq!(
            escape_for_display("a\u{2028}b\u{2029}"),
            "a\\u{2028}b\\u{2029}"
        );
        assert_eq!(escape_for_display("\u{85}\u{7f}\0"), "\\u{0085}\\x7f\\x00");
        assert_eq!(escape_for_display("naïve 日本"), "naïve 日本");
        assert!(matches!(escape_for_display("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn cells_are_cut_on_characters() {
        assert_eq!(display_cell(&"é".repeat(70_000), 5), "éééé…");
        assert_eq!(display_cell("a\nb", 10), "a\\nb");
        assert_eq!(display_cell("", 3), "");
    }
}
