//! Value detectors: secrets recognised by their form inside any string, whatever key (or no
//! key) they stand under: JWTs, `Bearer`/`Basic` credentials, PEM private keys, card numbers.
//!
//! Hand-written scanners rather than `regex`: each needs a check a pattern cannot express
//! (Luhn, base64 that decodes to `user:password`), and a plain scan keeps the common case (a
//! string with none of them) at one pass over its bytes.

use std::borrow::Cow;
use std::ops::Range;

/// Which value detectors run; all on by default.
///
/// ```
/// use audit_core::Detectors;
///
/// let detectors = Detectors::default().card_numbers(false);
/// assert!(detectors.is_any_on());
/// assert!(!Detectors::none().is_any_on());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detectors {
    /// JSON Web Tokens (`eyJ….….…`).
    pub jwt: bool,
    /// `Bearer <token>` and `Basic <base64 of user:password>`.
    pub auth_schemes: bool,
    /// PEM private keys (`-----BEGIN … PRIVATE KEY-----` to its end).
    pub pem_private_keys: bool,
    /// Payment card numbers: 13–19 digits (spaces or dashes between groups allowed), starting
    /// as issuers' numbers do (2–6) and passing the Luhn check.
    pub card_numbers: bool,
}

impl Default for Detectors {
    fn default() -> Self {
        Detectors {
            jwt: true,
            auth_schemes: true,
            pem_private_keys: true,
            card_numbers: true,
        }
    }
}

impl Detectors {
    /// Every detector off.
    pub fn none() -> Self {
        Detectors {
            jwt: false,
            auth_schemes: false,
            pem_private_keys: false,
            card_numbers: false,
        }
    }

    /// Turns JWT detection on or off.
    #[must_use]
    pub fn jwt(mut self, on: bool) -> Self {
        self.jwt = on;
        self
    }

    /// Turns `Bearer`/`Basic` detection on or off.
    #[must_use]
    pub fn auth_schemes(mut self, on: bool) -> Self {
        self.auth_schemes = on;
        self
    }

    /// Turns PEM private key detection on or off.
    #[must_use]
    pub fn pem_private_keys(mut self, on: bool) -> Self {
        self.pem_private_keys = on;
        self
    }

    /// Turns card number detection on or off.
    #[must_use]
    pub fn card_numbers(mut self, on: bool) -> Self {
        self.card_numbers = on;
        self
    }

    /// Whether any detector runs.
    pub fn is_any_on(&self) -> bool {
        self.jwt || self.auth_schemes || self.pem_private_keys || self.card_numbers
    }

    /// `text` with every detected secret replaced by [`REDACTED`](crate::REDACTED) (for `Bearer`/`Basic`, the
    /// credential after the scheme); borrowed when nothing was found.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let hints = Hints::of(text.as_bytes());
        let mut found: Vec<Range<usize>> = Vec::new();
        if self.pem_private_keys && hints.dashes {
            pem_keys(text, &mut found);
        }
        if self.jwt && hints.jwt {
            jwts(text, &mut found);
        }
        if self.auth_schemes && hints.scheme {
            auth_credentials(text, &mut found);
        }
        if self.card_numbers && hints.digits >= 13 {
            cards(text, &mut found);
        }
        super::replace_spans(text, found)
    }
}

/// What one pass over the bytes says may be there, so that a string holding none of the
/// secrets' marks (nearly every string) costs one scan.
struct Hints {
    jwt: bool,
    dashes: bool,
    scheme: bool,
    digits: usize,
}

impl Hints {
    fn of(bytes: &[u8]) -> Hints {
        let mut hints = Hints {
            jwt: false,
            dashes: false,
            scheme: false,
            digits: 0,
        };
        let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'0'..=b'9' => hints.digits += 1,
                b'J' => hints.jwt |= i >= 2 && bytes[i - 2] == b'e' && bytes[i - 1] == b'y',
                b'-' => hints.dashes |= at(i + 4) == b'-' && bytes[i..i + 5] == *b"-----",
                b'b' | b'B' => {
                    let next = at(i + 1) | 0x20;
                    hints.scheme |= (next == b'e' || next == b'a') && i + 5 <= bytes.len();
                }
                _ => {}
            }
        }
        hints
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `eyJ` (base64url of `{"`) then three base64url parts joined by dots (the third may be empty).
fn jwts(text: &str, found: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find("eyJ").map(|p| p + from) {
        from = pos + 3;
        if pos > 0 && is_base64url(bytes[pos - 1]) {
            continue;
        }
        let mut end = pos;
        let mut parts = [0usize; 3];
        let mut part = 0;
        while end < bytes.len() {
            let b = bytes[end];
            if is_base64url(b) {
                parts[part] += 1;
            } else if b == b'.' && part < 2 {
                part += 1;
            } else {
                break;
            }
            end += 1;
        }
        // A token cut by the end of the text (a capture limit) goes too once it has its dot.
        let cut = end == bytes.len() && part >= 1;
        if (part == 2 && parts[1] >= 2 || cut) && parts[0] >= 10 {
            found.push(pos..end);
            from = end;
        }
    }
}

/// The credential after `Bearer ` (16+ token characters) or `Basic ` (base64 that decodes to
/// `user:password`), scheme names in any case.
fn auth_credentials(text: &str, found: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    for (scheme, basic) in [("bearer", false), ("basic", true)] {
        let mut from = 0;
        while let Some(pos) = find_ignore_ascii_case(&bytes[from..], scheme.as_bytes()) {
            let start = from + pos;
            from = start + scheme.len();
            if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
                continue;
            }
            let mut at = from;
            while at < bytes.len() && (bytes[at] == b' ' || bytes[at] == b'\t') {
                at += 1;
            }
            if at == from {
                continue;
            }
            let token_start = at;
            while at < bytes.len()
                && (bytes[at].is_ascii_alphanumeric() || b"-._~+/".contains(&bytes[at]))
            {
                at += 1;
            }
            while at < bytes.len() && bytes[at] == b'=' {
                at += 1;
            }
            let token = &text[token_start..at];
            // A bearer token cut by the end of the text (a capture limit) goes whatever its
            // length; a cut Basic credential still has to decode.
            let cut = !basic && at == bytes.len() && !token.is_empty();
            let credential = cut
                || if basic {
                    decodes_to_user_password(token)
                } else {
                    token.len() >= 16
                };
            if credential {
                found.push(token_start..at);
                from = at;
            }
        }
    }
}

fn find_ignore_ascii_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn decodes_to_user_password(token: &str) -> bool {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let data = token.trim_end_matches('=').as_bytes();
    if data.len() < 4 {
        return false;
    }
    let mut decoded = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in data {
        let Some(v) = value(c) else { return false };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            decoded.push((acc >> bits) as u8);
        }
    }
    match std::str::from_utf8(&decoded) {
        Ok(text) => {
            text.find(':').is_some_and(|colon| colon > 0) && !text.chars().any(char::is_control)
        }
        Err(_) => false,
    }
}

/// From `-----BEGIN … PRIVATE KEY-----` through its `-----END …-----` line, or to the end of
/// the text when that is missing (a cut capture).
fn pem_keys(text: &str, found: &mut Vec<Range<usize>>) {
    let mut from = 0;
    while let Some(pos) = text[from..].find("-----BEGIN ").map(|p| p + from) {
        let label_start = pos + "-----BEGIN ".len();
        let Some(label_end) = text[label_start..].find("-----").map(|p| p + label_start) else {
            return;
        };
        from = label_end;
        if !text[label_start..label_end].ends_with("PRIVATE KEY") {
            continue;
        }
        let end = match text[label_end + 5..].find("-----END ") {
            Some(p) => {
                let end_label = label_end + 5 + p + "-----END ".len();
                text[end_label..]
                    .find("-----")
                    .map_or(text.len(), |q| end_label + q + 5)
            }
            None => text.len(),
        };
        found.push(pos..end);
        from = end;
    }
}

/// Runs of 13–19 digits, single spaces or dashes allowed between them, not touching other
/// letters or digits, starting with 2–6 and passing the Luhn check.
fn cards(text: &str, found: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = [0u8; 19];
        let mut count = 0;
        let mut end = i;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_digit() {
                if count < digits.len() {
                    digits[count] = b - b'0';
                }
                count += 1;
                i += 1;
                end = i;
            } else if (b == b' ' || b == b'-')
                && i + 1 < bytes.len()
                && bytes[i + 1].is_ascii_digit()
            {
                i += 1;
            } else {
                break;
            }
        }
        let touches = end < bytes.len() && bytes[end].is_ascii_alphanumeric();
        if (13..=19).contains(&count)
            && (2..=6).contains(&digits[0])
            && !touches
            && luhn(&digits[..count])
        {
            found.push(start..end);
        }
        i = i.max(start + 1);
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

    fn scrub(text: &str) -> String {
        Detectors::default().scrub(text).into_owned()
    }

    #[test]
    fn jwts_anywhere_in_text() {
        assert_eq!(
            scrub(&format!("token={JWT}; path=/")),
            "token=[REDACTED]; path=/"
        );
        assert_eq!(scrub(JWT), "[REDACTED]");
        // `alg: none` tokens end with a dot.
        assert_eq!(scrub("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."), "[REDACTED]");
        assert_eq!(scrub("keyJson.eyJ.x"), "keyJson.eyJ.x");
        // Cut by a capture limit after its first part.
        assert_eq!(scrub("t eyJhbGciOiJIUzI1NiJ9.eyJzdW"), "t [REDACTED]");
    }

    #[test]
    fn bearer_and_basic_credentials() {
        assert_eq!(
            scrub("Authorization: Bearer abcdef0123456789xyz"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(scrub("basic dXNlcjpodW50ZXIy"), "basic [REDACTED]");
        // Prose is left alone.
        assert_eq!(
            scrub("the basic idea, a bearer of news"),
            "the basic idea, a bearer of news"
        );
        assert_eq!(scrub("Basic information"), "Basic information");
        assert_eq!(
            scrub("Authorization: Bearer abc"),
            "Authorization: Bearer [REDACTED]"
        );
    }

    #[test]
    fn pem_private_keys_to_their_end() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(scrub(&format!("k: {key} done")), "k: [REDACTED] done");
        assert_eq!(
            scrub("-----BEGIN PRIVATE KEY-----\nMIIE (cut"),
            "[REDACTED]"
        );
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(scrub(cert), cert);
    }

    #[test]
    fn luhn_checked_card_numbers() {
        assert_eq!(scrub("card 4111 1111 1111 1111 ok"), "card [REDACTED] ok");
        assert_eq!(scrub("4111-1111-1111-1111"), "[REDACTED]");
        assert_eq!(scrub("5500005555555559"), "[REDACTED]");
        // Fails Luhn, starts like no issuer, or is part of a longer id: kept.
        assert_eq!(scrub("4111 1111 1111 1112"), "4111 1111 1111 1112");
        assert_eq!(scrub("1732612345678"), "1732612345678");
        assert_eq!(scrub("order-4111111111111111x"), "order-4111111111111111x");
    }

    #[test]
    fn switches_work() {
        assert_eq!(Detectors::none().scrub(JWT), JWT);
        assert_eq!(Detectors::default().jwt(false).scrub(JWT), JWT);
        assert!(matches!(
            Detectors::default().scrub("plain"),
            Cow::Borrowed(_)
        ));
    }
}
