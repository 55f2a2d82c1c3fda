//! Tags and segments.

use serde_json::json;
use tidings_core::contact::{Contact, Role};
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
