//! Contacts: create, read, update, delete, archive, upsert, and workspace isolation.

use serde_json::json;
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_store::{ContactQuery, SortOrder, StoreError};

use super::support::{Stores, workspace};

fn input(v: serde_json::Value) -> ContactInput {
    ContactInput::parse(v.as_object().unwrap(), &[]).unwrap()
}

fn page() -> ContactQuery {
    ContactQuery { pred: None, sort: None, order: SortOrder::Descending, offset: 0, limit: 50 }
}

#[tokio::test]
async fn crud_round_trips_every_field_and_delete_removes_attached_rows() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let mut c = Contact::new(ws.id, Role::User, 100);
        input(json!({"email": "Ada@Example.test", "external_id": "u1", "name": "Ada", "signed_up_at": 50, "timezone": "Europe/Paris"}))
            .apply(&mut c, 100);
        c.custom_attributes.insert("plan".into(), json!("pro"));
        let saved = store.insert_contact(&c).await.unwrap();
        assert!(saved.id > 0, "{db}");
        let read = store.contact(ws.id, saved.id).await.unwrap().unwrap();
        assert_eq!(read, saved, "{db}: what was written is what is read");
        assert_eq!(store.contact_by_external_id(ws.id, "u1").await.unwrap().map(|c| c.id), Some(saved.id), "{db}");

        let mut changed = read.clone();
        changed.name = Some("Ada L.".into());
        changed.custom_attributes.remove("plan");
        assert!(store.update_contact(&changed).await.unwrap());
        assert_eq!(store.contact(ws.id, saved.id).await.unwrap().unwrap(), changed, "{db}");

        let tag = store.create_tag(ws.id, "vip", 100).await.unwrap();
        store.tag_contact(ws.id, saved.id, tag.id, None, 100).await.unwrap();
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM contact_tags").await.unwrap(), 1, "{db}");
        assert!(store.delete_contact(ws.id, saved.id).await.unwrap());
        assert!(store.contact(ws.id, saved.id).await.unwrap().is_none(), "{db}");
        assert_eq!(
            store.scalar_raw("SELECT COUNT(*) FROM contact_tags").await.unwrap(),
            0,
            "{db}: deleting a contact must remove its tag rows"
        );
        assert!(!store.delete_contact(ws.id, saved.id).await.unwrap(), "{db}: second delete finds nothing");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn duplicates_are_refused_with_the_existing_id() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let mut c = Contact::new(ws.id, Role::User, 1);
        c.email = Some("dup@example.test".into());
        let first = store.insert_contact(&c).await.unwrap();
        match store.insert_contact(&c).await {
            Err(StoreError::Conflict { existing_id, .. }) => {
                assert_eq!(existing_id, Some(first.id), "{db}")
            }
            other => panic!("{db}: expected a conflict, got {other:?}"),
        }
        // Leads may share an email with a user.
        let mut lead = c.clone();
        lead.role = Role::Lead;
        store.insert_contact(&lead).await.unwrap();
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 2, "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn one_workspace_never_sees_or_changes_another() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let a = workspace(store).await;
        let b = workspace(store).await;
        let mut c = Contact::new(a.id, Role::User, 1);
        c.external_id = Some("same".into());
        let in_a = store.insert_contact(&c).await.unwrap();
        // The same external id is free in another workspace.
        let mut other = Contact::new(b.id, Role::User, 1);
        other.external_id = Some("same".into());
        store.insert_contact(&other).await.unwrap();

        assert!(store.contact(b.id, in_a.id).await.unwrap().is_none(), "{db}");
        assert!(!store.delete_contact(b.id, in_a.id).await.unwrap(), "{db}");
        assert!(!store.set_contact_archived(b.id, in_a.id, true, 2).await.unwrap(), "{db}");
        let mut hijack = in_a.clone();
        hijack.workspace_id = b.id;
        hijack.name = Some("stolen".into());
        assert!(!store.update_contact(&hijack).await.unwrap(), "{db}");
        let tag_b = store.create_tag(b.id, "b-tag", 1).await.unwrap();
        store.tag_contact(b.id, in_a.id, tag_b.id, None, 1).await.unwrap();
        let tag_a = store.create_tag(a.id, "a-tag", 1).await.unwrap();
        store.tag_contact(a.id, in_a.id, tag_b.id, None, 1).await.unwrap();
        assert!(store.contact_tags(a.id, &[in_a.id]).await.unwrap().is_empty(), "{db}: cross-workspace tag applied");
        assert!(!store.delete_tag(b.id, tag_a.id).await.unwrap(), "{db}");
        assert_eq!(store.contact(a.id, in_a.id).await.unwrap().unwrap(), in_a, "{db}: contact changed from outside");
        assert_eq!(store.search_contacts(b.id, &page()).await.unwrap().1, 1, "{db}");
        assert_eq!(store.segments(b.id).await.unwrap().len(), 2, "{db}: built-in segments only");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn upsert_creates_updates_and_is_idempotent() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let batch = vec![
            input(json!({"external_id": "1", "email": "one@example.test", "name": "One"})),
            input(json!({"email": "two@example.test"})),
            input(json!({"name": "nobody"})),
            input(json!({"external_id": "1", "phone": "+331"})),
        ];
        let r = store.upsert_contacts(ws.id, &batch, 10).await.unwrap();
        assert_eq!((r.created, r.updated, r.unchanged), (2, 1, 0), "{db}: {r:?}");
        assert_eq!(r.rejected.len(), 1, "{db}");
        assert_eq!(r.rejected[0].0, 2, "{db}");
        let one = store.contact_by_external_id(ws.id, "1").await.unwrap().unwrap();
        assert_eq!((one.name.as_deref(), one.phone.as_deref()), (Some("One"), Some("+331")), "{db}");

        let again = store.upsert_contacts(ws.id, &batch, 20).await.unwrap();
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3), "{db}: {again:?}");
        assert_eq!(store.contact(ws.id, one.id).await.unwrap().unwrap().updated_at, 10, "{db}: re-run wrote");
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 2, "{db}");

        // Matching by email adopts an external id; a different external id on a taken email is refused.
        let r = store
            .upsert_contacts(
                ws.id,
                &[
                    input(json!({"email": "two@example.test", "external_id": "2"})),
                    input(json!({"email": "one@example.test", "external_id": "9"})),
                ],
                30,
            )
            .await
            .unwrap();
        assert_eq!((r.updated, r.rejected.len()), (1, 1), "{db}: {r:?}");
        assert_eq!(
            store.contact_by_external_id(ws.id, "2").await.unwrap().unwrap().email.as_deref(),
            Some("two@example.test")
        );
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn archived_contacts_leave_search_and_come_back() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let c = store.insert_contact(&Contact::new(ws.id, Role::Lead, 1)).await.unwrap();
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 1, "{db}");
        assert!(store.set_contact_archived(ws.id, c.id, true, 2).await.unwrap());
        assert_eq!(store.count_contacts(ws.id, None).await.unwrap(), 0, "{db}");
        assert!(store.contact(ws.id, c.id).await.unwrap().unwrap().archived, "{db}");
        store.set_contact_archived(ws.id, c.id, false, 3).await.unwrap();
        assert_eq!(store.search_contacts(ws.id, &page()).await.unwrap().0.len(), 1, "{db}");
    }
    stores.cleanup().await;
}

/// An upsert finds a contact by email through the email's domain (`contacts_by_email`): archived
/// or not, user or lead, in its own workspace only.
#[tokio::test]
async fn upsert_finds_by_email_archived_contacts_and_leads_of_its_own_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let a = workspace(store).await;
        let b = workspace(store).await;
        let mut user = Contact::new(a.id, Role::User, 1);
        user.email = Some("Ada@Example.TEST".into());
        let user = store.insert_contact(&user).await.unwrap();
        assert!(store.set_contact_archived(a.id, user.id, true, 2).await.unwrap());
        let mut lead = Contact::new(a.id, Role::Lead, 1);
        lead.email = Some("lee@example.test".into());
        let lead = store.insert_contact(&lead).await.unwrap();
        let mut zoe = Contact::new(b.id, Role::User, 1);
        zoe.email = Some("zoe@example.test".into());
        let zoe = store.insert_contact(&zoe).await.unwrap();

        let batch = [
            input(json!({"email": "Ada@Example.TEST", "name": "Ada"})),
            input(json!({"email": "lee@example.test", "role": "lead", "name": "Lee"})),
            input(json!({"email": "zoe@example.test", "name": "Zoe"})),
        ];
        let r = store.upsert_contacts(a.id, &batch, 10).await.unwrap();
        assert_eq!((r.created, r.updated, r.unchanged, r.rejected.len()), (1, 2, 0, 0), "{db}: {r:?}");
        let name = |ws: i64, id: i64| {
            let store = store.clone();
            async move { store.contact(ws, id).await.unwrap().unwrap().name }
        };
        assert_eq!(name(a.id, user.id).await.as_deref(), Some("Ada"), "{db}: the archived user");
        assert_eq!(name(a.id, lead.id).await.as_deref(), Some("Lee"), "{db}: the lead");
        assert_eq!(name(b.id, zoe.id).await, None, "{db}: another workspace's contact");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn touching_contacts_writes_last_seen_for_live_contacts_of_the_workspace_only() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let a = workspace(store).await;
        let b = workspace(store).await;
        let mut ids = Vec::new();
        // More than one IN chunk.
        for _ in 0..1_200 {
            ids.push(store.insert_contact(&Contact::new(a.id, Role::User, 1)).await.unwrap().id);
        }
        let archived = ids[7];
        assert!(store.set_contact_archived(a.id, archived, true, 2).await.unwrap());
        let other = store.insert_contact(&Contact::new(b.id, Role::User, 1)).await.unwrap().id;
        let mut all = ids.clone();
        all.push(other);

        let written = store.touch_contacts(a.id, &all, 5_000).await.unwrap();
        assert_eq!(written, 1_199, "{db}: every live contact of the workspace, and no one else");
        let seen = |id: i64| {
            let store = store.clone();
            let ws = if id == other { b.id } else { a.id };
            async move { store.contact(ws, id).await.unwrap().unwrap().last_seen_at }
        };
        assert_eq!(seen(ids[0]).await, Some(5_000), "{db}");
        assert_eq!(seen(ids[1_199]).await, Some(5_000), "{db}");
        assert_eq!(seen(archived).await, None, "{db}: an archived contact was touched");
        assert_eq!(seen(other).await, None, "{db}: another workspace's contact was touched");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn a_bulk_upsert_never_reuses_ids_keeps_other_fields_and_stays_in_its_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let a = workspace(store).await;
        let b = workspace(store).await;
        let r = store
            .upsert_contacts(
                a.id,
                &[input(json!({"external_id": "1", "email": "one@example.test"})), input(json!({"external_id": "2"}))],
                10,
            )
            .await
            .unwrap();
        assert_eq!(r.created, 2, "{db}: {r:?}");
        let one = store.contact_by_external_id(a.id, "1").await.unwrap().unwrap();
        let two = store.contact_by_external_id(a.id, "2").await.unwrap().unwrap();
        assert!(one.id < two.id, "{db}: ids follow the batch's order");
        assert!(store.delete_contact(a.id, two.id).await.unwrap(), "{db}");
        store.upsert_contacts(a.id, &[input(json!({"external_id": "3"}))], 20).await.unwrap();
        let three = store.contact_by_external_id(a.id, "3").await.unwrap().unwrap();
        assert!(three.id > two.id, "{db}: a deleted contact's id was given again");

        // Fields no import sets, with text a bulk write must escape, survive an update that
        // keeps the contact's keys and one that changes its email.
        let mut seen = one.clone();
        seen.browser = Some("tab\there \\ back\nslash".into());
        seen.location_city = Some("Zürich".into());
        seen.last_replied_at = Some(15);
        assert!(store.update_contact(&seen).await.unwrap(), "{db}");
        let r = store.upsert_contacts(a.id, &[input(json!({"external_id": "1", "name": "One"}))], 30).await.unwrap();
        assert_eq!(r.updated, 1, "{db}: {r:?}");
        let after = store.contact(a.id, one.id).await.unwrap().unwrap();
        assert_eq!(after, Contact { name: Some("One".into()), updated_at: 30, ..seen.clone() }, "{db}");
        let r = store
            .upsert_contacts(a.id, &[input(json!({"external_id": "1", "email": "uno@example.test"}))], 40)
            .await
            .unwrap();
        assert_eq!(r.updated, 1, "{db}: {r:?}");
        let after = store.contact(a.id, one.id).await.unwrap().unwrap();
        assert_eq!(
            after,
            Contact { name: Some("One".into()), email: Some("uno@example.test".into()), updated_at: 40, ..seen },
            "{db}"
        );
        assert_eq!(store.user_by_email(a.id, "uno@example.test").await.unwrap().map(|c| c.id), Some(one.id), "{db}");
        assert!(store.user_by_email(a.id, "one@example.test").await.unwrap().is_none(), "{db}");

        // The same keys in another workspace are another contact; the first is left alone.
        let r = store
            .upsert_contacts(b.id, &[input(json!({"external_id": "1", "email": "uno@example.test", "name": "B"}))], 50)
            .await
            .unwrap();
        assert_eq!((r.created, r.updated), (1, 0), "{db}: {r:?}");
        assert_eq!(store.contact(a.id, one.id).await.unwrap().unwrap(), after, "{db}");
        assert_eq!(store.count_contacts(b.id, None).await.unwrap(), 1, "{db}");
    }
    stores.cleanup().await;
}
