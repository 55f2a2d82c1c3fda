//! Reply emails' storage: the team's unseen words queued once when the workspace's delay has
//! passed (whoever queues at the same time), claims with a lease recorded only by the claim that
//! holds them, and contacts' emails added to their conversation once per Message-ID.

use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_store::{ReplyEmailState, ReplyOutcome};

use super::support::{Stores, part, person, workspace};

#[tokio::test]
async fn unseen_words_are_queued_once_after_the_workspaces_delay() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Help</p>", 10).await.unwrap();
        assert_eq!(store.reply_email_after(ws.id).await.unwrap(), Some(300), "{db}: five minutes by default");

        // A note is not for the contact: nothing to email.
        store.add_part(ws.id, c.id, part(PartType::Note, Author::Admin, me, Some("<p>VIP</p>"), 20)).await.unwrap();
        assert!(store.queue_reply_emails(10_000, 100).await.unwrap().is_empty(), "{db}: a note is not emailed");

        let one = store
            .add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>One</p>"), 100))
            .await
            .unwrap();
        let two = store
            .add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Two</p>"), 150))
            .await
            .unwrap();
        assert!(store.queue_reply_emails(449, 100).await.unwrap().is_empty(), "{db}: not before the delay");

        // Two queuers at once (two nodes): the words are queued once.
        let (a, b) = tokio::join!(store.queue_reply_emails(450, 100), store.queue_reply_emails(450, 100));
        let queued: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).collect();
        assert_eq!(queued.len(), 1, "{db}: once: {queued:?}");
        let q = &queued[0];
        assert_eq!((q.workspace_id, q.conversation_id, q.contact_id), (ws.id, c.id, ada.id), "{db}");
        assert!(q.after_part_id < one.id && q.part_id == two.id, "{db}: both comments: {q:?}");
        assert_eq!((q.state, q.attempts, q.next_attempt_at), (ReplyEmailState::Pending, 0, 450), "{db}");
        let after = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!(after.emailed_part_id, two.id, "{db}: the conversation says what was emailed");
        assert!(store.queue_reply_emails(10_000, 100).await.unwrap().is_empty(), "{db}: nothing new");
        assert_eq!(store.reply_emails(ws.id, c.id).await.unwrap().len(), 1, "{db}");

        // Words the contact saw in time are not queued; the delay is the workspace's.
        assert!(store.set_reply_email_after(ws.id, 60).await.unwrap(), "{db}");
        assert_eq!(store.reply_email_after(ws.id).await.unwrap(), Some(60), "{db}");
        let three = store
            .add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Three</p>"), 500))
            .await
            .unwrap();
        assert!(store.contact_saw(ws.id, ada.id, c.id).await.unwrap(), "{db}");
        assert!(store.queue_reply_emails(10_000, 100).await.unwrap().is_empty(), "{db}: seen in time");
        let four = store
            .add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Four</p>"), 600))
            .await
            .unwrap();
        assert!(store.queue_reply_emails(659, 100).await.unwrap().is_empty(), "{db}: the new delay");
        let next = store.queue_reply_emails(660, 100).await.unwrap();
        assert_eq!(next.len(), 1, "{db}");
        assert_eq!((next[0].after_part_id, next[0].part_id), (three.id, four.id), "{db}: only what was not seen");

        // A close with words is for the contact too; another workspace's delay is its own.
        let other = workspace(store).await;
        let bob = person(store, other.id, "Bob").await;
        let them = store.teammates(other.id).await.unwrap()[0].id;
        let d = store.start_conversation(other.id, bob.id, Author::User, "<p>Hi</p>", 10).await.unwrap();
        store
            .set_conversation_state(
                other.id,
                d.id,
                Change::Close,
                part(PartType::Close, Author::Admin, them, Some("<p>Done</p>"), 700),
            )
            .await
            .unwrap();
        assert!(store.queue_reply_emails(999, 100).await.unwrap().is_empty(), "{db}: 300 s there");
        let closed = store.queue_reply_emails(1000, 100).await.unwrap();
        assert_eq!(closed.iter().map(|r| (r.workspace_id, r.conversation_id)).collect::<Vec<_>>(), [(other.id, d.id)]);
        assert!(store.reply_emails(ws.id, d.id).await.unwrap().is_empty(), "{db}: scoped to its workspace");

        // Deleting the contact takes their reply emails with them.
        assert!(store.delete_contact(ws.id, ada.id).await.unwrap(), "{db}");
        assert!(store.reply_emails(ws.id, c.id).await.unwrap().is_empty(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_claim_holds_its_email_until_its_lease_ends_and_only_it_records() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Help</p>", 10).await.unwrap();
        store.add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Hi</p>"), 20)).await.unwrap();
        let queued = store.queue_reply_emails(1000, 10).await.unwrap();
        let id = queued[0].id;

        let first = store.claim_reply_emails(1000, 1300, 10).await.unwrap();
        assert_eq!(first.iter().map(|r| (r.id, r.attempts)).collect::<Vec<_>>(), [(id, 1)], "{db}");
        assert_eq!((first[0].state, first[0].lease_until), (ReplyEmailState::Sending, Some(1300)), "{db}");
        assert!(store.claim_reply_emails(1299, 1600, 10).await.unwrap().is_empty(), "{db}: leased");
        let again = store.claim_reply_emails(1300, 1600, 10).await.unwrap();
        assert_eq!(again.iter().map(|r| r.attempts).collect::<Vec<_>>(), [2], "{db}: the lease ran out");
        assert!(
            !store.record_reply_email(ws.id, id, 1, &ReplyOutcome::Sent, 1301).await.unwrap(),
            "{db}: the first claim no longer holds it"
        );
        assert!(
            !store.record_reply_email(ws.id + 1_000_000, id, 2, &ReplyOutcome::Sent, 1301).await.unwrap(),
            "{db}: another workspace cannot record it"
        );

        // A temporary failure: due again at its time, not before.
        let retry = ReplyOutcome::Retry { at: 2000, reason: "451 later".into() };
        assert!(store.record_reply_email(ws.id, id, 2, &retry, 1301).await.unwrap(), "{db}");
        let row = store.reply_emails(ws.id, c.id).await.unwrap().remove(0);
        assert_eq!(
            (row.state, row.next_attempt_at, row.error.as_deref()),
            (ReplyEmailState::Pending, 2000, Some("451 later"))
        );
        assert!(store.claim_reply_emails(1999, 2300, 10).await.unwrap().is_empty(), "{db}: not before its time");
        let third = store.claim_reply_emails(2000, 2300, 10).await.unwrap();
        assert_eq!(third[0].attempts, 3, "{db}");
        assert!(store.record_reply_email(ws.id, id, 3, &ReplyOutcome::Sent, 2001).await.unwrap(), "{db}");
        assert!(!store.record_reply_email(ws.id, id, 3, &ReplyOutcome::Sent, 2002).await.unwrap(), "{db}: once");
        let row = store.reply_emails(ws.id, c.id).await.unwrap().remove(0);
        assert_eq!((row.state, row.sent_at, row.lease_until), (ReplyEmailState::Sent, Some(2001), None), "{db}");
        assert_eq!(store.contact(ws.id, ada.id).await.unwrap().unwrap().last_contacted_at, Some(2001), "{db}");
        assert!(store.claim_reply_emails(99_999, 100_300, 10).await.unwrap().is_empty(), "{db}: sent is done");

        // Skipped and failed are ends too, with their reason.
        store.add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Hi</p>"), 3000)).await.unwrap();
        let id2 = store.queue_reply_emails(4000, 10).await.unwrap()[0].id;
        store.claim_reply_emails(4000, 4300, 10).await.unwrap();
        let skip = ReplyOutcome::Skipped("unsubscribed".into());
        assert!(store.record_reply_email(ws.id, id2, 1, &skip, 4001).await.unwrap(), "{db}");
        let rows = store.reply_emails(ws.id, c.id).await.unwrap();
        assert_eq!((rows[1].state, rows[1].error.as_deref()), (ReplyEmailState::Skipped, Some("unsubscribed")));
        assert!(store.claim_reply_emails(99_999, 100_300, 10).await.unwrap().is_empty(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn an_email_from_the_contact_is_added_once_and_reopens_the_conversation() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Help</p>", 10).await.unwrap();
        store
            .set_conversation_state(ws.id, c.id, Change::Close, part(PartType::Close, Author::Admin, me, None, 20))
            .await
            .unwrap();
        let found = store.conversation_anywhere(c.id).await.unwrap().unwrap();
        assert_eq!((found.workspace_id, found.state), (ws.id, State::Closed), "{db}");
        assert!(store.conversation_anywhere(c.id + 1_000_000).await.unwrap().is_none(), "{db}");

        let words = part(PartType::Open, Author::User, ada.id, Some("<p>Still broken</p>"), 30);
        let written = store.add_received_part(ws.id, c.id, "abc@mail.test", words.clone()).await.unwrap();
        let written = written.expect("the first copy is added");
        assert_eq!((written.author_type, written.author_id), (Author::User, ada.id), "{db}");
        assert!(
            store.add_received_part(ws.id, c.id, "abc@mail.test", words.clone()).await.unwrap().is_none(),
            "{db}: the same email again adds nothing"
        );
        let parts = store.parts(ws.id, c.id).await.unwrap();
        assert_eq!(parts.iter().filter(|p| p.body.as_deref() == Some("<p>Still broken</p>")).count(), 1, "{db}");
        let after = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!(
            (after.state, after.waiting_since),
            (State::Open, Some(30)),
            "{db}: reopened, the team owes a reply"
        );

        // Another workspace's conversation cannot be written through this one.
        let other = workspace(store).await;
        assert!(store.add_received_part(other.id, c.id, "x@mail.test", words).await.is_err(), "{db}");
        assert_eq!(store.parts(ws.id, c.id).await.unwrap().len(), parts.len(), "{db}: nothing added");
    }
    stores.cleanup().await;
}
