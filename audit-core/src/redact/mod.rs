//! Redaction of secrets: names (JSON keys, headers, query parameters) compared by their words,
//! path selectors, value detectors inside any string, and optional pseudonymisation of users.

mod detect;
mod names;
mod normalize;
mod pairs;
mod paths;

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha2::Sha256;

pub use detect::Detectors;
pub use names::{
    DEFAULT_NON_SECRET_SUFFIXES, DEFAULT_SENSITIVE_NAMES, DEFAULT_SENSITIVE_PAIRS,
    DEFAULT_SENSITIVE_WORDS,
};
pub use normalize::normalize as normalize_name;
pub use paths::{PathError, PathSelector, PathStep};

/// What a redacted value becomes.
pub const REDACTED: &str = "[REDACTED]";

/// Headers whose values are redacted by default besides those whose names are sensitive by
/// the word rules (`x-api-key`, `x-auth-token`, `cookie` …).
pub const DEFAULT_SENSITIVE_HEADERS: &[&str] =
    &["authorization", "proxy-authorization", "set-cookie"];

/// Query parameters redacted by default besides sensitive names: signed-URL signatures and
/// credentials.
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "AWSAccessKeyId",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Goog-Credential",
    "code",
];

/// Which values never reach the log.
///
/// On by default. A name (JSON key at any depth, header, query parameter) is sensitive when,
/// split into words across `snake_case`, `kebab-case`, `camelCase`, `PascalCase` and dotted
/// forms (after Unicode NFKC normalisation and case folding), it holds a sensitive word
/// ([`DEFAULT_SENSITIVE_WORDS`]), an adjacent sensitive pair or its one-word compound
/// ([`DEFAULT_SENSITIVE_PAIRS`]), or is one of [`DEFAULT_SENSITIVE_NAMES`]; unless its last
/// word says it describes a secret rather than holds one ([`DEFAULT_NON_SECRET_SUFFIXES`]:
/// `token_count`, `password_changed_at`). Path selectors ([`Redaction::path`]) add places
/// names cannot express, and value [`Detectors`] redact JWTs, `Bearer`/`Basic` credentials,
/// PEM private keys and card numbers inside any string.
///
/// ```
/// use audit_core::Redaction;
///
/// let redaction = Redaction::default().key("national_id").header("x-session");
/// assert!(redaction.is_sensitive_key("National-ID"));
/// assert!(redaction.is_sensitive_key("clientSecret"));
/// assert!(!redaction.is_sensitive_key("tokens_used"));
/// assert_eq!(redaction.query("q=rust&API_KEY=abc"), "q=rust&API_KEY=[REDACTED]");
/// ```
#[derive(Clone)]
pub struct Redaction {
    enabled: bool,
    headers: Vec<String>,
    vocabulary: names::Vocabulary,
    query_params: Vec<String>,
    paths: Vec<PathSelector>,
    detectors: Detectors,
    user_key: Option<Vec<u8>>,
}

impl Default for Redaction {
    fn default() -> Self {
        let lower = |names: &[&str]| names.iter().map(|n| n.to_ascii_lowercase()).collect();
        Redaction {
            enabled: true,
            headers: lower(DEFAULT_SENSITIVE_HEADERS),
            vocabulary: names::Vocabulary::default(),
            query_params: lower(DEFAULT_SENSITIVE_QUERY_PARAMS),
            paths: Vec::new(),
            detectors: Detectors::default(),
            user_key: None,
        }
    }
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redaction")
            .field("enabled", &self.enabled)
            .field("headers", &self.headers)
            .field("vocabulary", &self.vocabulary)
            .field("query_params", &self.query_params)
            .field("paths", &self.paths)
            .field("detectors", &self.detectors)
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
    #[must_use]
    pub fn header(mut self, name: &str) -> Self {
        self.headers.push(name.to_ascii_lowercase());
        self
    }

    /// Also redacts values under the name `name` (JSON keys at any depth, headers, query
    /// parameters), compared by words: `.key("national_id")` also matches `nationalId`.
    #[must_use]
    pub fn key(mut self, name: &str) -> Self {
        self.vocabulary.add_name(name);
        self
    }

    /// Also redacts query parameter `name` (only in query strings and form bodies; compared
    /// exactly, ignoring ASCII case).
    #[must_use]
    pub fn query_param(mut self, name: &str) -> Self {
        self.query_params.push(name.to_ascii_lowercase());
        self
    }

    /// Also treats `word` as sensitive wherever it stands in a name (`.word("pin")` matches
    /// `card_pin`, `pinCode`).
    #[must_use]
    pub fn word(mut self, word: &str) -> Self {
        self.vocabulary.add_word(word);
        self
    }

    /// Also treats the adjacent words `first`, `second` (and their compound) as sensitive.
    #[must_use]
    pub fn word_pair(mut self, first: &str, second: &str) -> Self {
        self.vocabulary.add_pair(first, second);
        self
    }

    /// Never redacts values under the name `name` by the word rules (a field your application
    /// knows is harmless, such as `token_id`); path selectors and value detectors still apply.
    #[must_use]
    pub fn allow_key(mut self, name: &str) -> Self {
        self.vocabulary.allow(name);
        self
    }

    /// Removes `word` from the sensitive words, pairs and names (`.without_word("signature")`
    /// when your documents carry public signatures).
    #[must_use]
    pub fn without_word(mut self, word: &str) -> Self {
        self.vocabulary.remove_word(word);
        self
    }

    /// Also redacts the value at a path selector, in the style of pino's `redact`: keys joined
    /// by dots, `*` for any one key or index, `**` for any depth, `[N]`, `[*]`, `["a.b"]`.
    /// Paths start at the body (`request`, `response_summary`) or, for a recorded function,
    /// at its arguments.
    ///
    /// ```
    /// use audit_core::{Redaction, Scrubber, SummaryLimits};
    /// use serde_json::json;
    ///
    /// let redaction = Redaction::default().path("user.addresses[*].street")?;
    /// let scrubber = Scrubber::new(SummaryLimits::default(), redaction);
    /// let body = json!({"user": {"addresses": [{"street": "1 Main St", "city": "Oslo"}]}});
    /// assert_eq!(
    ///     scrubber.object(body),
    ///     json!({"user": {"addresses": [{"street": "[REDACTED]", "city": "Oslo"}]}})
    /// );
    /// # Ok::<(), audit_core::PathError>(())
    /// ```
    pub fn path(mut self, selector: &str) -> Result<Self, PathError> {
        self.paths.push(PathSelector::parse(selector)?);
        Ok(self)
    }

    /// Which value detectors run (all by default).
    #[must_use]
    pub fn detectors(mut self, detectors: Detectors) -> Self {
        self.detectors = detectors;
        self
    }

    /// Replaces every `user` except `anonymous` by a keyed HMAC-SHA256 pseudonym
    /// (`hmac:` and 32 hex digits), so per-user analytics survive without storing identities.
    /// Keep the key secret and stable: the same user maps to the same pseudonym only under the same key.
    #[must_use]
    pub fn pseudonymize_users(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.user_key = Some(key.into());
        self
    }

    /// Whether redaction of names, paths and values is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Whether the value under the name `key` must be redacted.
    pub fn is_sensitive_key(&self, key: &str) -> bool {
        self.enabled && self.vocabulary.is_sensitive(key)
    }

    /// Whether path selectors are configured (the summariser tracks paths only then).
    pub fn has_paths(&self) -> bool {
        self.enabled && !self.paths.is_empty()
    }

    /// Whether a path selector selects the value at `path`.
    pub fn is_sensitive_path(&self, path: &[PathStep<'_>]) -> bool {
        self.enabled && self.paths.iter().any(|p| p.matches(path))
    }

    /// `text` with the secrets the detectors recognise, and the values that follow sensitive
    /// names (`password=…`, `"token": "…"`, `api_key: …`), replaced by [`REDACTED`].
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        // Names first, on the text as sent (a marker would end a value early), then forms.
        let named = if text.contains(['=', ':']) {
            replace_spans(text, pairs::sensitive_values(text, &self.vocabulary))
        } else {
            Cow::Borrowed(text)
        };
        match named {
            Cow::Borrowed(text) => self.detectors.scrub(text),
            Cow::Owned(named) => Cow::Owned(self.detectors.scrub(&named).into_owned()),
        }
    }

    /// Whether the value of header `name` must be redacted whole. Pass `marked_sensitive` from
    /// `http::HeaderValue::is_sensitive`.
    pub fn is_sensitive_header(&self, name: &str, marked_sensitive: bool) -> bool {
        self.enabled
            && (marked_sensitive
                || contains_ignore_case(&self.headers, name)
                || self.vocabulary.is_sensitive(name))
    }

    /// The header value to log: [`REDACTED`] for a sensitive header, else the value with
    /// detected secrets redacted.
    pub fn header_value<'a>(
        &self,
        name: &str,
        value: &'a str,
        marked_sensitive: bool,
    ) -> Cow<'a, str> {
        if self.is_sensitive_header(name, marked_sensitive) {
            Cow::Borrowed(REDACTED)
        } else {
            self.text(value)
        }
    }

    fn is_sensitive_query_param(&self, name: &str) -> bool {
        self.enabled
            && (self.vocabulary.is_sensitive(name)
                || contains_ignore_case(&self.query_params, name))
    }

    /// The query string (or `application/x-www-form-urlencoded` body) with the values of
    /// sensitive parameters replaced by [`REDACTED`] and detected secrets redacted in the
    /// others. Names are percent-decoded before comparison; everything else is kept as sent.
    pub fn query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(query);
        }
        // One pass; the copy starts at the first pair that changes (most queries hold none).
        let mut out: Option<String> = None;
        let mut start = 0;
        for (i, pair) in query.split('&').enumerate() {
            let (name, value) = pair
                .split_once('=')
                .map_or((pair, None), |(n, v)| (n, Some(v)));
            let redact = self.is_sensitive_query_param(
                &percent_decode_str(&name.replace('+', " ")).decode_utf8_lossy(),
            ) || value.is_some_and(|value| {
                let decoded = percent_decode_str(value)
                    .decode_utf8_lossy()
                    .replace('+', " ");
                matches!(self.detectors.scrub(&decoded), Cow::Owned(_))
            });
            match &mut out {
                None if !redact => {}
                None => {
                    let mut copy = String::with_capacity(query.len() + REDACTED.len());
                    copy.push_str(&query[..start]);
                    out = Some(copy);
                }
                Some(copy) if i > 0 => copy.push('&'),
                Some(_) => {}
            }
            if let Some(copy) = &mut out {
                if redact {
                    copy.push_str(name);
                    copy.push('=');
                    copy.push_str(REDACTED);
                } else {
                    copy.push_str(pair);
                }
            }
            start += pair.len() + 1;
        }
        out.map_or(Cow::Borrowed(query), Cow::Owned)
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

/// `text` with each span (they may overlap) replaced by [`REDACTED`]; borrowed when none.
fn replace_spans(text: &str, mut spans: Vec<std::ops::Range<usize>>) -> Cow<'_, str> {
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in spans {
        if span.start >= at {
            out.push_str(&text[at..span.start]);
            out.push_str(REDACTED);
            at = span.end;
        } else if span.end > at {
            at = span.end;
        }
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
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
    format!("hmac:{}", hex::encode(&digest[..16]))
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
mod tests;
