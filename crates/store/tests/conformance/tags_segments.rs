//! Tags and segments, and tags an upsert's batch applies.

use serde_json::json;
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_store::{NewSegment, PersonType};

use super::support::{Stores, workspace};

#[tokio::test]
async fn tags_are_unique_by_name_and_deleting_one_untags_everyone() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let t = store.create_tag(ws.id, "beta", 1).await.unwrap();
        assert_eq!(store.create_tag(ws.id, "beta", 2).await.unwrap().id, t.id, "{db}: same name, same tag");
        let c = store.insert_contact(&Contact::new(ws.id, Role::User, 1)).await.unwrap();
        store.tag_contact(ws.id, c.id, t.id, Some(7), 5).await.unwrap();
        store.tag_contact(ws.id, c.id, t.id, Some(7), 6).await.unwrap();
        let tags = store.contact_tags(ws.id, &[c.id]).await.unwrap();
        assert_eq!(tags[&c.id].len(), 1, "{db}: tagging twice is one tag");
        assert_eq!((tags[&c.id][0].applied_at, tags[&c.id][0].applied_by), (5, Some(7)), "{db}");
        let renamed = store.rename_tag(ws.id, t.id, "gamma").await.unwrap().unwrap();
        assert_eq!(renamed.name, "gamma");
        assert!(store.delete_tag(ws.id, t.id).await.unwrap());
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM contact_tags").await.unwrap(), 0, "{db}");
        assert!(!store.untag_contact(ws.id, c.id, t.id).await.unwrap(), "{db}");
    }
    stores.cleanup().await;
}

#[tokio::test]
async fn built_in_segments_cannot_be_changed_and_saved_ones_can() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let builtins = store.segments(ws.id).await.unwrap();
        assert_eq!(builtins.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["All users", "All leads"], "{db}");
        let all_users = &builtins[0];
        let new = || NewSegment {
            name: "Pro".into(),
            person_type: PersonType::User,
            query: json!({"field": "role", "operator": "=", "value": "user"}),
        };
        assert!(store.update_segment(ws.id, all_users.id, new(), 2).await.unwrap().is_none(), "{db}");
        assert!(!store.delete_segment(ws.id, all_users.id).await.unwrap(), "{db}");
        let s = store.create_segment(ws.id, new(), 3).await.unwrap();
        assert_eq!(s.query, new().query);
        assert!(store.create_segment(ws.id, new(), 4).await.is_err(), "{db}: names are unique");
        let mut changed = new();
        changed.name = "Pro users".into();
        assert_eq!(store.update_segment(ws.id, s.id, changed, 5).await.unwrap().unwrap().name, "Pro users");
        assert!(store.delete_segment(ws.id, s.id).await.unwrap());
        assert_eq!(store.segments(ws.id).await.unwrap().len(), 2, "{db}");
    }
    stores.cleanup().await;
}

/// A contact's tag names, sorted, and when each was applied.
async fn applied(store: &std::sync::Arc<dyn tidings_store::Store>, ws: i64, id: i64) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = store
        .contact_tags(ws, &[id])
        .await
        .unwrap()
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.tag.name, a.applied_at))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn an_upsert_tags_new_and_existing_contacts_once_in_their_workspace() {
    let stores = Stores::new().await;
    for (db, store) in &stores.all {
        let ws = workspace(store).await;
        let other = workspace(store).await;
        let beta = store.create_tag(ws.id, "beta", 1).await.unwrap();
        let elsewhere = store.create_tag(other.id, "vip", 1).await.unwrap();
        let mut existing = Contact::new(ws.id, Role::User, 1);
        existing.external_id = Some("old".into());
        let existing = store.insert_contact(&existing).await.unwrap();
        let input = |v: serde_json::Value, tags: &[&str]| ContactInput {
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            ..ContactInput::parse(v.as_object().unwrap(), &[]).unwrap()
        };
        let batch = vec![
            input(json!({"external_id": "old"}), &["beta", "vip"]),
            input(json!({"external_id": "new"}), &["vip"]),
            input(json!({"email": "lead@example.test", "role": "lead"}), &["beta"]),
            input(json!({"name": "nobody"}), &["beta"]),
        ];
        let r = store.upsert_contacts(ws.id, &batch, 10).await.unwrap();
        assert_eq!((r.created, r.unchanged, r.rejected.len()), (2, 1, 1), "{db}: {r:?}");
        let tags = store.tags(ws.id).await.unwrap();
        assert_eq!(tags.len(), 2, "{db}: vip created once, in this workspace: {tags:?}");
        assert!(tags.iter().any(|t| t.id == beta.id) && tags.iter().all(|t| t.id != elsewhere.id), "{db}");
        let new = store.contact_by_external_id(ws.id, "new").await.unwrap().unwrap();
        let lead_id = store.scalar_raw("SELECT MAX(id) FROM contacts WHERE role = 'lead'").await.unwrap();
        assert_eq!(applied(store, ws.id, existing.id).await, [("beta".into(), 10), ("vip".into(), 10)], "{db}");
        assert_eq!(applied(store, ws.id, new.id).await, [("vip".into(), 10)], "{db}");
        assert_eq!(applied(store, ws.id, lead_id).await, [("beta".into(), 10)], "{db}");
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM contact_tags").await.unwrap(), 4, "{db}");

        let again = store.upsert_contacts(ws.id, &batch, 20).await.unwrap();
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 3), "{db}: {again:?}");
        assert_eq!(store.scalar_raw("SELECT COUNT(*) FROM contact_tags").await.unwrap(), 4, "{db}: applied once");
        assert_eq!(applied(store, ws.id, new.id).await, [("vip".into(), 10)], "{db}: first application kept");
        assert_eq!(store.tags(other.id).await.unwrap().len(), 1, "{db}: the other workspace is untouched");
    }
    stores.cleanup().await;
}
