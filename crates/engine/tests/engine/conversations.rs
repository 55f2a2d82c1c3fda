//! Conversations through the engine: a contact's reply is one operation wherever it comes from,
//! and a teammate's words and changes are recorded and said on the bus.

use serde_json::json;
use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_engine::EngineError;
use tidings_engine::bus::{Event, StateName};
use tidings_engine::conversations::{ReplyTo, Words};
use tidings_engine::messages::{MessageInput, Then};

use super::support::{START, World};

#[tokio::test]
async fn a_contacts_reply_marks_the_message_replied_wherever_it_comes_from() {
    for mut w in World::both().await {
        let db = w.db;
        let (ada, bea) = (w.contact("Ada").await, w.contact("Bea").await);
        let input = MessageInput {
            body: Some("Hi {{first_name}}".into()),
            audience: Some(json!({"contact_ids": [ada.id, bea.id]})),
            ..MessageInput::default()
        };
        let m = w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        for c in [&ada, &bea] {
            w.engine.deliver_pending(w.ws.id, c.id).await.unwrap();
        }
        // Ada answers from the Messenger (the delivery), Bea through the API (her conversation,
        // opened when she first wrote).
        let ada_delivery = w.store.deliveries_of_contact(w.ws.id, ada.id).await.unwrap()[0].id;
        let bea_delivery = w.store.deliveries_of_contact(w.ws.id, bea.id).await.unwrap()[0].id;
        w.clock.advance(10);
        let c = w.engine.contact_replies(&w.ws, &ada, ReplyTo::Delivery(ada_delivery), "Thanks!").await.unwrap();
        let parts = w.store.parts(w.ws.id, c.id).await.unwrap();
        assert_eq!(parts.len(), 2, "{db}: the message opened the conversation, then the reply");
        assert_eq!((parts[0].author_type, parts[0].body.as_deref()), (Author::Admin, Some("<p>Hi Ada</p>")), "{db}");
        assert_eq!((parts[1].author_type, parts[1].part_type), (Author::User, PartType::Comment), "{db}");

        let bea_conversation =
            w.engine.contact_replies(&w.ws, &bea, ReplyTo::Delivery(bea_delivery), "First").await.unwrap();
        w.engine.contact_replies(&w.ws, &bea, ReplyTo::Conversation(bea_conversation.id), "Second").await.unwrap();
        for (who, c) in [("Ada", &ada), ("Bea", &bea)] {
            let d = &w.store.deliveries_of_contact(w.ws.id, c.id).await.unwrap()[0];
            assert_eq!((d.replied_at, d.seen_at), (Some(START + 10), Some(START + 10)), "{db}: {who}");
        }
        let stats = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((stats.replied, stats.seen), (2, 2), "{db}");

        // Someone else's conversation is not theirs to write in.
        let refused = w.engine.contact_replies(&w.ws, &ada, ReplyTo::Conversation(bea_conversation.id), "Hi").await;
        assert!(matches!(refused, Err(EngineError::NotFound { .. })), "{db}: {refused:?}");
        let events = w.events();
        assert!(
            events.iter().any(|e| matches!(e, Event::PartAdded { contact, visible: true, .. } if *contact == bea.id)),
            "{db}"
        );
        w.cleanup().await;
    }
}

#[tokio::test]
async fn teammates_write_close_and_snooze_and_a_reply_reopens() {
    for mut w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        let c = w.engine.contact_starts(&w.ws, &ada, "Where is my order?").await.unwrap();
        w.events();
        let note = w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Note, "VIP, be quick").await.unwrap();
        let reply =
            w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "On it, **{{first_name}}**").await.unwrap();
        assert_eq!(reply.body.as_deref(), Some("<p>On it, <strong>Ada</strong></p>"), "{db}");
        let events = w.events();
        let visible: Vec<(i64, bool)> = events
            .iter()
            .filter_map(|e| if let Event::PartAdded { part, visible, .. } = e { Some((*part, *visible)) } else { None })
            .collect();
        assert_eq!(visible, [(note.id, false), (reply.id, true)], "{db}: the contact never sees the note");

        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Close, Some("Bye for now")).await.unwrap();
        let now = w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state, now.waiting_since), (State::Closed, None), "{db}");
        assert!(w.events().contains(&Event::ConversationChanged {
            workspace: w.ws.id,
            conversation: c.id,
            contact: ada.id,
            state: StateName::Closed
        }));
        // Her reply reopens it, recorded as an `open` part.
        let reopened = w.engine.contact_replies(&w.ws, &ada, ReplyTo::Latest, "One more thing").await.unwrap();
        assert_eq!(reopened.state, State::Open, "{db}");
        let last = w.store.recent_parts(w.ws.id, c.id, 1).await.unwrap().pop().unwrap();
        assert_eq!(last.part_type, PartType::Open, "{db}");

        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Snooze { until: START + 600 }, None).await.unwrap();
        let now = w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap();
        assert_eq!((now.state, now.snoozed_until), (State::Snoozed, Some(START + 600)), "{db}");
        let blank = w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "   ").await;
        assert!(matches!(blank, Err(EngineError::Invalid(_))), "{db}: {blank:?}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn last_contacted_and_last_replied_follow_the_words_each_side_writes() {
    for w in World::both().await {
        let db = w.db;
        let (ada, bea) = (w.contact("Ada").await, w.contact("Bea").await);
        let dates = |c: tidings_core::contact::Contact| (c.last_contacted_at, c.last_replied_at);
        let c = w.engine.contact_starts(&w.ws, &ada, "Where is my order?").await.unwrap();
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (None, Some(START)), "{db}: starting a conversation is a reply");

        // A note is the team's own: it contacts nobody.
        w.clock.advance(10);
        w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Note, "VIP").await.unwrap();
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (None, Some(START)), "{db}");

        w.clock.advance(10);
        w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "On it").await.unwrap();
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 20), Some(START)), "{db}: a teammate's reply contacts her");

        w.clock.advance(10);
        w.engine.contact_replies(&w.ws, &ada, ReplyTo::Conversation(c.id), "Thanks").await.unwrap();
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 20), Some(START + 30)), "{db}: her reply");

        // A delivered message contacts Bea; her answer to it is a reply.
        let input = MessageInput {
            body: Some("Hi {{first_name}}".into()),
            audience: Some(json!({"contact_ids": [bea.id]})),
            ..MessageInput::default()
        };
        w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        w.clock.advance(10);
        w.engine.deliver_pending(w.ws.id, bea.id).await.unwrap();
        let read = w.store.contact(w.ws.id, bea.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 40), None), "{db}: the delivered message");
        let delivery = w.store.deliveries_of_contact(w.ws.id, bea.id).await.unwrap()[0].id;
        w.clock.advance(10);
        w.engine.contact_replies(&w.ws, &bea, ReplyTo::Delivery(delivery), "Hello").await.unwrap();
        let read = w.store.contact(w.ws.id, bea.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 40), Some(START + 50)), "{db}: her answer to the message");

        // Neither moved Ada's dates.
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 20), Some(START + 30)), "{db}");

        // Her words that reopen a closed conversation (an `open` part) are a reply too.
        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Close, None).await.unwrap();
        w.clock.advance(10);
        w.engine.contact_replies(&w.ws, &ada, ReplyTo::Conversation(c.id), "One more thing").await.unwrap();
        let last = w.store.recent_parts(w.ws.id, c.id, 1).await.unwrap().pop().unwrap();
        assert_eq!(last.part_type, PartType::Open, "{db}");
        let read = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!(dates(read), (Some(START + 20), Some(START + 60)), "{db}: a reopening reply");
        w.cleanup().await;
    }
}
