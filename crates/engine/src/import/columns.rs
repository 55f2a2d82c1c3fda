//! What an import's columns mean before anything is written: the columns (CSV headers, or keys
//! of `custom_attributes` in JSON lines) that name no attribute of the workspace, the type each
//! one's values suggest, and the spellings a person's file uses for booleans and dates.
//!
//! A whole file is read to guess a type, so one odd value late in it gives `string` rather than a
//! type half the rows would then fail.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value as Json;
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::INPUT_FIELDS;

use super::{Format, ImportError};

/// Columns every import understands besides the contact's fields: what an export writes and
/// Tidings sets itself, and the tags.
const IGNORED: &[&str] = &["id", "created_at", "updated_at"];
pub const TAGS: &str = "tags";

/// Whether a CSV column (or JSON `custom_attributes` key) names something the import knows.
pub fn known(name: &str, custom: &[CustomAttribute]) -> bool {
    let key = name.strip_prefix("custom_attributes.").unwrap_or(name);
    (key == name && (INPUT_FIELDS.contains(&key) || IGNORED.contains(&key) || key == TAGS))
        || custom.iter().any(|a| a.name == key)
}

/// The name of the attribute a column sets.
pub fn attribute_name(column: &str) -> &str {
    column.strip_prefix("custom_attributes.").unwrap_or(column)
}

/// Which types every value seen so far fits.
#[derive(Clone, Copy)]
struct Guess {
    any: bool,
    boolean: bool,
    integer: bool,
    float: bool,
    date: bool,
}

impl Default for Guess {
    fn default() -> Self {
        Guess { any: false, boolean: true, integer: true, float: true, date: true }
    }
}

impl Guess {
    fn see(&mut self, value: &Json) {
        let (boolean, integer, float, date) = match value {
            Json::Null => return,
            Json::String(s) if s.trim().is_empty() => return,
            Json::Bool(_) => (true, false, false, false),
            Json::Number(n) => {
                let whole = n.as_i64().is_some();
                (false, whole, true, whole)
            }
            Json::String(s) => {
                let s = s.trim();
                let text = Json::String(s.to_owned());
                (
                    boolean_word(s).is_some(),
                    DataType::Integer.coerce(&text).is_ok(),
                    DataType::Float.coerce(&text).is_ok(),
                    DataType::Integer.coerce(&text).is_ok() || date_text(s).is_some(),
                )
            }
            Json::Array(_) | Json::Object(_) => (false, false, false, false),
        };
        self.any = true;
        self.boolean &= boolean;
        self.integer &= integer;
        self.float &= float;
        self.date &= date;
    }

    /// The type for a column named `name`. Whole numbers are dates only in a column named as
    /// Intercom names dates (`…_at`, `…_date`): otherwise a count would become a date.
    fn data_type(self, name: &str) -> DataType {
        let dated = name.ends_with("_at") || name.ends_with("_date");
        match self {
            Guess { any: false, .. } => DataType::String,
            Guess { boolean: true, .. } => DataType::Boolean,
            Guess { integer: true, .. } if dated => DataType::Date,
            Guess { integer: true, .. } => DataType::Integer,
            Guess { float: true, .. } => DataType::Float,
            Guess { date: true, .. } => DataType::Date,
            _ => DataType::String,
        }
    }
}

/// `true`/`false`/`yes`/`no` in any case.
fn boolean_word(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

/// RFC 3339 text, or an ISO date (`2027-01-15`, midnight UTC), as UNIX seconds.
fn date_text(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_second());
    }
    let date = s.parse::<jiff::civil::Date>().ok()?;
    date.to_zoned(jiff::tz::TimeZone::UTC).ok().map(|z| z.timestamp().as_second())
}

/// A value as the attribute's type reads it: spreadsheets write `yes` and `2027-01-15` where the
/// API takes `true` and UNIX seconds or RFC 3339. Anything else is left for validation to judge.
pub fn normalise(data_type: DataType, value: &Json) -> Json {
    let Json::String(s) = value else { return value.clone() };
    let s = s.trim();
    match data_type {
        DataType::Boolean => boolean_word(s).map_or_else(|| value.clone(), Json::Bool),
        DataType::Date if DataType::Integer.coerce(&Json::String(s.to_owned())).is_err() => {
            date_text(s).map_or_else(|| value.clone(), Json::from)
        }
        _ => value.clone(),
    }
}

/// The tag names of a `tags` value: comma-separated text, or (JSON lines) an array of names.
///
/// # Errors
/// When the value is neither, or a name is too long or holds a NUL.
pub fn tag_names(value: &Json) -> Result<Vec<String>, String> {
    let names: Vec<&str> = match value {
        Json::Null => Vec::new(),
        Json::String(s) => s.split(',').collect(),
        Json::Array(items) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| "tags must be tag names (strings)".to_owned()))
            .collect::<Result<_, _>>()?,
        _ => return Err("tags must be comma-separated text or an array of tag names".into()),
    };
    let mut out: Vec<String> = Vec::new();
    for name in names {
        tidings_core::text::check("tags", name, tidings_core::text::NAME).map_err(|e| e.message)?;
        let name = name.trim();
        if !name.is_empty() && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

/// A CSV file's header row as written (trimmed).
///
/// # Errors
/// When the row cannot be read.
pub(crate) fn raw_headers<R: std::io::Read>(csv: &mut csv::Reader<R>) -> Result<Vec<String>, ImportError> {
    Ok(csv
        .headers()
        .map_err(|e| ImportError::Unreadable(format!("cannot read the header row: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect())
}

/// A CSV file's header row, each column renamed as `map` says, and `None` for the columns in
/// `skip` (named as the file names them).
///
/// # Errors
/// When the row cannot be read, or `map` names a column the file does not have.
pub(crate) fn headers<R: std::io::Read>(
    csv: &mut csv::Reader<R>,
    map: &[(String, String)],
    skip: &[String],
) -> Result<Vec<Option<String>>, ImportError> {
    let raw = raw_headers(csv)?;
    let mut headers: Vec<Option<String>> = raw.iter().map(|h| Some(h.clone())).collect();
    for (column, attribute) in map {
        let mut found = false;
        for (slot, name) in headers.iter_mut().zip(&raw) {
            if name == column {
                *slot = Some(attribute.clone());
                found = true;
            }
        }
        if !found {
            return Err(ImportError::NoSuchColumn(column.clone()));
        }
    }
    for (slot, name) in headers.iter_mut().zip(&raw) {
        if skip.contains(name) {
            *slot = None;
        }
    }
    Ok(headers)
}

/// The keys of a JSON line's `custom_attributes`, without their values.
#[derive(serde::Deserialize)]
struct Keys {
    #[serde(default)]
    custom_attributes: Option<std::collections::HashMap<String, serde::de::IgnoredAny>>,
}

/// The columns of `file` that name no attribute of the workspace, in the order they first
/// appear, each with the type its values suggest.
///
/// # Errors
/// When the file cannot be read.
pub(crate) fn unknown_columns(
    file: &Path,
    format: Format,
    custom: &[CustomAttribute],
    map: &[(String, String)],
    skip: &[String],
) -> Result<Vec<(String, DataType)>, ImportError> {
    let open = || {
        std::fs::File::open(file)
            .map(BufReader::new)
            .map_err(|e| ImportError::Io(format!("cannot open {}: {e}", file.display())))
    };
    let mut found: Vec<(String, Guess)> = Vec::new();
    match format {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(open()?);
            let headers: Vec<String> =
                headers(&mut csv, map, skip)?.into_iter().map(Option::unwrap_or_default).collect();
            // Skipped columns (empty names here) are left out.
            let unknown: Vec<usize> =
                (0..headers.len()).filter(|i| !headers[*i].is_empty() && !known(&headers[*i], custom)).collect();
            if unknown.is_empty() {
                return Ok(Vec::new());
            }
            // A column named twice is one attribute, guessed from both columns' values.
            let mut slot_of: Vec<usize> = Vec::with_capacity(unknown.len());
            for i in &unknown {
                let slot = found.iter().position(|(n, _)| *n == headers[*i]).unwrap_or_else(|| {
                    found.push((headers[*i].clone(), Guess::default()));
                    found.len() - 1
                });
                slot_of.push(slot);
            }
            // Unreadable records are reported by the import itself, by line.
            for record in csv.records().flatten() {
                for (i, slot) in unknown.iter().zip(&slot_of) {
                    if let Some(v) = record.get(*i) {
                        found[*slot].1.see(&Json::String(v.to_owned()));
                    }
                }
            }
        }
        Format::Jsonl => {
            let mut seen: HashSet<String> = HashSet::new();
            for line in open()?.lines() {
                let line = line.map_err(|e| ImportError::Io(format!("cannot read {}: {e}", file.display())))?;
                // Most files name no custom attribute: skip parsing those lines twice.
                if !line.contains("custom_attributes") {
                    continue;
                }
                // Reading only the keys costs a fraction of building the line's values.
                let Ok(Keys { custom_attributes: Some(keys) }) = serde_json::from_str::<Keys>(&line) else { continue };
                if keys.keys().all(|k| skip.contains(k) || custom.iter().any(|a| &a.name == k)) {
                    continue;
                }
                let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(&line) else { continue };
                let Some(Json::Object(attrs)) = obj.get("custom_attributes") else { continue };
                for (name, v) in attrs {
                    if skip.contains(name) || custom.iter().any(|a| &a.name == name) {
                        continue;
                    }
                    if seen.insert(name.clone()) {
                        found.push((name.clone(), Guess::default()));
                    }
                    if let Some(slot) = found.iter_mut().find(|(n, _)| n == name) {
                        slot.1.see(v);
                    }
                }
            }
        }
    }
    Ok(found.into_iter().map(|(name, guess)| (name.clone(), guess.data_type(attribute_name(&name)))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(values: &[Json], name: &str) -> DataType {
        let mut g = Guess::default();
        values.iter().for_each(|v| g.see(v));
        g.data_type(name)
    }

    #[test]
    fn types_come_from_every_value() {
        let s = |v: &str| Json::String(v.to_owned());
        assert_eq!(guess(&[s("3"), s(""), s("12")], "seats"), DataType::Integer);
        assert_eq!(guess(&[s("1700000000")], "renews_at"), DataType::Date);
        assert_eq!(guess(&[s("3"), s("2.5")], "score"), DataType::Float);
        assert_eq!(guess(&[s("yes"), s("False")], "trial"), DataType::Boolean);
        assert_eq!(guess(&[s("2027-01-15"), s("2027-02-01T10:00:00Z")], "renews"), DataType::Date);
        assert_eq!(guess(&[s("3"), s("many")], "seats"), DataType::String);
        assert_eq!(guess(&[s("")], "empty"), DataType::String);
        assert_eq!(guess(&[Json::from(3), Json::from(true)], "mixed"), DataType::String);
        assert_eq!(guess(&[Json::from(true)], "flag"), DataType::Boolean);
    }

    #[test]
    fn spreadsheet_spellings_become_the_api_s() {
        let s = |v: &str| Json::String(v.to_owned());
        assert_eq!(normalise(DataType::Boolean, &s("Yes")), Json::Bool(true));
        assert_eq!(normalise(DataType::Date, &s("2027-01-15")), Json::from(1_799_971_200));
        assert_eq!(normalise(DataType::Date, &s("1700000000")), s("1700000000"));
        assert_eq!(normalise(DataType::Integer, &s("yes")), s("yes"));
        assert_eq!(tag_names(&s("vip, beta,,vip")).unwrap(), vec!["vip", "beta"]);
        assert_eq!(tag_names(&serde_json::json!(["a", "b"])).unwrap(), vec!["a", "b"]);
        assert!(tag_names(&serde_json::json!([1])).is_err());
    }
}
