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
    assert_eq!(columns, "workspace_id, archived, json_extract(custom_attributes, '$.\"plan\"')");
    let (_, columns) = super::sql::custom_index("plan", DataType::String, Dialect::Postgres).unwrap();
    assert_eq!(columns, "workspace_id, archived, ((custom_attributes->>'plan'))");
    // PostgreSQL would cast other types: no index, which could fail on another workspace's values.
    assert_eq!(super::sql::custom_index("seats", DataType::Integer, Dialect::Postgres), None);
    let pred = Pred::Test(
        Target::Custom { name: "plan".into(), data_type: DataType::String },
        Test::Eq(crate::attribute::Value::Str("pro".into())),
    );
    for d in [Dialect::Sqlite, Dialect::Postgres] {
        let (_, columns) = super::sql::custom_index("plan", DataType::String, d).unwrap();
        let indexed = columns.trim_start_matches("workspace_id, archived, ");
        let mut sql = Sql::new(1);
        to_sql(&pred, d, "", &mut sql);
        // Compiled over an unaliased table, the query reads exactly the indexed expression.
        assert!(sql.text.replace("(.", "(").contains(indexed), "{} vs {indexed}", sql.text);
    }
}
