//! The text Tidings takes in: how long each kind of field may be, and the one check that
//! enforces it, so that SQLite and PostgreSQL answer the same.
//!
//! PostgreSQL refuses a NUL character in text (SQLite stores it) and cannot index a value of more
//! than about 2,700 bytes; both would surface as a server error. Every text field is therefore
//! checked here before it reaches storage: no NUL, and at most its documented number of
//! characters (`docs/limits.md` lists them). The longest indexed limit, 255 characters, is at
//! most 1,020 bytes.

use crate::error::FieldError;

/// Names: tags, segments, teammates, API tokens, a workspace, a message's title.
pub const NAME: usize = 255;
/// An email address (RFC 5321 allows 254 characters).
pub const EMAIL: usize = 254;
/// A contact's `external_id` (the company's own user id).
pub const EXTERNAL_ID: usize = 255;
/// Other short built-in contact fields: phone, language, browser, location, time zone.
pub const SHORT: usize = 255;
/// An address: an avatar, an allowed Messenger origin.
pub const URL: usize = 2_048;
/// A custom attribute's string value, and a string in a filter.
pub const VALUE: usize = 1_000;
/// A message's subject.
pub const SUBJECT: usize = 255;
/// A message body or a conversation reply (Markdown, before rendering).
pub const BODY: usize = 50_000;
/// A password (long passphrases are welcome; Argon2 reads them all).
pub const PASSWORD: usize = 1_000;

/// Checks one text value.
///
/// # Errors
/// On `field`, when the text holds a NUL character or is longer than `max` characters.
pub fn check(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.contains('\0') {
        return Err(FieldError::invalid(field, format!("{field} must not contain a NUL character (\\u0000)")));
    }
    // Counting stops at the first character past the limit: a 2 MB value costs no more than a short one.
    if value.chars().nth(max).is_some() {
        return Err(FieldError::invalid(field, format!("{field} is too long: at most {max} characters")));
    }
    Ok(())
}

/// The path of the first string (or object key) holding a NUL character anywhere inside `value`,
/// named from `path` as the API names fields (`custom_attributes.plan`, `query.value[1].value`).
pub fn find_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::String(s) => s.contains('\0').then(|| path.to_owned()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| find_nul(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') { Some(join(&k.replace('\0', "\\u0000"))) } else { find_nul(v, &join(k)) }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_and_length_are_refused_by_name() {
        assert!(check("name", "Ada", NAME).is_ok());
        assert!(check("name", &"é".repeat(NAME), NAME).is_ok(), "characters, not bytes");
        let long = check("name", &"a".repeat(NAME + 1), NAME).unwrap_err();
        assert_eq!(long.field, "name");
        assert!(long.message.contains("255"), "{}", long.message);
        let nul = check("tags[0]", "a\0b", NAME).unwrap_err();
        assert_eq!(nul.field, "tags[0]");
    }

    #[test]
    fn find_nul_names_the_path() {
        assert_eq!(find_nul(&json!({"a": "ok", "b": [1, {"c": "x\u{0}"}]}), ""), Some("b[1].c".into()));
        assert_eq!(find_nul(&json!({"query": {"value": ["\u{0}"]}}), ""), Some("query.value[0]".into()));
        assert_eq!(find_nul(&json!({"k\u{0}": 1}), ""), Some("k\\u0000".into()));
        assert_eq!(find_nul(&json!({"a": ["fine", 2, null]}), ""), None);
    }
}
