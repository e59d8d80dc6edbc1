//! Redaction of secrets: header values, JSON object keys, query parameters, and optional
//! pseudonymisation of the acting user.

use std::borrow::Cow;
use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are redacted by default.
pub const DEFAULT_SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// JSON object keys (any depth, case-insensitive) whose values are redacted by default.
pub const DEFAULT_SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "access_token",
    "refresh_token",
    "api_key",
    "apikey",
    "authorization",
    "card_number",
    "cvv",
    "ssn",
];

/// Query parameters redacted by default besides [`DEFAULT_SENSITIVE_KEYS`]: signed-URL signatures.
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] =
    &["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// Which values never reach the log.
///
/// On by default with the lists above; names compare case-insensitively.
///
/// ```
/// use audit_core::Redaction;
///
/// let redaction = Redaction::default().key("national_id").header("x-session");
/// assert!(redaction.is_sensitive_key("National_ID"));
/// assert_eq!(redaction.query("q=rust&API_KEY=abc"), "q=rust&API_KEY=[REDACTED]");
/// ```
#[derive(Clone)]
pub struct Redaction {
    enabled: bool,
    headers: Vec<String>,
    keys: Vec<String>,
    query_params: Vec<String>,
    user_key: Option<Vec<u8>>,
}

impl Default for Redaction {
    fn default() -> Self {
        let lower = |names: &[&str]| names.iter().map(|n| n.to_ascii_lowercase()).collect();
        Redaction {
            enabled: true,
            headers: lower(DEFAULT_SENSITIVE_HEADERS),
            keys: lower(DEFAULT_SENSITIVE_KEYS),
            query_params: lower(DEFAULT_SENSITIVE_QUERY_PARAMS),
            user_key: None,
        }
    }
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redaction")
            .field("enabled", &self.enabled)
            .field("headers", &self.headers)
            .field("keys", &self.keys)
            .field("query_params", &self.query_params)
            // Never print the HMAC key.
            .field("pseudonymize_users", &self.user_key.is_some())
            .finish()
    }
}

fn contains_ignore_case(names: &[String], candidate: &str) -> bool {
    names
        .iter()
        .any(|name| name.eq_ignore_ascii_case(candidate))
}

impl Redaction {
    /// No redaction at all (for tests or fully trusted stores). Pseudonymisation, if set later, still applies.
    pub fn disabled() -> Self {
        Redaction {
            enabled: false,
            ..Redaction::default()
        }
    }

    /// Also redacts the value of header `name`.
    pub fn header(mut self, name: &str) -> Self {
        self.headers.push(name.to_ascii_lowercase());
        self
    }

    /// Also redacts JSON object key `name` (any depth) and query parameter `name`.
    pub fn key(mut self, name: &str) -> Self {
        self.keys.push(name.to_ascii_lowercase());
        self
    }

    /// Also redacts query parameter `name` (only in query strings).
    pub fn query_param(mut self, name: &str) -> Self {
        self.query_params.push(name.to_ascii_lowercase());
        self
    }

    /// Replaces every `user` except `anonymous` by a keyed HMAC-SHA256 pseudonym
    /// (`hmac:` and 32 hex digits), so per-user analytics survive without storing identities.
    /// Keep the key secret and stable: the same user maps to the same pseudonym only under the same key.
    pub fn pseudonymize_users(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.user_key = Some(key.into());
        self
    }

    /// Whether redaction of headers, keys and query parameters is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the value under JSON key `key` must be redacted.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        self.enabled && contains_ignore_case(&self.keys, key)
    }

    /// Whether the value of header `name` must be redacted. Pass `marked_sensitive` from
    /// `http::HeaderValue::is_sensitive`.
    pub fn is_sensitive_header(&self, name: &str, marked_sensitive: bool) -> bool {
        self.enabled && (marked_sensitive || contains_ignore_case(&self.headers, name))
    }

    /// The header value to log: the value itself or [`REDACTED`].
    pub fn header_value<'a>(&self, name: &str, value: &'a str, marked_sensitive: bool) -> &'a str {
        if self.is_sensitive_header(name, marked_sensitive) {
            REDACTED
        } else {
            value
        }
    }

    fn is_sensitive_query_param(&self, name: &str) -> bool {
        self.enabled
            && (contains_ignore_case(&self.keys, name)
                || contains_ignore_case(&self.query_params, name))
    }

    /// The query string with the values of sensitive parameters replaced by [`REDACTED`].
    /// Names are percent-decoded before comparison; everything else is kept as sent.
    pub fn query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(query);
        }
        let sensitive = |pair: &str| {
            let name = pair.split_once('=').map_or(pair, |(name, _)| name);
            let name = name.replace('+', " ");
            let decoded = percent_decode_str(&name).decode_utf8_lossy();
            self.is_sensitive_query_param(&decoded)
        };
        if !query.split('&').any(sensitive) {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            if sensitive(pair) {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                out.push_str(name);
                out.push('=');
                out.push_str(REDACTED);
            } else {
                out.push_str(pair);
            }
        }
        Cow::Owned(out)
    }

    /// The user to log: pseudonymised when a key is set, `anonymous` kept as it is.
    pub fn user<'a>(&self, user: &'a str) -> Cow<'a, str> {
        match &self.user_key {
            Some(key) if user != crate::entry::ANONYMOUS => Cow::Owned(pseudonym(key, user)),
            _ => Cow::Borrowed(user),
        }
    }

    /// Whether users are pseudonymised.
    pub fn pseudonymizes_users(&self) -> bool {
        self.user_key.is_some()
    }
}

fn pseudonym(key: &[u8], user: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail; fall back to hashing defensively.
    let digest = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(user.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => {
            use sha2::Digest;
            Sha256::digest([key, user.as_bytes()].concat()).to_vec()
        }
    };
    let mut out = String::with_capacity(5 + 32);
    out.push_str("hmac:");
    for byte in &digest[..16] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A connection URL with its password replaced by [`REDACTED`], for messages and displays.
///
/// ```
/// use audit_core::url_without_password;
///
/// assert_eq!(url_without_password("postgres://u:secret@h/db"), "postgres://u:[REDACTED]@h/db");
/// assert_eq!(url_without_password("postgres://u@h/db"), "postgres://u@h/db");
/// ```
pub fn url_without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => match url[scheme + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:{REDACTED}{}", &url[..scheme + 3], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_headers_are_redacted_case_insensitively() {
        let r = Redaction::default();
        for name in [
            "Authorization",
            "proxy-authorization",
            "COOKIE",
            "set-cookie",
            "X-Api-Key",
        ] {
            assert_eq!(
                r.header_value(name, "secret-value", false),
                REDACTED,
                "{name}"
            );
        }
        assert_eq!(
            r.header_value("content-type", "application/json", false),
            "application/json"
        );
        assert_eq!(r.header_value("x-custom", "v", true), REDACTED);
        assert_eq!(
            Redaction::disabled().header_value("cookie", "a=b", true),
            "a=b"
        );
    }

    #[test]
    fn every_default_key_is_sensitive() {
        let r = Redaction::default();
        for key in DEFAULT_SENSITIVE_KEYS {
            assert!(r.is_sensitive_key(key));
            assert!(r.is_sensitive_key(&key.to_ascii_uppercase()));
        }
        assert!(!r.is_sensitive_key("username"));
        assert!(!r.is_sensitive_key("tokens_used"));
    }

    #[test]
    fn query_parameters_are_redacted() {
        let r = Redaction::default();
        assert_eq!(r.query("a=1&b=2"), "a=1&b=2");
        assert!(matches!(r.query("a=1&b=2"), Cow::Borrowed(_)));
        assert_eq!(
            r.query("X-Goog-Signature=abc&page=2&Signature=zz&AWSAccessKeyId=AK"),
            "X-Goog-Signature=[REDACTED]&page=2&Signature=[REDACTED]&AWSAccessKeyId=[REDACTED]"
        );
        assert_eq!(r.query("api%5Fkey=abc&x"), "api%5Fkey=[REDACTED]&x");
        assert_eq!(r.query("password"), "password=[REDACTED]");
        assert_eq!(r.query("sig=1&sig=2"), "sig=[REDACTED]&sig=[REDACTED]");
        assert_eq!(r.query(""), "");
    }

    #[test]
    fn custom_names_extend_the_defaults() {
        let r = Redaction::default()
            .key("pin")
            .header("x-session")
            .query_param("code");
        assert!(r.is_sensitive_key("PIN"));
        assert!(r.is_sensitive_header("X-Session", false));
        assert_eq!(r.query("code=1&pin=2"), "code=[REDACTED]&pin=[REDACTED]");
        assert!(!r.is_sensitive_key("code"));
    }

    #[test]
    fn pseudonyms_are_stable_keyed_and_keep_anonymous() {
        let r = Redaction::default().pseudonymize_users("k1");
        let a = r.user("alice").into_owned();
        assert_eq!(a, r.user("alice"));
        assert!(a.starts_with("hmac:") && a.len() == 37, "{a}");
        assert_ne!(a, r.user("bob"));
        assert_ne!(
            a,
            Redaction::default().pseudonymize_users("k2").user("alice")
        );
        assert_eq!(r.user("anonymous"), "anonymous");
        assert_eq!(Redaction::default().user("alice"), "alice");
        assert!(!format!("{r:?}").contains("k1"));
    }
}
