//! What a file holds before it is imported: whether it is CSV or JSON lines at all, its columns
//! with a few values each and what each would set, and the choices a teammate makes about them,
//! turned into the import's [`Options`].

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use serde_json::Value as Json;
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::INPUT_FIELDS;

use super::columns::{self, TAGS};
use super::{Format, ImportError, Options, Unknown};

/// Values shown per column.
const SAMPLES: usize = 3;
/// Lines read for the samples (and, in JSON lines, for the keys).
const SAMPLE_LINES: usize = 200;
/// Bytes read to tell the format.
const HEAD: usize = 64 * 1024;

/// The built-in attributes a column may set.
pub fn settable_fields() -> impl Iterator<Item = &'static str> {
    INPUT_FIELDS.iter().copied().filter(|f| *f != "custom_attributes")
}

/// What a teammate chose for one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A built-in attribute or an existing custom attribute, by name.
    Attribute(String),
    Tags,
    /// A new custom attribute named as the column, of this type.
    New(DataType),
    Skip,
}

impl Choice {
    /// `attribute:NAME`, `tags`, `new:TYPE` or `skip`, as forms carry it.
    pub fn parse(s: &str) -> Option<Choice> {
        Some(match s.split_once(':') {
            Some(("attribute", name)) if !name.is_empty() => Choice::Attribute(name.to_owned()),
            Some(("new", ty)) => Choice::New(DataType::parse(ty)?),
            None if s == "tags" => Choice::Tags,
            None if s == "skip" => Choice::Skip,
            _ => return None,
        })
    }

    pub fn value(&self) -> String {
        match self {
            Choice::Attribute(name) => format!("attribute:{name}"),
            Choice::Tags => "tags".into(),
            Choice::New(ty) => format!("new:{}", ty.as_str()),
            Choice::Skip => "skip".into(),
        }
    }
}

/// One column of a file (a CSV header, or a key of a JSON line or of its `custom_attributes`).
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub samples: Vec<String>,
    /// The type its values suggest, read over the whole file (for a column that names nothing).
    pub inferred: DataType,
    /// What it sets unless the teammate chooses otherwise.
    pub suggested: Choice,
    /// Whether the teammate may choose: JSON lines name their attributes themselves, so only
    /// their new custom attributes can be created or skipped.
    pub choices: Vec<Choice>,
    /// What Tidings sets itself (`id`, `created_at`, `updated_at`): always left out.
    pub ignored: bool,
}

/// A file's columns and what each would set.
#[derive(Clone, Debug, PartialEq)]
pub struct Preview {
    pub format: Format,
    pub columns: Vec<Column>,
    /// Whether a column, as suggested, says who each contact is (`email` or `external_id`). A
    /// CSV file's columns can still be chosen so; a JSON lines file without either is refused.
    pub identified: bool,
}

/// Tells a file's format from its first bytes (and its name when those say nothing).
///
/// # Errors
/// An empty file, one that is not text, a JSON document that is not JSON lines, a CSV whose
/// header cannot be read, or one with a header and nothing else.
pub fn check(path: &Path) -> Result<Format, ImportError> {
    let mut head = Vec::with_capacity(HEAD);
    std::fs::File::open(path)
        .and_then(|f| f.take(HEAD as u64).read_to_end(&mut head))
        .map_err(|e| ImportError::Io(format!("cannot read the uploaded file: {e}")))?;
    let text = match std::str::from_utf8(&head) {
        Ok(t) => t,
        // A character cut at the end of the sample is fine.
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or_default(),
        Err(_) => return Err(not_text()),
    };
    if text.contains('\0') {
        return Err(not_text());
    }
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(first) = first else { return Err(ImportError::Empty) };
    if first.starts_with('[') {
        return Err(ImportError::Unreadable(
            "This is a JSON array. Write one JSON object per line (JSON lines), or use a CSV file.".into(),
        ));
    }
    if first.starts_with('{') {
        return match serde_json::from_str::<Json>(first) {
            Ok(Json::Object(_)) => Ok(Format::Jsonl),
            _ => Err(ImportError::Unreadable(
                "The first line starts like JSON but is not one JSON object. In a JSON lines file each line is one \
                 object such as {\"email\": \"ada@example.com\"}."
                    .into(),
            )),
        };
    }
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let headers = columns::raw_headers(&mut csv)?;
    if headers.iter().all(String::is_empty) {
        return Err(ImportError::Unreadable(
            "The first row of a CSV file names its columns, and this one is empty.".into(),
        ));
    }
    if csv.records().next().is_none() {
        return Err(ImportError::Empty);
    }
    Ok(Format::Csv)
}

fn not_text() -> ImportError {
    ImportError::Unreadable(
        "This file is neither CSV nor JSON lines: it is not text (a spreadsheet? save it as CSV first).".into(),
    )
}

/// The preview of `path` for workspace attributes `custom`.
///
/// # Errors
/// When the file cannot be read.
pub fn preview(path: &Path, format: Format, custom: &[CustomAttribute]) -> Result<Preview, ImportError> {
    let inferred = columns::unknown_columns(path, format, custom, &[], &[])?;
    let type_of = |name: &str| inferred.iter().find(|(n, _)| n == name).map_or(DataType::String, |(_, t)| *t);
    let open = || {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|e| ImportError::Io(format!("cannot read the uploaded file: {e}")))
    };
    let mut out: Vec<Column> = Vec::new();
    match format {
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(open()?);
            let headers = columns::raw_headers(&mut csv)?;
            let mut samples: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
            for record in csv.records().take(SAMPLE_LINES).flatten() {
                for (i, v) in record.iter().enumerate().take(headers.len()) {
                    if !v.trim().is_empty() && samples[i].len() < SAMPLES {
                        samples[i].push(v.to_owned());
                    }
                }
            }
            for (name, samples) in headers.into_iter().zip(samples) {
                let inferred = type_of(&name);
                out.push(csv_column(name, samples, inferred, custom));
            }
        }
        Format::Jsonl => {
            let mut add = |name: String, value: &Json, column: &dyn Fn(String) -> Column| {
                let slot = match out.iter().position(|c| c.name == name) {
                    Some(i) => i,
                    None => {
                        out.push(column(name));
                        out.len() - 1
                    }
                };
                let text = match value {
                    Json::String(s) => s.clone(),
                    Json::Null => return,
                    other => other.to_string(),
                };
                if !text.trim().is_empty() && out[slot].samples.len() < SAMPLES {
                    out[slot].samples.push(text);
                }
            };
            for line in open()?.lines().take(SAMPLE_LINES) {
                let line = line.map_err(|e| ImportError::Io(format!("cannot read the uploaded file: {e}")))?;
                let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(&line) else { continue };
                for (key, value) in &obj {
                    if key == "custom_attributes" {
                        let Json::Object(attrs) = value else { continue };
                        for (name, v) in attrs {
                            let known = custom.iter().any(|a| &a.name == name);
                            let t = type_of(name);
                            add(name.clone(), v, &|name| json_custom_column(name, known, t));
                        }
                    } else {
                        add(key.clone(), value, &|name| fixed(name));
                    }
                }
            }
        }
    }
    if format == Format::Jsonl {
        // A JSON object's keys come sorted: the contact's fields first, then its custom
        // attributes, then what is left out.
        let group = |c: &Column| match (c.ignored, c.choices.is_empty() && INPUT_FIELDS.contains(&c.name.as_str())) {
            (true, _) => 2,
            (false, true) => 0,
            (false, false) if c.suggested == Choice::Tags => 0,
            _ => 1,
        };
        out.sort_by_key(group);
    }
    let identified =
        out.iter().any(|c| matches!(&c.suggested, Choice::Attribute(a) if a == "email" || a == "external_id"));
    Ok(Preview { format, columns: out, identified })
}

/// A JSON line's top-level key: read as it is named.
fn fixed(name: String) -> Column {
    let ignored = !(INPUT_FIELDS.contains(&name.as_str()) || name == TAGS);
    let suggested = if name == TAGS {
        Choice::Tags
    } else if ignored {
        Choice::Skip
    } else {
        Choice::Attribute(name.clone())
    };
    Column { name, samples: Vec::new(), inferred: DataType::String, choices: Vec::new(), suggested, ignored }
}

fn json_custom_column(name: String, known: bool, inferred: DataType) -> Column {
    if known {
        let suggested = Choice::Attribute(name.clone());
        return Column { name, samples: Vec::new(), inferred, choices: Vec::new(), suggested, ignored: false };
    }
    let mut choices: Vec<Choice> = all_types().map(Choice::New).collect();
    choices.push(Choice::Skip);
    Column { name, samples: Vec::new(), inferred, choices, suggested: Choice::New(inferred), ignored: false }
}

fn all_types() -> impl Iterator<Item = DataType> {
    [DataType::String, DataType::Integer, DataType::Float, DataType::Boolean, DataType::Date].into_iter()
}

/// A CSV column: every choice, and the one its name suggests (`E-mail` and `Email` suggest
/// `email`).
fn csv_column(name: String, samples: Vec<String>, inferred: DataType, custom: &[CustomAttribute]) -> Column {
    let key = columns::attribute_name(&name);
    let plain = name.trim().to_lowercase().replace([' ', '-'], "_");
    let ignored = ["id", "created_at", "updated_at"].contains(&name.as_str());
    let suggested = if ignored {
        Choice::Skip
    } else if name == TAGS || plain == TAGS {
        Choice::Tags
    } else if (key == name && settable_fields().any(|f| f == key)) || custom.iter().any(|a| a.name == key) {
        Choice::Attribute(key.to_owned())
    } else if let Some(f) = settable_fields().find(|f| *f == plain || (plain == "e_mail" && *f == "email")) {
        Choice::Attribute(f.to_owned())
    } else {
        Choice::New(inferred)
    };
    let mut choices: Vec<Choice> = settable_fields().map(|f| Choice::Attribute(f.to_owned())).collect();
    choices.extend(custom.iter().filter(|a| !a.archived).map(|a| Choice::Attribute(a.name.clone())));
    choices.push(Choice::Tags);
    if !columns::known(&name, custom) || matches!(suggested, Choice::New(_)) {
        choices.extend(all_types().map(Choice::New));
    }
    choices.push(Choice::Skip);
    if ignored {
        choices = vec![Choice::Skip];
    }
    Column { name, samples, inferred, suggested, choices, ignored }
}

impl Preview {
    /// The import's options for `chosen` (one per column, in order; `None` keeps the suggestion).
    ///
    /// # Errors
    /// When a choice is not one the column offers, no column says who each contact is, or a new
    /// attribute's name cannot be one.
    pub fn options(&self, chosen: &[Option<Choice>]) -> Result<Options, ImportError> {
        let mut options = Options { format: Some(self.format), unknown: Unknown::Create, ..Options::default() };
        let mut identity = false;
        let mut new_names = Vec::new();
        for (i, column) in self.columns.iter().enumerate() {
            let choice = chosen.get(i).cloned().flatten().unwrap_or_else(|| column.suggested.clone());
            if choice != column.suggested && !column.choices.contains(&choice) {
                return Err(ImportError::Unreadable(format!("“{}” cannot be read that way.", column.name)));
            }
            match &choice {
                Choice::Skip => {
                    if !column.ignored {
                        options.skip.push(column.name.clone());
                    }
                }
                Choice::Attribute(a) => {
                    identity |= a == "email" || a == "external_id";
                    if self.format == Format::Csv && columns::attribute_name(&column.name) != a {
                        options.map.push((column.name.clone(), a.clone()));
                    }
                }
                Choice::Tags => {
                    if column.name != TAGS {
                        options.map.push((column.name.clone(), TAGS.to_owned()));
                    }
                }
                Choice::New(t) => {
                    new_names.push(column.name.as_str());
                    options.types.push((columns::attribute_name(&column.name).to_owned(), *t));
                }
            }
        }
        if !identity {
            return Err(ImportError::NoIdentity);
        }
        let bad = super::bad_attribute_names(new_names.into_iter());
        if !bad.is_empty() {
            return Err(ImportError::BadAttributes(bad));
        }
        Ok(options)
    }
}
