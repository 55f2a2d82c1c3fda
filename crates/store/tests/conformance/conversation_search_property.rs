//! Random conversations and random searches: SQLite, PostgreSQL and a reading of the predicate in
//! plain Rust (SQL's three-valued logic included) must select the same conversations. Bodies mix
//! case, punctuation, markup, character references and letters beyond ASCII, where the two
//! databases' text functions could drift.

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value as Json, json};
use tidings_core::contact::{Contact, Role};
use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_core::conversation_filter::{Number, Pred, Words, compile, words};
use tidings_core::dates::Clock;
use tidings_core::message::{Channel, MessageState};
use tidings_store::{ConversationOrder, ConversationPart, ConversationSearch, NewMessage, SortOrder};

use super::support::{Stores, workspace};

const T: i64 = 1_577_869_200;
const DAY: i64 = 86_400;
const WORDS: &[&str] = &[
    "Support",
    "need",
    "help!",
    "&amp;",
    "Zoë",
    "ZOË",
    "refund?",
    "<em>urgent</em>",
    "2fa",
    "support-team",
    "ÉTÉ",
    "é",
];

#[derive(Clone, Debug)]
struct Gen {
    contact: usize,
    words: Vec<usize>,
    by_team: bool,
    day: i64,
    replied: bool,
    change: u8,
    read: bool,
    assignee: u8,
    tags: [bool; 2],
}

fn gen_conversation() -> impl Strategy<Value = Gen> {
    (
        0..2usize,
        prop::collection::vec(0..WORDS.len(), 0..6),
        any::<bool>(),
        0..4i64,
        any::<bool>(),
        0..3u8,
        any::<bool>(),
        0..3u8,
        any::<[bool; 2]>(),
    )
        .prop_map(|(contact, words, by_team, day, replied, change, read, assignee, tags)| Gen {
            contact,
            words,
            by_team,
            day,
            replied,
            change,
            read,
            assignee,
            tags,
        })
}

/// A leaf whose ids are small indices, resolved against what was made (`resolve`).
fn leaf() -> impl Strategy<Value = Json> {
    let time = (0..5i64, prop::sample::select(vec![0, 1, DAY / 2])).prop_map(|(d, o)| json!(T + d * DAY + o));
    let word = prop::sample::select(vec![
        "support",
        "SUPPORT",
        "zoë",
        "ZOË",
        "été",
        "need help",
        "urgent",
        "2fa",
        "team",
        "é",
        "p",
        "em",
        "amp",
        "!",
    ]);
    prop_oneof![
        (prop::sample::select(vec!["id", "contact_ids", "teammate_ids", "tag_ids", "source.author.id", "admin_assignee_id"]),
            prop::sample::select(vec!["=", "!=", "IN", "NIN"]), 0..4i64)
            .prop_map(|(f, op, k)| json!({"field": f, "operator": op, "value": if op.ends_with("IN") { json!([k, k + 1]) } else { json!(k) }})),
        (prop::sample::select(vec!["created_at", "updated_at", "waiting_since", "snoozed_until"]),
            prop::sample::select(vec!["=", "!=", ">", "<", "IN"]), time.clone(), time)
            .prop_map(|(f, op, a, b)| json!({"field": f, "operator": op, "value": if op == "IN" { json!([a, b]) } else { a }})),
        (prop::sample::select(vec!["waiting_since", "snoozed_until", "admin_assignee_id"]), prop::sample::select(vec!["=", "!="]))
            .prop_map(|(f, op)| json!({"field": f, "operator": op, "value": null})),
        (prop::sample::select(vec!["open", "read"]), prop::sample::select(vec!["=", "!="]), any::<bool>())
            .prop_map(|(f, op, b)| json!({"field": f, "operator": op, "value": b})),
        (prop::sample::select(vec!["open", "closed", "snoozed"]), prop::sample::select(vec!["=", "!="]))
            .prop_map(|(s, op)| json!({"field": "state", "operator": op, "value": s})),
        (prop::sample::select(vec!["admin", "user"]), prop::sample::select(vec!["source.author.type", "source.delivered_as"]))
            .prop_map(|(v, f)| {
                let v = if f == "source.author.type" { v.to_owned() } else { format!("{}_initiated", if v == "admin" { "admin" } else { "customer" }) };
                json!({"field": f, "operator": "=", "value": v})
            }),
        (prop::sample::select(vec!["=", "!=", "~", "!~", "^", "$"]), word.clone())
            .prop_map(|(op, w)| json!({"field": "source.body", "operator": op, "value": w})),
        (word.clone(), word).prop_map(|(a, b)| json!({"field": "source.body", "operator": "NIN", "value": [a, b]})),
    ]
}

fn group(items: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    (prop::sample::select(vec!["AND", "OR"]), prop::collection::vec(items, 1..4))
        .prop_map(|(op, v)| json!({"operator": op, "value": v}))
        .boxed()
}

/// A leaf, or groups nested up to the two levels the language allows.
fn query() -> impl Strategy<Value = Json> {
    prop_oneof![leaf().boxed(), group(prop_oneof![leaf().boxed(), group(leaf().boxed())].boxed())]
}

/// What was made, by kind, for the indices in generated queries: index 0 is always an id that
/// names nothing (or, for the assignee, nobody).
struct Made {
    conversations: Vec<i64>,
    contacts: Vec<i64>,
    teammates: Vec<i64>,
    tags: Vec<i64>,
}

fn resolve(q: &Json, m: &Made) -> Json {
    let Json::Object(o) = q else { return q.clone() };
    let mut o = o.clone();
    if let Some(Json::Array(children)) = o.get("value").filter(|_| !o.contains_key("field")).cloned() {
        o.insert("value".into(), children.iter().map(|c| resolve(c, m)).collect());
        return Json::Object(o);
    }
    let pool: &[i64] = match o["field"].as_str().unwrap() {
        "id" => &m.conversations,
        "contact_ids" => &m.contacts,
        "teammate_ids" | "admin_assignee_id" => &m.teammates,
        "tag_ids" => &m.tags,
        "source.author.id" => &m.contacts,
        _ => return Json::Object(o),
    };
    let pick = |k: &Json| match k.as_i64() {
        Some(0) => json!(0),
        Some(k) => json!(pool.get(k as usize - 1).copied().unwrap_or(999_999)),
        None => k.clone(),
    };
    let value = match &o["value"] {
        Json::Array(ks) => ks.iter().map(pick).collect(),
        k => pick(k),
    };
    o.insert("value".into(), value);
    Json::Object(o)
}

/// One conversation as the predicate reads it.
struct Facts {
    id: i64,
    created_at: i64,
    updated_at: i64,
    waiting_since: Option<i64>,
    snoozed_until: Option<i64>,
    assignee: Option<i64>,
    contact: i64,
    author: (Author, i64),
    state: State,
    read: bool,
    by_team: bool,
    tags: Vec<i64>,
    teammates: Vec<i64>,
    words: String,
}

/// The predicate in plain Rust, NULL as `None`, as SQL reads `condition`'s output.
fn eval(p: &Pred, f: &Facts) -> Option<bool> {
    let number = |n: &Number| match n {
        Number::Id => Some(f.id),
        Number::CreatedAt => Some(f.created_at),
        Number::UpdatedAt => Some(f.updated_at),
        Number::WaitingSince => f.waiting_since,
        Number::SnoozedUntil => f.snoozed_until,
        Number::Assignee => Some(f.assignee.unwrap_or(0)),
        Number::Contact => Some(f.contact),
        Number::SourceAuthor => Some(f.author.1),
    };
    match p {
        Pred::All(ps) => {
            let vs: Vec<Option<bool>> = ps.iter().map(|p| eval(p, f)).collect();
            if vs.contains(&Some(false)) {
                Some(false)
            } else if vs.contains(&None) {
                None
            } else {
                Some(true)
            }
        }
        Pred::Any(ps) => {
            let vs: Vec<Option<bool>> = ps.iter().map(|p| eval(p, f)).collect();
            if vs.contains(&Some(true)) {
                Some(true)
            } else if vs.contains(&None) {
                None
            } else {
                Some(false)
            }
        }
        Pred::Not(inner) => Some(!eval(inner, f).unwrap_or(false)),
        Pred::In(n, ids) => number(n).map(|v| ids.contains(&v)),
        Pred::Between(n, min, max) => number(n).map(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)),
        Pred::Known(n) => Some(number(n).is_some()),
        Pred::State(states) => Some(states.contains(&f.state)),
        Pred::Read(r) => Some(f.read == *r),
        Pred::Tagged(ids) => Some(f.tags.iter().any(|t| ids.contains(t))),
        Pred::Teammate(ids) => Some(f.teammates.iter().any(|t| ids.contains(t))),
        Pred::AdminInitiated => Some(f.by_team),
        Pred::SourceAuthorType(types) => Some(types.contains(&f.author.0)),
        Pred::Words(Words::Contains(n)) => Some(f.words.contains(n.as_str())),
        Pred::Words(Words::StartsWith(n)) => Some(f.words.starts_with(n.as_str())),
        Pred::Words(Words::EndsWith(n)) => Some(f.words.ends_with(n.as_str())),
    }
}

fn part(part_type: PartType, by: i64, at: i64) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type,
        author_type: Author::Admin,
        author_id: by,
        body: Some("<p>ok</p>".into()),
        created_at: at,
        assigned_to: None,
    }
}

#[test]
fn sqlite_postgres_and_rust_select_the_same_conversations() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stores = rt.block_on(Stores::new());
    let cases: u32 = std::env::var("TIDINGS_FILTER_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(80);
    let mut runner = TestRunner::new(Config { cases, max_shrink_iters: 50, ..Config::default() });
    let strategy = (prop::collection::vec(gen_conversation(), 1..8), prop::collection::vec(query(), 1..8));
    let discriminating = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(gens, queries)| {
            rt.block_on(async {
                let mut per_db: Vec<Vec<BTreeSet<usize>>> = Vec::new();
                for (db, store) in &stores.all {
                    let ws = workspace(store).await;
                    let owner = store.teammates(ws.id).await.unwrap()[0].id;
                    let mut contacts = Vec::new();
                    for _ in 0..2 {
                        contacts.push(store.insert_contact(&Contact::new(ws.id, Role::User, 1)).await.unwrap().id);
                    }
                    let tags = vec![
                        store.create_tag(ws.id, "a", 1).await.unwrap().id,
                        store.create_tag(ws.id, "b", 1).await.unwrap().id,
                    ];
                    let mut facts = Vec::new();
                    for (i, g) in gens.iter().enumerate() {
                        let at = T + g.day * DAY + i as i64;
                        let body =
                            format!("<p>{}</p>", g.words.iter().map(|w| WORDS[*w]).collect::<Vec<_>>().join(" "));
                        let contact = contacts[g.contact];
                        let c = if g.by_team {
                            let m = NewMessage {
                                title: format!("m{i}"),
                                sender_id: owner,
                                channel: Channel::Chat,
                                subject: None,
                                body: "x".into(),
                                template: Default::default(),
                                delivery_window: None,
                                audience: json!({}),
                                state: MessageState::Draft,
                                scheduled_at: None,
                            };
                            let m = store.create_message(ws.id, m, at).await.unwrap();
                            store.conversation_for(ws.id, contact, &m, &body, at).await.unwrap()
                        } else {
                            store.start_conversation(ws.id, contact, Author::User, &body, at).await.unwrap()
                        };
                        let mut teammates = if g.by_team { vec![owner] } else { vec![] };
                        if g.replied {
                            store.add_part(ws.id, c.id, part(PartType::Comment, owner, at + 10)).await.unwrap();
                            teammates.push(owner);
                        }
                        let change = match g.change {
                            1 => Some(Change::Close),
                            2 => Some(Change::Snooze { until: at + 3 * DAY }),
                            _ => None,
                        };
                        if let Some(change) = change {
                            store
                                .set_conversation_state(ws.id, c.id, change, part(change.part_type(), owner, at + 20))
                                .await
                                .unwrap();
                            teammates.push(owner);
                        }
                        if g.assignee > 0 {
                            let to = if g.assignee == 1 { None } else { Some(owner) };
                            store
                                .assign_conversation(ws.id, c.id, to, part(PartType::Assignment, owner, at + 30))
                                .await
                                .unwrap();
                            teammates.push(owner);
                        }
                        store.set_conversation_read(ws.id, c.id, g.read).await.unwrap();
                        for (t, on) in g.tags.iter().enumerate() {
                            if *on {
                                store.tag_conversation(ws.id, c.id, tags[t], Some(owner), at).await.unwrap();
                            }
                        }
                        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
                        facts.push(Facts {
                            id: now.id,
                            created_at: now.created_at,
                            updated_at: now.updated_at,
                            waiting_since: now.waiting_since,
                            snoozed_until: now.snoozed_until,
                            assignee: now.assignee_id,
                            contact,
                            state: now.state,
                            read: now.read,
                            author: if g.by_team { (Author::Admin, owner) } else { (Author::User, contact) },
                            by_team: g.by_team,
                            tags: g.tags.iter().zip(&tags).filter(|(on, _)| **on).map(|(_, t)| *t).collect(),
                            teammates,
                            words: words::stored(&words::of_html(&body)),
                        });
                    }
                    let index: HashMap<i64, usize> = facts.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
                    let made = Made {
                        conversations: facts.iter().map(|f| f.id).collect(),
                        contacts: contacts.clone(),
                        teammates: vec![owner],
                        tags: tags.clone(),
                    };
                    let mut answers = Vec::new();
                    for q in &queries {
                        let q = resolve(q, &made);
                        let clock = Clock::new(T, Clock::zone("Europe/Paris"));
                        let pred = compile(&q, &clock, "query")
                            .map_err(|e| TestCaseError::fail(format!("{db}: {q} refused: {e}")))?;
                        let search = ConversationSearch {
                            pred: Some(pred.clone()),
                            order_by: ConversationOrder::Id,
                            order: SortOrder::Ascending,
                            offset: 0,
                            limit: 500,
                        };
                        let (page, total) = store.search_conversations(ws.id, &search).await.unwrap();
                        prop_assert_eq!(total as usize, page.len());
                        let found: BTreeSet<usize> = page.iter().map(|s| index[&s.conversation.id]).collect();
                        let expected: BTreeSet<usize> =
                            (0..facts.len()).filter(|i| eval(&pred, &facts[*i]) == Some(true)).collect();
                        prop_assert_eq!(&found, &expected, "{}: the database and Rust disagree on {}", db, q);
                        if !found.is_empty() && found.len() < facts.len() {
                            discriminating.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        answers.push(found);
                    }
                    per_db.push(answers);
                }
                prop_assert_eq!(&per_db[0], &per_db[1], "SQLite and PostgreSQL disagree");
                Ok(())
            })
        })
        .unwrap();
    let discriminating = discriminating.into_inner();
    assert!(
        discriminating as u32 >= cases,
        "only {discriminating} searches selected some but not all: the generators prove too little"
    );
    rt.block_on(stores.cleanup());
}
