//! Fuzzing the human formats with arbitrary text (`bench/fuzz.sh` runs it at scale): whatever
//! an entry holds, a pretty line is one line without control, bidi or separator characters,
//! a table cell keeps its width. (CSV, written by the `audit` command, is tested there.)

use audit_core::{display_cell, escape_for_display, format_pretty, AuditEntry};
use proptest::prelude::*;

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// Text biased towards what attackers send: escapes, line breaks, bidi controls, formulas.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\x1b[31m".to_owned()),
        Just("\r\n".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("=1+2".to_owned()),
        Just("\"".to_owned()),
        Just(",".to_owned()),
        any::<String>(),
        "[a-z ]{0,20}",
    ];
    prop::collection::vec(pieces, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn human_formats_hold_for_any_text(
        user in hostile_text(),
        path in hostile_text(),
        error in hostile_text(),
        width in 1usize..100,
        long in 0usize..70_000,
    ) {
        prop_assert!(!escape_for_display(&user).chars().any(unsafe_char));
        let cell = display_cell(&format!("{user}{}", "x".repeat(long)), width);
        prop_assert!(cell.chars().count() <= width, "{cell:?}");
        prop_assert!(!cell.chars().any(unsafe_char));

        let mut entry = AuditEntry::new(path.clone());
        entry.user = format!("{user}{}", "u".repeat(long));
        entry.path = Some(path);
        entry.error = Some(error);
        let mut line = String::new();
        format_pretty(&entry, &mut line);
        prop_assert!(!line.chars().any(unsafe_char), "{line:?}");
        prop_assert!(line.chars().count() < 1_000);
    }
}
