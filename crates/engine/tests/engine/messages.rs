//! Manual messages through the engine: compose, schedule, send exactly once, stop.

use serde_json::json;
use tidings_core::message::Channel;
use tidings_engine::bus::{Event, Moved};
use tidings_engine::messages::{MessageInput, Then};
use tidings_engine::{EngineError, scheduler};
use tidings_store::{MessageListQuery, StatFilter};

use super::support::{START, World};

fn chat(body: &str, audience: serde_json::Value) -> MessageInput {
    MessageInput { body: Some(body.into()), audience: Some(audience), ..MessageInput::default() }
}

#[tokio::test]
async fn a_scheduled_message_goes_out_when_its_time_comes_and_only_once() {
    for mut w in World::both().await {
        let db = w.db;
        for name in ["Ada", "Bea", "Cy"] {
            w.contact(name).await;
        }
        let at = START + 3600;
        let m = w
            .engine
            .create_message(
                &w.ws,
                w.owner.id,
                chat("Hello {{first_name}}", json!({"everyone": true})),
                Then::Schedule(at),
            )
            .await
            .unwrap();
        assert_eq!(w.events(), [Event::MessageChanged { workspace: w.ws.id, message: m.id }], "{db}");

        assert_eq!(scheduler::step(&w.engine, w.engine.now()).await, 0, "{db}: not yet");
        w.clock.set(at);
        // Two nodes find it due at the same moment: exactly one sends it.
        let second = w.another_node();
        let (a, b) = tokio::join!(scheduler::step(&w.engine, at), scheduler::step(&second, at));
        assert_eq!(a + b, 1, "{db}: sent {a} + {b} times");
        assert_eq!(scheduler::step(&w.engine, at + 1).await, 0, "{db}: and never again");
        let stats = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((stats.targeted, stats.pending), (3, 3), "{db}: one delivery per contact");
        let sent = w.store.message(w.ws.id, m.id).await.unwrap().unwrap();
        assert_eq!(sent.sent_at, Some(at), "{db}: at the clock's time");
        if a == 1 {
            let events = w.events();
            assert!(
                events.contains(&Event::MessageSent {
                    workspace: w.ws.id,
                    message: m.id,
                    channel: Channel::Chat,
                    targeted: 3
                }),
                "{db}: {events:?}"
            );
        }
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_send_without_an_audience_is_refused_before_anything_is_written() {
    for w in World::both().await {
        let db = w.db;
        let input = MessageInput { body: Some("Hi".into()), ..MessageInput::default() };
        let refused = w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await;
        assert!(matches!(refused, Err(EngineError::Invalid(_))), "{db}: {refused:?}");
        let empty = json!({"segment_ids": []});
        let refused = w.engine.create_message(&w.ws, w.owner.id, chat("Hi", empty), Then::Send).await;
        assert!(
            matches!(&refused, Err(EngineError::Invalid(e)) if e.0[0].field == "audience.segment_ids"),
            "{db}: {refused:?}"
        );
        let (list, total) =
            w.store.messages(w.ws.id, &MessageListQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!((list.len(), total), (0, 0), "{db}: no draft was left behind");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_stop_cancels_what_is_pending_and_cannot_be_undone() {
    for mut w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        w.contact("Bea").await;
        let m = w
            .engine
            .create_message(&w.ws, w.owner.id, chat("Hi", json!({"everyone": true})), Then::Send)
            .await
            .unwrap();
        assert_eq!(w.engine.deliver_pending(w.ws.id, ada.id).await.unwrap(), 1, "{db}");
        w.events();
        let stopped = w.engine.stop_message(&w.ws, m.id).await.unwrap();
        assert_eq!(stopped.stopped_at, Some(START), "{db}");
        assert_eq!(w.events(), [Event::MessageStopped { workspace: w.ws.id, message: m.id, cancelled: 1 }], "{db}");
        let stats = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((stats.sent, stats.cancelled, stats.pending), (1, 1, 0), "{db}");
        let again = w.engine.stop_message(&w.ws, m.id).await;
        assert!(matches!(again, Err(EngineError::Conflict { code: "message_stopped", .. })), "{db}: {again:?}");
        let resend = w.engine.send_message_by_id(&w.ws, m.id).await;
        assert!(matches!(resend, Err(EngineError::Conflict { code: "message_stopped", .. })), "{db}: {resend:?}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn deliveries_are_made_once_and_seen_and_clicks_counted_once() {
    for mut w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        let m = w
            .engine
            .create_message(&w.ws, w.owner.id, chat("Hi", json!({"contact_ids": [ada.id]})), Then::Send)
            .await
            .unwrap();
        w.events();
        // The Messenger is open on two nodes: the message is delivered once.
        let node2 = w.another_node();
        let ids = [ada.id];
        let (a, b) = tokio::join!(w.engine.deliver_now(w.ws.id, m.id, &ids), node2.deliver_now(w.ws.id, m.id, &ids));
        assert_eq!(a.unwrap().len() + b.unwrap().len(), 1, "{db}");
        assert_eq!(w.engine.deliver_pending(w.ws.id, ada.id).await.unwrap(), 0, "{db}: nothing left pending");
        let delivery = w.store.deliveries_of_contact(w.ws.id, ada.id).await.unwrap()[0].id;
        w.clock.advance(5);
        assert_eq!(w.engine.seen(w.ws.id, ada.id, &[delivery, 999_999]).await.unwrap(), 1, "{db}");
        assert_eq!(w.engine.seen(w.ws.id, ada.id, &[delivery]).await.unwrap(), 0, "{db}: once");
        assert!(w.engine.clicked(w.ws.id, ada.id, delivery).await.unwrap(), "{db}");
        assert!(!w.engine.clicked(w.ws.id, ada.id, delivery).await.unwrap(), "{db}: once");
        let d = &w.store.deliveries_of_contact(w.ws.id, ada.id).await.unwrap()[0];
        assert_eq!((d.seen_at, d.clicked_at), (Some(START + 5), Some(START + 5)), "{db}");
        let moved: Vec<Moved> = w
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::DeliveriesMoved { what, .. } if what != Moved::Delivered => Some(what),
                _ => None,
            })
            .collect();
        assert_eq!(moved, [Moved::Seen, Moved::Clicked], "{db}");
        let stats = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((stats.sent, stats.seen, stats.clicked), (1, 1, 1), "{db}");
        let others = w.store.message_recipients(w.ws.id, m.id, StatFilter::Clicked, 0, 10).await.unwrap().1;
        assert_eq!(others, 1, "{db}");
        w.cleanup().await;
    }
}
