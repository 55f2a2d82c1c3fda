//! Compiles a [`Pred`] to a SQL boolean expression with bound parameters, for SQLite or
//! PostgreSQL.
//!
//! Nothing a user typed is ever spliced into the SQL text: column names come from the built-in
//! catalogue, custom attribute names and every value travel as parameters. Placeholders are
//! `$N`, which both SQLite and PostgreSQL accept.

use super::{MessageHistory, Pred, Target, Test};
use crate::attribute::{DataType, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value to bind.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlParam {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<&Value> for SqlParam {
    fn from(v: &Value) -> Self {
        match v {
            Value::Str(s) => SqlParam::Text(s.clone()),
            Value::Int(i) | Value::Date(i) => SqlParam::Int(*i),
            Value::Float(f) => SqlParam::Float(*f),
            Value::Bool(b) => SqlParam::Bool(*b),
        }
    }
}

/// SQL text and the parameters its placeholders refer to, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sql {
    pub text: String,
    pub params: Vec<SqlParam>,
    /// Placeholders start after this many parameters bound by the surrounding statement.
    pub offset: usize,
}

impl Sql {
    /// An empty fragment whose first placeholder will be `$(offset + 1)`.
    pub fn new(offset: usize) -> Self {
        Sql { text: String::new(), params: Vec::new(), offset }
    }

    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, p: SqlParam) -> String {
        self.params.push(p);
        format!("${}", self.offset + self.params.len())
    }
}

/// Compiles `pred` over the contacts table aliased as `alias`, appending to `out`.
pub fn compile(pred: &Pred, dialect: Dialect, alias: &str, out: &mut Sql) {
    let text = expr(pred, dialect, alias, out);
    out.text.push_str(&text);
}

fn expr(pred: &Pred, d: Dialect, alias: &str, out: &mut Sql) -> String {
    match pred {
        Pred::All(ps) | Pred::Any(ps) => {
            let joiner = if matches!(pred, Pred::All(_)) { " AND " } else { " OR " };
            let parts: Vec<String> = ps.iter().map(|p| expr(p, d, alias, out)).collect();
            format!("({})", parts.join(joiner))
        }
        // A positive test is NULL when the value is missing; COALESCE makes "not" include them.
        Pred::Not(p) => format!("(NOT COALESCE({}, FALSE))", expr(p, d, alias, out)),
        Pred::Message(id, stage) => {
            let p = out.bind(SqlParam::Int(*id));
            let stage = match stage {
                MessageHistory::Targeted => "",
                MessageHistory::Received => " AND d.state = 'sent'",
                MessageHistory::Seen => " AND d.seen_at IS NOT NULL",
            };
            format!("{alias}.id IN (SELECT d.contact_id FROM deliveries d WHERE d.message_id = {p}{stage})")
        }
        // `IN (uncorrelated subquery)`, not a correlated `EXISTS`: SQLite then reads the tag's
        // contacts once (through the index on tag_id) instead of probing once per contact, which
        // made "email contains … OR has tag" several times slower than the same query by hand.
        // contact_id is NOT NULL, so the IN is never NULL and NOT keeps its meaning.
        Pred::HasTag(id) => {
            let p = out.bind(SqlParam::Int(*id));
            format!("{alias}.id IN (SELECT ct.contact_id FROM contact_tags ct WHERE ct.tag_id = {p})")
        }
        Pred::Test(target, test) => {
            let value = target_expr(target, d, alias, out);
            test_expr(&value, test, d, out)
        }
    }
}

fn target_expr(target: &Target, d: Dialect, alias: &str, out: &mut Sql) -> String {
    match target {
        Target::Column(b) => format!("{alias}.{}", b.column),
        Target::Custom { name, data_type } => match d {
            Dialect::Sqlite => {
                let path = out.bind(SqlParam::Text(format!("$.\"{name}\"")));
                format!("json_extract({alias}.custom_attributes, {path})")
            }
            Dialect::Postgres => {
                let key = out.bind(SqlParam::Text(name.clone()));
                let cast = match data_type {
                    DataType::String => "",
                    DataType::Integer | DataType::Date => "::bigint",
                    DataType::Float => "::double precision",
                    DataType::Boolean => "::boolean",
                };
                format!("(({alias}.custom_attributes->>({key}::text)){cast})")
            }
        },
    }
}

fn test_expr(v: &str, test: &Test, d: Dialect, out: &mut Sql) -> String {
    let lower = |v: &str| match d {
        Dialect::Sqlite => format!("lower({v})"),
        Dialect::Postgres => format!("lower({v} COLLATE \"C\")"),
    };
    let find = match d {
        Dialect::Sqlite => "instr",
        Dialect::Postgres => "strpos",
    };
    match test {
        Test::Known => format!("({v} IS NOT NULL)"),
        Test::Eq(x) => format!("({v} = {})", out.bind(x.into())),
        Test::In(xs) => {
            let ps: Vec<String> = xs.iter().map(|x| out.bind(x.into())).collect();
            format!("({v} IN ({}))", ps.join(", "))
        }
        Test::Gt(x) => format!("({v} > {})", out.bind(x.into())),
        Test::Lt(x) => format!("({v} < {})", out.bind(x.into())),
        Test::Ge(x) => format!("({v} >= {})", out.bind(x.into())),
        Test::Le(x) => format!("({v} <= {})", out.bind(x.into())),
        Test::Range { from, until } => {
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(format!("{v} >= {}", out.bind(SqlParam::Int(*f))));
            }
            if let Some(u) = until {
                parts.push(format!("{v} < {}", out.bind(SqlParam::Int(*u))));
            }
            if parts.is_empty() {
                parts.push(format!("{v} IS NOT NULL"));
            }
            format!("({})", parts.join(" AND "))
        }
        Test::Contains(n) => format!("({find}({}, {}) > 0)", lower(v), out.bind(SqlParam::Text(n.clone()))),
        Test::StartsWith(n) => format!("({find}({}, {}) = 1)", lower(v), out.bind(SqlParam::Text(n.clone()))),
        Test::EndsWith(n) => {
            let p = out.bind(SqlParam::Text(n.clone()));
            match d {
                Dialect::Sqlite => format!("(substr({}, -length({p})) = {p})", lower(v)),
                Dialect::Postgres => format!("(right({}, length({p}::text)) = {p})", lower(v)),
            }
        }
    }
}
