//! Conversation search: every field the query language takes, compiled to SQL and run on both
//! databases over the same conversations, with the same answers; pages in each order; the words
//! of opening parts filled in once, for old and new conversations alike; one workspace never
//! sees another's.

use std::sync::Arc;

use jiff::tz::TimeZone;
use serde_json::{Value as Json, json};
use tidings_core::contact::{Contact, Role};
use tidings_core::conversation::{Author, Change, PartType};
use tidings_core::conversation_filter::compile;
use tidings_core::dates::Clock;
use tidings_core::message::{Channel, MessageState};
use tidings_store::{ConversationOrder, ConversationSearch, NewMessage, NewTeammate, SortOrder, Store, TeammateRole};

use super::support::{Stores, part, workspace};

/// 2020-01-01 09:00 UTC, and a day.
const T: i64 = 1_577_869_200;
const DAY: i64 = 86_400;

async fn person(store: &Arc<dyn Store>, ws: i64, name: &str) -> Contact {
    let mut c = Contact::new(ws, Role::User, 1);
    c.name = Some(name.to_owned());
    store.insert_contact(&c).await.unwrap()
}

fn search(q: Json) -> ConversationSearch {
    let pred = compile(&q, &Clock::new(T, TimeZone::UTC), "query").unwrap_or_else(|e| panic!("{q}: {e}"));
    ConversationSearch {
        pred: Some(pred),
        order_by: ConversationOrder::Id,
        order: SortOrder::Ascending,
        offset: 0,
        limit: 50,
    }
}

async fn ids(store: &Arc<dyn Store>, ws: i64, q: &ConversationSearch) -> (Vec<i64>, i64) {
    let (page, total) = store.search_conversations(ws, q).await.unwrap();
    (page.iter().map(|s| s.conversation.id).collect(), total)
}

#[tokio::test]
async fn every_field_matches_the_same_conversations_on_both_databases() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let mate = store
            .create_teammate(
                ws.id,
                NewTeammate {
                    email: format!("mate-{}@example.test", ws.id),
                    name: "Mate".into(),
                    password_hash: None,
                    role: TeammateRole::Member,
                    created_at: 1,
                },
            )
            .await
            .unwrap()
            .id;
        let ada = person(store, ws.id, "Ada").await;
        let bob = person(store, ws.id, "Bob").await;
        let vip = store.create_tag(ws.id, "vip", 1).await.unwrap();
        let bug = store.create_tag(ws.id, "bug", 1).await.unwrap();

        // a: Ada asks on day 0 and is still waiting; snoozed to day 5; tagged vip; Mate wrote a note.
        let a = store
            .start_conversation(ws.id, ada.id, Author::User, "<p>I need support &amp; help!</p>", T)
            .await
            .unwrap();
        store
            .add_part(ws.id, a.id, part(PartType::Note, Author::Admin, mate, Some("<p>VIP</p>"), T + 60))
            .await
            .unwrap();
        store
            .set_conversation_state(
                ws.id,
                a.id,
                Change::Snooze { until: T + 5 * DAY },
                part(PartType::Snoozed, Author::Admin, me, None, T + 120),
            )
            .await
            .unwrap();
        store.tag_conversation(ws.id, a.id, vip.id, Some(me), T).await.unwrap();
        // b: Bob on day 1, answered by the owner, assigned to Mate, read, tagged bug.
        let b = store
            .start_conversation(ws.id, bob.id, Author::User, "<p>Billing question: my <em>invoice</em></p>", T + DAY)
            .await
            .unwrap();
        store
            .add_part(ws.id, b.id, part(PartType::Comment, Author::Admin, me, Some("<p>On it</p>"), T + DAY + 5))
            .await
            .unwrap();
        store
            .assign_conversation(
                ws.id,
                b.id,
                Some(mate),
                part(PartType::Assignment, Author::Admin, me, None, T + DAY + 6),
            )
            .await
            .unwrap();
        store.set_conversation_read(ws.id, b.id, true).await.unwrap();
        store.tag_conversation(ws.id, b.id, bug.id, Some(me), T).await.unwrap();
        // c: the owner's message to Ada on day 2 opened it; closed.
        let m = NewMessage {
            title: "Welcome".into(),
            sender_id: me,
            channel: Channel::Chat,
            subject: None,
            body: "Welcome".into(),
            template: Default::default(),
            delivery_window: None,
            audience: json!({"query": null}),
            state: MessageState::Draft,
            scheduled_at: None,
        };
        let m = store.create_message(ws.id, m, T).await.unwrap();
        let c = store.conversation_for(ws.id, ada.id, &m, "<p>Welcome aboard, Ada!</p>", T + 2 * DAY).await.unwrap();
        store
            .set_conversation_state(
                ws.id,
                c.id,
                Change::Close,
                part(PartType::Close, Author::Admin, me, None, T + 2 * DAY + 1),
            )
            .await
            .unwrap();
        let (a, b, c) = (a.id, b.id, c.id);

        let cases: Vec<(Json, Vec<i64>)> = vec![
            (json!({"field": "id", "operator": "=", "value": b.to_string()}), vec![b]),
            (json!({"field": "id", "operator": "NIN", "value": [a, c]}), vec![b]),
            (json!({"field": "created_at", "operator": "=", "value": T + DAY + 3600}), vec![b]),
            (json!({"field": "created_at", "operator": "!=", "value": T}), vec![b, c]),
            (json!({"field": "created_at", "operator": ">", "value": T + DAY}), vec![b, c]),
            (json!({"field": "created_at", "operator": "<", "value": T + DAY}), vec![a, b]),
            (json!({"field": "created_at", "operator": "IN", "value": [T, T + 2 * DAY]}), vec![a, c]),
            (json!({"field": "updated_at", "operator": ">", "value": T + DAY + 6}), vec![b, c]),
            (json!({"field": "waiting_since", "operator": "=", "value": null}), vec![b, c]),
            (json!({"field": "waiting_since", "operator": "<", "value": T + 10}), vec![a]),
            (json!({"field": "snoozed_until", "operator": "!=", "value": null}), vec![a]),
            (json!({"field": "snoozed_until", "operator": ">", "value": T + 4 * DAY}), vec![a]),
            (json!({"field": "state", "operator": "=", "value": "closed"}), vec![c]),
            (json!({"field": "state", "operator": "NIN", "value": ["closed", "snoozed"]}), vec![b]),
            (json!({"field": "open", "operator": "=", "value": true}), vec![a, b]),
            (json!({"field": "open", "operator": "=", "value": "false"}), vec![c]),
            (json!({"field": "read", "operator": "=", "value": true}), vec![b, c]),
            (json!({"field": "admin_assignee_id", "operator": "=", "value": mate}), vec![b]),
            (json!({"field": "admin_assignee_id", "operator": "=", "value": me}), vec![c]),
            (json!({"field": "admin_assignee_id", "operator": "=", "value": "0"}), vec![a]),
            (json!({"field": "admin_assignee_id", "operator": "!=", "value": mate}), vec![a, c]),
            (json!({"field": "admin_assignee_id", "operator": "IN", "value": [0, mate]}), vec![a, b]),
            (json!({"field": "contact_ids", "operator": "=", "value": ada.id.to_string()}), vec![a, c]),
            (json!({"field": "teammate_ids", "operator": "=", "value": mate}), vec![a]),
            (json!({"field": "teammate_ids", "operator": "=", "value": me}), vec![a, b, c]),
            (json!({"field": "teammate_ids", "operator": "!=", "value": me}), vec![]),
            (json!({"field": "tag_ids", "operator": "=", "value": vip.id.to_string()}), vec![a]),
            (json!({"field": "tag_ids", "operator": "NIN", "value": [vip.id, bug.id]}), vec![c]),
            (json!({"field": "source.author.id", "operator": "=", "value": bob.id}), vec![b]),
            // Teammates and contacts are numbered apart: the type tells Ada (1) from the owner (1).
            (
                json!({"field": "source.author.id", "operator": "=", "value": me}),
                if me == ada.id { vec![a, c] } else { vec![c] },
            ),
            (
                json!({"operator": "AND", "value": [
                    {"field": "source.author.id", "operator": "=", "value": me},
                    {"field": "source.author.type", "operator": "=", "value": "admin"},
                ]}),
                vec![c],
            ),
            (json!({"field": "source.author.type", "operator": "IN", "value": ["user", "lead"]}), vec![a, b]),
            (json!({"field": "source.delivered_as", "operator": "=", "value": "admin_initiated"}), vec![c]),
            (json!({"field": "source.delivered_as", "operator": "=", "value": "customer_initiated"}), vec![a, b]),
            (json!({"field": "source.delivered_as", "operator": "=", "value": "automated"}), vec![]),
            // Word by word, as Intercom's: one word is found, several with `=` are not.
            (json!({"field": "source.body", "operator": "=", "value": "SUPPORT"}), vec![a]),
            (json!({"field": "source.body", "operator": "=", "value": "need support"}), vec![]),
            (json!({"field": "source.body", "operator": "=", "value": "em"}), vec![]),
            (json!({"field": "source.body", "operator": "IN", "value": ["invoice", "ada"]}), vec![b, c]),
            (json!({"field": "source.body", "operator": "!=", "value": "support"}), vec![b, c]),
            (json!({"field": "source.body", "operator": "~", "value": "need supp"}), vec![a]),
            (json!({"field": "source.body", "operator": "!~", "value": "question"}), vec![a, c]),
            (json!({"field": "source.body", "operator": "^", "value": "welcome"}), vec![c]),
            (json!({"field": "source.body", "operator": "$", "value": "help"}), vec![a]),
            (json!({"field": "source.body", "operator": "$", "value": "elp"}), vec![a]),
            (
                json!({"operator": "AND", "value": [
                    {"field": "open", "operator": "=", "value": true},
                    {"operator": "OR", "value": [
                        {"field": "tag_ids", "operator": "=", "value": vip.id},
                        {"field": "read", "operator": "=", "value": true},
                    ]},
                ]}),
                vec![a, b],
            ),
        ];
        for (q, expected) in &cases {
            let (found, total) = ids(store, ws.id, &search(q.clone())).await;
            assert_eq!(&found, expected, "{db}: {q}");
            assert_eq!(total, expected.len() as i64, "{db}: {q}");
        }
        // The words were filled once, one row per conversation.
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM conversation_words").await.unwrap(), 3, "{db}");
        stores_agree_on_new_conversations(store, ws.id, ada.id).await;
    }
    stores.cleanup().await;
}

/// A conversation started after the words were filled is found by the next search.
async fn stores_agree_on_new_conversations(store: &Arc<dyn Store>, ws: i64, contact: i64) {
    let q = search(json!({"field": "source.body", "operator": "=", "value": "refund"}));
    assert_eq!(ids(store, ws, &q).await.1, 0);
    let d = store.start_conversation(ws, contact, Author::User, "<p>A refund, please</p>", T + 3 * DAY).await.unwrap();
    assert_eq!(ids(store, ws, &q).await, (vec![d.id], 1));
}

#[tokio::test]
async fn pages_follow_the_order_and_workspaces_stay_apart() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let ada = person(store, ws.id, "Ada").await;
        let eve = person(store, other.id, "Eve").await;
        let mut made = Vec::new();
        for i in 0..5 {
            let c = store
                .start_conversation(ws.id, ada.id, Author::User, "<p>Hello support</p>", T + i * DAY)
                .await
                .unwrap();
            made.push(c.id);
        }
        store.start_conversation(other.id, eve.id, Author::User, "<p>Hello support</p>", T).await.unwrap();
        // The oldest one is answered: nobody waits in it, so it comes last when ordered by wait.
        store
            .add_part(ws.id, made[0], part(PartType::Comment, Author::Admin, 0, Some("<p>Hi</p>"), T + 9 * DAY))
            .await
            .unwrap();

        let every = json!({"field": "source.body", "operator": "=", "value": "support"});
        let mut q = search(every.clone());
        q.order_by = ConversationOrder::CreatedAt;
        q.order = SortOrder::Descending;
        q.limit = 2;
        let mut seen = Vec::new();
        loop {
            let (page, total) = ids(store, ws.id, &q).await;
            assert_eq!(total, 5, "{db}: the other workspace's conversation is not counted");
            if page.is_empty() {
                break;
            }
            seen.extend(page);
            q.offset += 2;
        }
        let newest_first: Vec<i64> = made.iter().rev().copied().collect();
        assert_eq!(seen, newest_first, "{db}");

        let mut q = search(every);
        q.order_by = ConversationOrder::WaitingSince;
        q.order = SortOrder::Descending;
        let (waiting, _) = ids(store, ws.id, &q).await;
        assert_eq!(waiting, [made[4], made[3], made[2], made[1], made[0]], "{db}: nobody waits in the last one");
        q.order = SortOrder::Ascending;
        assert_eq!(ids(store, ws.id, &q).await.0, [made[1], made[2], made[3], made[4], made[0]], "{db}");
        q.order_by = ConversationOrder::UpdatedAt;
        assert_eq!(ids(store, ws.id, &q).await.0, [made[1], made[2], made[3], made[4], made[0]], "{db}");

        // No query: every conversation of the workspace, and only those.
        let all = ConversationSearch { pred: None, ..search(json!({"field": "id", "operator": "=", "value": 0})) };
        assert_eq!(ids(store, ws.id, &all).await.1, 5, "{db}");
        // Naming another workspace's conversation finds nothing.
        let theirs = store.search_conversations(other.id, &all).await.unwrap().0[0].conversation.id;
        let q = search(json!({"field": "id", "operator": "=", "value": theirs}));
        assert_eq!(ids(store, ws.id, &q).await, (vec![], 0), "{db}");
        // Words are filled for the workspace searched, not the others.
        let words = store
            .scalar_raw(&format!("SELECT COUNT(*) FROM conversation_words WHERE workspace_id = {}", other.id))
            .await
            .unwrap();
        assert_eq!(words, 0, "{db}");
    }
    stores.cleanup().await;
}

/// About the largest query the language allows, groups of fifteen filters of a hundred days or
/// words each (9,000 values, under the 10,000 a query may list), runs on both databases: SQLite
/// refuses an expression tree deeper than 1,000.
#[tokio::test]
async fn the_largest_lists_the_language_allows_run_on_both_databases() {
    use tidings_core::conversation_filter::MAX_TESTS;
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>word99</p>", T).await.unwrap();
        let days: Vec<i64> = (0..MAX_TESTS as i64).map(|d| T - d * DAY).collect();
        let words: Vec<String> = (0..MAX_TESTS).map(|w| format!("word{w}")).collect();
        let leaves = |i: usize| {
            if i.is_multiple_of(2) {
                json!({"field": "created_at", "operator": "IN", "value": days})
            } else {
                json!({"field": "source.body", "operator": "IN", "value": words})
            }
        };
        let inner: Vec<Json> = (0..15).map(leaves).collect();
        let groups: Vec<Json> = (0..6).map(|_| json!({"operator": "AND", "value": inner})).collect();
        let q = search(json!({"operator": "OR", "value": groups}));
        assert_eq!(ids(store, ws.id, &q).await, (vec![c.id], 1), "{db}");
    }
    stores.cleanup().await;
}
