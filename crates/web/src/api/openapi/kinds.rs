//! The kinds of value the API takes, as JSON Schema, each saying exactly what the server
//! accepts: not less (a client following the document is never refused) and not more (what the
//! document calls invalid is refused). The fuzzer holds the server to both.

use serde_json::{Value as Json, json};
use tidings_core::attribute::{DECIMAL_TEXT, INTEGER_TEXT};

/// Rust's white space (`char::is_whitespace`, what `str::trim` strips), as the body of a regex
/// character class.
pub const WS: &str = r"\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

pub fn schema_ref(name: &str) -> Json {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Text of at most `max` characters.
pub fn text(max: usize) -> Json {
    json!({"type": "string", "maxLength": max})
}

/// Text, or `null` (blank text counts as `null` where a field can be emptied).
pub fn text_or_null(max: usize) -> Json {
    json!({"type": ["string", "null"], "maxLength": max})
}

/// Text with at least one character that is not white space.
pub fn non_blank(max: usize) -> Json {
    json!({"type": "string", "maxLength": max, "pattern": format!("[^{WS}]")})
}

/// Text with no `{{`: personalisation tags must name an attribute that exists, which a schema
/// cannot say, so the document leaves them out (they are described in the field's text).
pub fn without_tags(schema: Json, description: &str) -> Json {
    const NO_TAG: &str = "^([^{]|\\{[^{])*\\{?$";
    match schema {
        // One pattern per schema: merged where the text has none, beside it where it has one.
        Json::Object(mut s) if !s.contains_key("pattern") => {
            s.insert("pattern".into(), NO_TAG.into());
            s.insert("description".into(), description.into());
            Json::Object(s)
        }
        other => json!({"allOf": [other, {"pattern": NO_TAG}], "description": description}),
    }
}

/// A whole number: a JSON integer or its digits as text.
pub fn integer() -> Json {
    json!({"anyOf": [
        {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
        {"type": "string", "pattern": INTEGER_TEXT},
    ]})
}

/// A number: a JSON number or decimal text.
pub fn decimal() -> Json {
    json!({"anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_TEXT}]})
}

/// `true` or `false`, as JSON or as text.
pub fn boolean() -> Json {
    json!({"anyOf": [{"type": "boolean"}, {"enum": ["true", "false"]}]})
}

/// A time: UNIX seconds (a JSON integer or its digits) or RFC 3339 text.
pub fn time() -> Json {
    json!({"anyOf": [
        {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
        {"type": "string", "pattern": INTEGER_TEXT},
        {"type": "string", "format": "date-time"},
    ], "description": "UNIX seconds, or RFC 3339 text"})
}

/// The id of a record: a JSON integer or its digits as text.
pub fn id() -> Json {
    json!({"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": i64::MAX},
        {"type": "string", "pattern": "^[0-9]{1,18}$"},
    ]})
}

/// One of these ids, as a JSON integer or its digits as text.
pub fn one_of_ids(ids: &[i64]) -> Json {
    let texts: Vec<String> = ids.iter().map(i64::to_string).collect();
    json!({"anyOf": [{"enum": ids}, {"enum": texts}]})
}

/// `schema`, or `null`.
pub fn or_null(schema: Json) -> Json {
    json!({"anyOf": [schema, {"type": "null"}]})
}
