//! Contacts, their tags, custom attributes and the workspace's settings through the engine:
//! what each operation writes, when (the engine's clock), what it refuses and what it says.

use serde_json::{Value as Json, json};
use tidings_core::attribute::DataType;
use tidings_core::contact::{ContactInput, Role};
use tidings_engine::attributes::{AttributeChange, NewAttribute};
use tidings_engine::bus::{Event, StateName};
use tidings_engine::contacts::Visitor;
use tidings_engine::labels::Tagging;
use tidings_engine::{EngineError, Missing};
use tidings_store::{NewSegment, NewTeammate, PersonType, TeammateRole};

use super::support::{START, World};

fn input(body: Json) -> ContactInput {
    let Json::Object(body) = body else { panic!("an object") };
    ContactInput::parse(&body, &[]).unwrap()
}

fn field(e: &EngineError) -> String {
    match e {
        EngineError::Invalid(errors) => errors.0[0].field.clone(),
        other => panic!("not a refusal naming a field: {other:?}"),
    }
}

#[tokio::test]
async fn contacts_are_created_changed_archived_and_deleted_at_the_engine_s_time() {
    for mut w in World::both().await {
        let db = w.db;
        w.clock.set(START + 100);
        let ada = w.engine.create_contact(&w.ws, &input(json!({"email": "ada@example.test"}))).await.unwrap();
        assert_eq!((ada.role, ada.created_at), (Role::User, START + 100), "{db}: a user unless told");
        let lead = w.engine.create_contact(&w.ws, &input(json!({"role": "lead"}))).await.unwrap();
        assert_eq!(lead.role, Role::Lead, "{db}");

        w.clock.set(START + 200);
        let same = w.engine.update_contact(&w.ws, ada.id, &input(json!({"email": "ada@example.test"}))).await.unwrap();
        assert_eq!(same.updated_at, START + 100, "{db}: nothing changed, nothing written");
        let named = w.engine.update_contact(&w.ws, ada.id, &input(json!({"name": "Ada"}))).await.unwrap();
        let stored = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_deref(), stored.updated_at), (Some("Ada"), START + 200), "{db}");
        assert_eq!(named, stored, "{db}: the answer is what was stored");

        w.clock.set(START + 300);
        let archived = w.engine.set_contact_archived(&w.ws, ada.id, true).await.unwrap();
        let stored = w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap();
        assert!(archived.archived && stored.archived, "{db}");
        assert_eq!(stored.updated_at, START + 300, "{db}");
        let back = w.engine.set_contact_archived(&w.ws, ada.id, false).await.unwrap();
        assert!(!back.archived && !w.store.contact(w.ws.id, ada.id).await.unwrap().unwrap().archived, "{db}");

        // Deleting takes the contact's conversations with it, and the Inbox hears of each.
        let c = w.engine.contact_starts(&w.ws, &ada, "Help").await.unwrap();
        w.events();
        let gone = w.engine.delete_contact(&w.ws, ada.id).await.unwrap();
        assert_eq!(gone.id, ada.id, "{db}");
        assert!(w.store.contact(w.ws.id, ada.id).await.unwrap().is_none(), "{db}");
        assert!(w.store.conversation(w.ws.id, c.id).await.unwrap().is_none(), "{db}: its conversation went too");
        let told = Event::ConversationChanged {
            workspace: w.ws.id,
            conversation: c.id,
            contact: ada.id,
            state: StateName::Open,
        };
        assert_eq!(w.events(), [told], "{db}");

        for missing in [
            w.engine.update_contact(&w.ws, ada.id, &input(json!({"name": "x"}))).await.map(|_| ()),
            w.engine.delete_contact(&w.ws, ada.id).await.map(|_| ()),
            w.engine.set_contact_archived(&w.ws, ada.id, true).await.map(|_| ()),
        ] {
            assert!(matches!(missing, Err(EngineError::NotFound { what: Missing::Contact, .. })), "{db}: {missing:?}");
        }
        // Another workspace's contact is not this one's to change.
        let mut others = World::both().await;
        let other = others.remove(others.iter().position(|o| o.db == db).unwrap());
        for unused in others {
            unused.cleanup().await;
        }
        let theirs = other.contact("Theirs").await;
        let refused = w.engine.delete_contact(&w.ws, theirs.id).await;
        assert!(matches!(refused, Err(EngineError::NotFound { .. })), "{db}");
        assert!(other.store.contact(other.ws.id, theirs.id).await.unwrap().is_some(), "{db}");
        other.cleanup().await;
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_bulk_upsert_creates_updates_and_reports_refused_lines_by_index() {
    for w in World::both().await {
        let db = w.db;
        w.clock.set(START + 50);
        let inputs = vec![
            input(json!({"external_id": "u1", "name": "One"})),
            input(json!({"external_id": "u2", "email": "two@example.test"})),
        ];
        let first = w.engine.upsert_contacts(&w.ws, &inputs).await.unwrap();
        assert_eq!((first.created, first.updated, first.unchanged), (2, 0, 0), "{db}: {first:?}");
        let again = w.engine.upsert_contacts(&w.ws, &inputs).await.unwrap();
        assert_eq!((again.created, again.updated, again.unchanged), (0, 0, 2), "{db}: {again:?}");
        let one = w.store.contact_by_external_id(w.ws.id, "u1").await.unwrap().unwrap();
        assert_eq!(one.created_at, START + 50, "{db}: the engine's clock");
        let changed = vec![input(json!({"external_id": "u1", "name": "Uno"}))];
        let report = w.engine.upsert_contacts(&w.ws, &changed).await.unwrap();
        assert_eq!(report.updated, 1, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn the_messenger_finds_or_creates_its_contact_and_never_lets_a_browser_change_an_identity() {
    for w in World::both().await {
        let db = w.db;
        w.clock.set(START + 10);
        // An anonymous visitor is a new lead, and comes back as the same one.
        let lead =
            w.engine.messenger_boot(&w.ws, Visitor::Anonymous { earlier: None }, &input(json!({}))).await.unwrap();
        assert_eq!((lead.role, lead.external_id.clone()), (Role::Lead, None), "{db}");
        let nothing = input(json!({}));
        let back = w.engine.messenger_boot(&w.ws, Visitor::Anonymous { earlier: Some(lead.id) }, &nothing).await;
        assert_eq!(back.unwrap().id, lead.id, "{db}");
        let seen = w.store.contact(w.ws.id, lead.id).await.unwrap().unwrap();
        assert_eq!(seen.last_seen_at, Some(START + 10), "{db}: a boot marks the contact seen");
        // An anonymous visitor never takes an external id, even when the page sends one.
        let fresh = w
            .engine
            .messenger_boot(&w.ws, Visitor::Anonymous { earlier: None }, &input(json!({"external_id": "x"})))
            .await
            .unwrap();
        assert!(fresh.id != lead.id && fresh.external_id.is_none(), "{db}");

        // An identified visitor is found by external id, then by email; a lead found becomes a user.
        let known = w.contact("Known").await;
        let ext = known.external_id.clone().unwrap();
        let found = w
            .engine
            .messenger_boot(&w.ws, Visitor::Identified, &input(json!({"external_id": ext, "name": "Known Too"})))
            .await
            .unwrap();
        assert_eq!((found.id, found.name.as_deref()), (known.id, Some("Known Too")), "{db}");
        let as_lead = input(json!({"role": "lead", "external_id": "lee-1", "email": "lee@example.test"}));
        let lee = w.engine.create_contact(&w.ws, &as_lead).await.unwrap();
        let ada = w.engine.create_contact(&w.ws, &input(json!({"email": "ada@example.test"}))).await.unwrap();
        let email = input(json!({"email": "ada@example.test"}));
        let by_email = w.engine.messenger_boot(&w.ws, Visitor::Identified, &email).await;
        assert_eq!(by_email.unwrap().id, ada.id, "{db}: a user found by email");
        let promoted =
            w.engine.messenger_boot(&w.ws, Visitor::Identified, &input(json!({"external_id": "lee-1"}))).await;
        let promoted = promoted.unwrap();
        assert_eq!((promoted.id, promoted.role), (lee.id, Role::User), "{db}");
        assert_eq!(w.store.contact(w.ws.id, lee.id).await.unwrap().unwrap().role, Role::User, "{db}");
        let new = w.engine.messenger_boot(&w.ws, Visitor::Identified, &input(json!({"external_id": "new-1"}))).await;
        let new = new.unwrap();
        assert_eq!((new.role, new.external_id.as_deref()), (Role::User, Some("new-1")), "{db}");

        // `update` from a page changes the rest, never a user's external id or email.
        let changed = w
            .engine
            .messenger_update(
                &w.ws,
                &promoted,
                input(json!({"external_id": "stolen", "email": "other@example.test", "name": "Lee"})),
            )
            .await
            .unwrap();
        let stored = w.store.contact(w.ws.id, lee.id).await.unwrap().unwrap();
        assert_eq!(changed, stored, "{db}");
        assert_eq!(
            (stored.external_id.as_deref(), stored.email.as_deref(), stored.name.as_deref()),
            (Some("lee-1"), Some("lee@example.test"), Some("Lee")),
            "{db}"
        );
        // A lead may still say their email.
        let lead_now = w.store.contact(w.ws.id, lead.id).await.unwrap().unwrap();
        let lead_said = w.engine.messenger_update(&w.ws, &lead_now, input(json!({"email": "l@example.test"}))).await;
        assert_eq!(lead_said.unwrap().email.as_deref(), Some("l@example.test"), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn tags_are_saved_applied_and_kept_while_a_segment_uses_them() {
    for w in World::both().await {
        let db = w.db;
        let ada = w.contact("Ada").await;
        let bob = w.contact("Bob").await;
        assert_eq!(field(&w.engine.save_tag(&w.ws, &w.owner, None, "  ", &[]).await.unwrap_err()), "name", "{db}");
        let nobody = [Tagging { contact: ada.id, untag: false }, Tagging { contact: 999_999_999, untag: false }];
        match w.engine.save_tag(&w.ws, &w.owner, None, "vip", &nobody).await {
            Err(EngineError::NotFound { what: Missing::Contact, field }) => {
                assert_eq!(field.as_deref(), Some("users[1].id"), "{db}");
            }
            other => panic!("{db}: {other:?}"),
        }
        assert!(w.store.tags(w.ws.id).await.unwrap().is_empty(), "{db}: nothing written before every contact is found");

        let both = [Tagging { contact: ada.id, untag: false }, Tagging { contact: bob.id, untag: false }];
        let vip = w.engine.save_tag(&w.ws, &w.owner, None, " vip ", &both).await.unwrap();
        assert_eq!(vip.name, "vip", "{db}");
        let tagged = w.store.contact_tags(w.ws.id, &[ada.id, bob.id]).await.unwrap();
        assert_eq!(tagged.len(), 2, "{db}: {tagged:?}");
        let untag = [Tagging { contact: bob.id, untag: true }];
        let renamed = w.engine.save_tag(&w.ws, &w.owner, Some(vip.id), "gold", &untag).await.unwrap();
        assert_eq!((renamed.id, renamed.name.as_str()), (vip.id, "gold"), "{db}");
        let tagged = w.store.contact_tags(w.ws.id, &[ada.id, bob.id]).await.unwrap();
        assert!(tagged.contains_key(&ada.id) && !tagged.contains_key(&bob.id), "{db}: {tagged:?}");
        let missing = w.engine.save_tag(&w.ws, &w.owner, Some(999_999_999), "x", &[]).await;
        assert!(matches!(missing, Err(EngineError::NotFound { what: Missing::Tag, .. })), "{db}");

        w.clock.set(START + 70);
        w.engine.tag_contact(&w.ws, &w.owner, bob.id, vip.id).await.unwrap();
        let applied = w.store.contact_tags(w.ws.id, &[bob.id]).await.unwrap().remove(&bob.id).unwrap();
        assert_eq!((applied[0].applied_by, applied[0].applied_at), (Some(w.owner.id), START + 70), "{db}: {applied:?}");
        w.engine.untag_contact(&w.ws, bob.id, vip.id).await.unwrap();
        assert!(w.store.contact_tags(w.ws.id, &[bob.id]).await.unwrap().is_empty(), "{db}");
        let no_tag = w.engine.tag_contact(&w.ws, &w.owner, bob.id, 999_999_999).await;
        assert!(matches!(no_tag, Err(EngineError::NotFound { what: Missing::Tag, .. })), "{db}");
        let no_contact = w.engine.untag_contact(&w.ws, 999_999_999, vip.id).await;
        assert!(matches!(no_contact, Err(EngineError::NotFound { what: Missing::Contact, .. })), "{db}");

        let query =
            json!({"operator": "AND", "value": [{"field": "tag_id", "operator": "=", "value": vip.id.to_string()}]});
        let segment = NewSegment { name: "Gold".into(), person_type: PersonType::User, query };
        let s = w.store.create_segment(w.ws.id, segment, START).await.unwrap();
        match w.engine.delete_tag(&w.ws, vip.id).await {
            Err(EngineError::InUse { code, message }) => {
                assert_eq!(code, "tag_has_dependent_objects", "{db}");
                assert!(message.contains("'Gold'"), "{db}: {message}");
            }
            other => panic!("{db}: {other:?}"),
        }
        assert!(w.store.tag(w.ws.id, vip.id).await.unwrap().is_some(), "{db}: kept");
        w.store.delete_segment(w.ws.id, s.id).await.unwrap();
        w.engine.delete_tag(&w.ws, vip.id).await.unwrap();
        assert!(w.store.tag(w.ws.id, vip.id).await.unwrap().is_none(), "{db}");
        assert!(w.store.contact_tags(w.ws.id, &[ada.id]).await.unwrap().is_empty(), "{db}: untagged everywhere");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn custom_attributes_follow_one_rule_on_names_and_change_at_the_engine_s_time() {
    for w in World::both().await {
        let db = w.db;
        w.clock.set(START + 5);
        let plan =
            NewAttribute { description: Some("The plan".into()), ..NewAttribute::named("plan", DataType::String) };
        let a = w.engine.create_custom_attribute(&w.ws, Some(w.owner.id), plan.clone()).await.unwrap();
        assert_eq!((a.name.as_str(), a.created_at, a.admin_id), ("plan", START + 5, Some(w.owner.id)), "{db}");
        let again = w.engine.create_custom_attribute(&w.ws, None, plan).await.unwrap_err();
        assert_eq!(field(&again), "name", "{db}: a name the workspace has");
        assert!(again.to_string().contains("already have 'plan'"), "{db}: {again}");
        for (new, bad) in [
            (NewAttribute::named("email", DataType::String), "name"),
            (NewAttribute::named("bad.name", DataType::String), "name"),
            (NewAttribute { options: vec!["1".into()], ..NewAttribute::named("seats", DataType::Integer) }, "options"),
            (
                NewAttribute { description: Some("d".repeat(70_000)), ..NewAttribute::named("x", DataType::String) },
                "description",
            ),
        ] {
            let e = w.engine.create_custom_attribute(&w.ws, None, new.clone()).await.unwrap_err();
            assert_eq!(field(&e), bad, "{db}: {new:?}");
        }
        assert_eq!(w.store.custom_attributes(w.ws.id).await.unwrap().len(), 1, "{db}: nothing refused was written");

        w.clock.set(START + 9);
        let change = AttributeChange {
            archived: Some(true),
            description: Some(None),
            messenger_writable: Some(true),
            options: Some(vec!["free".into(), "pro".into()]),
        };
        let changed = w.engine.update_custom_attribute(&w.ws, a.id, change).await.unwrap();
        let stored = w.store.custom_attributes(w.ws.id).await.unwrap().remove(0);
        assert_eq!(changed, stored, "{db}");
        assert_eq!(
            (stored.archived, stored.description, stored.messenger_writable, stored.options.len(), stored.updated_at),
            (true, None, true, 2, START + 9),
            "{db}"
        );
        let untouched = w.engine.update_custom_attribute(&w.ws, a.id, AttributeChange::default()).await.unwrap();
        assert_eq!(untouched.options.len(), 2, "{db}: what is not named stays");
        let missing = w.engine.update_custom_attribute(&w.ws, 999_999_999, AttributeChange::default()).await;
        assert!(matches!(missing, Err(EngineError::NotFound { what: Missing::Attribute, .. })), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn roles_tokens_and_messenger_settings_change_through_the_engine() {
    for w in World::both().await {
        let db = w.db;
        let grace = w
            .store
            .create_teammate(
                w.ws.id,
                NewTeammate {
                    email: format!("grace-{}@example.test", w.ws.id),
                    name: "Grace".into(),
                    password_hash: None,
                    role: TeammateRole::Member,
                    created_at: START,
                },
            )
            .await
            .unwrap();
        let admin = w.engine.set_teammate_role(&w.ws, &grace, TeammateRole::Admin).await.unwrap();
        assert_eq!(admin.role, TeammateRole::Admin, "{db}");
        assert_eq!(w.store.teammate(w.ws.id, grace.id).await.unwrap().unwrap().role, TeammateRole::Admin, "{db}");
        // `grace` as read before: her role changed meanwhile, so this change loses.
        match w.engine.set_teammate_role(&w.ws, &grace, TeammateRole::Admin).await {
            Err(EngineError::Conflict { code, .. }) => assert_eq!(code, "role_changed", "{db}"),
            other => panic!("{db}: {other:?}"),
        }
        for (who, to) in [(&admin, TeammateRole::Owner), (&w.owner, TeammateRole::Admin)] {
            let e = w.engine.set_teammate_role(&w.ws, who, to).await.unwrap_err();
            assert_eq!(field(&e), "role", "{db}: the owner stays the one owner");
        }
        assert_eq!(w.store.teammate(w.ws.id, w.owner.id).await.unwrap().unwrap().role, TeammateRole::Owner);

        let token = w
            .store
            .create_api_token(
                w.ws.id,
                tidings_store::NewApiToken {
                    teammate_id: grace.id,
                    name: "CI".into(),
                    token_hash: format!("hash-{}", w.ws.id),
                    prefix: "tid_abc".into(),
                    created_at: START,
                },
            )
            .await
            .unwrap();
        w.clock.set(START + 33);
        w.engine.revoke_api_token(&w.ws, token.id).await.unwrap();
        let revoked = w.store.api_tokens(w.ws.id).await.unwrap().into_iter().find(|t| t.id == token.id).unwrap();
        assert_eq!(revoked.revoked_at, Some(START + 33), "{db}");
        let twice = w.engine.revoke_api_token(&w.ws, token.id).await;
        assert!(matches!(twice, Err(EngineError::NotFound { what: Missing::ApiToken, .. })), "{db}");

        let saved = w
            .engine
            .update_messenger_settings(&w.ws, false, "https://shop.example/\n\n  http://localhost:3000 \n")
            .await
            .unwrap();
        let stored = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        assert_eq!(stored.allowed_origins, ["https://shop.example", "http://localhost:3000"], "{db}");
        assert_eq!(
            (saved.allowed_origins, saved.identity_required, stored.identity_required),
            (stored.allowed_origins.clone(), false, false)
        );
        let bad = w.engine.update_messenger_settings(&w.ws, true, "https://ok.example\nhttps://x/path").await;
        let bad = bad.unwrap_err();
        assert_eq!(field(&bad), "allowed_origins", "{db}");
        assert!(bad.to_string().contains("https://x/path is not an origin"), "{db}: {bad}");
        let after = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        w.clock.set(START + 44);
        let rotated = w.engine.rotate_identity_secret(w.ws.id).await.unwrap();
        let stored_secret = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        assert_ne!(rotated.identity_secret, w.ws.identity_secret, "{db}");
        assert!(rotated.identity_secret.len() >= 43, "{db}: 32 random bytes");
        assert_eq!(
            (stored_secret.identity_secret, stored_secret.identity_secret_rotated_at),
            (rotated.identity_secret.clone(), Some(START + 44)),
            "{db}"
        );
        let again = w.engine.rotate_identity_secret(w.ws.id).await.unwrap();
        assert_ne!(again.identity_secret, rotated.identity_secret, "{db}: a new secret each time");
        assert_eq!(
            (after.allowed_origins, after.identity_required),
            (stored.allowed_origins, false),
            "{db}: unchanged"
        );
        w.cleanup().await;
    }
}
