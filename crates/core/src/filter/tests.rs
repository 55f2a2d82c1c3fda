use serde_json::json;

use super::eval::{Facts, matches};
use super::sql::{Dialect, Sql, compile as to_sql};
use super::*;
use crate::attribute::CustomAttribute;
use crate::contact::{Contact, Role};

fn custom(name: &str, data_type: DataType) -> CustomAttribute {
    CustomAttribute::new(name, data_type)
}

fn clock() -> Clock {
    // 2020-01-31 12:00 UTC
    Clock::new(1580472000, jiff::tz::TimeZone::UTC)
}

fn err_field(q: serde_json::Value) -> String {
    let customs = [custom("plan", DataType::String)];
    let schema = Schema { custom: &customs, tag_ids: &[7], segments: &[], message_ids: &[] };
    compile(&q, &schema, &clock(), "query").unwrap_err().field
}

#[test]
fn errors_name_the_path_to_the_bad_node() {
    let q = json!({"operator": "AND", "value": [
        {"field": "email", "operator": "~", "value": "x"},
        {"field": "signed_up_at", "operator": ">=", "value": 1}
    ]});
    assert_eq!(err_field(q), "query.value[1].operator");
    assert_eq!(err_field(json!({"field": "nope", "operator": "=", "value": 1})), "query.field");
    assert_eq!(err_field(json!({"field": "owner_id", "operator": "=", "value": "x"})), "query.value");
    assert_eq!(err_field(json!({"field": "custom_attributes.ghost", "operator": "=", "value": 1})), "query.field");
    assert_eq!(err_field(json!({"field": "tag_id", "operator": "=", "value": 8})), "query.value");
    assert_eq!(err_field(json!({"field": "email", "operator": "IN", "value": ["a", 3]})), "query.value[1]");
    assert_eq!(err_field(json!({"operator": "XOR", "value": []})), "query.operator");
}

#[test]
fn nesting_and_group_size_are_limited() {
    let leaf = json!({"field": "email", "operator": "~", "value": "x"});
    let two = json!({"operator": "AND", "value": [{"operator": "OR", "value": [leaf.clone(), leaf.clone()]}]});
    let schema = Schema::default();
    assert!(compile(&two, &schema, &clock(), "query").is_ok());
    let three = json!({"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf.clone()]}]}]});
    assert_eq!(compile(&three, &schema, &clock(), "query").unwrap_err().field, "query.value[0].value[0]");
    let sixteen = json!({"operator": "AND", "value": vec![leaf; 16]});
    assert_eq!(compile(&sixteen, &schema, &clock(), "query").unwrap_err().field, "query.value");
}

#[test]
fn dates_match_by_calendar_day() {
    let schema = Schema::default();
    let pred = compile(&json!({"field": "created_at", "operator": ">", "value": "1577869200"}), &schema, &clock(), "q")
        .unwrap();
    assert_eq!(
        pred,
        Pred::Test(Target::Column(builtin("created_at").unwrap()), Test::Range { from: Some(1577923200), until: None })
    );
    let mut c = Contact::new(1, Role::User, 1577923199);
    let facts = |c: &Contact| matches(&pred, &Facts { contact: c, tag_ids: &[], deliveries: &[] });
    assert!(!facts(&c));
    c.created_at = 1577923200;
    assert!(facts(&c));
}

#[test]
fn relative_dates_and_unknown_values() {
    let schema = Schema::default();
    let more = compile(
        &json!({"field": "signed_up_at", "operator": "more_than_days_ago", "value": 30}),
        &schema,
        &clock(),
        "q",
    )
    .unwrap();
    let unknown =
        compile(&json!({"field": "signed_up_at", "operator": "=", "value": null}), &schema, &clock(), "q").unwrap();
    let known =
        compile(&json!({"field": "signed_up_at", "operator": "!=", "value": null}), &schema, &clock(), "q").unwrap();
    let mut c = Contact::new(1, Role::User, 0);
    let m = |p: &Pred, c: &Contact| matches(p, &Facts { contact: c, tag_ids: &[], deliveries: &[] });
    assert!(!m(&more, &c) && m(&unknown, &c) && !m(&known, &c));
    c.signed_up_at = Some(clock().now - 31 * 86_400);
    assert!(m(&more, &c) && !m(&unknown, &c) && m(&known, &c));
    c.signed_up_at = Some(clock().now - 29 * 86_400);
    assert!(!m(&more, &c));
}

#[test]
fn negative_operators_include_contacts_without_a_value() {
    let customs = [custom("plan", DataType::String)];
    let schema = Schema { custom: &customs, ..Schema::default() };
    let ne =
        compile(&json!({"field": "custom_attributes.plan", "operator": "!=", "value": "pro"}), &schema, &clock(), "q")
            .unwrap();
    let mut c = Contact::new(1, Role::User, 0);
    let m = |c: &Contact| matches(&ne, &Facts { contact: c, tag_ids: &[], deliveries: &[] });
    assert!(m(&c));
    c.custom_attributes.insert("plan".into(), json!("pro"));
    assert!(!m(&c));
}

#[test]
fn segments_are_inlined_and_cycles_refused() {
    let segments = vec![
        (1, json!({"field": "role", "operator": "=", "value": "user"})),
        (2, json!({"field": "segment_id", "operator": "=", "value": 3})),
        (3, json!({"field": "segment_id", "operator": "=", "value": 2})),
    ];
    let schema = Schema { segments: &segments, ..Schema::default() };
    let p = compile(&json!({"field": "segment_id", "operator": "!=", "value": "1"}), &schema, &clock(), "q").unwrap();
    assert!(matches!(p, Pred::Not(_)));
    let lead = Contact::new(1, Role::Lead, 0);
    assert!(matches(&p, &Facts { contact: &lead, tag_ids: &[], deliveries: &[] }));
    assert!(compile(&json!({"field": "segment_id", "operator": "=", "value": 2}), &schema, &clock(), "q").is_err());
}

#[test]
fn sql_never_contains_user_text() {
    let customs = [custom("plan", DataType::String)];
    let schema = Schema { custom: &customs, tag_ids: &[7], segments: &[], message_ids: &[] };
    let q = json!({"operator": "OR", "value": [
        {"field": "email", "operator": "~", "value": "'; DROP TABLE contacts; --"},
        {"field": "custom_attributes.plan", "operator": "$", "value": "pro"},
        {"field": "tag_id", "operator": "!=", "value": 7}
    ]});
    let pred = compile(&q, &schema, &clock(), "query").unwrap();
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let mut sql = Sql::new(1);
        to_sql(&pred, d, "c", &mut sql);
        assert!(!sql.text.contains("DROP") && !sql.text.contains("pro"), "{}", sql.text);
        assert!(sql.text.starts_with("(") && sql.text.contains("$2"), "{}", sql.text);
        // A valid attribute name is written in, so that its expression index serves the query.
        assert!(sql.text.contains("'plan'") || sql.text.contains("'$.\"plan\"'"), "{}", sql.text);
        assert_eq!(sql.params.len(), 3);
    }
    // A name no attribute may have (a quote) is never written in: it is bound like a value.
    let odd = Pred::Test(
        Target::Custom { name: "pl'an".into(), data_type: DataType::String },
        Test::Eq(crate::attribute::Value::Str("pro".into())),
    );
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let mut sql = Sql::new(1);
        to_sql(&odd, d, "c", &mut sql);
        assert!(!sql.text.contains("pl'an") && sql.params.len() == 2, "{}", sql.text);
        assert_eq!(super::sql::custom_index("pl'an", DataType::String, d), None);
    }
}

#[test]
fn custom_attributes_are_read_by_the_expression_their_index_holds() {
    let (name, columns) = super::sql::custom_index("plan", DataType::String, Dialect::Sqlite).unwrap();
    assert!(name.starts_with("contacts_attribute_"));
    assert_ne!(name, super::sql::replaced_custom_index("plan"));
    assert_eq!(
        columns,
        "workspace_id, archived, json_extract(custom_attributes, '$.\"plan\"'), last_seen_at, signed_up_at"
    );
    let (_, columns) = super::sql::custom_index("plan", DataType::String, Dialect::Postgres).unwrap();
    assert_eq!(columns, "workspace_id, archived, ((custom_attributes->>'plan')), last_seen_at, signed_up_at");
    // PostgreSQL would cast other types: no index, which could fail on another workspace's values.
    assert_eq!(super::sql::custom_index("seats", DataType::Integer, Dialect::Postgres), None);
    let pred = Pred::Test(
        Target::Custom { name: "plan".into(), data_type: DataType::String },
        Test::Eq(crate::attribute::Value::Str("pro".into())),
    );
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let (_, columns) = super::sql::custom_index("plan", DataType::String, d).unwrap();
        let indexed =
            columns.trim_start_matches("workspace_id, archived, ").trim_end_matches(", last_seen_at, signed_up_at");
        let mut sql = Sql::new(1);
        to_sql(&pred, d, "", &mut sql);
        // Compiled over an unaliased table, the query reads exactly the indexed expression.
        assert!(sql.text.replace("(.", "(").contains(indexed), "{} vs {indexed}", sql.text);
    }
}

#[test]
fn an_or_of_indexed_alternatives_is_counted_in_disjoint_parts() {
    use super::sql::{SqlParam, count_parts};
    let email = |n: &str| Pred::Test(Target::Column(builtin("email").unwrap()), Test::Contains(n.into()));
    let or = Pred::Any(vec![email("@gmail"), Pred::HasTag(7)]);
    let scope = "c.workspace_id = $1 AND c.archived = FALSE";

    // SQLite: the domain's range, the emails with several `@`, then the tag's contacts by id.
    let mut sql = Sql::new(1);
    let parts = count_parts(&or, Dialect::Sqlite, "c", "$1", &mut sql).unwrap();
    let dom = "c.email_domain";
    // "@gmail" is the range alone: no email is read.
    assert_eq!(parts[0].sql, format!("SELECT COUNT(*) FROM contacts c WHERE {scope} AND ({dom} >= $2 AND {dom} < $3)"));
    assert_eq!(sql.params[..2], [SqlParam::Text("gmail".into()), SqlParam::Text("gmaim".into())]);
    assert!(parts[1].sql.contains("INDEXED BY contacts_search_email_several_at"), "{}", parts[1].sql);
    assert!(parts[1].sql.contains("AND (c.email LIKE '%@%@%' AND"), "{}", parts[1].sql);
    assert!(parts[2].sql.starts_with("SELECT COUNT(*) FROM contact_tags t CROSS JOIN contacts c"), "{}", parts[2].sql);
    assert_eq!(parts.iter().map(|p| p.tag).collect::<Vec<_>>(), [None, None, Some(7)]);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.sql.matches("NOT COALESCE(").count(), i, "{}", p.sql);
    }

    // PostgreSQL: the tag first, from `contact_tags` alone less the archived, then the email
    // parts, which test the tag by id; the domain compared in byte order.
    let mut sql = Sql::new(1);
    let parts = count_parts(&or, Dialect::Postgres, "c", "$1", &mut sql).unwrap();
    assert!(
        parts[0].sql.starts_with("SELECT COUNT(*) FROM contact_tags t WHERE t.tag_id = $2 AND t.workspace_id = $1")
    );
    assert!(
        parts[0]
            .sql
            .contains("t.contact_id NOT IN (SELECT a.id FROM contacts a WHERE a.workspace_id = $1 AND a.archived)")
    );
    let dom = "(c.email_domain COLLATE \"C\")";
    assert!(parts[1].sql.contains(&format!("AND ({dom} >= $3 AND {dom} < $4) AND NOT EXISTS (")), "{}", parts[1].sql);
    assert!(parts[2].sql.contains("AND (c.email LIKE '%@%@%' AND"), "{}", parts[2].sql);
    assert!(parts.iter().all(|p| p.tag.is_none()));
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p.sql.matches(" AND NOT ").count(), i, "{}", p.sql);
    }

    for d in [Dialect::Sqlite, Dialect::Postgres] {
        // A needle with more before its `@` tests the email inside the range.
        let or = Pred::Any(vec![email("n@gmail"), email("@x")]);
        let parts = count_parts(&or, d, "c", "$1", &mut Sql::new(1)).unwrap();
        assert!(parts[0].sql.contains("< $3 AND "), "{}", parts[0].sql);
        // "@x" is its range alone again.
        assert_eq!(parts.len(), 4);
        assert!(parts[2].sql.contains(" < $10) AND NOT COALESCE("), "{}", parts[2].sql);
        // Not for an alternative without its own index, not for a needle that ends in `@`
        // (emails without a domain may hold it) or has none, not for a lone alternative.
        let name = Pred::Test(Target::Column(builtin("name").unwrap()), Test::Contains("x".into()));
        for pred in [
            &Pred::Any(vec![email("@gmail"), name]),
            &Pred::Any(vec![email("x@"), Pred::HasTag(7)]),
            &Pred::Any(vec![email("gmail"), Pred::HasTag(7)]),
            &Pred::Any(vec![Pred::HasTag(7)]),
            &Pred::All(vec![email("@gmail"), Pred::HasTag(7)]),
        ] {
            assert_eq!(count_parts(pred, d, "c", "$1", &mut Sql::new(1)), None, "{pred:?}");
        }
    }
}

#[test]
fn the_end_of_a_prefix_range_raises_its_last_character_that_can_be() {
    use super::sql::prefix_end;
    assert_eq!(prefix_end("gmail").as_deref(), Some("gmaim"));
    assert_eq!(prefix_end("é").as_deref(), Some("ê"));
    // Surrogates are no characters: the next one is past them.
    assert_eq!(prefix_end("a\u{d7ff}").as_deref(), Some("a\u{e000}"));
    assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
    assert_eq!(prefix_end("\u{10ffff}"), None);
}

#[test]
fn email_is_names_the_domains_of_its_values_so_that_it_reads_the_email_index() {
    use super::sql::SqlParam;
    let email = builtin("email").unwrap();
    let is = |test: Test, d: Dialect| {
        let mut sql = Sql::new(1);
        to_sql(&Pred::Test(Target::Column(email), test), d, "c", &mut sql);
        sql
    };
    let sql = is(Test::Eq(Value::Str("Ada@Example.TEST".into())), Dialect::Sqlite);
    assert_eq!(sql.text, "(c.email_domain IN ($3) AND (c.email = $2))");
    assert_eq!(sql.params, [SqlParam::Text("Ada@Example.TEST".into()), SqlParam::Text("example.test".into())]);
    let list = vec![Value::Str("a@x.test".into()), Value::Str("b@X.test".into()), Value::Str("c@y.test".into())];
    let sql = is(Test::In(list), Dialect::Postgres);
    assert_eq!(sql.text, "((c.email_domain COLLATE \"C\") IN ($5, $6) AND (c.email IN ($2, $3, $4)))");
    // A value without a domain has none to name: the test stands alone, and still means it.
    let odd = vec![Value::Str("a@x.test".into()), Value::Str("gil@".into())];
    assert_eq!(is(Test::In(odd), Dialect::Sqlite).text, "(c.email IN ($2, $3))");
}

#[test]
fn a_lookup_by_key_names_the_index_that_finds_it_on_sqlite() {
    use super::sql::lookup_index;
    let col = |n: &str| Target::Column(builtin(n).unwrap());
    let email = |e: &str| Pred::Test(col("email"), Test::Eq(Value::Str(e.into())));
    assert_eq!(lookup_index(&email("a@x.test")), Some(" INDEXED BY contacts_search_email"));
    // Without a domain the email index cannot narrow to the value.
    assert_eq!(lookup_index(&email("gil@")), None);
    let ids = Pred::Test(col("external_id"), Test::In(vec![Value::Str("7".into()), Value::Str("8".into())]));
    assert_eq!(lookup_index(&ids), Some(" INDEXED BY contacts_external_id"));
    let id = Pred::Test(Target::Column(&crate::attribute::ID), Test::In(vec![Value::Int(5), Value::Int(77)]));
    assert_eq!(lookup_index(&id), Some(" NOT INDEXED"));
    // Beside other tests the lookup still bounds the matches; negated or in an OR it does not.
    let named = Pred::Test(col("name"), Test::Contains("ann".into()));
    assert_eq!(
        lookup_index(&Pred::All(vec![named.clone(), email("a@x.test")])),
        Some(" INDEXED BY contacts_search_email")
    );
    assert_eq!(lookup_index(&Pred::Not(Box::new(email("a@x.test")))), None);
    assert_eq!(lookup_index(&Pred::Any(vec![named.clone(), email("a@x.test")])), None);
    assert_eq!(lookup_index(&named), None);
    // An OR of one key's values is that key's list, and compiles as one.
    let either = Pred::Any(vec![email("a@x.test"), email("b@y.test")]);
    assert_eq!(lookup_index(&either), Some(" INDEXED BY contacts_search_email"));
    let ids = Pred::Any(vec![
        Pred::Test(Target::Column(&crate::attribute::ID), Test::Eq(Value::Int(5))),
        Pred::Test(Target::Column(&crate::attribute::ID), Test::In(vec![Value::Int(6), Value::Int(7)])),
    ]);
    assert_eq!(lookup_index(&ids), Some(" NOT INDEXED"));
    let mut sql = Sql::new(1);
    to_sql(&ids, Dialect::Sqlite, "c", &mut sql);
    assert_eq!(sql.text, "(c.id IN ($2, $3, $4))");
}
