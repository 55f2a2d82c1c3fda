//! A message's timeline (deliveries, views and clicks in buckets of time) and uploaded files.

use std::sync::Arc;

use serde_json::json;
use tidings_core::message::{Channel, MessageState};
use tidings_store::{
    NewMessage, Recipients, StatFilter, Store, TIMELINE_WIDTHS, Timeline, TimelineBucket, timeline_width,
};

use super::support::{Stores, person, workspace};

fn chat(sender: i64) -> NewMessage {
    NewMessage {
        title: "News".into(),
        sender_id: sender,
        channel: Channel::Chat,
        subject: None,
        body: "Hi".into(),
        template: Default::default(),
        delivery_window: None,
        audience: json!({"everyone": true}),
        state: MessageState::Draft,
        scheduled_at: None,
    }
}

/// The pending delivery of `message` to `contact`.
async fn delivery_of(store: &Arc<dyn Store>, ws: i64, contact: i64, message: i64) -> i64 {
    let pending = store.pending_in_app(ws, contact, i64::MAX).await.unwrap();
    pending.iter().find(|(_, m)| m.id == message).map(|(d, _)| d.id).expect("a pending delivery")
}

#[test]
fn a_timeline_takes_the_narrowest_width_that_fits() {
    assert_eq!(timeline_width(0, 59, 1), 60);
    assert_eq!(timeline_width(0, 60, 1), 300);
    assert_eq!(timeline_width(360_010, 363_700, 48), 300, "61 minutes do not fit, 13 quarters of five do");
    assert_eq!(timeline_width(0, 86_400 * 3, 48), 10_800);
    assert_eq!(timeline_width(0, i64::MAX / 2, 48), TIMELINE_WIDTHS[8], "the widest when none fits");
}

#[tokio::test]
async fn a_timeline_counts_each_moment_in_its_bucket_and_only_this_messages() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let (ada, bob, _cy) =
            (person(store, ws.id, "Ada").await, person(store, ws.id, "Bob").await, person(store, ws.id, "Cy").await);
        let m = store.create_message(ws.id, chat(me), 10).await.unwrap();
        assert_eq!(store.delivery_timeline(ws.id, m.id, 48).await.unwrap(), Timeline::default(), "{db}: a draft");
        let everyone = Recipients { pred: None, contact_ids: None, due: None };
        store.send_message(ws.id, m.id, everyone, 360_000).await.unwrap().unwrap();
        assert_eq!(
            store.delivery_timeline(ws.id, m.id, 48).await.unwrap(),
            Timeline::default(),
            "{db}: nothing delivered yet"
        );

        // Ada gets it, sees it a minute later and clicks a minute after; Bob sees his an hour on;
        // Cy never opens the Messenger.
        let (da, db_) = (delivery_of(store, ws.id, ada.id, m.id).await, delivery_of(store, ws.id, bob.id, m.id).await);
        store.deliver(ws.id, ada.id, &[da], 360_010).await.unwrap();
        store.deliver(ws.id, bob.id, &[db_], 360_020).await.unwrap();
        assert!(store.mark_delivery(ws.id, ada.id, da, StatFilter::Seen, 360_070).await.unwrap());
        assert!(store.mark_delivery(ws.id, ada.id, da, StatFilter::Clicked, 360_130).await.unwrap());
        assert!(store.mark_delivery(ws.id, bob.id, db_, StatFilter::Seen, 363_700).await.unwrap());

        // Another message of the same workspace, delivered too, counts for itself alone.
        let other = store.create_message(ws.id, chat(me), 10).await.unwrap();
        store
            .send_message(ws.id, other.id, Recipients { pred: None, contact_ids: None, due: None }, 360_000)
            .await
            .unwrap()
            .unwrap();
        let d = delivery_of(store, ws.id, ada.id, other.id).await;
        store.deliver(ws.id, ada.id, &[d], 360_040).await.unwrap();

        let t = store.delivery_timeline(ws.id, m.id, 48).await.unwrap();
        assert_eq!(t.width, 300, "{db}");
        assert_eq!(t.buckets.len(), 13, "{db}: from 360000 to 363600, every bucket between included");
        assert_eq!(t.buckets[0], TimelineBucket { start: 360_000, sent: 2, seen: 1, clicked: 1 }, "{db}");
        assert_eq!(t.buckets[12], TimelineBucket { start: 363_600, sent: 0, seen: 1, clicked: 0 }, "{db}");
        assert!(t.buckets[1..12].iter().all(|b| (b.sent, b.seen, b.clicked) == (0, 0, 0)), "{db}: {t:?}");
        assert!(t.buckets.windows(2).all(|w| w[1].start - w[0].start == 300), "{db}: {t:?}");
        let ones = store.delivery_timeline(ws.id, other.id, 48).await.unwrap();
        assert_eq!(ones.buckets, vec![TimelineBucket { start: 360_000, sent: 1, seen: 0, clicked: 0 }], "{db}");

        // Fewer buckets allowed: wider ones, the same totals.
        let coarse = store.delivery_timeline(ws.id, m.id, 2).await.unwrap();
        assert_eq!(coarse.width, 3600, "{db}");
        let totals = coarse.buckets.iter().fold((0, 0, 0), |a, b| (a.0 + b.sent, a.1 + b.seen, a.2 + b.clicked));
        assert_eq!(totals, (2, 2, 1), "{db}");

        // Another workspace asking for this message gets nothing.
        let theirs = workspace(store).await;
        assert_eq!(store.delivery_timeline(theirs.id, m.id, 48).await.unwrap(), Timeline::default(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn an_upload_keeps_its_bytes_and_is_found_by_its_token_or_in_its_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let theirs = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        // Every byte value, NUL and high bytes included.
        let bytes: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
        let token = format!("tok{db}");
        let up = store.create_upload(ws.id, &token, "image/png", &bytes, Some(me), 42).await.unwrap();
        assert_eq!(
            (up.workspace_id, up.content_type.as_str(), up.uploaded_by, up.created_at),
            (ws.id, "image/png", Some(me), 42)
        );
        let found = store.upload_by_token(&token).await.unwrap().expect("found by token");
        assert_eq!(found.bytes, bytes, "{db}");
        assert_eq!(found, up, "{db}");
        assert_eq!(store.upload(ws.id, up.id).await.unwrap().map(|u| u.token), Some(token.clone()), "{db}");
        assert_eq!(store.upload(theirs.id, up.id).await.unwrap(), None, "{db}: another workspace's file");
        assert_eq!(store.upload_by_token("nope").await.unwrap(), None, "{db}");
        assert!(
            store.create_upload(theirs.id, &token, "image/gif", b"GIF89a", None, 43).await.is_err(),
            "{db}: a token is unique"
        );
        assert_eq!(store.scalar_raw("SELECT size FROM uploads").await.unwrap(), 259, "{db}");
    }
    stores.cleanup().await;
}
