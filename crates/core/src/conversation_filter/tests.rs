use jiff::tz::TimeZone;
use serde_json::{Value as Json, json};

use super::*;

fn utc() -> Clock {
    Clock::new(1_700_000_000, TimeZone::UTC)
}

fn lower(q: Json) -> Pred {
    compile(&q, &utc(), "query").unwrap_or_else(|e| panic!("{q}: {e}"))
}

fn refused(q: Json) -> FieldError {
    compile(&q, &utc(), "query").expect_err(&q.to_string())
}

fn not(p: Pred) -> Pred {
    Pred::Not(Box::new(p))
}

#[test]
fn ids_take_numbers_or_digits_and_lists() {
    assert_eq!(lower(json!({"field": "id", "operator": "=", "value": "42"})), Pred::In(Number::Id, vec![42]));
    assert_eq!(
        lower(json!({"field": "contact_ids", "operator": "NIN", "value": [1, "2"]})),
        not(Pred::In(Number::Contact, vec![1, 2]))
    );
    assert_eq!(lower(json!({"field": "tag_ids", "operator": "IN", "value": [7, 8]})), Pred::Tagged(vec![7, 8]));
    assert_eq!(lower(json!({"field": "teammate_ids", "operator": "!=", "value": 3})), not(Pred::Teammate(vec![3])));
    assert_eq!(
        lower(json!({"field": "source.author.id", "operator": "=", "value": 9})),
        Pred::In(Number::SourceAuthor, vec![9])
    );
}

#[test]
fn unassigned_is_zero_or_null() {
    let unassigned = Pred::In(Number::Assignee, vec![0]);
    assert_eq!(lower(json!({"field": "admin_assignee_id", "operator": "=", "value": 0})), unassigned);
    assert_eq!(lower(json!({"field": "admin_assignee_id", "operator": "=", "value": null})), unassigned);
    assert_eq!(lower(json!({"field": "admin_assignee_id", "operator": "!=", "value": null})), not(unassigned));
    assert_eq!(
        lower(json!({"field": "admin_assignee_id", "operator": ">", "value": "5"})),
        Pred::Between(Number::Assignee, Some(5), None)
    );
}

#[test]
fn times_match_calendar_days_and_bounds_include_the_value() {
    // 2020-01-01 09:00 UTC lies in the day [1577836800, 1577923200).
    let day = Pred::Between(Number::CreatedAt, Some(1_577_836_800), Some(1_577_923_199));
    assert_eq!(lower(json!({"field": "created_at", "operator": "=", "value": 1_577_869_200})), day);
    assert_eq!(lower(json!({"field": "created_at", "operator": "!=", "value": "1577869200"})), not(day));
    assert_eq!(
        lower(json!({"field": "updated_at", "operator": ">", "value": "2020-01-01T09:00:00Z"})),
        Pred::Between(Number::UpdatedAt, Some(1_577_869_200), None)
    );
    assert_eq!(
        lower(json!({"field": "waiting_since", "operator": "<", "value": 10})),
        Pred::Between(Number::WaitingSince, None, Some(10))
    );
    assert_eq!(
        lower(json!({"field": "snoozed_until", "operator": "=", "value": null})),
        not(Pred::Known(Number::SnoozedUntil))
    );
    // In Paris the same instant is in a day that starts an hour earlier.
    let paris = Clock::new(0, TimeZone::get("Europe/Paris").unwrap());
    let q = json!({"field": "created_at", "operator": "=", "value": 1_577_869_200});
    assert_eq!(
        compile(&q, &paris, "query").unwrap(),
        Pred::Between(Number::CreatedAt, Some(1_577_833_200), Some(1_577_919_599))
    );
}

#[test]
fn states_and_booleans() {
    assert_eq!(
        lower(json!({"field": "open", "operator": "=", "value": true})),
        Pred::State(vec![State::Open, State::Snoozed])
    );
    assert_eq!(lower(json!({"field": "open", "operator": "=", "value": "false"})), Pred::State(vec![State::Closed]));
    assert_eq!(lower(json!({"field": "read", "operator": "!=", "value": true})), not(Pred::Read(true)));
    // python-intercom 5 sends value=True as 1.
    assert_eq!(lower(json!({"field": "read", "operator": "=", "value": 1})), Pred::Read(true));
    assert_eq!(lower(json!({"field": "read", "operator": "IN", "value": [0]})), Pred::Read(false));
    assert_eq!(
        lower(json!({"field": "state", "operator": "IN", "value": ["open", "snoozed"]})),
        Pred::State(vec![State::Open, State::Snoozed])
    );
    assert_eq!(
        lower(json!({"field": "source.delivered_as", "operator": "=", "value": "admin_initiated"})),
        Pred::AdminInitiated
    );
    assert_eq!(
        lower(json!({"field": "source.delivered_as", "operator": "=", "value": "customer_initiated"})),
        not(Pred::AdminInitiated)
    );
    assert_eq!(
        lower(json!({"field": "source.delivered_as", "operator": "=", "value": "automated"})),
        Pred::Any(vec![])
    );
}

#[test]
fn the_body_is_matched_word_by_word() {
    let word = |w: &str| Pred::Words(Words::Contains(format!(" {w} ")));
    assert_eq!(lower(json!({"field": "source.body", "operator": "=", "value": "Support!"})), word("support"));
    assert_eq!(
        lower(json!({"field": "source.body", "operator": "=", "value": "need support"})),
        Pred::Any(vec![]),
        "several words are not one word, as Intercom's"
    );
    assert_eq!(
        lower(json!({"field": "source.body", "operator": "IN", "value": ["help", "support"]})),
        Pred::Any(vec![word("help"), word("support")])
    );
    assert_eq!(
        lower(json!({"field": "source.body", "operator": "~", "value": "Need  SUPP"})),
        Pred::Words(Words::Contains("need supp".into()))
    );
    assert_eq!(
        lower(json!({"field": "source.body", "operator": "^", "value": "I need"})),
        Pred::Words(Words::StartsWith(" i need".into()))
    );
    assert_eq!(
        lower(json!({"field": "source.body", "operator": "$", "value": "support."})),
        Pred::Words(Words::EndsWith("support ".into()))
    );
    assert_eq!(lower(json!({"field": "source.body", "operator": "!~", "value": "?!"})), not(Pred::Any(vec![])));
    assert!(lower(json!({"field": "source.body", "operator": "~", "value": "x"})).reads_words());
    assert!(!lower(json!({"field": "read", "operator": "=", "value": true})).reads_words());
}

#[test]
fn groups_nest_two_levels_of_at_most_fifteen() {
    let leaf = json!({"field": "read", "operator": "=", "value": true});
    let q = json!({"operator": "AND", "value": [leaf, {"operator": "OR", "value": [leaf, leaf]}]});
    assert_eq!(lower(q), Pred::All(vec![Pred::Read(true), Pred::Any(vec![Pred::Read(true), Pred::Read(true)])]));
    let e = refused(
        json!({"operator": "AND", "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf]}]}]}),
    );
    assert_eq!(e.field, "query.value[0].value[0]");
    let e = refused(json!({"operator": "OR", "value": vec![leaf.clone(); 16]}));
    assert_eq!(e.field, "query.value");
    assert_eq!(refused(json!({"operator": "AND", "value": []})).field, "query.value");
    assert_eq!(refused(json!({"operator": "XOR", "value": [leaf]})).field, "query.operator");
    assert_eq!(refused(json!({"value": [leaf]})).field, "query.field");
    assert_eq!(refused(json!([leaf])).field, "query");
}

#[test]
fn every_bad_part_of_a_leaf_is_named_by_its_path() {
    let at = |leaf: Json| {
        refused(json!({"operator": "AND", "value": [{"field": "read", "operator": "=", "value": true}, leaf]}))
    };
    let e = at(json!({"field": "priority", "operator": "=", "value": "x"}));
    assert_eq!((e.field.as_str(), e.code), ("query.value[1].field", "parameter_invalid"));
    assert!(e.message.contains("not a valid search field"), "{}", e.message);
    assert_eq!(at(json!({"field": 3, "operator": "=", "value": "x"})).field, "query.value[1].field");
    assert_eq!(at(json!({"field": "state", "value": "open"})).code, "parameter_missing");
    assert_eq!(at(json!({"field": "state", "operator": ">", "value": "open"})).field, "query.value[1].operator");
    assert_eq!(at(json!({"field": "id", "operator": "~", "value": "1"})).field, "query.value[1].operator");
    assert_eq!(at(json!({"field": "state", "operator": "=", "value": "pending"})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "created_at", "operator": "=", "value": "foobar"})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "created_at", "operator": "=", "value": null})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "id", "operator": "=", "value": -1})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "id", "operator": "IN", "value": [1, "x"]})).field, "query.value[1].value[1]");
    assert_eq!(at(json!({"field": "id", "operator": "IN", "value": 1})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "id", "operator": "NIN", "value": []})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "open", "operator": "=", "value": 2})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "open", "operator": "=", "value": "1"})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "source.body", "operator": "~", "value": ""})).field, "query.value[1].value");
    assert_eq!(at(json!({"field": "source.body", "operator": "=", "value": 5})).field, "query.value[1].value");
    let long = "x".repeat(crate::text::VALUE + 1);
    assert_eq!(at(json!({"field": "source.body", "operator": "=", "value": long})).field, "query.value[1].value");
    let days: Vec<i64> = (0..=MAX_TESTS as i64).collect();
    assert_eq!(at(json!({"field": "created_at", "operator": "IN", "value": days})).field, "query.value[1].value");
    let words = vec!["a"; MAX_TESTS + 1];
    assert_eq!(at(json!({"field": "source.body", "operator": "NIN", "value": words})).field, "query.value[1].value");
    let many: Vec<i64> = (0..=MAX_VALUES as i64).collect();
    assert_eq!(
        at(json!({"field": "id", "operator": "IN", "value": many})).field,
        format!("query.value[1].value[{MAX_VALUES}]")
    );
}

#[test]
fn every_field_is_listed_with_operators_that_lower() {
    for f in FIELDS {
        for op in f.kind.operators() {
            let value = match (f.kind, *op) {
                (_, "IN" | "NIN") => json!([sample(f.kind)]),
                _ => sample(f.kind),
            };
            let q = json!({"field": f.name, "operator": op, "value": value});
            assert!(compile(&q, &utc(), "query").is_ok(), "{q}");
        }
    }
}

fn sample(kind: Kind) -> Json {
    match kind {
        Kind::Id | Kind::Assignee | Kind::Time => json!(5),
        Kind::Boolean => json!(true),
        Kind::Choice(c) => json!(c[0]),
        Kind::Words => json!("word"),
    }
}
