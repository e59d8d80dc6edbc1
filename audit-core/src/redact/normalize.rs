//! Names brought to one form before they are compared: NFKC, lower case, and words split
//! across snake, kebab, camel, Pascal, dotted and UPPER styles (joined by `_`).

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Calls `f` with the normalised name; ASCII names up to 64 bytes (nearly all) are normalised
/// on the stack.
pub(crate) fn with_normalized<R>(name: &str, split_camel: bool, f: impl FnOnce(&[u8]) -> R) -> R {
    let bytes = name.as_bytes();
    // Already normal (lower-case snake_case, the most common JSON key): no copy.
    let plain = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_';
    if bytes.iter().all(plain)
        && bytes.first() != Some(&b'_')
        && bytes.last() != Some(&b'_')
        && !bytes.windows(2).any(|w| w == b"__")
    {
        return f(bytes);
    }
    if name.len() <= 64 && name.is_ascii() {
        let mut buf = [0u8; 128];
        let len = normalize_ascii(name.as_bytes(), split_camel, &mut buf);
        return f(&buf[..len]);
    }
    f(normalize_with(name, split_camel).as_bytes())
}

/// [`normalize`] for ASCII: at most two output bytes per input byte.
fn normalize_ascii(name: &[u8], split_camel: bool, out: &mut [u8; 128]) -> usize {
    let mut len = 0;
    let mut boundary = false;
    for (i, &c) in name.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            boundary = true;
            continue;
        }
        let camel = split_camel
            && c.is_ascii_uppercase()
            && i > 0
            && (name[i - 1].is_ascii_lowercase()
                || name[i - 1].is_ascii_digit()
                || (name[i - 1].is_ascii_uppercase()
                    && name.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
        if (boundary || camel) && len > 0 {
            out[len] = b'_';
            len += 1;
        }
        boundary = false;
        out[len] = c.to_ascii_lowercase();
        len += 1;
    }
    len
}

/// The name as lower-case words joined by `_`: `X-Api-Key` → `x_api_key`, `clientSecret` →
/// `client_secret`, `APIKey` → `api_key`, `ＰＡＳＳＷＯＲＤ` → `password`.
pub fn normalize(name: &str) -> String {
    normalize_with(name, true)
}

fn normalize_with(name: &str, split_camel: bool) -> String {
    if name.len() <= 64 && name.is_ascii() {
        let mut buf = [0u8; 128];
        let len = normalize_ascii(name.as_bytes(), split_camel, &mut buf);
        return String::from_utf8_lossy(&buf[..len]).into_owned();
    }
    let folded: Cow<'_, str> = if name.is_ascii() {
        Cow::Borrowed(name)
    } else {
        // NFKC maps compatibility forms (full-width letters, the Kelvin sign, `ſ`) to plain ones.
        Cow::Owned(name.nfkc().collect())
    };
    let chars: Vec<char> = folded.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    let mut boundary = false;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            boundary = true;
            continue;
        }
        let prev = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1).copied();
        let camel = split_camel
            && c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if (boundary || camel) && !out.is_empty() {
            out.push('_');
        }
        boundary = false;
        for lower in c.to_lowercase() {
            match lower {
                // U+0307 (combining dot above) is what lower-casing `İ` leaves behind.
                '\u{307}' => {}
                // Turkish dotless i folds to i, as the dotted capital does.
                'ı' => out.push('i'),
                other => out.push(other),
            }
        }
    }
    out
}
