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
use crate::attribute::{BuiltIn, DataType, Value, validate_custom_name};

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

/// "The contact whose id is `id` is among the rows of `from`" (`from` is `table alias WHERE …`,
/// `column` the contact id in it). SQLite gets an uncorrelated `IN`: it reads those rows once
/// through their index, where a correlated `EXISTS` probed once per contact and made "email
/// contains … OR has tag" over a million contacts 7x slower than by hand. PostgreSQL gets `EXISTS`, which it turns
/// into a semi-join, or an anti-join under NOT ("has not received"), where `NOT IN` over a large
/// subquery could be re-scanned per contact. The id columns are NOT NULL, so `IN` is never NULL.
fn member_of(d: Dialect, id: &str, from: &str, column: &str) -> String {
    match d {
        Dialect::Sqlite => format!("{id} IN (SELECT {column} FROM {from})"),
        Dialect::Postgres => format!("EXISTS (SELECT 1 FROM {from} AND {column} = {id})"),
    }
}

/// "The contact whose id is `id` has the tag `tag`".
fn tagged(d: Dialect, id: &str, tag: i64, out: &mut Sql) -> String {
    let p = out.bind(SqlParam::Int(tag));
    member_of(d, id, &format!("contact_tags ct WHERE ct.tag_id = {p}"), "ct.contact_id")
}

fn expr(pred: &Pred, d: Dialect, alias: &str, out: &mut Sql) -> String {
    match pred {
        // Empty groups and lists mean what the in-memory evaluator says: all of nothing holds,
        // any of nothing does not (and `IN ()` is not SQL on PostgreSQL).
        Pred::All(ps) if ps.is_empty() => "TRUE".to_owned(),
        Pred::Any(ps) if ps.is_empty() => "FALSE".to_owned(),
        Pred::All(ps) | Pred::Any(ps) => {
            if let Pred::Any(ps) = pred
                && let Some(p) = one_of(ps)
            {
                return expr(&p, d, alias, out);
            }
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
            member_of(
                d,
                &format!("{alias}.id"),
                &format!("deliveries d WHERE d.message_id = {p}{stage}"),
                "d.contact_id",
            )
        }
        Pred::HasTag(id) => tagged(d, &format!("{alias}.id"), *id, out),
        Pred::Test(Target::Column(b), Test::Contains(n)) if b.column == "email" && n.contains('@') => {
            email_contains(n, d, alias, out)
        }
        Pred::Test(Target::Column(b), test @ (Test::Eq(_) | Test::In(_))) if b.column == "email" => {
            email_is(test, d, alias, out)
        }
        Pred::Test(target, test) => {
            let value = target_expr(target, d, alias, out);
            test_expr(&value, test, d, out)
        }
    }
}

fn target_expr(target: &Target, d: Dialect, alias: &str, out: &mut Sql) -> String {
    match target {
        Target::Column(b) if b.column == "email_domain" => domain(d, alias),
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
/// indexed columns, led by the workspace and the archived flag every search fixes, and followed
/// by the last-seen and signed-up times, the dates most often filtered beside an attribute
/// ("plan = pro, seen this week"): such a search is one range of the index, counted from the
/// index alone. `None` when no index can serve it: a name that is bound rather than written
/// (see the module's comment), or a value PostgreSQL would have to cast (an index on a cast
/// would fail on another workspace's attribute of the same name and another type).
pub fn custom_index(name: &str, data_type: DataType, d: Dialect) -> Option<(String, String)> {
    if d == Dialect::Postgres && data_type != DataType::String {
        return None;
    }
    let expr = custom_literal(name, data_type, d, "")?;
    Some((
        format!("contacts_attribute_{:016x}_dates", name_hash(name)),
        format!("workspace_id, archived, {expr}, last_seen_at, signed_up_at"),
    ))
}

/// The index [`custom_index`] replaces, which held the attribute alone: dropped once its
/// successor exists.
pub fn replaced_custom_index(name: &str) -> String {
    format!("contacts_attribute_{:016x}", name_hash(name))
}

/// FNV-1a: a stable, short identifier for any name (indexes are per name, for every workspace).
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
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
    let (e, dom) = (format!("{alias}.email"), domain(d, alias));
    let test = test_expr(&e, &Test::Contains(needle.to_owned()), d, out);
    if d == Dialect::Sqlite {
        return test;
    }
    let after = &needle[needle.rfind('@').map_or(0, |i| i + 1)..];
    let p = out.bind(SqlParam::Text(after.to_owned()));
    format!("((starts_with({dom}, {p}::text) OR {dom} IS NULL OR {e} LIKE '%@%@%') AND {test})")
}

/// "Email is …" or "email is one of …": the emails' domains first, which they imply, so that
/// the lookup reads `contacts_search_email` (workspace, archived, domain, email), the one index
/// that holds emails. Where a value has no domain to name (no `@`, or nothing after the last),
/// the test stands alone.
fn email_is(test: &Test, d: Dialect, alias: &str, out: &mut Sql) -> String {
    let plain = test_expr(&format!("{alias}.email"), test, d, out);
    match tested_values(test).and_then(email_domains) {
        Some(domains) => {
            let ps: Vec<String> = domains.into_iter().map(|x| out.bind(SqlParam::Text(x))).collect();
            format!("({} IN ({}) AND {plain})", domain(d, alias), ps.join(", "))
        }
        None => plain,
    }
}

/// The values an "is" or "is one of" test compares with; none for any other test.
fn tested_values(test: &Test) -> Option<&[Value]> {
    match test {
        Test::Eq(x) => Some(std::slice::from_ref(x)),
        Test::In(xs) => Some(xs),
        _ => None,
    }
}

/// The email domains of `values`, sorted and each once; none without values, or where one has
/// no domain (no `@`, nothing after the last, or not text).
fn email_domains(values: &[Value]) -> Option<Vec<String>> {
    let mut domains = values
        .iter()
        .map(|v| if let Value::Str(e) = v { crate::contact::email_domain(e) } else { None })
        .collect::<Option<Vec<String>>>()?;
    domains.sort_unstable();
    domains.dedup();
    (!domains.is_empty()).then_some(domains)
}

/// An OR of "is" and "is one of" tests of one column (`email = a OR email = b`, the way the
/// API's clients often ask for several contacts) as the one "is one of" that selects the same
/// contacts, which an index can answer value by value where the OR's alternatives, each
/// without the workspace, cannot.
fn one_of(ps: &[Pred]) -> Option<Pred> {
    let mut column = None;
    let mut values = Vec::new();
    for p in ps {
        let Pred::Test(Target::Column(b), test) = p else { return None };
        if column.is_some_and(|c: &BuiltIn| c.column != b.column) {
            return None;
        }
        column = Some(*b);
        match test {
            Test::Eq(x) => values.push(x.clone()),
            Test::In(xs) => values.extend(xs.iter().cloned()),
            _ => return None,
        }
    }
    Some(Pred::Test(Target::Column(column?), Test::In(values)))
}

/// How SQLite should read the contacts `pred` selects when it looks them up by key (an id, an
/// external id or an email, or a list of them), alone or beside other tests: the key's index
/// (`INDEXED BY …`, or `NOT INDEXED`, which leaves the rowid), to follow the table alias.
/// SQLite has no statistics, so it takes an equality on the workspace for a handful of rows:
/// unhinted, it counted `id IN (…)` by walking every entry of a workspace index, and read a
/// first page in creation order through the whole workspace for a single match (over a million
/// contacts, 110 and 412 ms against well under one). Only where the key's index can serve
/// every value (`email_is` names each value's domain).
pub fn lookup_index(pred: &Pred) -> Option<&'static str> {
    match pred {
        Pred::All(ps) => ps.iter().find_map(lookup_index),
        Pred::Any(ps) => one_of(ps).as_ref().and_then(lookup_index),
        Pred::Test(Target::Column(b), test) => {
            let values = tested_values(test).filter(|v| !v.is_empty())?;
            match b.column {
                "id" => Some(" NOT INDEXED"),
                "external_id" => Some(" INDEXED BY contacts_external_id"),
                "email" if email_domains(values).is_some() => Some(" INDEXED BY contacts_search_email"),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The stored email domain, compared in byte order (code point order in UTF-8) on either
/// database, as the evaluator compares strings. PostgreSQL indexes it so
/// (`contacts_search_email`, migration 0023), whatever the database's collation, so that a
/// range of it is exactly the domains that start alike.
fn domain(d: Dialect, alias: &str) -> String {
    match d {
        Dialect::Sqlite => format!("{alias}.email_domain"),
        Dialect::Postgres => format!("({alias}.email_domain COLLATE \"C\")"),
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

/// One part of a count split by [`count_parts`]: the statement that counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountPart {
    /// `SELECT COUNT(*) …` of the part's live contacts of the workspace.
    pub sql: String,
    /// The tag whose contacts this part reads one by one, by id (on SQLite): the caller weighs
    /// their number against a test of every contact before it counts in parts.
    pub tag: Option<i64>,
}

/// Alternatives one split count reads at most: the part for the k-th also tests the k−1 before it.
const MAX_PARTS: usize = 4;

/// An alternative of an OR that can be read from an index of its own.
enum Alt<'a> {
    /// Tagged: the tag's rows of `contact_tags`.
    Tag(i64),
    /// "Email contains `needle`" for an email with one `@`: its domain lies in `from..until`
    /// (the range of `contacts_search_email` where the domain starts with what follows the
    /// needle's last `@`; no end when that cannot be written).
    EmailDomain { needle: &'a str, from: String, until: Option<String> },
    /// "Email contains `needle`" for an email with several `@`, which its domain says nothing
    /// about: the few such contacts, from the partial index that holds only them.
    EmailSeveralAt { needle: &'a str },
}

/// The alternatives that stand for `pred`, each read from its own index, or `None` when an index
/// cannot serve it.
fn alternatives(pred: &Pred) -> Option<Vec<Alt<'_>>> {
    match pred {
        Pred::HasTag(id) => Some(vec![Alt::Tag(*id)]),
        Pred::Test(Target::Column(b), Test::Contains(n)) if b.column == "email" => {
            let after = &n[n.rfind('@')? + 1..];
            // A needle ending in `@` is contained in emails without a domain too.
            if after.is_empty() {
                return None;
            }
            Some(vec![
                Alt::EmailDomain { needle: n, from: after.to_owned(), until: prefix_end(after) },
                Alt::EmailSeveralAt { needle: n },
            ])
        }
        _ => None,
    }
}

/// The least text above every text that starts with `prefix`, in code point order (SQLite's
/// binary comparison of UTF-8, PostgreSQL's "C" collation): `prefix` with its last character that
/// can be raised, raised.
pub(super) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Alt<'_> {
    /// Whether a contact is among this alternative's, as a test any row can take: `id` is the
    /// contact's id, `alias` its row of `contacts` (which only a tag's test can do without).
    fn test(&self, d: Dialect, alias: &str, id: &str, out: &mut Sql) -> String {
        let e = format!("{alias}.email");
        match self {
            Alt::Tag(tag) => tagged(d, id, *tag, out),
            Alt::EmailDomain { needle, from, until } => {
                let dom = domain(d, alias);
                let mut range = format!("{dom} >= {}", out.bind(SqlParam::Text(from.clone())));
                let Some(u) = until else {
                    let test = test_expr(&e, &Test::Contains((*needle).to_owned()), d, out);
                    return format!("({range} AND {test})");
                };
                range.push_str(&format!(" AND {dom} < {}", out.bind(SqlParam::Text(u.clone()))));
                // "Contains @gmail" (one `@`, first): the stored domain is the lowercased email
                // after its last `@`, so a domain starting with "gmail" puts "@gmail" in the
                // lowercased email, and an email with one `@` holds it only so. The range is the
                // whole test; the emails with several `@` it leaves out are the next part's.
                if needle.rfind('@') == Some(0) {
                    return format!("({range})");
                }
                let test = test_expr(&e, &Test::Contains((*needle).to_owned()), d, out);
                format!("({range} AND {test})")
            }
            Alt::EmailSeveralAt { needle } => {
                // Written as the partial index's own condition, so that it can serve this.
                let test = test_expr(&e, &Test::Contains((*needle).to_owned()), d, out);
                format!("({e} LIKE '%@%@%' AND {test})")
            }
        }
    }
}

/// `pred` counted as a sum of disjoint parts, when it is an OR whose every alternative can be
/// read from an index of its own ("email contains @gmail OR tagged vip"): the first
/// alternative's contacts, then the second's that are not the first's, and so on. A count
/// written as one OR tests every contact of the workspace against each alternative; the parts
/// read only the contacts each alternative's index holds, and test those against the
/// alternatives before it. The sum is the OR's count: a contact is counted in the part of the
/// first alternative it meets, and in no other. Each part counts the live contacts (`alias`)
/// of the workspace whose id is bound as `ws`.
///
/// The parts differ by database in how they read a tag's contacts:
/// - SQLite reads the tag's rows, then each contact by id, last of all (testing a domain on a
///   tagged contact costs nothing, testing a tag on each contact of a domain a lookup). One
///   lookup per contact costs several times a contact's share of a scan, so on a tag that holds
///   a large share of the workspace one OR is cheaper: the caller weighs [`CountPart::tag`].
/// - PostgreSQL counts the tag first, from `contact_tags` alone: its rows of the workspace less
///   those of archived contacts (and of the tags before it). Reading the tagged contacts
///   themselves would read most of the table, where a tag's contacts lie scattered; the email
///   parts after it leave the tag's contacts out by id (which `contacts_search_email` holds),
///   an anti-join.
pub fn count_parts(pred: &Pred, d: Dialect, alias: &str, ws: &str, out: &mut Sql) -> Option<Vec<CountPart>> {
    let Pred::Any(ps) = pred else { return None };
    if ps.len() < 2 {
        return None;
    }
    let mut alts = Vec::new();
    for p in ps {
        alts.extend(alternatives(p)?);
    }
    if alts.len() > MAX_PARTS {
        return None;
    }
    // Tags last on SQLite, first on PostgreSQL (see above); the sum is the same in any order.
    alts.sort_by_key(|a| matches!(a, Alt::Tag(_)) != (d == Dialect::Postgres));
    let scope = format!("{alias}.workspace_id = {ws} AND {alias}.archived = FALSE");
    let row_id = format!("{alias}.id");
    let mut parts = Vec::new();
    for (i, alt) in alts.iter().enumerate() {
        let (mut sql, id, tag) = match (alt, d) {
            (Alt::Tag(tag), Dialect::Sqlite) => {
                let p = out.bind(SqlParam::Int(*tag));
                // CROSS JOIN keeps the order: the tag's rows first, then one lookup by id each.
                let from = format!("contact_tags t CROSS JOIN contacts {alias} ON {alias}.id = t.contact_id");
                (format!("SELECT COUNT(*) FROM {from} WHERE {scope} AND t.tag_id = {p}"), row_id.clone(), Some(*tag))
            }
            (Alt::Tag(tag), Dialect::Postgres) => {
                let p = out.bind(SqlParam::Int(*tag));
                let archived = format!("SELECT a.id FROM contacts a WHERE a.workspace_id = {ws} AND a.archived");
                let sql = format!(
                    "SELECT COUNT(*) FROM contact_tags t WHERE t.tag_id = {p} AND t.workspace_id = {ws} \
                     AND t.contact_id NOT IN ({archived})"
                );
                (sql, "t.contact_id".to_owned(), None)
            }
            (Alt::EmailDomain { .. } | Alt::EmailSeveralAt { .. }, _) => {
                let test = alt.test(d, alias, &row_id, out);
                // SQLite is named the partial index; PostgreSQL finds it by its condition.
                let hint = match (alt, d) {
                    (Alt::EmailSeveralAt { .. }, Dialect::Sqlite) => " INDEXED BY contacts_search_email_several_at",
                    _ => "",
                };
                (format!("SELECT COUNT(*) FROM contacts {alias}{hint} WHERE {scope} AND {test}"), row_id.clone(), None)
            }
        };
        for before in &alts[..i] {
            let test = before.test(d, alias, &id, out);
            // A tag's test is never NULL, and a bare NOT EXISTS lets PostgreSQL plan an anti-join,
            // which a large tag's rows need: a hashed test per row must fit in `work_mem`.
            sql.push_str(&match before {
                Alt::Tag(_) => format!(" AND NOT {test}"),
                _ => format!(" AND NOT COALESCE({test}, FALSE)"),
            });
        }
        parts.push(CountPart { sql, tag });
    }
    Some(parts)
}
