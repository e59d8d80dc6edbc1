//! `multipart/form-data` bodies (RFC 7578) by field: each field's name and a text value, or a
//! file described by its name, size and type, so that the summariser redacts by field name as
//! it does for JSON (`password` in a login form goes) and no file content is kept.

use serde_json::{Map, Value};

/// The boundary named in a `multipart/form-data` content type.
pub(super) fn boundary(content_type: &str) -> Option<&str> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
            .filter(|b| !b.is_empty())
    })
}

/// The fields of the captured part of a body, and whether the capture ended inside one.
pub(super) fn fields(captured: &[u8], boundary: &str) -> (Map<String, Value>, bool) {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut fields = Map::new();
    let Some(mut at) = find(captured, delimiter, 0) else {
        return (fields, !captured.is_empty());
    };
    loop {
        at += delimiter.len();
        let rest = captured.get(at..).unwrap_or_default();
        if rest.starts_with(b"--") {
            return (fields, false);
        }
        let Some(head_end) = find(captured, b"\r\n\r\n", at) else {
            return (fields, true);
        };
        let head = String::from_utf8_lossy(&captured[at..head_end]);
        let content_start = head_end + 4;
        let next = find(captured, delimiter, content_start);
        // The CRLF before the delimiter belongs to it.
        let content_end = next.map_or(captured.len(), |next| {
            next.saturating_sub(2).max(content_start)
        });
        let content = captured.get(content_start..content_end).unwrap_or_default();
        let (name, value) = field(&head, content, next.is_none());
        if !fields.contains_key(&name) {
            fields.insert(name, value);
        }
        match next {
            Some(next) => at = next,
            None => return (fields, true),
        }
    }
}

/// One field from its headers and content.
fn field(head: &str, content: &[u8], cut: bool) -> (String, Value) {
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in head.split("\r\n") {
        let Some((header, value)) = line.split_once(':') else {
            continue;
        };
        if header.trim().eq_ignore_ascii_case("content-disposition") {
            for param in value.split(';').skip(1) {
                if let Some((key, v)) = param.split_once('=') {
                    let v = v.trim().trim_matches('"').to_owned();
                    match key.trim().to_ascii_lowercase().as_str() {
                        "name" => name = Some(v),
                        "filename" => filename = Some(v),
                        _ => {}
                    }
                }
            }
        } else if header.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    let name = name.unwrap_or_else(|| "<unnamed>".to_owned());
    let size = if cut {
        format!("at least {} bytes", content.len())
    } else {
        format!("{} bytes", content.len())
    };
    let textual = content_type
        .as_deref()
        .is_none_or(|t| t.to_ascii_lowercase().starts_with("text/"));
    let value = match (filename, std::str::from_utf8(content)) {
        (None, Ok(text)) if textual => Value::String(text.to_owned()),
        (Some(file), _) => Value::String(format!(
            "<file {file:?}, {size}, {}>",
            content_type.as_deref().unwrap_or("no type")
        )),
        (None, _) => Value::String(format!("<binary {size}>")),
    };
    (name, value)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BODY: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nalice\r\n--XyZ\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nhunter2\r\n--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\x00\x01\r\n--XyZ--\r\n";

    #[test]
    fn fields_by_name_and_files_described() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\""),
            Some("XyZ")
        );
        assert_eq!(boundary("multipart/mixed; boundary=XyZ"), None);
        let (fields, cut) = fields(BODY, "XyZ");
        assert!(!cut);
        assert_eq!(
            Value::Object(fields),
            json!({"username": "alice", "password": "hunter2", "avatar": "<file \"me.png\", 6 bytes, image/png>"})
        );
    }

    #[test]
    fn a_cut_body_keeps_the_fields_read() {
        for end in 0..BODY.len() {
            let (fields, _) = fields(&BODY[..end], "XyZ");
            assert!(fields.len() <= 3);
        }
        let (fields, cut) = fields(&BODY[..100], "XyZ");
        assert!(cut);
        assert_eq!(fields["username"], "alice");
        // Odd shapes an attacker can send: no content, no final delimiter, no CRLF anywhere.
        for odd in [
            &b"--b\r\n\r\n--b"[..],
            b"--b\r\n\r\n--b--",
            b"--b--",
            b"--b",
            b"--b\r\n\r\n",
        ] {
            let _ = super::fields(odd, "b");
        }
    }
}
