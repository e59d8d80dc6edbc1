//! Sensitive names: a key, header or query parameter name is split into words across naming
//! styles (`snake_case`, `kebab-case`, `camelCase`, `PascalCase`, `dotted.names`, `UPPER`), after
//! Unicode compatibility normalisation and case folding, then compared with a vocabulary by
//! word, by adjacent pair of words, and by compounds written as one word (`apikey`).

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Vocabulary {
    pub words: Vec<String>,
    pub pairs: Vec<(String, String)>,
    /// Whole names (normalised), sensitive on their own.
    pub names: Vec<String>,
    /// Whole names (normalised) that are never sensitive, whatever their words.
    pub allowed: Vec<String>,
    pub non_secret_suffixes: Vec<String>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        let owned = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        Vocabulary {
            words: owned(DEFAULT_SENSITIVE_WORDS),
            pairs: DEFAULT_SENSITIVE_PAIRS
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
            names: owned(DEFAULT_SENSITIVE_NAMES),
            allowed: Vec::new(),
            non_secret_suffixes: owned(DEFAULT_NON_SECRET_SUFFIXES),
        }
    }
}

impl Vocabulary {
    /// Whether `name` names a secret.
    pub fn is_sensitive(&self, name: &str) -> bool {
        let normal = normalize(name);
        if self.allowed.contains(&normal) {
            return false;
        }
        if self.names.contains(&normal) {
            return true;
        }
        let words: Vec<&str> = normal.split('_').filter(|w| !w.is_empty()).collect();
        let Some(last) = words.last() else {
            return false;
        };
        if words.len() > 1 && self.non_secret_suffixes.iter().any(|s| s == last) {
            return false;
        }
        let word_hit = words.iter().any(|word| {
            self.words.iter().any(|w| w == word)
                || SENSITIVE_INFIXES.iter().any(|part| word.contains(part))
                || self.pairs.iter().any(|(a, b)| {
                    word.len() == a.len() + b.len()
                        && word.starts_with(a.as_str())
                        && word.ends_with(b.as_str())
                })
        });
        word_hit
            || words.windows(2).any(|pair| {
                self.pairs
                    .iter()
                    .any(|(a, b)| pair[0] == a.as_str() && pair[1] == b.as_str())
            })
    }
}

/// The name as lower-case words joined by `_`: `X-Api-Key` → `x_api_key`, `clientSecret` →
/// `client_secret`, `APIKey` → `api_key`, `ＰＡＳＳＷＯＲＤ` → `password`.
pub fn normalize(name: &str) -> String {
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
        let camel = c.is_uppercase()
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
