//! Manual messages: the send snapshot, stop, deliveries, stats, the list, and conversations.

use std::sync::Arc;

use serde_json::json;
use tidings_core::contact::{Contact, Role};
use tidings_core::dates::Clock;
use tidings_core::filter::{Schema, compile};
use tidings_core::message::{Channel, DeliveryState, MessageState};
use tidings_store::{ConversationPart, MessageListQuery, NewMessage, Recipients, Refused, StatFilter, Store};

use super::support::{Stores, workspace};

fn draft(sender: i64, title: &str, channel: Channel) -> NewMessage {
    NewMessage {
        title: title.into(),
        sender_id: sender,
        channel,
        subject: None,
        body: "Hi {{first_name}}".into(),
        template: Default::default(),
        delivery_window: None,
        audience: json!({"query": null}),
        state: MessageState::Draft,
        scheduled_at: None,
    }
}

async fn contact(store: &Arc<dyn Store>, ws: i64, name: &str, plan: &str) -> Contact {
    let mut c = Contact::new(ws, Role::User, 1);
    c.name = Some(name.into());
    c.custom_attributes.insert("plan".into(), json!(plan));
    store.insert_contact(&c).await.unwrap()
}

async fn owner(store: &Arc<dyn Store>, ws: i64) -> i64 {
    store.teammates(ws).await.unwrap()[0].id
}

#[tokio::test]
async fn a_send_snapshots_who_matches_there_and_then_exactly_once() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = owner(store, ws.id).await;
        let ada = contact(store, ws.id, "Ada", "pro").await;
        let _bob = contact(store, ws.id, "Bob", "free").await;
        let pred = compile(
            &json!({"field": "name", "operator": "=", "value": "Ada"}),
            &Schema::default(),
            &Clock::utc_now(),
            "q",
        )
        .unwrap();
        let m = store.create_message(ws.id, draft(me, "Welcome", Channel::Chat), 10).await.unwrap();
        let sent = store
            .send_message(ws.id, m.id, Recipients { pred: Some(&pred), contact_ids: None, due: None }, 20)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((sent.state, sent.targeted, sent.sent_at), (MessageState::Sending, 1, Some(20)), "{db}");

        // Someone who comes to match later never receives it.
        let mut late = Contact::new(ws.id, Role::User, 30);
        late.name = Some("Ada".into());
        let late = store.insert_contact(&late).await.unwrap();
        assert!(store.pending_in_app(ws.id, late.id, i64::MAX).await.unwrap().is_empty(), "{db}");
        let pending = store.pending_in_app(ws.id, ada.id, i64::MAX).await.unwrap();
        assert_eq!(pending.len(), 1, "{db}");
        assert_eq!(pending[0].1.id, m.id);

        // Sending again is refused and writes nothing.
        let again =
            store.send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 40).await.unwrap();
        assert_eq!(again, Err(Refused::WrongState(MessageState::Sending)), "{db}");
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM deliveries").await.unwrap(), 1, "{db}");
        // The database itself refuses a second delivery of one message to one contact.
        let dup = store
            .execute_raw(&format!(
                "INSERT INTO deliveries (workspace_id, message_id, contact_id, state, created_at) VALUES ({}, {}, {}, 'pending', 1)",
                ws.id, m.id, ada.id
            ))
            .await;
        assert!(dup.is_err(), "{db}: a duplicate delivery was accepted");
        assert_eq!(
            store
                .send_message(ws.id, 999_999, Recipients { pred: None, contact_ids: None, due: None }, 1)
                .await
                .unwrap(),
            Err(Refused::NotFound)
        );

        // Hand-picked contacts: only those, and only if they are in the workspace.
        let other = workspace(store).await;
        let stranger = contact(store, other.id, "Eve", "pro").await;
        let picked = store.create_message(ws.id, draft(me, "Picked", Channel::Post), 50).await.unwrap();
        let ids = [ada.id, stranger.id];
        let sent = store
            .send_message(ws.id, picked.id, Recipients { pred: None, contact_ids: Some(&ids), due: None }, 60)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(sent.targeted, 1, "{db}: a contact of another workspace was targeted");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn stop_cancels_every_pending_delivery_and_can_never_be_undone() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = owner(store, ws.id).await;
        let a = contact(store, ws.id, "A", "pro").await;
        let b = contact(store, ws.id, "B", "pro").await;
        let c = contact(store, ws.id, "C", "pro").await;
        let m = store.create_message(ws.id, draft(me, "Oops", Channel::Chat), 1).await.unwrap();
        store
            .send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 2)
            .await
            .unwrap()
            .unwrap();
        let pending_a = store.pending_in_app(ws.id, a.id, i64::MAX).await.unwrap();
        assert_eq!(store.deliver(ws.id, a.id, &[pending_a[0].0.id], 3).await.unwrap(), vec![pending_a[0].0.id], "{db}");
        assert!(store.mark_delivery(ws.id, a.id, pending_a[0].0.id, StatFilter::Seen, 4).await.unwrap());
        assert!(
            !store.mark_delivery(ws.id, a.id, pending_a[0].0.id, StatFilter::Seen, 5).await.unwrap(),
            "{db}: seen once"
        );

        let pending_b = store.pending_in_app(ws.id, b.id, i64::MAX).await.unwrap();
        let (stopped, cancelled) = store.stop_message(ws.id, m.id, 6).await.unwrap().unwrap();
        assert_eq!((stopped.state, stopped.stopped_at, cancelled), (MessageState::Stopped, Some(6), 2), "{db}");
        // B's Messenger had fetched the list before the stop: delivering now must do nothing.
        assert!(
            store.deliver(ws.id, b.id, &[pending_b[0].0.id], 7).await.unwrap().is_empty(),
            "{db}: delivered after a stop"
        );
        assert!(store.pending_in_app(ws.id, c.id, i64::MAX).await.unwrap().is_empty(), "{db}");

        let stats = store.message_stats(ws.id, m.id).await.unwrap();
        assert_eq!(
            (stats.targeted, stats.sent, stats.seen, stats.cancelled, stats.pending),
            (3, 1, 1, 2, 0),
            "{db}: {stats:?}"
        );
        let (who, total) = store.message_recipients(ws.id, m.id, StatFilter::Cancelled, 0, 10).await.unwrap();
        assert_eq!(total, 2);
        let mut names: Vec<_> = who.into_iter().filter_map(|c| c.name).collect();
        names.sort();
        assert_eq!(names, ["B", "C"], "{db}");

        assert_eq!(
            store.stop_message(ws.id, m.id, 8).await.unwrap(),
            Err(Refused::WrongState(MessageState::Stopped)),
            "{db}"
        );
        let mut edited = store.message(ws.id, m.id).await.unwrap().unwrap();
        edited.state = MessageState::Draft;
        assert!(!store.update_message(ws.id, &edited, 9).await.unwrap(), "{db}: a stopped message was resumed");
        assert_eq!(
            store.send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 10).await.unwrap(),
            Err(Refused::WrongState(MessageState::Stopped)),
            "{db}"
        );
        let deliveries = store.deliveries_of_contact(ws.id, b.id).await.unwrap();
        assert_eq!(deliveries.iter().map(|d| d.state).collect::<Vec<_>>(), [DeliveryState::Cancelled], "{db}");

        // Push cannot be stopped; another workspace cannot stop anything.
        let push = store.create_message(ws.id, draft(me, "Push", Channel::Push), 1).await.unwrap();
        store
            .send_message(ws.id, push.id, Recipients { pred: None, contact_ids: None, due: None }, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.stop_message(ws.id, push.id, 3).await.unwrap(),
            Err(Refused::WrongState(MessageState::Sending))
        );
        let email = store.create_message(ws.id, draft(me, "Mail", Channel::Email), 1).await.unwrap();
        store
            .send_message(ws.id, email.id, Recipients { pred: None, contact_ids: None, due: None }, 2)
            .await
            .unwrap()
            .unwrap();
        let other = workspace(store).await;
        assert_eq!(store.stop_message(other.id, email.id, 3).await.unwrap(), Err(Refused::NotFound), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn the_message_list_filters_by_state_and_searches_title_and_sender() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = owner(store, ws.id).await;
        let grace = store
            .create_teammate(
                ws.id,
                tidings_store::NewTeammate {
                    email: format!("grace-{}@example.test", ws.app_id),
                    name: "Grace Hopper".into(),
                    password_hash: None,
                    role: tidings_store::TeammateRole::Admin,
                    created_at: 1,
                },
            )
            .await
            .unwrap();
        store.create_message(ws.id, draft(me, "Spring SALE", Channel::Post), 1).await.unwrap();
        let mut later = draft(grace.id, "Onboarding tips", Channel::Chat);
        later.state = MessageState::Scheduled;
        later.scheduled_at = Some(100);
        store.create_message(ws.id, later, 2).await.unwrap();
        let list = |states: Vec<MessageState>, search: Option<&str>| MessageListQuery {
            states,
            search: search.map(str::to_owned),
            offset: 0,
            limit: 50,
        };
        let titles =
            |rows: Vec<tidings_store::MessageRow>| rows.into_iter().map(|r| r.message.title).collect::<Vec<_>>();
        let (rows, total) = store.messages(ws.id, &list(vec![], Some("sale"))).await.unwrap();
        assert_eq!((titles(rows), total), (vec!["Spring SALE".to_owned()], 1), "{db}: search by title ignores case");
        let (rows, _) = store.messages(ws.id, &list(vec![], Some("hopper"))).await.unwrap();
        assert_eq!(titles(rows), ["Onboarding tips"], "{db}: search by sender name");
        let (rows, _) = store.messages(ws.id, &list(vec![MessageState::Scheduled], None)).await.unwrap();
        assert_eq!(rows[0].sender_name, "Grace Hopper");
        assert_eq!(store.due_messages(99).await.unwrap().iter().filter(|(w, _)| *w == ws.id).count(), 0, "{db}");
        assert_eq!(store.due_messages(100).await.unwrap().iter().filter(|(w, _)| *w == ws.id).count(), 1, "{db}");
        let (rows, _) = store.messages(ws.id, &list(vec![], Some("%"))).await.unwrap();
        assert!(rows.is_empty(), "{db}: search text is not a pattern");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn one_conversation_per_contact_and_message_and_replies_open_it() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = owner(store, ws.id).await;
        let ada = contact(store, ws.id, "Ada", "pro").await;
        let m = store.create_message(ws.id, draft(me, "Hello", Channel::Chat), 1).await.unwrap();
        let m = store
            .send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 2)
            .await
            .unwrap()
            .unwrap();
        let first = store.conversation_for(ws.id, ada.id, &m, "<p>Hi Ada</p>", 3).await.unwrap();
        let again = store.conversation_for(ws.id, ada.id, &m, "<p>Hi Ada</p>", 4).await.unwrap();
        assert_eq!(first.id, again.id, "{db}");
        assert_eq!(store.parts(ws.id, first.id).await.unwrap().len(), 1, "{db}: the opening part is written once");
        store
            .add_part(
                ws.id,
                first.id,
                ConversationPart {
                    id: 0,
                    conversation_id: first.id,
                    part_type: tidings_core::conversation::PartType::Comment,
                    author_type: tidings_core::conversation::Author::User,
                    author_id: ada.id,
                    body: Some("<p>Thanks!</p>".into()),
                    created_at: 5,
                    assigned_to: None,
                },
            )
            .await
            .unwrap();
        let c = store.conversation(ws.id, first.id).await.unwrap().unwrap();
        assert_eq!((c.state.as_str(), c.read, c.waiting_since), ("open", false, Some(5)), "{db}");
        let parts = store.parts(ws.id, first.id).await.unwrap();
        assert_eq!(parts.iter().map(|p| p.author_type.as_str()).collect::<Vec<_>>(), ["admin", "user"], "{db}");
        assert_eq!(store.conversations_of_contact(ws.id, ada.id).await.unwrap().len(), 1);
        assert_eq!(store.conversations_of_teammate(ws.id, me).await.unwrap().len(), 1);
        assert_eq!(store.conversations_of_message(ws.id, m.id).await.unwrap().len(), 1);
        let other = workspace(store).await;
        assert!(store.conversation(other.id, first.id).await.unwrap().is_none(), "{db}");
        assert!(store.conversations_of_contact(other.id, ada.id).await.unwrap().is_empty(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn deleting_a_contact_deletes_their_deliveries_and_nobody_elses() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = owner(store, ws.id).await;
        let ada = contact(store, ws.id, "Ada", "pro").await;
        let bob = contact(store, ws.id, "Bob", "free").await;
        let m = store.create_message(ws.id, draft(me, "Hello", Channel::Post), 10).await.unwrap();
        store
            .send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 20)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(store.message_stats(ws.id, m.id).await.unwrap().targeted, 2, "{db}");

        assert!(store.delete_contact(ws.id, ada.id).await.unwrap(), "{db}");
        let left = store.scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE contact_id = {}", ada.id)).await;
        assert_eq!(left.unwrap(), 0, "{db}: a deleted contact's deliveries stayed behind");
        assert_eq!(store.deliveries_of_contact(ws.id, bob.id).await.unwrap().len(), 1, "{db}: Bob's delivery went too");
        assert_eq!(store.message_stats(ws.id, m.id).await.unwrap().targeted, 1, "{db}");
    }
    stores.cleanup().await;
}

/// Contacts by id, and the move of deliveries from `pending` for a list of contacts, take lists
/// of any length in one statement (more than either dialect's parameter limit here), and touch
/// only the workspace's own contacts and the message's own pending deliveries, each once.
#[tokio::test]
async fn long_contact_lists_deliver_once_and_only_what_is_pending() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let me = owner(store, ws.id).await;
        let inputs: Vec<tidings_core::contact::ContactInput> = (0..1_200)
            .map(|i| {
                let mut m = serde_json::Map::new();
                m.insert("external_id".into(), json!(format!("u{i}")));
                tidings_core::contact::ContactInput::parse(&m, &[]).unwrap()
            })
            .collect();
        store.upsert_contacts(ws.id, &inputs, 10).await.unwrap();
        let stranger = contact(store, other.id, "Stranger", "pro").await;
        let mine: Vec<i64> = store.contacts_after(ws.id, 0, 5_000).await.unwrap().iter().map(|c| c.id).collect();
        assert_eq!(mine.len(), 1_200, "{db}");

        // 40,000 ids: the workspace's, another workspace's, and ids of no one.
        let mut asked: Vec<i64> = mine.clone();
        asked.push(stranger.id);
        asked.extend(1_000_000..1_040_000);
        // Some twice: each contact still comes back once.
        asked.extend(mine.iter().take(10));
        assert!(asked.len() > 40_000);
        let found = store.contacts_by_ids(ws.id, &asked).await.unwrap();
        assert_eq!(found.len(), 1_200, "{db}: only the workspace's own contacts");
        assert!(found.iter().all(|c| c.workspace_id == ws.id), "{db}");
        assert!(store.contacts_by_ids(ws.id, &[]).await.unwrap().is_empty(), "{db}");

        let m = store.create_message(ws.id, draft(me, "Everyone", Channel::Chat), 10).await.unwrap();
        store
            .send_message(ws.id, m.id, Recipients { pred: None, contact_ids: None, due: None }, 20)
            .await
            .unwrap()
            .unwrap();
        // One contact already fetched theirs.
        let first = store.deliver_message_to(ws.id, m.id, &mine[..1], 25).await.unwrap();
        assert_eq!(first.len(), 1, "{db}");
        let moved = store.deliver_message_to(ws.id, m.id, &asked, 30).await.unwrap();
        assert_eq!(moved.len(), 1_199, "{db}: every pending delivery, and nothing else");
        let mut contacts: Vec<i64> = moved.iter().map(|(_, c)| *c).collect();
        contacts.sort_unstable();
        contacts.dedup();
        assert_eq!(contacts.len(), 1_199, "{db}: each contact once");
        assert!(!contacts.contains(&mine[0]) && !contacts.contains(&stranger.id), "{db}");
        assert!(store.deliver_message_to(ws.id, m.id, &asked, 40).await.unwrap().is_empty(), "{db}: once");
        let sent = store
            .scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {} AND state = 'sent'", m.id))
            .await
            .unwrap();
        assert_eq!(sent, 1_200, "{db}");
    }
    stores.cleanup().await;
}
