//! The filter engine's three implementations agree: SQL on SQLite, SQL on PostgreSQL, and the
//! in-memory evaluator select exactly the same contacts, for random contacts and random queries.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::{Contact, Role};
use tidings_core::dates::Clock;
use tidings_core::filter::eval::{Facts, matches};
use tidings_core::filter::{Schema, compile};
use tidings_core::message::{Channel, MessageState};
use tidings_store::{ContactQuery, NewMessage, Recipients, SortOrder, StatFilter};

use super::support::{Stores, workspace};

const NOW: i64 = 1_735_732_800; // 2025-01-01 12:00 UTC
const DAY: i64 = 86_400;
const CUSTOM: &[(&str, DataType)] = &[
    ("plan", DataType::String),
    ("seats", DataType::Integer),
    ("score", DataType::Float),
    ("vip", DataType::Boolean),
    ("renewal", DataType::Date),
];
const ZONES: &[&str] = &["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"];

/// A generated contact: built-in fields, custom values, and which of three tags it has.
#[derive(Clone, Debug)]
struct Gen {
    lead: bool,
    email: Option<String>,
    name: Option<String>,
    signed_up_days: Option<i64>,
    seen_secs: Option<i64>,
    owner: Option<i64>,
    unsubscribed: bool,
    plan: Option<String>,
    seats: Option<i64>,
    score: Option<f64>,
    vip: Option<bool>,
    renewal_days: Option<i64>,
    tags: Vec<bool>,
    /// For each of two messages: 0 not targeted, 1 pending, 2 received, 3 received and seen.
    history: Vec<u8>,
}

fn text() -> impl Strategy<Value = String> {
    // Mixed case and non-ASCII letters, to pin down case folding; `@`s, which "email contains"
    // reads through the stored domain.
    prop::sample::select(vec![
        "pro", "Pro", "PRO", "basic", "Élodie", "élodie", "ÄB", "äb", "x%_y", "gmail", "GMail", "x@gmail", "o@G", "l@",
    ])
    .prop_map(str::to_owned)
}

fn gen_contact() -> impl Strategy<Value = Gen> {
    (
        any::<bool>(),
        prop::option::of((
            text(),
            prop::sample::select(vec!["gmail.com", "Example.test", "ÉCOLE.fr", "", "GMail.com@x.test"]),
        ))
        .prop_map(|o| o.map(|(u, d)| format!("{u}@{d}"))),
        prop::option::of(text()),
        prop::option::of(-40i64..40),
        prop::option::of(-40 * DAY..DAY),
        prop::option::of(0i64..4),
        any::<bool>(),
        (
            prop::option::of(text()),
            prop::option::of(-3i64..20),
            prop::option::of((-400i64..400).prop_map(|x| x as f64 / 4.0)),
            prop::option::of(any::<bool>()),
            prop::option::of(-60i64..60),
        ),
        (prop::collection::vec(any::<bool>(), 3), prop::collection::vec(0u8..4, 2)),
    )
        .prop_map(
            |(lead, email, name, signed_up_days, seen_secs, owner, unsubscribed, custom, (tags, history))| Gen {
                lead,
                email,
                name,
                signed_up_days,
                seen_secs,
                owner,
                unsubscribed,
                plan: custom.0,
                seats: custom.1,
                score: custom.2,
                vip: custom.3,
                renewal_days: custom.4,
                tags,
                history,
            },
        )
}

fn date_value() -> impl Strategy<Value = Json> {
    (-45i64..45, 0i64..DAY).prop_map(|(d, s)| json!(NOW + d * DAY + s - DAY / 2))
}

/// One leaf filter; tag ids are written as `"#0"`..`"#2"` and replaced per store.
fn leaf() -> impl Strategy<Value = Json> {
    let string_field = prop::sample::select(vec!["email", "name", "email_domain", "custom_attributes.plan"]);
    let string_op = prop::sample::select(vec!["=", "!=", "~", "!~", "^", "$"]);
    let date_field = prop::sample::select(vec!["signed_up_at", "last_seen_at", "custom_attributes.renewal"]);
    let date_op = prop::sample::select(vec!["=", "<", ">"]);
    let rel_op = prop::sample::select(vec!["more_than_days_ago", "less_than_days_ago", "exactly_days_ago"]);
    let num_op = prop::sample::select(vec!["=", "!=", ">", "<", ">=", "<="]);
    prop_oneof![
        (string_field.clone(), string_op, text()).prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (string_field.clone(), prop::sample::select(vec!["IN", "NIN"]), prop::collection::vec(text(), 1..3))
            .prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (string_field, prop::sample::select(vec!["=", "!="]))
            .prop_map(|(f, o)| json!({"field": f, "operator": o, "value": null})),
        (date_field.clone(), date_op, date_value())
            .prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (date_field, rel_op, 0i64..45).prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (prop::sample::select(vec!["owner_id", "custom_attributes.seats"]), num_op.clone(), -3i64..20)
            .prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (num_op, (-400i64..400).prop_map(|x| x as f64 / 4.0))
            .prop_map(|(o, v)| json!({"field": "custom_attributes.score", "operator": o, "value": v})),
        (
            prop::sample::select(vec!["unsubscribed_from_emails", "custom_attributes.vip"]),
            prop::sample::select(vec!["=", "!="]),
            any::<bool>()
        )
            .prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v})),
        (prop::sample::select(vec!["user", "lead"]))
            .prop_map(|v| json!({"field": "role", "operator": "=", "value": v})),
        (prop::sample::select(vec!["=", "!="]), 0usize..3)
            .prop_map(|(o, t)| json!({"field": "tag_id", "operator": o, "value": format!("#{t}")})),
    ]
}

fn query() -> impl Strategy<Value = Json> {
    let group = |inner: BoxedStrategy<Json>| {
        (prop::sample::select(vec!["AND", "OR"]), prop::collection::vec(inner, 1..4))
            .prop_map(|(op, value)| json!({"operator": op, "value": value}))
    };
    prop_oneof![leaf(), group(leaf().boxed()), group(prop_oneof![leaf(), group(leaf().boxed())].boxed()),]
}

/// Replaces the placeholders `#n` (tag n) and `@n` (message n) with this store's ids.
fn with_ids(q: &Json, tag_ids: &[i64], message_ids: &[i64]) -> Json {
    match q {
        Json::String(s) if s.starts_with('#') => json!(tag_ids[s[1..].parse::<usize>().unwrap()]),
        Json::String(s) if s.starts_with('@') => json!(message_ids[s[1..].parse::<usize>().unwrap()]),
        Json::Array(a) => Json::Array(a.iter().map(|x| with_ids(x, tag_ids, message_ids)).collect()),
        Json::Object(o) => {
            Json::Object(o.iter().map(|(k, v)| (k.clone(), with_ids(v, tag_ids, message_ids))).collect())
        }
        other => other.clone(),
    }
}

fn build(g: &Gen, ws: i64, n: usize) -> Contact {
    let mut c = Contact::new(ws, if g.lead { Role::Lead } else { Role::User }, NOW - 100 * DAY);
    c.external_id = Some(format!("c{n}"));
    // User emails are unique: make them so while keeping the generated text.
    c.email = g.email.as_ref().map(|e| format!("{n}{e}"));
    c.name = g.name.clone();
    c.signed_up_at = g.signed_up_days.map(|d| NOW - d * DAY);
    c.last_seen_at = g.seen_secs.map(|s| NOW - s);
    c.owner_id = g.owner;
    c.unsubscribed_from_emails = g.unsubscribed;
    let mut put = |k: &str, v: Option<Json>| {
        if let Some(v) = v {
            c.custom_attributes.insert(k.into(), v);
        }
    };
    put("plan", g.plan.clone().map(Json::from));
    put("seats", g.seats.map(Json::from));
    put("score", g.score.map(Json::from));
    put("vip", g.vip.map(Json::from));
    put("renewal", g.renewal_days.map(|d| json!(NOW + d * DAY / 2)));
    c
}

#[test]
fn sqlite_postgres_and_memory_select_the_same_contacts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stores = rt.block_on(Stores::new());
    let cases: u32 = std::env::var("TIDINGS_FILTER_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let mut runner = TestRunner::new(Config { cases, max_shrink_iters: 100, ..Config::default() });
    let strategy = (
        prop::collection::vec(gen_contact(), 1..30),
        prop::collection::vec(query(), 1..8),
        prop::sample::select(ZONES),
    );
    // Queries whose answer is neither empty nor everyone: the ones that actually test something.
    let discriminating = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(gens, queries, zone)| {
            rt.block_on(async {
                let clock = Clock::new(NOW, Clock::zone(zone));
                let mut results: Vec<Vec<BTreeSet<String>>> = Vec::new();
                let mut memory: Vec<BTreeSet<String>> = Vec::new();
                for (i, (_, store)) in stores.all.iter().enumerate() {
                    let ws = workspace(store).await;
                    let mut customs: Vec<CustomAttribute> = Vec::new();
                    for (name, data_type) in CUSTOM {
                        let attr = CustomAttribute::new(name, *data_type);
                        customs.push(store.create_custom_attribute(ws.id, &attr).await.unwrap());
                    }
                    let mut tag_ids = Vec::new();
                    for t in 0..3 {
                        tag_ids.push(store.create_tag(ws.id, &format!("t{t}"), 0).await.unwrap().id);
                    }
                    let mut saved = Vec::new();
                    for (n, g) in gens.iter().enumerate() {
                        let c = store.insert_contact(&build(g, ws.id, n)).await.unwrap();
                        for (t, has) in g.tags.iter().enumerate() {
                            if *has {
                                store.tag_contact(ws.id, c.id, tag_ids[t], None, 0).await.unwrap();
                            }
                        }
                        saved.push(store.contact(ws.id, c.id).await.unwrap().unwrap());
                    }
                    // Two messages, each sent to the contacts whose history says so, then
                    // delivered and seen as generated.
                    let sender = store.teammates(ws.id).await.unwrap()[0].id;
                    let mut message_ids = Vec::new();
                    for k in 0..2 {
                        let draft = NewMessage {
                            title: format!("m{k}"),
                            sender_id: sender,
                            channel: Channel::Chat,
                            subject: None,
                            body: "hi".into(),
                            template: Default::default(),
                            delivery_window: None,
                            audience: json!({}),
                            state: MessageState::Draft,
                            scheduled_at: None,
                        };
                        let m = store.create_message(ws.id, draft, 0).await.unwrap();
                        let targets: Vec<i64> =
                            saved.iter().zip(&gens).filter(|(_, g)| g.history[k] >= 1).map(|(c, _)| c.id).collect();
                        store
                            .send_message(
                                ws.id,
                                m.id,
                                Recipients { pred: None, contact_ids: Some(&targets), due: None },
                                1,
                            )
                            .await
                            .unwrap()
                            .unwrap();
                        for (c, g) in saved.iter().zip(&gens) {
                            if g.history[k] >= 2 {
                                let d = store.pending_in_app(ws.id, c.id, i64::MAX).await.unwrap();
                                let mine: Vec<i64> =
                                    d.iter().filter(|(_, msg)| msg.id == m.id).map(|(d, _)| d.id).collect();
                                store.deliver(ws.id, c.id, &mine, 2).await.unwrap();
                                if g.history[k] == 3 {
                                    store.mark_delivery(ws.id, c.id, mine[0], StatFilter::Seen, 3).await.unwrap();
                                }
                            }
                        }
                        message_ids.push(m.id);
                    }
                    let schema =
                        Schema { custom: &customs, tag_ids: &tag_ids, segments: &[], message_ids: &message_ids };
                    let mut per_query = Vec::new();
                    for q in &queries {
                        let q = with_ids(q, &tag_ids, &message_ids);
                        let pred = compile(&q, &schema, &clock, "query").map_err(|e| {
                            TestCaseError::fail(format!("generated query rejected: {e} ({}) {q}", e.field))
                        })?;
                        let page = ContactQuery {
                            pred: Some(pred.clone()),
                            sort: None,
                            order: SortOrder::Ascending,
                            offset: 0,
                            limit: 1000,
                        };
                        let (found, total) = store.search_contacts(ws.id, &page).await.unwrap();
                        prop_assert_eq!(total as usize, found.len());
                        per_query.push(found.iter().filter_map(|c| c.external_id.clone()).collect::<BTreeSet<_>>());
                        if i == 0 {
                            let expected = saved
                                .iter()
                                .filter(|c| {
                                    let g = &gens[c.external_id.as_ref().unwrap()[1..].parse::<usize>().unwrap()];
                                    let mine: Vec<i64> = g
                                        .tags
                                        .iter()
                                        .enumerate()
                                        .filter(|(_, h)| **h)
                                        .map(|(t, _)| tag_ids[t])
                                        .collect();
                                    let history: Vec<(i64, bool, bool)> = g
                                        .history
                                        .iter()
                                        .zip(&message_ids)
                                        .filter(|(h, _)| **h >= 1)
                                        .map(|(h, m)| (*m, *h >= 2, *h == 3))
                                        .collect();
                                    matches(&pred, &Facts { contact: c, tag_ids: &mine, deliveries: &history })
                                })
                                .filter_map(|c| c.external_id.clone())
                                .collect();
                            memory.push(expected);
                        }
                    }
                    results.push(per_query);
                }
                for (k, q) in queries.iter().enumerate() {
                    if !memory[k].is_empty() && memory[k].len() < gens.len() {
                        discriminating.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    prop_assert_eq!(&results[0][k], &memory[k], "SQLite and memory disagree on {} in {}", q, zone);
                    prop_assert_eq!(&results[1][k], &memory[k], "PostgreSQL and memory disagree on {} in {}", q, zone);
                }
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
    let discriminating = discriminating.into_inner();
    assert!(
        discriminating as u32 >= cases,
        "only {discriminating} generated queries selected some but not all contacts: the generators prove too little"
    );
    rt.block_on(stores.cleanup());
}

/// Any JSON at all, a little of it shaped like a query, so that the parser meets both.
fn hostile_query() -> impl Strategy<Value = Json> {
    let field = prop::sample::select(vec![
        "email",
        "name",
        "role",
        "id",
        "signed_up_at",
        "last_seen_at",
        "owner_id",
        "unsubscribed_from_emails",
        "email_domain",
        "tag_id",
        "segment_id",
        "targeted_by_message",
        "received_message",
        "seen_message",
        "custom_attributes.plan",
        "custom_attributes.seats",
        "custom_attributes.score",
        "custom_attributes.vip",
        "custom_attributes.renewal",
        "custom_attributes.nope",
        "custom_attributes.",
        "nope",
        "",
        "field",
    ]);
    let operator = prop::sample::select(vec![
        "=",
        "!=",
        "IN",
        "NIN",
        ">",
        "<",
        ">=",
        "<=",
        "~",
        "!~",
        "^",
        "$",
        "more_than_days_ago",
        "less_than_days_ago",
        "exactly_days_ago",
        "AND",
        "OR",
        "and",
        "",
        "==",
    ]);
    let scalar = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(0), Just(-1), Just(36_501)].prop_map(Json::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        any::<String>().prop_map(Json::from),
        prop::sample::select(vec![
            "",
            "%",
            "_",
            "'",
            "\\",
            "pro",
            "1",
            "-1",
            "1e400",
            "2025-01-01T00:00:00Z",
            "#0",
            "@0",
            "$s"
        ])
        .prop_map(Json::from),
        // What PostgreSQL refuses or cannot index, and SQLite would take.
        prop::sample::select(vec!["a\u{0}b", "\u{0}"]).prop_map(Json::from),
        (1usize..4000).prop_map(|n| Json::from("x".repeat(n))),
    ];
    let value = prop_oneof![
        4 => scalar.clone(),
        1 => prop::collection::vec(scalar.clone(), 0..6).prop_map(Json::from),
    ];
    let hostile_leaf = (field, operator, value, any::<bool>()).prop_map(|(f, o, v, with_value)| {
        let mut leaf = json!({"field": f, "operator": o});
        if with_value {
            leaf["value"] = v;
        }
        leaf
    });
    // Well-formed leaves too, so that a good share of queries reach the databases, some with
    // text no database should ever be handed.
    let hostile_text = prop_oneof![
        prop::sample::select(vec!["a\u{0}b", "\u{0}", "%", "_", "\\", "'", "\u{E000}"]).prop_map(str::to_owned),
        (1usize..4000).prop_map(|n| "x".repeat(n)),
        any::<String>(),
    ];
    let text_leaf = (
        prop::sample::select(vec!["email", "name", "email_domain", "custom_attributes.plan"]),
        prop::sample::select(vec!["=", "!=", "~", "!~", "^", "$"]),
        hostile_text,
    )
        .prop_map(|(f, o, v)| json!({"field": f, "operator": o, "value": v}));
    let leaf = prop_oneof![2 => hostile_leaf, 2 => leaf(), 1 => text_leaf];
    let structured = leaf.prop_recursive(3, 40, 20, |inner| {
        let op = prop::sample::select(vec!["AND", "OR", "AND", "OR", "NOT", "="]);
        let children =
            prop_oneof![4 => prop::collection::vec(inner.clone(), 1..4), 1 => prop::collection::vec(inner, 0..18)];
        (op, children).prop_map(|(op, value)| json!({"operator": op, "value": value}))
    });
    let anything = scalar.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::from),
            prop::collection::btree_map(
                prop::sample::select(vec!["field", "operator", "value", "x"]).prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![3 => structured, 1 => anything]
}

/// The parser meets arbitrary JSON: every query is either refused with a path that says where,
/// or answered by both databases alike; none makes a database fail (which the API would answer
/// with a 5xx) and none panics.
#[test]
fn arbitrary_queries_are_refused_by_name_or_answered_alike_by_both_databases() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stores = rt.block_on(Stores::new());
    let clock = Clock::new(NOW, Clock::zone("Europe/Paris"));
    // One workspace per store with attributes, tags, a saved segment, a sent message and contacts.
    let setups = rt.block_on(async {
        let mut out = Vec::new();
        for (name, store) in &stores.all {
            let ws = workspace(store).await;
            let mut customs = Vec::new();
            for (attr, data_type) in CUSTOM {
                customs
                    .push(store.create_custom_attribute(ws.id, &CustomAttribute::new(attr, *data_type)).await.unwrap());
            }
            let tag = store.create_tag(ws.id, "t0", 0).await.unwrap().id;
            let segment = json!({"field": "tag_id", "operator": "=", "value": tag});
            let segment_id = store
                .create_segment(
                    ws.id,
                    tidings_store::NewSegment {
                        name: "s".into(),
                        person_type: tidings_store::PersonType::User,
                        query: segment.clone(),
                    },
                    0,
                )
                .await
                .unwrap()
                .id;
            for n in 0..6 {
                let g = Gen {
                    lead: n % 2 == 0,
                    email: Some(format!("p{n}@x.test")),
                    name: Some(["pro", "%", "Élodie"][n % 3].into()),
                    signed_up_days: Some(n as i64 * 3),
                    seen_secs: None,
                    owner: Some(n as i64),
                    unsubscribed: n == 1,
                    plan: Some("pro".into()),
                    seats: Some(n as i64),
                    score: Some(n as f64 / 2.0),
                    vip: Some(n == 2),
                    renewal_days: Some(n as i64),
                    tags: vec![],
                    history: vec![],
                };
                let c = store.insert_contact(&build(&g, ws.id, n)).await.unwrap();
                if n < 3 {
                    store.tag_contact(ws.id, c.id, tag, None, 0).await.unwrap();
                }
            }
            let sender = store.teammates(ws.id).await.unwrap()[0].id;
            let draft = NewMessage {
                title: "m".into(),
                sender_id: sender,
                channel: Channel::Chat,
                subject: None,
                body: "hi".into(),
                template: Default::default(),
                delivery_window: None,
                audience: json!({}),
                state: MessageState::Draft,
                scheduled_at: None,
            };
            let m = store.create_message(ws.id, draft, 0).await.unwrap();
            store
                .send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 1)
                .await
                .unwrap()
                .unwrap();
            out.push((*name, ws.id, customs, tag, (segment_id, segment), m.id));
        }
        out
    });
    let cases: u32 =
        std::env::var("TIDINGS_FILTER_CASES").ok().and_then(|v| v.parse::<u32>().ok()).map_or(2_000, |c| c * 50);
    let mut runner = TestRunner::new(Config { cases, max_shrink_iters: 200, ..Config::default() });
    let answered = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&hostile_query(), |q| {
            rt.block_on(async {
                let mut outcomes = Vec::new();
                for ((name, store), (_, ws, customs, tag, segment, message)) in stores.all.iter().zip(&setups) {
                    // Ids are the same text in both stores' schema only by chance: name them per store.
                    let text =
                        q.to_string().replace("\"#0\"", &tag.to_string()).replace("\"@0\"", &message.to_string());
                    let q: Json = serde_json::from_str(&text).unwrap();
                    let segments = [segment.clone()];
                    let schema =
                        Schema { custom: customs, tag_ids: &[*tag], segments: &segments, message_ids: &[*message] };
                    let outcome = match compile(&q, &schema, &clock, "query")
                        .and_then(|p| tidings_core::filter::check_size(Some(&p), 0, "query").map(|()| p))
                    {
                        Err(e) => {
                            prop_assert!(
                                e.field.starts_with("query") || e.field.starts_with("segment"),
                                "{}: {e:?}",
                                name
                            );
                            Err(e.field)
                        }
                        Ok(pred) => {
                            let count = store.count_contacts(*ws, Some(&pred)).await;
                            prop_assert!(count.is_ok(), "{name}: {q} made the database fail: {count:?}");
                            Ok(count.unwrap())
                        }
                    };
                    outcomes.push(outcome);
                }
                prop_assert_eq!(&outcomes[0], &outcomes[1], "SQLite and PostgreSQL answer {} differently", q);
                if outcomes[0].is_ok() {
                    answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .unwrap();
    // The generator must reach the databases often enough to prove something.
    let answered = answered.into_inner() as u32;
    assert!(
        answered >= cases / 10,
        "only {answered} of {cases} generated queries were valid: the generator proves too little"
    );
    rt.block_on(stores.cleanup());
}
