//! Evaluates a [`Pred`] against one contact in memory.
//!
//! This is the reference semantics the SQL compiler must match; a property test in the store
//! crate runs both against the same random contacts and queries.

use super::{MessageHistory, Pred, Target, Test};
use crate::attribute::Value;
use crate::contact::Contact;

/// What the evaluator needs to know about a contact beyond its attributes.
pub struct Facts<'a> {
    pub contact: &'a Contact,
    pub tag_ids: &'a [i64],
    /// The contact's deliveries: message id, whether it reached them, whether they saw it.
    pub deliveries: &'a [(i64, bool, bool)],
}

/// Whether the contact matches.
pub fn matches(pred: &Pred, facts: &Facts<'_>) -> bool {
    match pred {
        Pred::All(ps) => ps.iter().all(|p| matches(p, facts)),
        Pred::Any(ps) => ps.iter().any(|p| matches(p, facts)),
        Pred::Not(p) => !matches(p, facts),
        Pred::HasTag(id) => facts.tag_ids.contains(id),
        Pred::Message(id, stage) => facts.deliveries.iter().any(|(m, received, seen)| {
            *m == *id
                && match stage {
                    MessageHistory::Targeted => true,
                    MessageHistory::Received => *received,
                    MessageHistory::Seen => *seen,
                }
        }),
        Pred::Test(target, test) => {
            let value = match target {
                Target::Column(b) => facts.contact.builtin_value(b.name),
                Target::Custom { name, data_type } => facts.contact.custom_value(name, *data_type),
            };
            value.is_some_and(|v| passes(&v, test))
        }
    }
}

fn passes(v: &Value, test: &Test) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match test {
        Test::Known => true,
        Test::Eq(x) => compare(v, x) == Some(Equal),
        Test::In(xs) => xs.iter().any(|x| compare(v, x) == Some(Equal)),
        Test::Gt(x) => compare(v, x) == Some(Greater),
        Test::Lt(x) => compare(v, x) == Some(Less),
        Test::Ge(x) => matches!(compare(v, x), Some(Greater | Equal)),
        Test::Le(x) => matches!(compare(v, x), Some(Less | Equal)),
        Test::Range { from, until } => match v {
            Value::Date(t) | Value::Int(t) => from.is_none_or(|f| *t >= f) && until.is_none_or(|u| *t < u),
            _ => false,
        },
        Test::Contains(n) => text(v).is_some_and(|s| s.contains(n.as_str())),
        Test::StartsWith(n) => text(v).is_some_and(|s| s.starts_with(n.as_str())),
        Test::EndsWith(n) => text(v).is_some_and(|s| s.ends_with(n.as_str())),
    }
}

/// Lowercases ASCII letters only, as SQLite's `lower()` and PostgreSQL's `lower(… COLLATE "C")` do.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.to_ascii_lowercase()),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Int(x) | Value::Date(x), Value::Int(y) | Value::Date(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}
