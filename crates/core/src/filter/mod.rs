//! The filter language: Intercom's search query (`{"field","operator","value"}` leaves inside
//! `{"operator":"AND"|"OR","value":[…]}` groups) plus Tidings' extensions for relative dates and
//! unknown values.
//!
//! A query is checked and *lowered* once, against the workspace's schema and a clock, into a
//! [`Pred`]. Dates are turned into half-open ranges of UNIX seconds at that point, segments are
//! inlined, and negative operators become `Not`. Both the SQL compiler ([`sql`]) and the in-memory
//! evaluator ([`eval`]) work only from a `Pred`, which is what keeps the two in agreement.

pub mod eval;
pub mod sql;

use serde_json::Value as Json;

use crate::attribute::{BuiltIn, CustomAttribute, DataType, ID, Value, builtin};
use crate::dates::{Clock, Day};
use crate::error::FieldError;

/// Groups may nest this deep (the root group is level 1): "(1 OR 2) AND (3 OR 4)".
pub const MAX_DEPTH: usize = 2;
/// At most this many filters in one AND or OR group.
pub const MAX_GROUP: usize = 15;

/// A node of the query language that is a group (no `field`): whether it is an `OR` (else an
/// `AND`), its filters, and the path of its `value`, each checked against the language's limits
/// (nesting, filters per group). Contact search and conversation search read groups alike.
///
/// # Errors
/// An operator other than AND/OR, a group nested too deep, a value that is not a non-empty list
/// of at most [`MAX_GROUP`] filters; each on its path.
pub fn group<'j>(
    obj: &'j serde_json::Map<String, Json>,
    path: &str,
    depth: usize,
) -> Result<(bool, &'j [Json], String), FieldError> {
    let any = match obj.get("operator").and_then(Json::as_str) {
        Some("AND") => false,
        Some("OR") => true,
        Some(other) => {
            return Err(FieldError::invalid(
                &format!("{path}.operator"),
                format!("{path}.operator '{other}' is not valid for a group: use AND or OR (a filter needs a field)"),
            ));
        }
        None => {
            return Err(FieldError::missing(
                &format!("{path}.field"),
                format!("{path} needs a field, an operator and a value, or an AND/OR operator with a list of filters"),
            ));
        }
    };
    if depth > MAX_DEPTH {
        return Err(FieldError::invalid(
            path,
            format!("{path}: filters can be nested at most {MAX_DEPTH} levels deep"),
        ));
    }
    let vpath = format!("{path}.value");
    let children = match obj.get("value") {
        Some(Json::Array(children)) if !children.is_empty() => children,
        Some(Json::Array(_)) => {
            return Err(FieldError::invalid(&vpath, format!("{vpath} must hold at least one filter")));
        }
        _ => return Err(FieldError::invalid(&vpath, format!("{vpath} must be a list of filters"))),
    };
    if children.len() > MAX_GROUP {
        return Err(FieldError::invalid(
            &vpath,
            format!("{vpath} holds {} filters; a group holds at most {MAX_GROUP}", children.len()),
        ));
    }
    Ok((any, children, vpath))
}
/// Segments may refer to segments, but not deeper than this.
const MAX_SEGMENT_NESTING: usize = 4;
/// A query may list at most this many values in all (`IN` and `NIN` lists together).
pub const MAX_VALUES: usize = 10_000;
/// At most this many values may be bound in one statement: SQLite takes 32,766 and PostgreSQL
/// 65,535, and the statements around a filter bind a few of their own.
pub const MAX_PARAMS: usize = 30_000;

/// Checks that a lowered predicate, with `extra` values bound beside it (a list of contact ids),
/// fits in one statement on both databases.
///
/// # Errors
/// On `field`, when it does not.
pub fn check_size(pred: Option<&Pred>, extra: usize, field: &str) -> Result<(), FieldError> {
    let mut sql = sql::Sql::new(0);
    if let Some(p) = pred {
        sql::compile(p, sql::Dialect::Postgres, "c", &mut sql);
    }
    let needed = sql.params.len() + extra;
    if needed > MAX_PARAMS {
        return Err(FieldError::invalid(
            field,
            format!(
                "{field} needs {needed} values in all (saved segments included); at most {MAX_PARAMS} fit in one \
                 search: use fewer or shorter lists, or a segment built on tags"
            ),
        ));
    }
    Ok(())
}

/// What a filter can refer to besides built-in attributes.
#[derive(Clone, Copy, Default)]
pub struct Schema<'a> {
    pub custom: &'a [CustomAttribute],
    pub tag_ids: &'a [i64],
    /// Saved segments: id and query.
    pub segments: &'a [(i64, Json)],
    /// Manual messages that history filters may name.
    pub message_ids: &'a [i64],
}

/// A checked, lowered predicate over one contact.
#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    All(Vec<Pred>),
    Any(Vec<Pred>),
    Not(Box<Pred>),
    Test(Target, Test),
    HasTag(i64),
    /// The contact's delivery of a manual message is in the given stage.
    Message(i64, MessageHistory),
}

/// How far a manual message got with a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageHistory {
    /// The message's audience snapshot included the contact.
    Targeted,
    /// The message reached the contact.
    Received,
    /// The contact saw it.
    Seen,
}

impl MessageHistory {
    /// The filter field that tests this stage.
    pub fn field(self) -> &'static str {
        match self {
            MessageHistory::Targeted => "targeted_by_message",
            MessageHistory::Received => "received_message",
            MessageHistory::Seen => "seen_message",
        }
    }

    fn from_field(field: &str) -> Option<Self> {
        [MessageHistory::Targeted, MessageHistory::Received, MessageHistory::Seen]
            .into_iter()
            .find(|h| h.field() == field)
    }
}

/// The attribute a test reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Column(&'static BuiltIn),
    Custom { name: String, data_type: DataType },
}

impl Target {
    pub fn data_type(&self) -> DataType {
        match self {
            Target::Column(b) => b.data_type,
            Target::Custom { data_type, .. } => *data_type,
        }
    }
}

/// A positive test of one value. A contact without a value never passes one, except through
/// `Not`, so "plan is not pro" includes contacts with no plan.
#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Known,
    Eq(Value),
    In(Vec<Value>),
    Gt(Value),
    Lt(Value),
    Ge(Value),
    Le(Value),
    /// UNIX seconds, `from <= v < until`.
    Range {
        from: Option<i64>,
        until: Option<i64>,
    },
    /// ASCII-case-insensitive; the needle is stored lowercased.
    Contains(String),
    StartsWith(String),
    EndsWith(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    Nin,
    Gt,
    Lt,
    Ge,
    Le,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    MoreThanDaysAgo,
    LessThanDaysAgo,
    ExactlyDaysAgo,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "IN" => Op::In,
            "NIN" => Op::Nin,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "~" => Op::Contains,
            "!~" => Op::NotContains,
            "^" => Op::StartsWith,
            "$" => Op::EndsWith,
            "more_than_days_ago" => Op::MoreThanDaysAgo,
            "less_than_days_ago" => Op::LessThanDaysAgo,
            "exactly_days_ago" => Op::ExactlyDaysAgo,
            _ => return None,
        })
    }
}

/// The operators each kind of field takes, as written in queries.
pub fn operators_for(data_type: DataType) -> &'static [&'static str] {
    match data_type {
        DataType::String => &["=", "!=", "IN", "NIN", "~", "!~", "^", "$"],
        DataType::Integer | DataType::Float => &["=", "!=", "IN", "NIN", ">", "<", ">=", "<="],
        DataType::Boolean => &["=", "!=", "IN", "NIN"],
        DataType::Date => &["=", "<", ">", "more_than_days_ago", "less_than_days_ago", "exactly_days_ago"],
    }
}

const TAG_OPERATORS: &[&str] = &["=", "!="];

/// Checks a query and lowers it to a [`Pred`].
///
/// `path` names the query in error messages (`query` for the search API).
///
/// # Errors
/// The first problem found, with the path of the offending node, e.g.
/// `query.value[1].operator`.
pub fn compile(query: &Json, schema: &Schema<'_>, clock: &Clock, path: &str) -> Result<Pred, FieldError> {
    Lowering { schema, clock, segments: Vec::new(), values: 0 }.node(query, path, 1)
}

struct Lowering<'a, 'b> {
    schema: &'a Schema<'b>,
    clock: &'a Clock,
    /// Segments being inlined, to refuse cycles.
    segments: Vec<i64>,
    /// Values listed so far, against [`MAX_VALUES`].
    values: usize,
}

impl Lowering<'_, '_> {
    fn node(&mut self, node: &Json, path: &str, depth: usize) -> Result<Pred, FieldError> {
        let Json::Object(obj) = node else {
            return Err(FieldError::invalid(path, format!("{path} must be an object with field, operator and value")));
        };
        if obj.contains_key("field") {
            return self.leaf(obj, path);
        }
        let (group_any, children, vpath) = group(obj, path, depth)?;
        let preds = children
            .iter()
            .enumerate()
            .map(|(i, c)| self.node(c, &format!("{vpath}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if group_any { Pred::Any(preds) } else { Pred::All(preds) })
    }

    fn leaf(&mut self, obj: &serde_json::Map<String, Json>, path: &str) -> Result<Pred, FieldError> {
        let fpath = format!("{path}.field");
        let opath = format!("{path}.operator");
        let vpath = format!("{path}.value");
        let field = obj
            .get("field")
            .and_then(Json::as_str)
            .ok_or_else(|| FieldError::invalid(&fpath, format!("{fpath} must be a string")))?;
        let op_text = obj
            .get("operator")
            .and_then(Json::as_str)
            .ok_or_else(|| FieldError::missing(&opath, format!("{opath} is required")))?;
        let value = obj.get("value").unwrap_or(&Json::Null);

        if let Some(stage) = MessageHistory::from_field(field) {
            let op = check_op(op_text, TAG_OPERATORS, field, &opath)?;
            let id = as_id(value)
                .ok_or_else(|| FieldError::invalid(&vpath, format!("{vpath} must be the id of a manual message")))?;
            if !self.schema.message_ids.contains(&id) {
                return Err(FieldError::invalid(&vpath, format!("{vpath}: message {id} does not exist")));
            }
            let positive = Pred::Message(id, stage);
            return Ok(if op == Op::Eq { positive } else { Pred::Not(Box::new(positive)) });
        }

        if field == "tag_id" || field == "segment_id" {
            let op = check_op(op_text, TAG_OPERATORS, field, &opath)?;
            let id = as_id(value).ok_or_else(|| {
                FieldError::invalid(&vpath, format!("{vpath} must be the id of a {}", &field[..field.len() - 3]))
            })?;
            let positive = if field == "tag_id" {
                if !self.schema.tag_ids.contains(&id) {
                    return Err(FieldError::invalid(&vpath, format!("{vpath}: tag {id} does not exist")));
                }
                Pred::HasTag(id)
            } else {
                self.segment(id, &vpath)?
            };
            return Ok(if op == Op::Eq { positive } else { Pred::Not(Box::new(positive)) });
        }

        let target = self.target(field, &fpath)?;
        let data_type = target.data_type();

        // Tidings extension: `= null` is "is unknown", `!= null` is "has any value", on any field.
        if value.is_null() && (op_text == "=" || op_text == "!=") {
            let known = Pred::Test(target, Test::Known);
            return Ok(if op_text == "!=" { known } else { Pred::Not(Box::new(known)) });
        }
        let allowed: &[&str] = if field == "id" { &["=", "!=", "IN", "NIN"] } else { operators_for(data_type) };
        let op = check_op(op_text, allowed, field, &opath)?;

        let scalar = |v: &Json, p: &str| -> Result<Value, FieldError> {
            let typed = data_type.coerce(v).map_err(|m| FieldError::invalid(p, format!("{p} {m}")))?;
            let typed = typed.ok_or_else(|| FieldError::invalid(p, format!("{p} must not be null")))?;
            if let Value::Str(s) = &typed {
                crate::text::check(p, s, crate::text::VALUE)?;
            }
            if field == "role"
                && let Value::Str(r) = &typed
                && r != "user"
                && r != "lead"
            {
                return Err(FieldError::invalid(p, format!("{p} must be user or lead")));
            }
            Ok(typed)
        };
        let test = match op {
            Op::Eq | Op::Ne if data_type == DataType::Date => {
                let Value::Date(ts) = scalar(value, &vpath)? else { unreachable!() };
                let day = Day::of(ts, self.clock);
                Test::Range { from: Some(day.start), until: Some(day.end) }
            }
            Op::Gt if data_type == DataType::Date => {
                let Value::Date(ts) = scalar(value, &vpath)? else { unreachable!() };
                Test::Range { from: Some(Day::of(ts, self.clock).end), until: None }
            }
            Op::Lt if data_type == DataType::Date => {
                let Value::Date(ts) = scalar(value, &vpath)? else { unreachable!() };
                Test::Range { from: None, until: Some(Day::of(ts, self.clock).start) }
            }
            Op::MoreThanDaysAgo | Op::LessThanDaysAgo | Op::ExactlyDaysAgo => {
                let days = value
                    .as_number()
                    .and_then(crate::attribute::whole_number)
                    .filter(|d| (0..=36_500).contains(d))
                    .ok_or_else(|| {
                        FieldError::invalid(&vpath, format!("{vpath} must be a whole number of days (0 to 36500)"))
                    })?;
                let day = Day::days_ago(days, self.clock);
                match op {
                    Op::MoreThanDaysAgo => Test::Range { from: None, until: Some(day.start) },
                    Op::LessThanDaysAgo => Test::Range { from: Some(day.end), until: None },
                    _ => Test::Range { from: Some(day.start), until: Some(day.end) },
                }
            }
            Op::Eq | Op::Ne => Test::Eq(scalar(value, &vpath)?),
            Op::In | Op::Nin => {
                let Json::Array(items) = value else {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must be a list for {op_text}")));
                };
                if items.is_empty() {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must not be empty")));
                }
                self.values += items.len();
                if self.values > MAX_VALUES {
                    return Err(FieldError::invalid(
                        &vpath,
                        format!("{vpath}: a query may list at most {MAX_VALUES} values in all"),
                    ));
                }
                let values = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| scalar(v, &format!("{vpath}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Test::In(values)
            }
            Op::Gt => Test::Gt(scalar(value, &vpath)?),
            Op::Lt => Test::Lt(scalar(value, &vpath)?),
            Op::Ge => Test::Ge(scalar(value, &vpath)?),
            Op::Le => Test::Le(scalar(value, &vpath)?),
            Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith => {
                let Value::Str(s) = scalar(value, &vpath)? else { unreachable!() };
                if s.is_empty() {
                    return Err(FieldError::invalid(&vpath, format!("{vpath} must not be empty")));
                }
                let needle = s.to_ascii_lowercase();
                match op {
                    Op::StartsWith => Test::StartsWith(needle),
                    Op::EndsWith => Test::EndsWith(needle),
                    _ => Test::Contains(needle),
                }
            }
        };
        let pred = Pred::Test(target, test);
        Ok(if matches!(op, Op::Ne | Op::Nin | Op::NotContains) { Pred::Not(Box::new(pred)) } else { pred })
    }

    fn target(&self, field: &str, fpath: &str) -> Result<Target, FieldError> {
        if field == "id" {
            return Ok(Target::Column(&ID));
        }
        if let Some(b) = builtin(field) {
            return Ok(Target::Column(b));
        }
        if let Some(name) = field.strip_prefix("custom_attributes.") {
            if let Some(a) = self.schema.custom.iter().find(|a| a.name == name) {
                return Ok(Target::Custom { name: a.name.clone(), data_type: a.data_type });
            }
            return Err(FieldError::invalid(fpath, format!("{fpath}: custom attribute '{name}' does not exist")));
        }
        Err(FieldError::invalid(fpath, format!("{fpath}: {field} is not a valid search field")))
    }

    fn segment(&mut self, id: i64, vpath: &str) -> Result<Pred, FieldError> {
        let Some((_, query)) = self.schema.segments.iter().find(|(sid, _)| *sid == id) else {
            return Err(FieldError::invalid(vpath, format!("{vpath}: segment {id} does not exist")));
        };
        if self.segments.contains(&id) || self.segments.len() >= MAX_SEGMENT_NESTING {
            return Err(FieldError::invalid(
                vpath,
                format!("{vpath}: segment {id} refers back to itself or nests segments too deeply"),
            ));
        }
        self.segments.push(id);
        // A saved segment is a whole query of its own: its depth and its values count from
        // nothing again (what they add up to with the rest is `check_size`'s to judge).
        let outer_values = std::mem::take(&mut self.values);
        let pred = self.node(query, &format!("segment {id}"), 1);
        self.values = outer_values;
        self.segments.pop();
        pred
    }
}

fn check_op(op: &str, allowed: &[&str], field: &str, opath: &str) -> Result<Op, FieldError> {
    match Op::parse(op) {
        Some(parsed) if allowed.contains(&op) => Ok(parsed),
        _ => Err(FieldError::invalid(
            opath,
            format!("{opath}: operator '{op}' is not valid for {field}; use one of {}", allowed.join(", ")),
        )),
    }
}

/// An id: a whole number, or its digits as text.
fn as_id(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => crate::attribute::whole_number(n),
        Json::String(s) if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
