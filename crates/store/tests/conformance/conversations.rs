//! Conversations as the REST API manages them: who owes a reply (`waiting_since`), state changes
//! with the part that records them, the workspace's list and the most recent parts.

use std::sync::Arc;

use tidings_core::contact::{Contact, Role};
use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_store::{ConversationPart, Store};

use super::support::{Stores, workspace};

fn part(part_type: &str, author_type: &str, author_id: i64, body: Option<&str>, at: i64) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type: PartType::parse(part_type).unwrap(),
        author_type: Author::parse(author_type).unwrap(),
        author_id,
        body: body.map(str::to_owned),
        created_at: at,
        assigned_to: None,
    }
}

async fn lead(store: &Arc<dyn Store>, ws: i64) -> Contact {
    store.insert_contact(&Contact::new(ws, Role::Lead, 1)).await.unwrap()
}

#[tokio::test]
async fn replies_move_waiting_since_and_state_changes_record_a_part() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let lee = lead(store, ws.id).await;
        let c = store.start_conversation(ws.id, lee.id, Author::Lead, "<p>Help</p>", 10).await.unwrap();
        assert_eq!((c.state.as_str(), c.waiting_since, c.snoozed_until), ("open", Some(10), None), "{db}");

        // A note is internal: the contact is still waiting.
        store.add_part(ws.id, c.id, part("note", "admin", me, Some("<p>VIP</p>"), 11)).await.unwrap();
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.waiting_since, now.read, now.updated_at), (Some(10), false, 11), "{db}");
        store.add_part(ws.id, c.id, part("comment", "admin", me, Some("<p>On it</p>"), 12)).await.unwrap();
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.waiting_since, now.read), (None, true), "{db}: a teammate's comment answers the contact");

        let snoozed = store
            .set_conversation_state(ws.id, c.id, Change::Snooze { until: 99 }, part("snoozed", "admin", me, None, 13))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((snoozed.part_type.as_str(), snoozed.conversation_id), ("snoozed", c.id), "{db}");
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state.as_str(), now.snoozed_until), ("snoozed", Some(99)), "{db}");
        // The contact writing again wakes it up and starts the wait afresh.
        store.add_part(ws.id, c.id, part("comment", "lead", lee.id, Some("<p>Any news?</p>"), 14)).await.unwrap();
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state.as_str(), now.snoozed_until, now.waiting_since), ("open", None, Some(14)), "{db}");

        store
            .set_conversation_state(ws.id, c.id, Change::Close, part("close", "admin", me, Some("<p>Bye</p>"), 15))
            .await
            .unwrap()
            .unwrap();
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!(
            (now.state.as_str(), now.waiting_since),
            ("closed", None),
            "{db}: no one waits on a closed conversation"
        );
        store.add_part(ws.id, c.id, part("open", "lead", lee.id, Some("<p>One more thing</p>"), 16)).await.unwrap();
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state.as_str(), now.waiting_since), ("open", Some(16)), "{db}: a contact's reply reopens it");
        let types: Vec<&str> =
            store.parts(ws.id, c.id).await.unwrap().into_iter().map(|p| p.part_type.as_str()).collect();
        assert_eq!(types, ["comment", "note", "comment", "snoozed", "comment", "close", "open"], "{db}");

        // Another workspace can change nothing, and nothing is written for it.
        let other = workspace(store).await;
        let refused = store
            .set_conversation_state(other.id, c.id, Change::Close, part("close", "admin", me, None, 17))
            .await
            .unwrap();
        assert!(refused.is_none(), "{db}");
        assert_eq!(store.parts(ws.id, c.id).await.unwrap().len(), 7, "{db}: the refused change wrote a part");
        assert_eq!(store.conversation(ws.id, c.id).await.unwrap().unwrap().state, State::Open, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn the_list_pages_newest_first_with_each_conversations_source() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let mut ids = Vec::new();
        for i in 0..3 {
            let c = lead(store, ws.id).await;
            ids.push(
                store.start_conversation(ws.id, c.id, Author::Lead, &format!("<p>#{i}</p>"), 10 + i).await.unwrap().id,
            );
        }
        // Activity moves the first conversation to the top.
        store.add_part(ws.id, ids[0], part("comment", "admin", me, Some("<p>Hi</p>"), 50)).await.unwrap();
        let (page, total) = store.conversations(ws.id, 0, 2).await.unwrap();
        assert_eq!(total, 3, "{db}");
        assert_eq!(page.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [ids[0], ids[2]], "{db}");
        let top = &page[0];
        assert_eq!(top.source.as_ref().and_then(|p| p.body.as_deref()), Some("<p>#0</p>"), "{db}");
        assert_eq!((top.part_count, top.first_contact_reply_at), (2, Some(10)), "{db}");
        let (rest, _) = store.conversations(ws.id, 2, 2).await.unwrap();
        assert_eq!(rest.iter().map(|s| s.conversation.id).collect::<Vec<_>>(), [ids[1]], "{db}");

        for i in 0..5 {
            store
                .add_part(ws.id, ids[1], part("comment", "admin", me, Some(&format!("<p>{i}</p>")), 60 + i))
                .await
                .unwrap();
        }
        let recent = store.recent_parts(ws.id, ids[1], 3).await.unwrap();
        let bodies: Vec<_> = recent.iter().map(|p| p.body.clone().unwrap()).collect();
        assert_eq!(bodies, ["<p>2</p>", "<p>3</p>", "<p>4</p>"], "{db}: the most recent, oldest first");
        let summary = store.conversation_summary(ws.id, ids[1]).await.unwrap().unwrap();
        assert_eq!(summary.part_count, 6, "{db}");

        let other = workspace(store).await;
        assert_eq!(store.conversations(other.id, 0, 10).await.unwrap().1, 0, "{db}");
        assert!(store.conversation_summary(other.id, ids[1]).await.unwrap().is_none(), "{db}");
    }
    stores.cleanup().await;
}
