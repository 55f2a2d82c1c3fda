//! The Inbox's storage: views by state and assignee in both orders with keyset pages, search,
//! counts, assignment (reopening), read marks, what a contact has seen, snoozed conversations
//! waking once, tags on conversations and saved replies; each scoped to its workspace.

use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_store::{Assignee, InboxCursor, InboxQuery, InboxSort, NewTeammate, TeammateRole};

use super::support::{Stores, part, person, workspace};

fn ids(entries: &[tidings_store::InboxEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.conversation.id).collect()
}

#[tokio::test]
async fn views_page_by_keyset_in_both_orders_and_search_contacts_and_words() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let bob = person(store, ws.id, "Bob").await;
        // Five conversations: Ada's at 10, 20, 30 and Bob's at 40, 50; Bob's last one answered.
        let mut made = Vec::new();
        for (who, at) in [(&ada, 10), (&ada, 20), (&ada, 30), (&bob, 40), (&bob, 50)] {
            made.push(
                store.start_conversation(ws.id, who.id, Author::User, "<p>Hello 100% there</p>", at).await.unwrap(),
            );
        }
        store
            .add_part(ws.id, made[4].id, part(PartType::Comment, Author::Admin, me, Some("<p>Hi</p>"), 60))
            .await
            .unwrap();

        // Latest first, two at a time, each page starting after the last entry of the one before.
        let mut q = InboxQuery { limit: 2, ..InboxQuery::default() };
        let mut seen = Vec::new();
        loop {
            let page = store.inbox(ws.id, &q).await.unwrap();
            seen.extend(ids(&page));
            let Some(last) = page.last() else { break };
            q.after = Some(InboxCursor { key: last.key, id: last.conversation.id });
        }
        let expected: Vec<i64> = [4, 3, 2, 1, 0].iter().map(|i| made[*i].id).collect();
        assert_eq!(seen, expected, "{db}: latest activity first, every conversation once");

        // Waiting longest: the oldest wait first, the answered one last.
        let q = InboxQuery { sort: InboxSort::WaitingLongest, limit: 3, ..InboxQuery::default() };
        let first = store.inbox(ws.id, &q).await.unwrap();
        assert_eq!(ids(&first), [made[0].id, made[1].id, made[2].id], "{db}");
        let last = first.last().unwrap();
        let rest = store
            .inbox(
                ws.id,
                &InboxQuery { after: Some(InboxCursor { key: last.key, id: last.conversation.id }), ..q.clone() },
            )
            .await
            .unwrap();
        assert_eq!(ids(&rest), [made[3].id, made[4].id], "{db}: those waiting for no one come last");
        assert_eq!(rest[1].last.as_ref().and_then(|p| p.body.as_deref()), Some("<p>Hi</p>"), "{db}: the preview");

        // Search: a contact's name, an email, words of a part; `%` is a character, not a wildcard.
        let find = async |text: &str| {
            let q = InboxQuery { text: Some(text.to_owned()), limit: 10, ..InboxQuery::default() };
            let mut found = ids(&store.inbox(ws.id, &q).await.unwrap());
            found.sort_unstable();
            found
        };
        assert_eq!(find("bOb").await, [made[3].id, made[4].id], "{db}");
        assert_eq!(find("ada@example").await, [made[0].id, made[1].id, made[2].id], "{db}");
        assert_eq!(find("hi").await, [made[4].id], "{db}: words of a teammate's part");
        assert_eq!(find("100%").await.len(), 5, "{db}");
        assert!(find("1%0").await.is_empty(), "{db}: a % in the search is not a wildcard");
        // Letters outside ASCII match as written, the ASCII ones around them in any case.
        let emile = person(store, ws.id, "Émile Zola").await;
        let parcel =
            store.start_conversation(ws.id, emile.id, Author::User, "<p>Où est mon colis ?</p>", 70).await.unwrap();
        for text in ["Émile", "ÉMILE ZOLA", "où EST", "Colis"] {
            assert_eq!(find(text).await, [parcel.id], "{db}: {text}");
        }

        // Another workspace sees none of them.
        let other = workspace(store).await;
        assert!(store.inbox(other.id, &InboxQuery::default()).await.unwrap().is_empty(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn assignment_reopens_and_views_and_counts_follow_the_assignee() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let grace = store
            .create_teammate(
                ws.id,
                NewTeammate {
                    email: format!("grace-{}@example.test", ws.id),
                    name: "Grace".into(),
                    password_hash: None,
                    role: TeammateRole::Member,
                    created_at: 1,
                },
            )
            .await
            .unwrap()
            .id;
        let ada = person(store, ws.id, "Ada").await;
        let a = store.start_conversation(ws.id, ada.id, Author::User, "<p>One</p>", 10).await.unwrap();
        let b = store.start_conversation(ws.id, ada.id, Author::User, "<p>Two</p>", 11).await.unwrap();
        store
            .set_conversation_state(ws.id, b.id, Change::Close, part(PartType::Close, Author::Admin, me, None, 12))
            .await
            .unwrap();

        let (after, p) = store
            .assign_conversation(ws.id, a.id, Some(grace), part(PartType::Assignment, Author::Admin, me, None, 13))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (after.assignee_id, p.part_type, p.assigned_to),
            (Some(grace), PartType::Assignment, Some(grace)),
            "{db}"
        );
        let (after, p) = store
            .assign_conversation(ws.id, b.id, Some(me), part(PartType::Assignment, Author::Admin, me, None, 14))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((after.state, p.part_type), (State::Open, PartType::AssignAndReopen), "{db}: assigning reopens");

        let view =
            async |assignee| ids(&store.inbox(ws.id, &InboxQuery { assignee, ..InboxQuery::default() }).await.unwrap());
        assert_eq!(view(Assignee::Teammate(grace)).await, [a.id], "{db}");
        assert_eq!(view(Assignee::Teammate(me)).await, [b.id], "{db}");
        assert!(view(Assignee::Nobody).await.is_empty(), "{db}");
        let (unassigned, _) = store
            .assign_conversation(ws.id, a.id, None, part(PartType::Assignment, Author::Admin, me, None, 15))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(unassigned.assignee_id, None, "{db}");
        assert_eq!(view(Assignee::Nobody).await, [a.id], "{db}");

        // Counts by state and assignee, with the team's unread ones.
        store.set_conversation_read(ws.id, b.id, true).await.unwrap();
        let mut counts = store.inbox_counts(ws.id).await.unwrap();
        counts.sort_by_key(|c| c.assignee_id);
        let got: Vec<_> = counts.iter().map(|c| (c.state, c.assignee_id, c.total, c.unread)).collect();
        assert_eq!(got, [(State::Open, None, 1, 1), (State::Open, Some(me), 1, 0)], "{db}");

        // Nothing of another workspace moves.
        let other = workspace(store).await;
        let refused = store
            .assign_conversation(other.id, a.id, None, part(PartType::Assignment, Author::Admin, me, None, 16))
            .await
            .unwrap();
        assert!(refused.is_none(), "{db}");
        assert!(!store.set_conversation_read(other.id, a.id, true).await.unwrap(), "{db}");
        assert!(store.inbox_counts(other.id).await.unwrap().is_empty(), "{db}");
        assert_eq!(store.parts(ws.id, a.id).await.unwrap().len(), 3, "{db}: the first part and two assignments");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn what_the_contact_has_not_seen_counts_the_teams_words_only() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Hi</p>", 10).await.unwrap();
        assert!(store.contact_unread(ws.id, ada.id).await.unwrap().is_empty(), "{db}");
        store.add_part(ws.id, c.id, part(PartType::Note, Author::Admin, me, Some("<p>VIP</p>"), 11)).await.unwrap();
        store.add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>One</p>"), 12)).await.unwrap();
        let two = store
            .add_part(ws.id, c.id, part(PartType::Comment, Author::Admin, me, Some("<p>Two</p>"), 13))
            .await
            .unwrap();
        assert_eq!(
            store.contact_unread(ws.id, ada.id).await.unwrap(),
            [(c.id, 2)],
            "{db}: a note is not for the contact"
        );
        let now = store.conversation(ws.id, c.id).await.unwrap().unwrap();
        assert_eq!(now.team_part_id, two.id, "{db}: the team's latest words");

        // Someone else cannot mark it seen for them.
        let bob = person(store, ws.id, "Bob").await;
        assert!(!store.contact_saw(ws.id, bob.id, c.id).await.unwrap(), "{db}");
        assert!(store.contact_saw(ws.id, ada.id, c.id).await.unwrap(), "{db}");
        assert!(!store.contact_saw(ws.id, ada.id, c.id).await.unwrap(), "{db}: nothing new the second time");
        assert!(store.contact_unread(ws.id, ada.id).await.unwrap().is_empty(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_once_when_its_time_comes() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let me = store.teammates(ws.id).await.unwrap()[0].id;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Hi</p>", 10).await.unwrap();
        store
            .set_conversation_state(
                ws.id,
                c.id,
                Change::Snooze { until: 100 },
                part(PartType::Snoozed, Author::Admin, me, None, 11),
            )
            .await
            .unwrap();
        assert!(store.wake_snoozed(99, 10).await.unwrap().iter().all(|(w, _)| w.id != c.id), "{db}: not yet");
        // Two nodes at once: one of them wakes it.
        let (a, b) = tokio::join!(store.wake_snoozed(100, 10), store.wake_snoozed(100, 10));
        let woken: Vec<_> = a.unwrap().into_iter().chain(b.unwrap()).filter(|(w, _)| w.id == c.id).collect();
        assert_eq!(woken.len(), 1, "{db}: woken exactly once");
        let (w, p) = &woken[0];
        assert_eq!((w.state, w.snoozed_until), (State::Open, None), "{db}");
        assert_eq!((p.part_type, p.author_type, p.author_id), (PartType::Unsnoozed, Author::Admin, me), "{db}");
        assert_eq!(store.parts(ws.id, c.id).await.unwrap().len(), 3, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn tags_on_conversations_and_saved_replies_stay_in_their_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let ada = person(store, ws.id, "Ada").await;
        let c = store.start_conversation(ws.id, ada.id, Author::User, "<p>Hi</p>", 10).await.unwrap();
        let vip = store.create_tag(ws.id, "VIP", 1).await.unwrap();
        assert!(store.tag_conversation(ws.id, c.id, vip.id, None, 2).await.unwrap(), "{db}");
        assert!(store.tag_conversation(ws.id, c.id, vip.id, None, 3).await.unwrap(), "{db}: again is no change");
        let tags = store.conversation_tags(ws.id, &[c.id]).await.unwrap();
        assert_eq!(tags.iter().map(|(id, t)| (*id, t.name.as_str())).collect::<Vec<_>>(), [(c.id, "VIP")], "{db}");

        let other = workspace(store).await;
        let theirs = store.create_tag(other.id, "Theirs", 1).await.unwrap();
        assert!(!store.tag_conversation(ws.id, c.id, theirs.id, None, 4).await.unwrap(), "{db}: another's tag");
        assert!(
            !store.tag_conversation(other.id, c.id, theirs.id, None, 4).await.unwrap(),
            "{db}: another's conversation"
        );
        assert!(!store.untag_conversation(other.id, c.id, vip.id).await.unwrap(), "{db}");
        assert!(store.untag_conversation(ws.id, c.id, vip.id).await.unwrap(), "{db}");
        assert!(store.conversation_tags(ws.id, &[c.id]).await.unwrap().is_empty(), "{db}");

        let saved = store.create_saved_reply(ws.id, "Thanks", "Thanks, {{first_name}}!", 5).await.unwrap();
        assert!(
            matches!(
                store.create_saved_reply(ws.id, "Thanks", "again", 6).await,
                Err(tidings_store::StoreError::Conflict { .. })
            ),
            "{db}: one name per workspace"
        );
        assert!(!store.update_saved_reply(other.id, saved.id, "Mine", "x", 7).await.unwrap(), "{db}");
        assert!(store.update_saved_reply(ws.id, saved.id, "Thank you", "Thank you!", 7).await.unwrap(), "{db}");
        let list = store.saved_replies(ws.id).await.unwrap();
        assert_eq!(
            (list[0].name.as_str(), list[0].body.as_str(), list[0].updated_at),
            ("Thank you", "Thank you!", 7),
            "{db}"
        );
        assert!(store.saved_replies(other.id).await.unwrap().is_empty(), "{db}");
        assert!(!store.delete_saved_reply(other.id, saved.id).await.unwrap(), "{db}");
        assert!(store.delete_saved_reply(ws.id, saved.id).await.unwrap(), "{db}");
    }
    stores.cleanup().await;
}
