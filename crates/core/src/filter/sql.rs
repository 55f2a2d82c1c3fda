//! Compiles a [`Pred`] to a SQL boolean expression with bound parameters, for SQLite or
//! PostgreSQL.
//!
//! Nothing a user typed in a query is ever spliced into the SQL text: column names come from the
//! built-in catalogue and every value travels as a parameter. The one name written into the text
//! is a custom attribute's, and only when it passes [`validate_custom_name`] (letters, digits,
//! space, `_`, `-`, currency symbols: never a quote), so the expression that reads it is the very
//! text of the expression index that serves it ([`custom_index`]); any other name is bound.
//! Placeholders are `$N`, which both SQLite and PostgreSQL accept.

use super::{MessageHistory, Pred, Target, Test};
use crate::attribute::{DataType, Value, validate_custom_name};

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

/// "The contact is among the rows of `from`" (`from` is `table alias WHERE …`, `column` the
/// contact id in it). SQLite gets an uncorrelated `IN`: it reads those rows once through their
/// index, where a correlated `EXISTS` probed once per contact and made "email contains … OR has
/// tag" over a million contacts 7x slower than by hand. PostgreSQL gets `EXISTS`, which it turns
/// into a semi-join, or an anti-join under NOT ("has not received"), where `NOT IN` over a large
/// subquery could be re-scanned per contact. The id columns are NOT NULL, so `IN` is never NULL.
fn member_of(d: Dialect, alias: &str, from: &str, column: &str) -> String {
    match d {
        Dialect::Sqlite => format!("{alias}.id IN (SELECT {column} FROM {from})"),
        Dialect::Postgres => format!("EXISTS (SELECT 1 FROM {from} AND {column} = {alias}.id)"),
    }
}

fn expr(pred: &Pred, d: Dialect, alias: &str, out: &mut Sql) -> String {
    match pred {
        // Empty groups and lists mean what the in-memory evaluator says: all of nothing holds,
        // any of nothing does not (and `IN ()` is not SQL on PostgreSQL).
        Pred::All(ps) if ps.is_empty() => "TRUE".to_owned(),
        Pred::Any(ps) if ps.is_empty() => "FALSE".to_owned(),
        Pred::All(ps) | Pred::Any(ps) => {
            let joiner = if matches!(pred, Pred::All(_)) { " AND " } else { " OR " };
            let parts: Vec<String> = ps.iter().map(|p| expr(p, d, alias, out)).collect();
            format!("({})", parts.join(joiner))
        }
        // Membership is never NULL: a bare NOT lets PostgreSQL plan an anti-join.
        Pred::Not(p) if matches!(**p, Pred::Message(..) | Pred::HasTag(..)) => {
            format!("(NOT {})", expr(p, d, alias, out))
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
            member_of(d, alias, &format!("deliveries d WHERE d.message_id = {p}{stage}"), "d.contact_id")
        }
        Pred::HasTag(id) => {
            let p = out.bind(SqlParam::Int(*id));
            member_of(d, alias, &format!("contact_tags ct WHERE ct.tag_id = {p}"), "ct.contact_id")
        }
        Pred::Test(Target::Column(b), Test::Contains(n)) if b.column == "email" && n.contains('@') => {
            email_contains(n, d, alias, out)
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
        Target::Custom { name, data_type } => {
            if let Some(e) = custom_literal(name, *data_type, d, &format!("{alias}.")) {
                return e;
            }
            match d {
                Dialect::Sqlite => {
                    let path = out.bind(SqlParam::Text(format!("$.\"{name}\"")));
                    format!("json_extract({alias}.custom_attributes, {path})")
                }
                Dialect::Postgres => {
                    let key = out.bind(SqlParam::Text(name.clone()));
                    format!("(({alias}.custom_attributes->>({key}::text)){})", cast(*data_type))
                }
            }
        }
    }
}

fn cast(data_type: DataType) -> &'static str {
    match data_type {
        DataType::String => "",
        DataType::Integer | DataType::Date => "::bigint",
        DataType::Float => "::double precision",
        DataType::Boolean => "::boolean",
    }
}

/// The expression reading custom attribute `name` with the name written in (columns prefixed by
/// `prefix`: `c.` in a query, nothing in an index), or `None` when the name is not one
/// [`validate_custom_name`] accepts.
fn custom_literal(name: &str, data_type: DataType, d: Dialect, prefix: &str) -> Option<String> {
    if validate_custom_name(name).is_err() || name.contains(['\'', '"']) {
        return None;
    }
    Some(match d {
        Dialect::Sqlite => format!("json_extract({prefix}custom_attributes, '$.\"{name}\"')"),
        Dialect::Postgres => format!("(({prefix}custom_attributes->>'{name}'){})", cast(data_type)),
    })
}

/// The expression index that serves filters on custom attribute `name`: its name and the
/// indexed columns, led by the workspace and the archived flag every search fixes. `None` when
/// no index can serve it: a name that is bound rather than written (see the module's comment),
/// or a value PostgreSQL would have to cast (an index on a cast would fail on another
/// workspace's attribute of the same name and another type).
pub fn custom_index(name: &str, data_type: DataType, d: Dialect) -> Option<(String, String)> {
    if d == Dialect::Postgres && data_type != DataType::String {
        return None;
    }
    let expr = custom_literal(name, data_type, d, "")?;
    // FNV-1a: a stable, short identifier for any name (indexes are per name, for every workspace).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    Some((format!("contacts_attribute_{hash:016x}"), format!("workspace_id, archived, {expr}")))
}

/// Every custom attribute `pred` reads, once each.
pub fn custom_targets(pred: &Pred) -> Vec<(String, DataType)> {
    fn walk(p: &Pred, out: &mut Vec<(String, DataType)>) {
        match p {
            Pred::All(ps) | Pred::Any(ps) => ps.iter().for_each(|p| walk(p, out)),
            Pred::Not(p) => walk(p, out),
            Pred::Test(Target::Custom { name, data_type }, _) => {
                if !out.iter().any(|(n, _)| n == name) {
                    out.push((name.clone(), *data_type));
                }
            }
            Pred::Test(..) | Pred::HasTag(_) | Pred::Message(..) => {}
        }
    }
    let mut out = Vec::new();
    walk(pred, &mut out);
    out
}

/// "The email contains `needle`", where the needle holds an `@`, on PostgreSQL. The test itself
/// is the one every string gets (`contains`, below); what comes before it lets most contacts be
/// ruled out by their stored `email_domain` (the email after its last `@`, lowercased), without
/// lowering and searching every email. An email with exactly one `@` can hold the needle only
/// with the needle's last `@` on it, so only if its domain starts with what follows that `@` in
/// the needle. Any other email (no `@`, an empty domain, more than one `@`) is left to the test
/// alone, so the answer is the evaluator's for every email. SQLite's LIKE is cheaper than this
/// (see `test_expr`): there the email gets the plain test.
fn email_contains(needle: &str, d: Dialect, alias: &str, out: &mut Sql) -> String {
    let (e, dom) = (format!("{alias}.email"), format!("{alias}.email_domain"));
    let test = test_expr(&e, &Test::Contains(needle.to_owned()), d, out);
    if d == Dialect::Sqlite {
        return test;
    }
    let after = &needle[needle.rfind('@').map_or(0, |i| i + 1)..];
    let p = out.bind(SqlParam::Text(after.to_owned()));
    format!("((starts_with({dom}, {p}::text) OR {dom} IS NULL OR {e} LIKE '%@%@%') AND {test})")
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
        Test::In(xs) if xs.is_empty() => "FALSE".to_owned(),
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
            // SQLite guesses that any range keeps a quarter of the rows, so "signed up more than
            // 30 days ago" (most contacts) looked narrower than "plan = pro" and it read every
            // match of the range through its index, one contact at a time. Marked likely, an
            // open-ended range still serves a count from its index, but an equality is
            // preferred to it, and so is the creation order that serves a first page.
            match (d, from, until) {
                (Dialect::Sqlite, Some(_), None) | (Dialect::Sqlite, None, Some(_)) => format!("likely({})", parts[0]),
                _ => format!("({})", parts.join(" AND ")),
            }
        }
        // SQLite's LIKE ignores the case of ASCII letters only, exactly as these tests do, and
        // costs a third of lowering every value and searching it (the needle is lowercase and its
        // wildcards escaped). PostgreSQL's ILIKE would fold other letters too: it lowers.
        Test::Contains(n) if d == Dialect::Sqlite => like(v, &format!("%{}%", escape_like(n)), out),
        Test::StartsWith(n) if d == Dialect::Sqlite => like(v, &format!("{}%", escape_like(n)), out),
        Test::EndsWith(n) if d == Dialect::Sqlite => like(v, &format!("%{}", escape_like(n)), out),
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

fn like(v: &str, pattern: &str, out: &mut Sql) -> String {
    format!("({v} LIKE {} ESCAPE '\\')", out.bind(SqlParam::Text(pattern.to_owned())))
}

/// `text` with LIKE's wildcards and its escape character escaped by `\`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}
