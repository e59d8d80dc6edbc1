//! Sensitive names: a key, header or query parameter name is split into words across naming
//! styles (`snake_case`, `kebab-case`, `camelCase`, `PascalCase`, `dotted.names`, `UPPER`), after
//! Unicode compatibility normalisation and case folding, then compared with a vocabulary by
//! word, by adjacent pair of words, and by compounds written as one word (`apikey`).

use super::normalize::{normalize, with_normalized};

/// Words that make any name holding them sensitive (`new_password`, `clientSecret`,
/// `X-Auth-Token`), unless the name ends in one of [`DEFAULT_NON_SECRET_SUFFIXES`].
pub const DEFAULT_SENSITIVE_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "passcode",
    "secret",
    "secrets",
    "token",
    "credential",
    "credentials",
    "authorization",
    "cookie",
    "signature",
    "jwt",
    "otp",
    "cvv",
    "cvc",
    "ssn",
];

/// Adjacent word pairs that make a name sensitive (`api_key`, `X-Api-Key`, `sessionId`,
/// `card_number`); each also matches written as one word (`apikey`, `sessionid`).
pub const DEFAULT_SENSITIVE_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("secret", "key"),
    ("private", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("master", "key"),
    ("auth", "key"),
    ("auth", "code"),
    ("session", "id"),
    ("session", "key"),
    ("card", "number"),
    ("credit", "card"),
    ("security", "code"),
];

/// Names that are sensitive only on their own (`{"auth": …}`, `{"pass": …}`), not as a word
/// of a longer name (`auth_method`).
pub const DEFAULT_SENSITIVE_NAMES: &[&str] = &["auth", "pass", "pin", "sig", "sid"];

/// A last word that makes a name describe a secret rather than hold one (`tokens_used` holds
/// no sensitive word anyway; `token_count`, `token_type`, `password_changed_at`,
/// `secret_length` are kept).
pub const DEFAULT_NON_SECRET_SUFFIXES: &[&str] = &[
    "count",
    "counts",
    "used",
    "type",
    "types",
    "length",
    "len",
    "limit",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "url",
    "uri",
    "endpoint",
    "hint",
    "at",
    "policy",
];

/// Parts of a single word that make it sensitive wherever they stand in it (`mypassword`,
/// `DBPASSWORD`, `xapikey`, `phpsessid`): compounds too specific to mean anything else.
const SENSITIVE_INFIXES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "accesstoken",
    "refreshtoken",
    "authtoken",
    "idtoken",
    "sessiontoken",
    "clientsecret",
    "sessionid",
    "sessid",
    "credential",
];

/// The vocabulary one [`Redaction`](super::Redaction) compares names with.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Vocabulary {
    words: Vec<String>,
    pairs: Vec<(String, String)>,
    /// Whole names (normalised), sensitive on their own.
    names: Vec<String>,
    /// Whole names (normalised) that are never sensitive, whatever their words.
    allowed: Vec<String>,
    non_secret_suffixes: Vec<String>,
    index: Index,
}

impl std::fmt::Debug for Vocabulary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vocabulary")
            .field("words", &self.words)
            .field("pairs", &self.pairs)
            .field("names", &self.names)
            .field("allowed", &self.allowed)
            .field("non_secret_suffixes", &self.non_secret_suffixes)
            .finish()
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        let mut vocabulary = Vocabulary {
            words: owned(DEFAULT_SENSITIVE_WORDS),
            pairs: DEFAULT_SENSITIVE_PAIRS
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
            names: owned(DEFAULT_SENSITIVE_NAMES),
            allowed: Vec::new(),
            non_secret_suffixes: owned(DEFAULT_NON_SECRET_SUFFIXES),
            index: Index::default(),
        };
        vocabulary.reindex();
        vocabulary
    }
}

/// Strings grouped by their first byte, so a word is compared only with the entries that
/// start as it does (one or two, not the whole list).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ByFirstByte<T> {
    entries: Vec<T>,
    ranges: Vec<(u16, u16)>,
}

impl<T> Default for ByFirstByte<T> {
    fn default() -> Self {
        ByFirstByte {
            entries: Vec::new(),
            ranges: vec![(0, 0); 256],
        }
    }
}

impl<T: Clone> ByFirstByte<T> {
    fn new(items: &[T], key: impl Fn(&T) -> u8) -> Self {
        let mut entries = items.to_vec();
        entries.sort_by_key(&key);
        let mut ranges = vec![(0u16, 0u16); 256];
        for (i, item) in entries.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            let range = &mut ranges[usize::from(key(item))];
            if range.0 == range.1 {
                *range = (i, i);
            }
            range.1 = i.saturating_add(1);
        }
        ByFirstByte { entries, ranges }
    }

    fn starting_with(&self, byte: u8) -> &[T] {
        let (start, end) = self.ranges[usize::from(byte)];
        self.entries
            .get(usize::from(start)..usize::from(end))
            .unwrap_or_default()
    }
}

/// A pair of adjacent words, as bytes.
type Pair = (Box<[u8]>, Box<[u8]>);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Index {
    words: ByFirstByte<Box<[u8]>>,
    infixes: ByFirstByte<&'static [u8]>,
    pairs_by_first: ByFirstByte<Pair>,
    pairs_by_second: ByFirstByte<Pair>,
}

fn first(bytes: &[u8]) -> u8 {
    bytes.first().copied().unwrap_or(0)
}

impl Vocabulary {
    fn reindex(&mut self) {
        let bytes = |s: &String| s.as_bytes().to_vec().into_boxed_slice();
        let words: Vec<Box<[u8]>> = self.words.iter().map(bytes).collect();
        let pairs: Vec<Pair> = self
            .pairs
            .iter()
            .map(|(a, b)| (bytes(a), bytes(b)))
            .collect();
        let infixes: Vec<&'static [u8]> = SENSITIVE_INFIXES.iter().map(|s| s.as_bytes()).collect();
        self.index = Index {
            words: ByFirstByte::new(&words, |w| first(w)),
            infixes: ByFirstByte::new(&infixes, |w| first(w)),
            pairs_by_first: ByFirstByte::new(&pairs, |(a, _)| first(a)),
            pairs_by_second: ByFirstByte::new(&pairs, |(_, b)| first(b)),
        };
    }

    /// Adds a whole name.
    pub fn add_name(&mut self, name: &str) {
        self.names.push(normalize(name));
    }

    /// Adds a word.
    pub fn add_word(&mut self, word: &str) {
        self.words.push(normalize(word));
        self.reindex();
    }

    /// Adds a pair of adjacent words.
    pub fn add_pair(&mut self, first: &str, second: &str) {
        self.pairs.push((normalize(first), normalize(second)));
        self.reindex();
    }

    /// Allows a whole name.
    pub fn allow(&mut self, name: &str) {
        self.allowed.push(normalize(name));
    }

    /// Removes a word from the words, names and pairs.
    pub fn remove_word(&mut self, word: &str) {
        let word = normalize(word);
        self.words.retain(|w| *w != word);
        self.names.retain(|w| *w != word);
        self.pairs.retain(|(a, b)| *a != word && *b != word);
        self.reindex();
    }

    /// Whether `name` names a secret.
    ///
    /// Checked twice when the name has capitals: split at camelCase humps (`clientSecret`), and
    /// folded whole (`PassWord`, or `toKen` spelt with the Kelvin sign, whose capital would
    /// otherwise split the word).
    pub fn is_sensitive(&self, name: &str) -> bool {
        with_normalized(name, true, |normal| self.is_sensitive_normal(normal))
            || (name.chars().any(char::is_uppercase)
                && with_normalized(name, false, |normal| self.is_sensitive_normal(normal)))
    }

    /// Runs for every key of every body: bytes, and only the entries that start with the
    /// word's first byte, keep it to a few hundred instructions for an ordinary name.
    fn is_sensitive_normal(&self, normal: &[u8]) -> bool {
        if normal.is_empty() || self.allowed.iter().any(|n| eq(n.as_bytes(), normal)) {
            return false;
        }
        if self.names.iter().any(|n| eq(n.as_bytes(), normal)) {
            return true;
        }
        if let Some(last_start) = normal.iter().rposition(|&b| b == b'_') {
            let last = &normal[last_start + 1..];
            if self
                .non_secret_suffixes
                .iter()
                .any(|s| eq(s.as_bytes(), last))
            {
                return false;
            }
        }
        let index = &self.index;
        let mut previous: &[u8] = &[];
        for word in normal.split(|&b| b == b'_') {
            let Some(&head) = word.first() else {
                continue;
            };
            if index.words.starting_with(head).iter().any(|w| eq(w, word)) {
                return true;
            }
            if word.len() >= 6
                && (0..=word.len() - 6).any(|i| {
                    index
                        .infixes
                        .starting_with(word[i])
                        .iter()
                        .any(|part| word[i..].starts_with(part))
                })
            {
                return true;
            }
            let compound = index
                .pairs_by_first
                .starting_with(head)
                .iter()
                .any(|(a, b)| {
                    word.len() == a.len() + b.len() && word.starts_with(a) && word.ends_with(b)
                });
            let pair = index
                .pairs_by_second
                .starting_with(head)
                .iter()
                .any(|(a, b)| eq(b, word) && eq(a, previous));
            if compound || pair {
                return true;
            }
            previous = word;
        }
        false
    }
}

/// Byte equality that rejects on length and first byte before comparing the rest.
#[inline]
fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.first() == b.first() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words_across_styles() {
        for (name, words) in [
            ("new_password", "new_password"),
            ("clientSecret", "client_secret"),
            ("X-Api-Key", "x_api_key"),
            ("APIKey", "api_key"),
            ("user.address.street", "user_address_street"),
            ("HTTPRequestToken", "http_request_token"),
            ("oauth2Token", "oauth2_token"),
            ("__private__", "private"),
            ("ＰＡＳＳＷＯＲＤ", "password"),
            ("ſecret", "secret"),
            ("\u{212A}ey", "key"),
            ("APİ_KEY", "api_key"),
            ("apı_key", "api_key"),
        ] {
            assert_eq!(normalize(name), words, "{name}");
        }
    }

    #[test]
    fn real_client_names_are_sensitive() {
        let v = Vocabulary::default();
        for name in [
            "password",
            "new_password",
            "newPassword",
            "NEW-PASSWORD",
            "passwordConfirmation",
            "client_secret",
            "clientSecret",
            "client-secret",
            "AWS_SECRET_ACCESS_KEY",
            "access_token",
            "accessToken",
            "refresh-token",
            "id_token",
            "X-Auth-Token",
            "x-csrf-token",
            "X-Api-Key",
            "api_key",
            "apiKey",
            "ApiKey",
            "APIKEY",
            "apikey",
            "private_key",
            "privateKey",
            "signing_key",
            "session_id",
            "sessionId",
            "PHPSESSID",
            "JSESSIONID",
            "card_number",
            "cardNumber",
            "creditCard",
            "cvv",
            "ssn",
            "db.password",
            "mypassword",
            "userPasswd",
            "authorization",
            "Proxy-Authorization",
            "set-cookie",
            "auth",
            "pass",
            "credentials",
            "aws_credentials",
            "signature",
            "X-Amz-Security-Token",
            "otp",
            "passphrase",
            "ＰＡＳＳＷＯＲＤ",
            "ſecret",
            "API_\u{212A}EY",
            "TO\u{212A}EN",
            "APİ_KEY",
            "apı_key",
        ] {
            assert!(v.is_sensitive(name), "{name} should be sensitive");
        }
    }

    #[test]
    fn neighbours_of_secrets_are_not() {
        let v = Vocabulary::default();
        for name in [
            "username",
            "tokens_used",
            "max_tokens",
            "token_count",
            "token_type",
            "secretary_name",
            "password_changed_at",
            "author",
            "auth_method",
            "session_count",
            "client_id",
            "keyboard",
            "monkey",
            "passenger",
            "pinned",
            "signed",
            "description",
            "cost_usd",
            "email",
            "token_url",
            "password_hint",
            "",
            "_",
        ] {
            assert!(!v.is_sensitive(name), "{name} should not be sensitive");
        }
    }
}
