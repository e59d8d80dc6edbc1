//! The canonical JSON form that entry hashes cover: RFC 8785 (JSON Canonicalization Scheme),
//! with integers written exactly.
//!
//! An independent tool reproduces it byte for byte (see `docs/schema.md`, and the reference
//! verifier `docs/verify_chain.py`):
//! - no whitespace; object keys sorted by their UTF-16 code units;
//! - strings as `serde_json` and RFC 8785 write them: `"` `\` `\b` `\f` `\n` `\r` `\t`
//!   escaped by name, other control characters as `\u00xx` (lowercase hex), everything else
//!   (including non-ASCII) as is;
//! - integers that fit 64 bits in decimal, exactly; other numbers as ECMAScript's
//!   `Number.prototype.toString` writes them (`1e+21`, `1e-7`, `0.000001`, `4.5`): the shortest
//!   digits that read back as the same `f64`. (RFC 8785 reads every number as an `f64`; for
//!   integers above 2^53 that would hide an edit of the last digits, so they stay exact.)
//!
//! [`AuditEntry`](crate::AuditEntry) declares its fields in sorted order and its maps are
//! sorted, so serialising it with [`CanonicalFormatter`] gives the canonical form directly,
//! without building a [`Value`] first; [`write_value`] canonicalises any JSON value (what a
//! verifier does with a line it read).
//!
//! Why not an RFC 8785 crate (`serde_jcs`, `json-canon`): they read every number as an `f64`,
//! as the RFC says, which would let an edit of an integer's last digits above 2^53 keep its
//! hash; and they canonicalise a [`Value`], where the writer streams each entry once through
//! this formatter while it serialises the JSON line anyway.

use std::io;

use serde_json::ser::Formatter;
use serde_json::{Map, Value};

/// A `serde_json` formatter that writes numbers as the canonical form does; with sorted keys
/// (what `serde_json::Map` and [`AuditEntry`](crate::AuditEntry) give) its output is canonical.
///
/// ```
/// use audit_core::canonical::CanonicalFormatter;
///
/// let mut out = Vec::new();
/// let mut ser = serde_json::Serializer::with_formatter(&mut out, CanonicalFormatter);
/// serde::Serialize::serialize(&serde_json::json!({"b": 1e21, "a": 1e-7}), &mut ser).unwrap();
/// assert_eq!(out, br#"{"a":1e-7,"b":1e+21}"#);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CanonicalFormatter;

impl Formatter for CanonicalFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        let mut buf = NumberBuffer::default();
        writer.write_all(buf.format(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(writer, f64::from(value))
    }
}

/// Serialises `value` in canonical form onto `out`. Correct for types whose fields are declared
/// in sorted order and whose maps iterate sorted (like [`AuditEntry`](crate::AuditEntry)); use
/// [`write_value`] for anything else.
/// (The writer uses `entry/json.rs`, which writes the same bytes by hand; this is what its
/// tests compare it with.)
#[cfg(test)]
pub(crate) fn write_sorted<T: serde::Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::with_formatter(out, CanonicalFormatter);
    value.serialize(&mut ser)
}

/// Writes any JSON value in canonical form onto `out`, sorting keys as RFC 8785 does.
///
/// ```
/// let value = serde_json::json!({"b": [1, 2.50, "x\u{1}"], "a": {"\u{e9}": null}});
/// let mut out = Vec::new();
/// audit_core::canonical::write_value(&value, &mut out);
/// assert_eq!(out, "{\"a\":{\"\u{e9}\":null},\"b\":[1,2.5,\"x\\u0001\"]}".as_bytes());
/// ```
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    write_json(value, KeyOrder::Utf16, out);
}

/// A JSON value with each object's keys in the order the map holds them (sorted by bytes), as
/// `serde_json` with [`CanonicalFormatter`] writes it: what the entry's line writer needs.
pub(crate) fn write_value_as_stored(value: &Value, out: &mut Vec<u8>) {
    write_json(value, KeyOrder::AsStored, out);
}

/// A map in the order it holds its keys (see [`write_value_as_stored`]).
pub(crate) fn write_map(map: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write_json(value, KeyOrder::AsStored, out);
    }
    out.push(b'}');
}

/// How objects' keys are ordered.
#[derive(Clone, Copy)]
enum KeyOrder {
    /// As the map holds them (`serde_json::Map`: by bytes).
    AsStored,
    /// By UTF-16 code units, as RFC 8785 asks ([`compare_keys`]).
    Utf16,
}

fn write_json(value: &Value, order: KeyOrder, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
            } else if let Some(i) = n.as_i64() {
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
            } else {
                write_f64(n.as_f64().unwrap_or(0.0), out);
            }
        }
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, order, out);
            }
            out.push(b']');
        }
        Value::Object(map) => match order {
            KeyOrder::AsStored => write_map(map, out),
            KeyOrder::Utf16 => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|a, b| compare_keys(a, b));
                out.push(b'{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(key, out);
                    out.push(b':');
                    write_json(&map[key.as_str()], order, out);
                }
                out.push(b'}');
            }
        },
    }
}

/// An `f64` as `serde_json` writes one with [`CanonicalFormatter`]: `null` when not finite,
/// else ECMAScript's digits.
pub(crate) fn write_f64(n: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(NumberBuffer::default().format(n).as_bytes());
}

/// A JSON string as `serde_json` (and RFC 8785) writes it: `"` and `\` and the control
/// characters escaped (`\b \f \n \r \t` by name, the others as `\u00xx`), everything else as
/// it is. Checks 8 bytes at a time for anything to escape and copies runs that need none
/// whole: this check was most of an entry's serialisation cost (#14).
pub(crate) fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping.
        if let Some(chunk) = bytes
            .get(i..i + 8)
            .and_then(|c| <[u8; 8]>::try_from(c).ok())
        {
            if !needs_escape(u64::from_le_bytes(chunk)) {
                i += 8;
                continue;
            }
        }
        let byte = bytes[i];
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any byte of `word` is a control character, `"` or `\`.
#[inline]
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    // Bytes below 0x20 (bytes of 0x80 and up have their high bit, which `!word` clears).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    control != 0
        || has_zero(word ^ (ONES * b'"' as u64)) != 0
        || has_zero(word ^ (ONES * b'\\' as u64)) != 0
}

/// RFC 8785 order: by UTF-16 code units. It equals byte order unless a key holds characters
/// from U+E000 up (whose UTF-8 starts at 0xEE), where surrogate pairs sort differently.
pub fn compare_keys(a: &str, b: &str) -> std::cmp::Ordering {
    let wide = |s: &str| s.bytes().any(|byte| byte >= 0xEE);
    if wide(a) || wide(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.cmp(b)
    }
}

/// Formats an `f64` as ECMAScript's `Number.prototype.toString` does (RFC 8785, 3.2.2.3).
#[derive(Default)]
pub(crate) struct NumberBuffer {
    ryu: ryu::Buffer,
    out: String,
}

impl NumberBuffer {
    pub(crate) fn format(&mut self, value: f64) -> &str {
        self.out.clear();
        if !value.is_finite() {
            // JSON has no NaN or infinity; serde_json writes them as null too.
            self.out.push_str("null");
            return &self.out;
        }
        if value == 0.0 {
            self.out.push('0'); // also for -0
            return &self.out;
        }
        // ryu gives the shortest digits that read back as `value`, as ECMAScript asks; only
        // the layout differs. Take the digits and the decimal exponent from its output.
        let text = self.ryu.format_finite(value);
        if !text.contains('e') {
            // ryu writes plain decimals only within ECMAScript's plain range (1e-6 ≤ |x| < 1e21),
            // with the same digits: just without the integers' `.0`.
            return text.strip_suffix(".0").unwrap_or(text);
        }
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match text.split_once('e') {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (text, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut digits: String = int_part.chars().chain(frac_part.chars()).collect();
        // n: the position of the decimal point relative to the digits' start.
        let mut n = int_part.len() as i32 + exponent;
        let leading = digits.len() - digits.trim_start_matches('0').len();
        digits.drain(..leading);
        n -= leading as i32;
        let trimmed = digits.trim_end_matches('0').len();
        digits.truncate(trimmed);
        let k = digits.len() as i32;

        if negative {
            self.out.push('-');
        }
        if k <= n && n <= 21 {
            self.out.push_str(&digits);
            self.out.extend(std::iter::repeat_n('0', (n - k) as usize));
        } else if 0 < n && n <= 21 {
            self.out.push_str(&digits[..n as usize]);
            self.out.push('.');
            self.out.push_str(&digits[n as usize..]);
        } else if -6 < n && n <= 0 {
            self.out.push_str("0.");
            self.out.extend(std::iter::repeat_n('0', (-n) as usize));
            self.out.push_str(&digits);
        } else {
            self.out.push_str(&digits[..1]);
            if k > 1 {
                self.out.push('.');
                self.out.push_str(&digits[1..]);
            }
            self.out.push('e');
            self.out.push(if n > 0 { '+' } else { '-' });
            self.out
                .push_str(itoa::Buffer::new().format((n - 1).unsigned_abs()));
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_str(text: &str) -> Vec<u8> {
        serde_json::to_vec(text).unwrap()
    }

    #[test]
    fn strings_escape_as_serde_json_does() {
        let mut cases: Vec<String> = vec![
            String::new(),
            "plain text longer than eight bytes".into(),
            "quote \" and backslash \\ here".into(),
            "\u{0}\u{1}\u{7}\u{8}\u{b}\u{c}\u{1f}\u{7f}".into(),
            "line\nbreak\r\ttab".into(),
            "héllo wörld — ünïcödé 𝄞 text".into(),
            "12345678\"".into(),
            "1234567\\".into(),
        ];
        for byte in 0u8..=0x7f {
            cases.push(format!("abcdefgh{}ijklmnop", byte as char));
            cases.push(format!("{}", byte as char));
        }
        for case in cases {
            let mut out = Vec::new();
            write_str(&case, &mut out);
            assert_eq!(out, serde_str(&case), "{case:?}");
        }
    }

    fn number(value: f64) -> String {
        NumberBuffer::default().format(value).to_owned()
    }

    #[test]
    #[allow(clippy::excessive_precision)] // RFC 8785's examples, digit for digit
    fn numbers_follow_ecmascript() {
        // RFC 8785 appendix B and ECMAScript examples.
        let cases = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (4.50, "4.5"),
            (0.002, "0.002"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1e23, "1e+23"),
            (123e-20, "1.23e-18"),
            (333333333.33333329, "333333333.3333333"),
            (9007199254740992.0, "9007199254740992"),
            (295147905179352830000.0, "295147905179352830000"),
            (5e-324, "5e-324"),
            (-5e-324, "-5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.7976931348623157e308, "-1.7976931348623157e+308"),
            (0.034523, "0.034523"),
            (123456.789, "123456.789"),
            (1e16, "10000000000000000"),
            (f64::NAN, "null"),
        ];
        for (value, expected) in cases {
            assert_eq!(number(value), expected, "{value:e}");
        }
    }

    #[test]
    fn numbers_read_back_exactly() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let value = f64::from_bits(rng.u64(..));
            if !value.is_finite() {
                continue;
            }
            let text = number(value);
            let back: f64 = text.parse().unwrap();
            assert_eq!(
                back.to_bits(),
                (value + 0.0).to_bits(),
                "{value:e} -> {text}"
            );
        }
    }

    #[test]
    fn keys_sort_by_utf16_code_units() {
        // U+1F600 (a surrogate pair, 0xD83D…) sorts before U+FB01 in UTF-16, after it in UTF-8.
        let value = serde_json::json!({"\u{fb01}": 1, "\u{1f600}": 2, "a": 3, "\r": 4});
        let mut out = Vec::new();
        write_value(&value, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"\\r\":4,\"a\":3,\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn sorted_serialisation_equals_generic_canonicalisation() {
        let value = serde_json::json!({
            "z": [1, -2, 3.25, 1e300, "t\"\\\u{7f}\u{1f}é"],
            "a": {"y": null, "b": true, "x": 0.1},
            "m": u64::MAX,
            "n": i64::MIN,
        });
        let mut generic = Vec::new();
        write_value(&value, &mut generic);
        let mut sorted = Vec::new();
        write_sorted(&value, &mut sorted).unwrap();
        assert_eq!(
            String::from_utf8(sorted).unwrap(),
            String::from_utf8(generic).unwrap()
        );
    }
}
