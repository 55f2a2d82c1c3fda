//! The Inbox through the engine: assigning (and reopening by it), snoozed conversations waking
//! once across nodes, read marks, tags, attributes, what the contact has seen and saved replies,
//! each written and then said on the bus.

use serde_json::{Map, json};
use tidings_core::conversation::{Change, PartType, State};
use tidings_engine::EngineError;
use tidings_engine::bus::{Event, StateName};
use tidings_engine::conversations::Words;
use tidings_engine::inbox;
use tidings_store::{NewTeammate, TeammateRole};

use super::support::{START, World};

#[tokio::test]
async fn assigning_reopens_and_is_said_on_the_bus() {
    for mut w in World::both().await {
        let db = w.db;
        let grace = w
            .store
            .create_teammate(
                w.ws.id,
                NewTeammate {
                    email: format!("grace-{}@example.test", w.ws.id),
                    name: "Grace".into(),
                    password_hash: None,
                    role: TeammateRole::Member,
                    created_at: START,
                },
            )
            .await
            .unwrap();
        let ada = w.contact("Ada").await;
        let c = w.engine.contact_starts(&w.ws, &ada, "Help").await.unwrap();
        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Close, None).await.unwrap();
        w.events();
        let p = w.engine.assign(&w.ws, &w.owner, c.id, Some(grace.id), Some("Yours, **Grace**")).await.unwrap();
        assert_eq!((p.part_type, p.assigned_to), (PartType::AssignAndReopen, Some(grace.id)), "{db}");
        assert_eq!(p.body.as_deref(), Some("<p>Yours, <strong>Grace</strong></p>"), "{db}");
        let now = w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state, now.assignee_id), (State::Open, Some(grace.id)), "{db}");
        let events = w.events();
        assert!(
            events.contains(&Event::PartAdded {
                workspace: w.ws.id,
                conversation: c.id,
                contact: ada.id,
                part: p.id,
                visible: false
            }),
            "{db}: {events:?}"
        );
        assert!(
            events.contains(&Event::ConversationChanged {
                workspace: w.ws.id,
                conversation: c.id,
                contact: ada.id,
                state: StateName::Open
            }),
            "{db}"
        );

        // Nobody outside the workspace, and unassigning.
        let refused = w.engine.assign(&w.ws, &w.owner, c.id, Some(grace.id + 1000), None).await;
        assert!(
            matches!(&refused, Err(EngineError::NotFound { field: Some(f), .. }) if f == "assignee_id"),
            "{db}: {refused:?}"
        );
        let p = w.engine.assign(&w.ws, &w.owner, c.id, None, None).await.unwrap();
        assert_eq!((p.part_type, p.assigned_to, p.body), (PartType::Assignment, Some(0), None), "{db}");
        assert_eq!(w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap().assignee_id, None, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_when_its_time_comes_on_one_node() {
    for mut w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        let c = w.engine.contact_starts(&w.ws, &ada, "Help").await.unwrap();
        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Snooze { until: START + 60 }, None).await.unwrap();
        assert_eq!(inbox::step(&w.engine, START + 59).await, 0, "{db}: not yet");
        w.events();
        let other = w.another_node();
        let woken = inbox::step(&w.engine, START + 60).await + inbox::step(&other, START + 60).await;
        assert_eq!(woken, 1, "{db}: one node wakes it");
        let now = w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state, now.snoozed_until), (State::Open, None), "{db}");
        let last = w.store.recent_parts(w.ws.id, c.id, 1).await.unwrap().pop().unwrap();
        assert_eq!((last.part_type, last.author_id), (PartType::Unsnoozed, w.owner.id), "{db}");
        assert!(
            w.events().contains(&Event::ConversationChanged {
                workspace: w.ws.id,
                conversation: c.id,
                contact: ada.id,
                state: StateName::Open
            }),
            "{db}"
        );
        w.cleanup().await;
    }
}

#[tokio::test]
async fn read_marks_tags_attributes_and_what_the_contact_saw() {
    for mut w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        let c = w.engine.contact_starts(&w.ws, &ada, "Help").await.unwrap();
        assert!(!c.read, "{db}: a contact's words are unread for the team");
        w.engine.mark_read(&w.ws, c.id, true).await.unwrap();
        assert!(w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap().read, "{db}");

        let vip = w.store.create_tag(w.ws.id, "VIP", START).await.unwrap();
        w.engine.tag_conversation(&w.ws, &w.owner, c.id, vip.id).await.unwrap();
        assert_eq!(w.store.conversation_tags(w.ws.id, &[c.id]).await.unwrap().len(), 1, "{db}");
        let refused = w.engine.tag_conversation(&w.ws, &w.owner, c.id, vip.id + 1000).await;
        assert!(matches!(refused, Err(EngineError::NotFound { .. })), "{db}");
        w.engine.untag_conversation(&w.ws, c.id, vip.id).await.unwrap();
        assert!(w.engine.untag_conversation(&w.ws, c.id, vip.id).await.is_err(), "{db}: not there any more");

        let attrs: Map<_, _> = json!({"order": "A-1", "priority_customer": true}).as_object().unwrap().clone();
        let after = w.engine.set_conversation_attributes(&w.ws, c.id, attrs).await.unwrap();
        assert_eq!(after.custom_attributes.get("order"), Some(&json!("A-1")), "{db}");
        let nested: Map<_, _> = json!({"bad": {"x": 1}}).as_object().unwrap().clone();
        let refused = w.engine.set_conversation_attributes(&w.ws, c.id, nested).await;
        assert!(matches!(refused, Err(EngineError::Invalid(_))), "{db}: {refused:?}");

        // The team's reply is unread for Ada until she opens the conversation.
        w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "Hello").await.unwrap();
        assert_eq!(w.store.contact_unread(w.ws.id, ada.id).await.unwrap(), [(c.id, 1)], "{db}");
        w.events();
        assert!(w.engine.contact_saw(&w.ws, ada.id, c.id).await.unwrap(), "{db}");
        assert!(w.store.contact_unread(w.ws.id, ada.id).await.unwrap().is_empty(), "{db}");
        assert_eq!(
            w.events(),
            [Event::ConversationSeen { workspace: w.ws.id, conversation: c.id, contact: ada.id }],
            "{db}"
        );
        w.cleanup().await;
    }
}

#[tokio::test]
async fn saved_replies_are_named_once_and_need_words() {
    for w in World::both().await {
        let db = w.db;
        let r = w.engine.create_saved_reply(&w.ws, " Thanks ", "Thanks {{first_name}}!").await.unwrap();
        assert_eq!(r.name, "Thanks", "{db}");
        for (name, body, field) in [("Thanks", "again", "name"), ("", "x", "name"), ("Other", "  ", "body")] {
            match w.engine.create_saved_reply(&w.ws, name, body).await {
                Err(EngineError::Invalid(e)) => assert_eq!(e.0[0].field, field, "{db}: {name:?}"),
                other => panic!("{db}: {name:?} {other:?}"),
            }
        }
        w.engine.update_saved_reply(&w.ws, r.id, "Thank you", "Thank you!").await.unwrap();
        w.engine.delete_saved_reply(&w.ws, r.id).await.unwrap();
        assert!(matches!(w.engine.delete_saved_reply(&w.ws, r.id).await, Err(EngineError::NotFound { .. })), "{db}");
        w.cleanup().await;
    }
}
