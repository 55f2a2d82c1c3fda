//! The search language over conversations (`POST /conversations/search`): Intercom's query, the
//! same `{field, operator, value}` leaves in `AND`/`OR` groups as contacts' search, over a
//! conversation's own fields. A query is checked and lowered once, against a clock, into a
//! [`Pred`], which the store compiles to SQL with bound parameters; nothing typed reaches SQL text.
//!
//! What each operator means, as Intercom documents conversation search:
//! - `=`, `!=`, `IN` and `NIN` work on every field; `>` and `<` on times and the assignee, and
//!   they include the value itself ("greater (or equal) than"), so that "updated since my last
//!   sync" misses nothing; `~`, `!~`, `^` and `$` on `source.body`.
//! - Times are UNIX seconds (or RFC 3339 text). `=` matches the whole calendar day in the
//!   workspace's time zone, as contacts' dates do, since a conversation is rarely created on
//!   the exact second someone asks about.
//! - `admin_assignee_id` 0 (or `null`) is "unassigned".
//! - `source.body` is matched word by word ([`words`]): `=` finds one word, `~` a run of words
//!   (or part of one), `^`/`$` the start and end of the text; case and punctuation are ignored.
//! - Negative operators include conversations that have no value, as contacts' do.

pub mod words;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value as Json};

use crate::attribute::{DataType, Value, whole_number};
use crate::conversation::{Author, State};
use crate::dates::{Clock, Day};
use crate::error::FieldError;
use crate::filter::MAX_VALUES;

/// A whole number a conversation has (or lacks), compared in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Number {
    Id,
    CreatedAt,
    UpdatedAt,
    WaitingSince,
    SnoozedUntil,
    /// The teammate it is assigned to, 0 when unassigned (never missing).
    Assignee,
    Contact,
    /// Who wrote the opening part: a teammate's or the contact's id.
    SourceAuthor,
}

/// A checked, lowered predicate over one conversation.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    All(Vec<Pred>),
    Any(Vec<Pred>),
    /// Holds when the inner test does not, including when it cannot be told (no value).
    Not(Box<Pred>),
    /// The number is one of these.
    In(Number, Vec<i64>),
    /// `min <= number <= max`; an end left open is not checked.
    Between(Number, Option<i64>, Option<i64>),
    /// The number has a value.
    Known(Number),
    State(Vec<State>),
    Read(bool),
    /// Tagged with any of these tags.
    Tagged(Vec<i64>),
    /// Any of these teammates wrote a part of it.
    Teammate(Vec<i64>),
    /// Started by the team: a teammate's message, or a teammate's first part.
    AdminInitiated,
    /// The opening part was written by one of these.
    SourceAuthorType(Vec<Author>),
    /// The words of its opening part.
    Words(Words),
}

/// A test of the opening part's words, kept as [`words::stored`] text. Each needle is already
/// lowercased and framed as the stored text frames words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Words {
    /// The text contains the needle (`" word "` for one whole word).
    Contains(String),
    /// The text starts with the needle (`" first words"`).
    StartsWith(String),
    /// The text ends with the needle (`"last words "`).
    EndsWith(String),
}

impl Pred {
    /// Whether the store must have the conversations' words to test this.
    pub fn reads_words(&self) -> bool {
        match self {
            Pred::All(ps) | Pred::Any(ps) => ps.iter().any(Pred::reads_words),
            Pred::Not(p) => p.reads_words(),
            Pred::Words(_) => true,
            _ => false,
        }
    }

    /// Nothing matches it.
    fn nothing() -> Pred {
        Pred::Any(Vec::new())
    }
}

/// What kind of field a search names, which decides its operators and values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An id (a number, or its digits as text) compared with `=`, `!=`, `IN`, `NIN`.
    Id,
    /// A teammate's id, 0 for none; also `>` and `<`.
    Assignee,
    /// A time; also `>` and `<`.
    Time,
    Boolean,
    /// One of a few words.
    Choice(&'static [&'static str]),
    /// The opening part's words; also `~`, `!~`, `^`, `$`.
    Words,
}

impl Kind {
    /// The operators the kind takes, as written in queries.
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            Kind::Id | Kind::Boolean | Kind::Choice(_) => &["=", "!=", "IN", "NIN"],
            Kind::Assignee | Kind::Time => &["=", "!=", "IN", "NIN", ">", "<"],
            Kind::Words => &["=", "!=", "IN", "NIN", "~", "!~", "^", "$"],
        }
    }
}

/// At most this many values in one `IN` or `NIN` list of times, booleans, choices or words:
/// each of those becomes a test of its own, where a list of ids is one SQL `IN`.
pub const MAX_TESTS: usize = 100;

/// The states a conversation is in, as `state` takes them.
pub const STATES: &[&str] = &["open", "closed", "snoozed"];
/// Who wrote an opening part, as `source.author.type` names them.
pub const AUTHOR_TYPES: &[&str] = &["admin", "user", "lead"];
/// How a conversation began, as Intercom names it. Tidings' conversations are
/// `customer_initiated` or `admin_initiated`; the others are accepted and match nothing.
pub const DELIVERED_AS: &[&str] =
    &["customer_initiated", "admin_initiated", "campaigns_initiated", "operator_initiated", "automated"];

/// One searchable field.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// `= null` and `!= null` ask whether it has a value.
    pub nullable: bool,
    pub description: &'static str,
}

const fn field(name: &'static str, kind: Kind, nullable: bool, description: &'static str) -> Field {
    Field { name, kind, nullable, description }
}

/// Every field conversation search takes.
pub const FIELDS: &[Field] = &[
    field("id", Kind::Id, false, "The conversation's id"),
    field("created_at", Kind::Time, false, "When it began"),
    field("updated_at", Kind::Time, false, "When it last changed"),
    field("waiting_since", Kind::Time, true, "Since when the contact has waited for the team (null: nobody waits)"),
    field("snoozed_until", Kind::Time, true, "When a snoozed conversation wakes up"),
    field("state", Kind::Choice(STATES), false, "open, closed or snoozed"),
    field("open", Kind::Boolean, false, "Not closed (a snoozed conversation is open)"),
    field("read", Kind::Boolean, false, "Whether the team has read it"),
    field("admin_assignee_id", Kind::Assignee, true, "The teammate it is assigned to; 0 or null: unassigned"),
    field("contact_ids", Kind::Id, false, "The contact in it"),
    field("teammate_ids", Kind::Id, false, "A teammate who wrote in it"),
    field("tag_ids", Kind::Id, false, "A tag on it"),
    field("source.body", Kind::Words, false, "The words of its opening part"),
    field(
        "source.author.id",
        Kind::Id,
        false,
        "Who wrote its opening part: a teammate's or a contact's id (they are numbered apart: add source.author.type to tell them apart)",
    ),
    field("source.author.type", Kind::Choice(AUTHOR_TYPES), false, "admin (a teammate), user or lead"),
    field("source.delivered_as", Kind::Choice(DELIVERED_AS), false, "customer_initiated or admin_initiated"),
];

/// Checks a conversation search query and lowers it to a [`Pred`]. `path` names the query in
/// errors (`query`); dates are days of `clock`'s time zone.
///
/// # Errors
/// The first problem found, on the path of the offending node (`query.value[1].operator`).
pub fn compile(query: &Json, clock: &Clock, path: &str) -> Result<Pred, FieldError> {
    Lowering { clock, values: 0 }.node(query, path, 1)
}

struct Lowering<'a> {
    clock: &'a Clock,
    /// Values listed so far, against [`MAX_VALUES`]: each is bound once in SQL.
    values: usize,
}

impl Lowering<'_> {
    fn node(&mut self, node: &Json, path: &str, depth: usize) -> Result<Pred, FieldError> {
        let Json::Object(obj) = node else {
            return Err(FieldError::invalid(path, format!("{path} must be an object with field, operator and value")));
        };
        if obj.contains_key("field") {
            return self.leaf(obj, path);
        }
        let (any, children, vpath) = crate::filter::group(obj, path, depth)?;
        let preds = children
            .iter()
            .enumerate()
            .map(|(i, c)| self.node(c, &format!("{vpath}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if any { Pred::Any(preds) } else { Pred::All(preds) })
    }

    fn leaf(&mut self, obj: &Map<String, Json>, path: &str) -> Result<Pred, FieldError> {
        let (fpath, opath, vpath) = (format!("{path}.field"), format!("{path}.operator"), format!("{path}.value"));
        let name = obj
            .get("field")
            .and_then(Json::as_str)
            .ok_or_else(|| FieldError::invalid(&fpath, format!("{fpath} must be a string")))?;
        let Some(field) = FIELDS.iter().find(|f| f.name == name) else {
            let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
            return Err(FieldError::invalid(
                &fpath,
                format!(
                    "{fpath}: {name} is not a valid search field for conversations; use one of {}",
                    names.join(", ")
                ),
            ));
        };
        let op = obj
            .get("operator")
            .and_then(Json::as_str)
            .ok_or_else(|| FieldError::missing(&opath, format!("{opath} is required")))?;
        let allowed = field.kind.operators();
        if !allowed.contains(&op) {
            return Err(FieldError::invalid(
                &opath,
                format!("{opath}: operator '{op}' is not valid for {name}; use one of {}", allowed.join(", ")),
            ));
        }
        let value = obj.get("value").unwrap_or(&Json::Null);
        if value.is_null() && field.nullable && (op == "=" || op == "!=") {
            let known = unknown(field.kind, name);
            return Ok(if op == "=" { known } else { Pred::Not(Box::new(known)) });
        }
        let negate = |p: Pred| Pred::Not(Box::new(p));
        Ok(match op {
            "=" => self.equals(field, &[(value, vpath)])?,
            "!=" => negate(self.equals(field, &[(value, vpath)])?),
            "IN" | "NIN" => {
                let Json::Array(items) = value else {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must be a list for {op}")));
                };
                if items.is_empty() {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must not be empty")));
                }
                if !matches!(field.kind, Kind::Id | Kind::Assignee) && items.len() > MAX_TESTS {
                    return Err(FieldError::invalid(
                        &vpath,
                        format!(
                            "{vpath} lists {} values; a list of {name}'s values holds at most {MAX_TESTS}",
                            items.len()
                        ),
                    ));
                }
                let listed: Vec<(&Json, String)> =
                    items.iter().enumerate().map(|(i, v)| (v, format!("{vpath}[{i}]"))).collect();
                let any = self.equals(field, &listed)?;
                if op == "IN" { any } else { negate(any) }
            }
            ">" | "<" => {
                let n = number(field.kind, name);
                let v = self.scalar(field.kind, value, &vpath)?;
                if op == ">" { Pred::Between(n, Some(v), None) } else { Pred::Between(n, None, Some(v)) }
            }
            _ => {
                let text = self.text(value, &vpath)?;
                if text.is_empty() {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must not be empty")));
                }
                let found = words::of_text(text);
                let run = found.join(" ");
                let pred = if found.is_empty() {
                    Pred::nothing()
                } else {
                    Pred::Words(match op {
                        "~" | "!~" => Words::Contains(run),
                        "^" => Words::StartsWith(format!(" {run}")),
                        _ => Words::EndsWith(format!("{run} ")),
                    })
                };
                if op == "!~" { negate(pred) } else { pred }
            }
        })
    }

    /// "The field equals one of these values".
    fn equals(&mut self, field: &Field, values: &[(&Json, String)]) -> Result<Pred, FieldError> {
        self.values += values.len();
        if let Some((_, path)) = values.last().filter(|_| self.values > MAX_VALUES) {
            return Err(FieldError::invalid(
                path,
                format!("{path}: a query may list at most {MAX_VALUES} values in all"),
            ));
        }
        let name = field.name;
        Ok(match field.kind {
            Kind::Id | Kind::Assignee => {
                let ids = values.iter().map(|(v, p)| self.scalar(field.kind, v, p)).collect::<Result<Vec<_>, _>>()?;
                match name {
                    "tag_ids" => Pred::Tagged(ids),
                    "teammate_ids" => Pred::Teammate(ids),
                    _ => Pred::In(number(field.kind, name), ids),
                }
            }
            Kind::Time => {
                let n = number(field.kind, name);
                let days = values
                    .iter()
                    .map(|(v, p)| {
                        let day = Day::of(self.scalar(Kind::Time, v, p)?, self.clock);
                        Ok(Pred::Between(n, Some(day.start), Some(day.end.saturating_sub(1))))
                    })
                    .collect::<Result<Vec<_>, FieldError>>()?;
                one_of(days)
            }
            Kind::Boolean => {
                let flags = values.iter().map(|(v, p)| boolean(v, p)).collect::<Result<Vec<_>, _>>()?;
                if name == "open" {
                    let mut states = Vec::new();
                    for open in flags {
                        states.extend(if open { &[State::Open, State::Snoozed][..] } else { &[State::Closed][..] });
                    }
                    Pred::State(states)
                } else {
                    one_of(flags.into_iter().map(Pred::Read).collect())
                }
            }
            Kind::Choice(choices) => {
                let picked = values
                    .iter()
                    .map(|(v, p)| {
                        v.as_str()
                            .filter(|s| choices.contains(s))
                            .ok_or_else(|| FieldError::invalid(p, format!("{p} must be one of {}", choices.join(", "))))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if name == "state" {
                    Pred::State(picked.into_iter().filter_map(State::parse).collect())
                } else if name == "source.author.type" {
                    Pred::SourceAuthorType(picked.into_iter().filter_map(Author::parse).collect())
                } else {
                    one_of(
                        picked
                            .into_iter()
                            .map(|d| match d {
                                "admin_initiated" => Pred::AdminInitiated,
                                "customer_initiated" => Pred::Not(Box::new(Pred::AdminInitiated)),
                                _ => Pred::nothing(),
                            })
                            .collect(),
                    )
                }
            }
            Kind::Words => {
                let found = values
                    .iter()
                    .map(|(v, p)| {
                        // One whole word; a value of several words matches none, as Intercom's.
                        let w = words::of_text(self.text(v, p)?);
                        Ok(match w.as_slice() {
                            [one] => Pred::Words(Words::Contains(format!(" {one} "))),
                            _ => Pred::nothing(),
                        })
                    })
                    .collect::<Result<Vec<_>, FieldError>>()?;
                one_of(found)
            }
        })
    }

    /// A whole number: an id (0 or more), or a time.
    fn scalar(&self, kind: Kind, v: &Json, path: &str) -> Result<i64, FieldError> {
        if kind == Kind::Time {
            return match DataType::Date.coerce(v) {
                Ok(Some(Value::Date(t))) => Ok(t),
                _ => Err(FieldError::invalid(path, format!("{path} must be a time: UNIX seconds or RFC 3339 text"))),
            };
        }
        as_id(v).ok_or_else(|| FieldError::invalid(path, format!("{path} must be an id: a whole number or its digits")))
    }

    fn text<'v>(&self, v: &'v Json, path: &str) -> Result<&'v str, FieldError> {
        let s = v.as_str().ok_or_else(|| FieldError::invalid(path, format!("{path} must be text")))?;
        crate::text::check(path, s, crate::text::VALUE)?;
        Ok(s)
    }
}

/// "The field has no value" for a field that may lack one.
fn unknown(kind: Kind, name: &str) -> Pred {
    match kind {
        Kind::Assignee => Pred::In(Number::Assignee, vec![0]),
        _ => Pred::Not(Box::new(Pred::Known(number(kind, name)))),
    }
}

/// The number a field of a numeric kind reads.
fn number(kind: Kind, name: &str) -> Number {
    match (kind, name) {
        (Kind::Assignee, _) => Number::Assignee,
        (_, "created_at") => Number::CreatedAt,
        (_, "updated_at") => Number::UpdatedAt,
        (_, "waiting_since") => Number::WaitingSince,
        (_, "snoozed_until") => Number::SnoozedUntil,
        (_, "contact_ids") => Number::Contact,
        (_, "source.author.id") => Number::SourceAuthor,
        _ => Number::Id,
    }
}

fn one_of(mut preds: Vec<Pred>) -> Pred {
    if preds.len() == 1 { preds.remove(0) } else { Pred::Any(preds) }
}

/// `true` or `false`, as JSON or text; or 1 or 0, which is what python-intercom 5 sends for
/// `value=True` (its search value is typed `str | int | list`, and pydantic turns a bool into an
/// int).
fn boolean(v: &Json, path: &str) -> Result<bool, FieldError> {
    if let Json::Number(n) = v {
        match whole_number(n) {
            Some(1) => return Ok(true),
            Some(0) => return Ok(false),
            _ => {}
        }
    }
    match DataType::Boolean.coerce(v) {
        Ok(Some(Value::Bool(b))) => Ok(b),
        _ => Err(FieldError::invalid(path, format!("{path} must be true or false (or 1 or 0)"))),
    }
}

/// An id: a whole number from 0, or its digits as text.
fn as_id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => whole_number(n).filter(|n| *n >= 0),
        Json::String(s) if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}
