//! Webhooks' storage: subscriptions scoped to their workspace, notifications derived once per
//! subscription and part with the part's topic (however many readers run at once, and whatever
//! order PostgreSQL commits parts in), and the outbox's claims, leases and conditional records.

use std::sync::Arc;

use tidings_core::contact::{Contact, Role};
use tidings_core::conversation::{Author, Change, PartType};
use tidings_core::webhook::Topic;
use tidings_store::{ConversationPart, Notification, NotificationOutcome, NotificationState, Store, WebhookChange};

use super::support::{Stores, workspace};

fn part(part_type: PartType, author_type: Author, author_id: i64, at: i64) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type,
        author_type,
        author_id,
        body: Some("<p>Words</p>".into()),
        created_at: at,
        assigned_to: None,
    }
}

async fn person(store: &Arc<dyn Store>, ws: i64, name: &str) -> Contact {
    let mut c = Contact::new(ws, Role::User, 1);
    c.name = Some(name.to_owned());
    store.insert_contact(&c).await.unwrap()
}

/// `(topic, part)` of a subscription's notifications, oldest first.
async fn told(store: &Arc<dyn Store>, ws: i64, webhook: i64) -> Vec<(Topic, i64)> {
    let mut all: Vec<Notification> = store.webhook_notifications(ws, webhook, 1_000).await.unwrap();
    all.reverse();
    all.iter().map(|n| (n.topic, n.part_id)).collect()
}

#[tokio::test]
async fn subscriptions_belong_to_their_workspace_and_take_their_notifications_with_them() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let url = "https://hooks.example.com/in";
        let a = store.create_webhook(ws.id, url, &[Topic::UserCreated], true, 2, 10).await.unwrap().unwrap();
        let b = store.create_webhook(ws.id, url, &Topic::ALL, false, 2, 11).await.unwrap().unwrap();
        let theirs = store.create_webhook(other.id, url, &[Topic::AdminNoted], true, 2, 12).await.unwrap().unwrap();
        assert!(
            store.create_webhook(ws.id, url, &[Topic::UserCreated], true, 2, 13).await.unwrap().is_none(),
            "{db}: no more than the maximum per workspace"
        );
        assert_eq!(a.secret.len(), 64, "{db}: 256 random bits as hex");
        assert!(a.secret.chars().all(|c| c.is_ascii_hexdigit()) && a.secret != b.secret, "{db}");
        assert_eq!((a.topics.clone(), a.active, a.created_at), (vec![Topic::UserCreated], true, 10), "{db}");
        assert_eq!(b.topics, Topic::ALL.to_vec(), "{db}: topics read back in their order");

        let mine: Vec<i64> = store.webhooks(ws.id).await.unwrap().iter().map(|w| w.id).collect();
        assert_eq!(mine, [a.id, b.id], "{db}: oldest first, the workspace's own only");
        assert_eq!(store.webhook(other.id, a.id).await.unwrap(), None, "{db}: not another workspace's");
        let change = WebhookChange { url: Some("https://elsewhere.example.com/".into()), ..WebhookChange::default() };
        assert_eq!(store.update_webhook(other.id, a.id, &change, 20).await.unwrap(), None, "{db}");
        assert_eq!(store.webhook(ws.id, a.id).await.unwrap().unwrap().url, url, "{db}: unchanged");

        let changed = store
            .update_webhook(
                ws.id,
                a.id,
                &WebhookChange {
                    url: Some("https://elsewhere.example.com/".into()),
                    topics: Some(vec![Topic::AdminClosed, Topic::AdminOpened]),
                    active: Some(false),
                },
                21,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(changed.url, "https://elsewhere.example.com/", "{db}");
        assert_eq!(
            (changed.topics.clone(), changed.active, changed.updated_at),
            (vec![Topic::AdminClosed, Topic::AdminOpened], false, 21),
            "{db}"
        );
        assert_eq!(changed.secret, a.secret, "{db}: the secret stays");
        let untouched = store.update_webhook(ws.id, a.id, &WebhookChange::default(), 22).await.unwrap().unwrap();
        assert_eq!((untouched.url, untouched.active), (changed.url, false), "{db}: nothing given, nothing changed");

        // A subscription with a notification, deleted: both are gone, and nothing of the other
        // workspace's.
        let ada = person(store, other.id, "Ada").await;
        let c = store.start_conversation(other.id, ada.id, Author::User, "<p>Hi</p>", 32).await.unwrap();
        store.add_part(other.id, c.id, part(PartType::Note, Author::Admin, 1, 33)).await.unwrap();
        store.enqueue_notifications(34, 100).await.unwrap();
        assert_eq!(told(store, other.id, theirs.id).await.len(), 1, "{db}: the note");
        assert!(!store.delete_webhook(ws.id, theirs.id).await.unwrap(), "{db}: not from another workspace");
        assert_eq!(told(store, other.id, theirs.id).await.len(), 1, "{db}: still there");
        assert!(store.delete_webhook(other.id, theirs.id).await.unwrap(), "{db}");
        assert_eq!(store.webhook(other.id, theirs.id).await.unwrap(), None, "{db}");
        let left = store
            .scalar_raw(&format!("SELECT COUNT(*) FROM webhook_notifications WHERE webhook_id = {}", theirs.id))
            .await
            .unwrap();
        assert_eq!(left, 0, "{db}: its notifications went with it");
        assert_eq!(store.webhooks(ws.id).await.unwrap().len(), 2, "{db}: the others' stay");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn each_part_after_the_cursor_becomes_one_notification_of_its_topic() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        // Before any subscription: never notified.
        let old = store.start_conversation(ws.id, ada.id, Author::User, "<p>Before</p>", 1).await.unwrap();

        let all =
            store.create_webhook(ws.id, "https://a.example.com/", &Topic::ALL, true, 10, 2).await.unwrap().unwrap();
        let replies = store
            .create_webhook(ws.id, "https://b.example.com/", &[Topic::AdminReplied], true, 10, 2)
            .await
            .unwrap()
            .unwrap();
        let theirs =
            store.create_webhook(other.id, "https://c.example.com/", &Topic::ALL, true, 10, 2).await.unwrap().unwrap();

        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Hello</p>", 10).await.unwrap();
        let first = store.parts(ws.id, c.id).await.unwrap()[0].id;
        let (wsid, cid) = (ws.id, c.id);
        let add = |p: ConversationPart| {
            let store = store.clone();
            async move { store.add_part(wsid, cid, p).await.unwrap().id }
        };
        let state = |to: Change, p: ConversationPart| {
            let store = store.clone();
            async move { store.set_conversation_state(wsid, cid, to, p).await.unwrap().unwrap().id }
        };
        let reply = add(part(PartType::Comment, Author::Admin, me, 11)).await;
        let note = add(part(PartType::Note, Author::Admin, me, 12)).await;
        let close = state(Change::Close, part(PartType::Close, Author::Admin, me, 13)).await;
        // The contact writes in the closed conversation: the reply that reopens it.
        let reopened = add(part(PartType::Open, Author::User, ada.id, 14)).await;
        let (_, assigned) = store
            .assign_conversation(ws.id, c.id, Some(me), part(PartType::Assignment, Author::Admin, me, 15))
            .await
            .unwrap()
            .unwrap();
        let snoozed = state(Change::Snooze { until: 20 }, part(PartType::Snoozed, Author::Admin, me, 16)).await;
        let woken = store.wake_snoozed(20, 10).await.unwrap();
        let unsnoozed = woken.iter().find(|(w, _)| w.id == c.id).unwrap().1.id;
        let close_again = state(Change::Close, part(PartType::Close, Author::Admin, me, 21)).await;
        let opened = state(Change::Open, part(PartType::Open, Author::Admin, me, 22)).await;
        let later = add(part(PartType::Comment, Author::User, ada.id, 23)).await;
        // A reply in the conversation from before the subscription is new, though.
        let old_reply = store.add_part(ws.id, old.id, part(PartType::Comment, Author::Admin, me, 24)).await.unwrap().id;

        // Two readers at once, as two nodes: each part is written once per subscription.
        let (x, y) = tokio::join!(store.enqueue_notifications(30, 4), store.enqueue_notifications(30, 4));
        x.unwrap();
        y.unwrap();
        for _ in 0..10 {
            store.enqueue_notifications(30, 4).await.unwrap();
        }
        let expected = vec![
            (Topic::UserCreated, first),
            (Topic::AdminReplied, reply),
            (Topic::AdminNoted, note),
            (Topic::AdminClosed, close),
            (Topic::UserReplied, reopened),
            (Topic::AdminAssigned, assigned.id),
            (Topic::AdminSnoozed, snoozed),
            (Topic::AdminUnsnoozed, unsnoozed),
            (Topic::AdminClosed, close_again),
            (Topic::AdminOpened, opened),
            (Topic::UserReplied, later),
            (Topic::AdminReplied, old_reply),
        ];
        assert_eq!(told(store, ws.id, all.id).await, expected, "{db}: every part once, read as its topic");
        assert_eq!(
            told(store, ws.id, replies.id).await,
            [(Topic::AdminReplied, reply), (Topic::AdminReplied, old_reply)],
            "{db}: only the topics asked for"
        );
        assert!(told(store, other.id, theirs.id).await.is_empty(), "{db}: nothing of another workspace");
        let again = store.enqueue_notifications(31, 100).await.unwrap();
        assert_eq!(again.notifications, 0, "{db}: nothing twice");

        let n = store.webhook_notifications(ws.id, all.id, 1).await.unwrap().remove(0);
        assert_eq!((n.state, n.attempts, n.next_attempt_at), (NotificationState::Pending, 0, Some(30)), "{db}");
        assert_eq!((n.conversation_id, n.workspace_id), (old.id, ws.id), "{db}");
        assert!(
            n.notification_id.starts_with("notif_") && n.notification_id.len() == 42,
            "{db}: {}",
            n.notification_id
        );

        // Off: nothing is written for it. On again: it starts from the newest part, so what
        // happened meanwhile is not sent.
        store
            .update_webhook(ws.id, all.id, &WebhookChange { active: Some(false), ..Default::default() }, 40)
            .await
            .unwrap();
        let while_off = add(part(PartType::Note, Author::Admin, me, 41)).await;
        store.enqueue_notifications(42, 100).await.unwrap();
        store
            .update_webhook(ws.id, all.id, &WebhookChange { active: Some(true), ..Default::default() }, 43)
            .await
            .unwrap();
        let after = add(part(PartType::Note, Author::Admin, me, 44)).await;
        store.enqueue_notifications(45, 100).await.unwrap();
        let parts: Vec<i64> = told(store, ws.id, all.id).await.iter().map(|(_, p)| *p).collect();
        assert!(!parts.contains(&while_off) && parts.contains(&after), "{db}: {parts:?}");
        assert_eq!(parts.len(), expected.len() + 1, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_part_whose_transaction_commits_late_is_not_skipped() {
    let stores = Stores::new().await;
    let store = &stores.all[1].1;
    let ws = workspace(store).await;
    let ada = person(store, ws.id, "Ada").await;
    let hook = store.create_webhook(ws.id, "https://a.example.com/", &Topic::ALL, true, 10, 1).await.unwrap().unwrap();
    let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Hello</p>", 10).await.unwrap();

    // Another connection writes a part and holds its transaction open: its id is handed out,
    // and a part written after it (a higher id) commits first.
    let options: sqlx::postgres::PgConnectOptions = super::support::postgres_url().parse().unwrap();
    let options = options.options([("search_path", stores.postgres_schema())]);
    let mut slow = sqlx::ConnectOptions::connect(&options).await.unwrap();
    sqlx::query("BEGIN").execute(&mut slow).await.unwrap();
    let late: i64 = sqlx::query_scalar(
        "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at) \
         VALUES ($1, $2, 'note', 'admin', 1, '<p>Late</p>', 11) RETURNING id",
    )
    .bind(ws.id)
    .bind(c.id)
    .fetch_one(&mut slow)
    .await
    .unwrap();
    let early = store.add_part(ws.id, c.id, part(PartType::Note, Author::Admin, 1, 12)).await.unwrap().id;
    assert!(early > late);

    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.enqueue_notifications(20, 100).await.unwrap() })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "the reader waits for the part still on its way");
    sqlx::query("COMMIT").execute(&mut slow).await.unwrap();
    reader.await.unwrap();
    let parts: Vec<i64> = told(store, ws.id, hook.id).await.iter().map(|(_, p)| *p).collect();
    let first = store.parts(ws.id, c.id).await.unwrap()[0].id;
    assert_eq!(parts, [first, late, early], "the late part is notified, in its place");
    stores.cleanup().await;
}

#[tokio::test]
async fn claims_hold_until_their_lease_ends_and_only_the_claim_under_way_is_recorded() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let ada = person(store, ws.id, "Ada").await;
        let on =
            store.create_webhook(ws.id, "https://on.example.com/", &Topic::ALL, true, 10, 1).await.unwrap().unwrap();
        let off =
            store.create_webhook(ws.id, "https://off.example.com/", &Topic::ALL, true, 10, 1).await.unwrap().unwrap();
        for at in [10, 11] {
            store.start_conversation(ws.id, ada.id, Author::User, "<p>Hello</p>", at).await.unwrap();
        }
        store.enqueue_notifications(100, 100).await.unwrap();
        store
            .update_webhook(ws.id, off.id, &WebhookChange { active: Some(false), ..Default::default() }, 100)
            .await
            .unwrap();

        let claimed = store.claim_notifications(100, 160, 10).await.unwrap();
        assert_eq!(claimed.len(), 2, "{db}: the active subscription's only");
        assert!(claimed.iter().all(|c| c.notification.webhook_id == on.id), "{db}");
        let first = &claimed[0];
        assert_eq!(
            (first.url.as_str(), first.secret.as_str(), first.app_id.as_str()),
            ("https://on.example.com/", on.secret.as_str(), ws.app_id.as_str()),
            "{db}"
        );
        let n = &first.notification;
        assert_eq!(
            (n.state, n.attempts, n.locked_until, n.first_sent_at),
            (NotificationState::Sending, 1, Some(160), Some(100)),
            "{db}"
        );
        assert!(store.claim_notifications(159, 220, 10).await.unwrap().is_empty(), "{db}: claimed until 160");

        // The first: a failed attempt, then another later.
        let retry = NotificationOutcome::Retry { at: 200, status: Some(500), error: "HTTP 500".into() };
        assert!(store.record_notification(n.id, 1, &retry, 101).await.unwrap(), "{db}");
        assert!(!store.record_notification(n.id, 1, &retry, 101).await.unwrap(), "{db}: recorded once");
        // The second: its worker dies; when the claim ends another takes it, and the first
        // worker's late answer is not written over the new claim.
        let second = claimed[1].notification.id;
        let again = store.claim_notifications(160, 220, 10).await.unwrap();
        assert_eq!(
            again.iter().map(|c| (c.notification.id, c.notification.attempts)).collect::<Vec<_>>(),
            [(second, 2)],
            "{db}"
        );
        let ok = NotificationOutcome::Delivered { status: 200 };
        assert!(!store.record_notification(second, 1, &ok, 161).await.unwrap(), "{db}: the old claim");
        assert!(store.record_notification(second, 2, &ok, 162).await.unwrap(), "{db}");

        let retried = store.claim_notifications(200, 260, 10).await.unwrap();
        assert_eq!(retried.len(), 1, "{db}");
        let r = &retried[0].notification;
        assert_eq!((r.id, r.attempts, r.first_sent_at, r.last_status), (n.id, 2, Some(100), Some(500)), "{db}");
        let failed = NotificationOutcome::Failed { status: None, error: "timed out".into() };
        assert!(store.record_notification(n.id, 2, &failed, 201).await.unwrap(), "{db}");

        let list = store.webhook_notifications(ws.id, on.id, 10).await.unwrap();
        let by_id = |id: i64| list.iter().find(|x| x.id == id).unwrap().clone();
        let done = by_id(second);
        assert_eq!(
            (done.state, done.delivered_at, done.last_status, done.last_error.clone()),
            (NotificationState::Delivered, Some(162), Some(200), None),
            "{db}"
        );
        let gave_up = by_id(n.id);
        assert_eq!(
            (gave_up.state, gave_up.attempts, gave_up.last_status, gave_up.last_error.as_deref()),
            (NotificationState::Failed, 2, None, Some("timed out")),
            "{db}"
        );
        assert_eq!((gave_up.next_attempt_at, gave_up.locked_until), (None, None), "{db}");
        assert!(store.claim_notifications(10_000, 10_060, 10).await.unwrap().is_empty(), "{db}: both finished");

        // Switched on again, the other subscription's waiting notifications go.
        store
            .update_webhook(ws.id, off.id, &WebhookChange { active: Some(true), ..Default::default() }, 300)
            .await
            .unwrap();
        assert_eq!(store.claim_notifications(300, 360, 10).await.unwrap().len(), 2, "{db}");

        // Finished ones are pruned once old enough; the rest stay.
        assert_eq!(store.prune_notifications(200).await.unwrap(), 1, "{db}: the delivered one, changed at 162");
        assert_eq!(store.prune_notifications(1_000).await.unwrap(), 1, "{db}: the failed one");
        assert_eq!(store.webhook_notifications(ws.id, off.id, 10).await.unwrap().len(), 2, "{db}: in flight stay");
    }
    stores.cleanup().await;
}
