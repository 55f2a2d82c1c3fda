//! Contact attributes: the built-in catalogue, custom attribute declarations, and the typed
//! values both carry.
//!
//! Every write of an attribute goes through [`DataType::coerce`], so the database only ever holds
//! values of the declared type. The filter compiler relies on that to cast custom attributes in SQL
//! without a chance of a failing cast.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The type of an attribute. Once declared, it never changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    String,
    Integer,
    Float,
    Boolean,
    Date,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "integer",
            DataType::Float => "float",
            DataType::Boolean => "boolean",
            DataType::Date => "date",
        }
    }

    /// Parses a type name as the data attributes API spells it (`datetime` is a synonym of `date`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => DataType::String,
            "integer" => DataType::Integer,
            "float" => DataType::Float,
            "boolean" => DataType::Boolean,
            "date" | "datetime" => DataType::Date,
            _ => return None,
        })
    }

    /// Checks a JSON value against this type and converts it. `null` means "no value".
    ///
    /// Integers and dates also accept strings of digits (the official examples send dates as
    /// strings), dates accept RFC 3339 text, and floats accept integers and decimal text. The
    /// text forms are exact, with no padding: `/openapi.json` describes them with the patterns
    /// [`INTEGER_TEXT`] and [`DECIMAL_TEXT`], and accepting more than it says would make the
    /// document wrong.
    ///
    /// # Errors
    /// A message saying what was expected, for the caller to attach to the field name.
    pub fn coerce(self, json: &Json) -> Result<Option<Value>, String> {
        if json.is_null() {
            return Ok(None);
        }
        let wrong = || format!("must be a {}", self.describe());
        let value = match self {
            DataType::String => Value::Str(json.as_str().ok_or_else(wrong)?.to_owned()),
            DataType::Integer => Value::Int(integer(json).ok_or_else(wrong)?),
            DataType::Float => {
                let f = match json {
                    Json::Number(n) => n.as_f64(),
                    Json::String(s) if is_decimal_text(s) => s.parse::<f64>().ok(),
                    _ => None,
                }
                .filter(|f| f.is_finite())
                .ok_or_else(wrong)?;
                Value::Float(f)
            }
            DataType::Boolean => Value::Bool(match json {
                Json::Bool(b) => *b,
                Json::String(s) if s == "true" => true,
                Json::String(s) if s == "false" => false,
                _ => return Err(wrong()),
            }),
            DataType::Date => Value::Date(date(json).ok_or_else(wrong)?),
        };
        Ok(Some(value))
    }

    fn describe(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::Integer => "whole number",
            DataType::Float => "number",
            DataType::Boolean => "boolean (true or false)",
            DataType::Date => "date (UNIX seconds or RFC 3339 text)",
        }
    }
}

/// A whole number written as text: an optional `-` and 1 to 18 digits (so it always fits).
pub const INTEGER_TEXT: &str = "^-?[0-9]{1,18}$";
/// A decimal number written as text: up to 15 digits before and after the point, and an
/// exponent of up to two digits (so it is always finite).
pub const DECIMAL_TEXT: &str = r"^-?([0-9]{1,15}(\.[0-9]{0,15})?|\.[0-9]{1,15})([eE][+-]?[0-9]{1,2})?$";

fn digits(s: &str, min: usize, max: usize) -> (usize, &str) {
    let n = s.bytes().take(max + 1).take_while(u8::is_ascii_digit).count();
    if n < min || n > max { (usize::MAX, s) } else { (n, &s[n..]) }
}

fn is_integer_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    matches!(digits(s, 1, 18), (n, "") if n != usize::MAX)
}

fn is_decimal_text(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (whole, rest) = digits(s, 0, 15);
    if whole == usize::MAX {
        return false;
    }
    let (fraction, rest) = match rest.strip_prefix('.') {
        Some(r) => match digits(r, if whole == 0 { 1 } else { 0 }, 15) {
            (usize::MAX, _) => return false,
            (n, r) => (n, r),
        },
        None => (0, rest),
    };
    if whole == 0 && fraction == 0 {
        return false;
    }
    match rest.strip_prefix(['e', 'E']) {
        None => rest.is_empty(),
        Some(exp) => matches!(digits(exp.strip_prefix(['+', '-']).unwrap_or(exp), 1, 2), (n, "") if n != usize::MAX),
    }
}

/// A JSON number that is whole (`3`, or `3.0` as JSON Schema counts it) and fits an `i64`.
/// Written with a fraction, it must be below 2^53 in size, where every whole number is exact: a
/// larger one may stand for a number past the `i64` range, rounded.
pub fn whole_number(n: &serde_json::Number) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < EXACT).map(|f| f as i64))
}

fn integer(json: &Json) -> Option<i64> {
    match json {
        Json::Number(n) => whole_number(n),
        Json::String(s) if is_integer_text(s) => s.parse().ok(),
        _ => None,
    }
}

fn date(json: &Json) -> Option<i64> {
    if let Some(i) = integer(json) {
        return Some(i);
    }
    let text = json.as_str()?;
    text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// A typed attribute value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// UNIX seconds.
    Date(i64),
}

impl Value {
    pub fn to_json(&self) -> Json {
        match self {
            Value::Str(s) => Json::from(s.as_str()),
            Value::Int(i) | Value::Date(i) => Json::from(*i),
            Value::Float(f) => Json::from(*f),
            Value::Bool(b) => Json::from(*b),
        }
    }
}

/// Where a built-in attribute lives and how it may be used.
#[derive(Debug, PartialEq, Eq)]
pub struct BuiltIn {
    /// The name used by the API and the filter language, e.g. `location.city`.
    pub name: &'static str,
    /// The column of the `contacts` table. Only ever a constant of this catalogue.
    pub column: &'static str,
    pub data_type: DataType,
    pub label: &'static str,
    pub description: &'static str,
}

macro_rules! builtins {
    ($( $name:literal, $column:literal, $ty:ident, $label:literal, $desc:literal; )*) => {
        /// The built-in contact attributes that can be searched and filtered on.
        pub const BUILT_INS: &[BuiltIn] = &[
            $( BuiltIn { name: $name, column: $column, data_type: DataType::$ty, label: $label, description: $desc }, )*
        ];
    };
}

builtins! {
    "role", "role", String, "Role", "user or lead";
    "name", "name", String, "Name", "The contact's full name";
    "email", "email", String, "Email", "The contact's email address";
    "email_domain", "email_domain", String, "Email domain", "The part of the email after the @";
    "phone", "phone", String, "Phone", "The contact's phone number";
    "external_id", "external_id", String, "User ID", "Your own identifier for the user";
    "avatar", "avatar", String, "Avatar", "URL of the contact's picture";
    "owner_id", "owner_id", Integer, "Owner", "The teammate who owns the contact";
    "created_at", "created_at", Date, "First seen", "When the contact was created";
    "signed_up_at", "signed_up_at", Date, "Signed up", "When the user signed up";
    "updated_at", "updated_at", Date, "Updated", "When the contact last changed";
    "last_seen_at", "last_seen_at", Date, "Last seen", "When the contact was last seen";
    "last_contacted_at", "last_contacted_at", Date, "Last contacted", "When a teammate last messaged the contact";
    "last_replied_at", "last_replied_at", Date, "Last replied", "When the contact last replied";
    "last_email_opened_at", "last_email_opened_at", Date, "Last opened email", "When the contact last opened an email";
    "last_email_clicked_at", "last_email_clicked_at", Date, "Last clicked email", "When the contact last clicked a link in an email";
    "language_override", "language_override", String, "Language override", "The language the Messenger uses";
    "browser", "browser", String, "Browser", "The contact's browser";
    "browser_language", "browser_language", String, "Browser language", "The browser's language";
    "os", "os", String, "OS", "The contact's operating system";
    "location.country", "location_country", String, "Country", "Country";
    "location.region", "location_region", String, "Region", "Region";
    "location.city", "location_city", String, "City", "City";
    "timezone", "timezone", String, "Time zone", "The contact's IANA time zone, e.g. Europe/Paris";
    "unsubscribed_from_emails", "unsubscribed_from_emails", Boolean, "Unsubscribed from emails", "The contact asked not to receive email";
    "marked_email_as_spam", "marked_email_as_spam", Boolean, "Marked email as spam", "The contact reported an email as spam";
    "has_hard_bounced", "has_hard_bounced", Boolean, "Hard bounced", "Email to the contact bounced permanently";
}

/// The contact's own id, searchable but not listed among the data attributes.
pub static ID: BuiltIn = BuiltIn {
    name: "id",
    column: "id",
    data_type: DataType::Integer,
    label: "Id",
    description: "The contact's Tidings id",
};

/// Looks up a built-in attribute by its API name.
pub fn builtin(name: &str) -> Option<&'static BuiltIn> {
    BUILT_INS.iter().find(|b| b.name == name)
}

/// A custom attribute declared by a workspace (the `data_attributes` API).
#[derive(Clone, Debug, PartialEq)]
pub struct CustomAttribute {
    pub id: i64,
    pub name: String,
    pub data_type: DataType,
    pub label: String,
    pub description: Option<String>,
    pub options: Vec<String>,
    pub messenger_writable: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub admin_id: Option<i64>,
}

impl CustomAttribute {
    /// A new, unsaved attribute with its name as label and no options (storage assigns the id).
    pub fn new(name: &str, data_type: DataType) -> Self {
        CustomAttribute {
            id: 0,
            name: name.to_owned(),
            data_type,
            label: name.to_owned(),
            description: None,
            options: vec![],
            messenger_writable: false,
            archived: false,
            created_at: 0,
            updated_at: 0,
            admin_id: None,
        }
    }
}

/// Checks the name of a new custom attribute.
///
/// Names may hold letters, digits, spaces, underscores, hyphens and currency symbols: never a
/// quote, a dot or a bracket, so a name can always be used as a JSON object key and a JSON path
/// step without escaping.
///
/// # Errors
/// The message Intercom gives for a bad name.
pub fn validate_custom_name(name: &str) -> Result<(), String> {
    let ok = name.chars().any(|c| c != ' ')
        && name.chars().count() <= 190
        && name.chars().all(|c| CUSTOM_NAME_CHARS.iter().any(|(from, to)| (*from..=*to).contains(&c)));
    if ok {
        Ok(())
    } else {
        Err("Your name for this attribute must only contain alphanumeric characters, currency symbols, and hyphens"
            .into())
    }
}

/// The characters a custom attribute's name may use, as ranges: letters and digits (ASCII and
/// Latin-1), space, `_`, `-` and currency symbols. `/openapi.json` turns this into its pattern.
pub const CUSTOM_NAME_CHARS: &[(char, char)] = &[
    ('A', 'Z'),
    ('a', 'z'),
    ('0', '9'),
    ('À', 'Ö'),
    ('Ø', 'ö'),
    ('ø', 'ÿ'),
    (' ', ' '),
    ('_', '_'),
    ('-', '-'),
    ('$', '$'),
    ('¢', '£'),
    ('¥', '¥'),
    ('€', '€'),
    ('₹', '₹'),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coerce_accepts_documented_forms_and_rejects_others() {
        assert_eq!(DataType::Date.coerce(&json!("1306054154")), Ok(Some(Value::Date(1306054154))));
        assert_eq!(DataType::Date.coerce(&json!("2020-01-01T00:00:00Z")), Ok(Some(Value::Date(1577836800))));
        assert_eq!(DataType::Float.coerce(&json!(3)), Ok(Some(Value::Float(3.0))));
        assert_eq!(DataType::Boolean.coerce(&json!("true")), Ok(Some(Value::Bool(true))));
        assert_eq!(DataType::String.coerce(&json!(null)), Ok(None));
        assert!(DataType::Integer.coerce(&json!("foobar")).is_err());
        assert!(DataType::Integer.coerce(&json!(1.5)).is_err());
        assert!(DataType::String.coerce(&json!(12)).is_err());
        assert!(DataType::Boolean.coerce(&json!(1)).is_err());
    }

    #[test]
    fn number_text_is_exactly_what_the_patterns_say() {
        for ok in ["0", "-7", "123456789012345678"] {
            assert!(is_integer_text(ok), "{ok}");
        }
        for bad in ["", "-", " 1", "1 ", "+1", "1234567890123456789", "1.0", "٣"] {
            assert!(!is_integer_text(bad), "{bad}");
        }
        for ok in ["1", "-1.5", ".5", "5.", "1e9", "2.5E-3", "-0.0e+12", "123456789012345.123456789012345"] {
            assert!(is_decimal_text(ok), "{ok}");
        }
        for bad in ["", ".", "-", "e5", "1e", "1e123", " 1", "inf", "NaN", "1,5", "0x1", "1234567890123456"] {
            assert!(!is_decimal_text(bad), "{bad}");
        }
    }

    #[test]
    fn custom_names_cannot_break_json_paths() {
        assert!(validate_custom_name("Mithril Shirt").is_ok());
        assert!(validate_custom_name("plan-tier_2").is_ok());
        assert!(validate_custom_name("Prix en € ÉTÉ").is_ok());
        for bad in ["", "  ", "a.b", "a\"b", "a[0]", "a'b"] {
            assert!(validate_custom_name(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn every_builtin_is_found_by_name() {
        for b in BUILT_INS {
            assert_eq!(builtin(b.name).map(|x| x.column), Some(b.column));
        }
    }
}
