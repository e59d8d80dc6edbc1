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
        "X-Auth-Token",
        "x-csrf-token",
        "X-Amz-Security-Token",
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
    assert_eq!(
        r.header_value("x-debug", "Bearer abcdefghijklmnop0123", false),
        "Bearer [REDACTED]"
    );
    assert_eq!(r.header_value("x-custom", "v", true), REDACTED);
    assert_eq!(
        Redaction::disabled().header_value("cookie", "a=b", true),
        "a=b"
    );
}

#[test]
fn default_words_and_pairs_are_sensitive_in_every_style() {
    let r = Redaction::default();
    for word in DEFAULT_SENSITIVE_WORDS {
        for name in [
            word.to_string(),
            word.to_ascii_uppercase(),
            format!("new_{word}"),
            format!("x-{word}"),
        ] {
            assert!(r.is_sensitive_key(&name), "{name}");
        }
    }
    for (a, b) in DEFAULT_SENSITIVE_PAIRS {
        for name in [
            format!("{a}_{b}"),
            format!("{a}-{b}"),
            format!("{a}{}", b.to_ascii_uppercase()),
            format!("{a}{b}"),
        ] {
            assert!(r.is_sensitive_key(&name), "{name}");
        }
    }
    assert!(!r.is_sensitive_key("username"));
    assert!(!r.is_sensitive_key("tokens_used"));
    assert!(!Redaction::disabled().is_sensitive_key("password"));
}

#[test]
fn the_vocabulary_can_grow_and_shrink() {
    let r = Redaction::default()
        .word("pin")
        .word_pair("national", "id")
        .allow_key("token_id")
        .without_word("signature");
    assert!(r.is_sensitive_key("card_pin"));
    assert!(r.is_sensitive_key("nationalId"));
    assert!(!r.is_sensitive_key("tokenId"));
    assert!(r.is_sensitive_key("token"));
    assert!(!r.is_sensitive_key("signature"));
    assert!(Redaction::default().is_sensitive_key("signature"));
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
    assert_eq!(
        r.query("clientSecret=x&client-id=y"),
        "clientSecret=[REDACTED]&client-id=y"
    );
    assert_eq!(
        r.query("note=Bearer+abcdefghijklmnop0123&page=1"),
        "note=[REDACTED]&page=1"
    );
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
