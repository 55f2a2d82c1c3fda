//! Saved segments: created, renamed, changed and deleted through the engine, in their workspace
//! only; built-ins and segments other segments use are kept; each change is said on the bus.

use serde_json::json;
use tidings_engine::EngineError;
use tidings_engine::bus::Event;
use tidings_engine::segments::SegmentInput;
use tidings_store::PersonType;

use crate::support::World;

fn input(name: &str, query: serde_json::Value) -> SegmentInput {
    SegmentInput { name: name.into(), query: Some(query), person_type: PersonType::User }
}

fn field_of(e: &EngineError) -> Option<String> {
    match e {
        EngineError::Invalid(errors) => Some(errors.0[0].field.clone()),
        EngineError::Conflict { field, .. } => field.map(str::to_owned),
        _ => None,
    }
}

#[tokio::test]
async fn segments_are_saved_renamed_changed_and_deleted_with_their_checks() {
    for mut w in World::both().await {
        let db = w.db;
        let all = w.store.segments(w.ws.id).await.unwrap();
        let (users, leads) = (all[0].clone(), all[1].clone());
        let pro = json!({"operator": "AND", "value": [
            {"field": "segment_id", "operator": "=", "value": users.id.to_string()},
            {"field": "name", "operator": "~", "value": "pro"}]});
        let s = w.engine.create_segment(&w.ws, input("  Pro ", pro.clone())).await.unwrap();
        assert_eq!((s.name.as_str(), &s.query), ("Pro", &pro), "{db}: the name is trimmed, the query kept");
        assert_eq!(w.events(), [Event::SegmentChanged { workspace: w.ws.id, segment: s.id }], "{db}");

        // Refusals name their field, and change nothing.
        let bad_query = json!({"field": "nope", "operator": "=", "value": 1});
        let refusals = [
            (input(" ", pro.clone()), "name"),
            (input(&"x".repeat(300), pro.clone()), "name"),
            (SegmentInput { query: None, ..input("No query", pro.clone()) }, "query"),
            (input("Bad", bad_query), "query.field"),
            (input("All users", pro.clone()), "name"),
        ];
        for (i, field) in refusals {
            let shown = i.name.chars().take(12).collect::<String>();
            let e = w.engine.create_segment(&w.ws, i).await.unwrap_err();
            assert_eq!(field_of(&e).as_deref(), Some(field), "{db}: {shown:?} {e:?}");
        }
        assert!(matches!(
            w.engine.create_segment(&w.ws, input("All users", pro.clone())).await,
            Err(EngineError::Conflict { code: "conflict", .. })
        ));
        assert_eq!(w.store.segments(w.ws.id).await.unwrap().len(), 3, "{db}: nothing more was saved");
        assert!(w.events().is_empty(), "{db}: a refusal says nothing");

        // Rename and change the query; a segment may not name itself.
        let renamed = w.engine.update_segment(&w.ws, s.id, input("Pro plan", pro.clone())).await.unwrap();
        assert_eq!(renamed.name, "Pro plan", "{db}");
        assert_eq!(w.events(), [Event::SegmentChanged { workspace: w.ws.id, segment: s.id }], "{db}");
        let own = json!({"field": "segment_id", "operator": "=", "value": s.id});
        let e = w.engine.update_segment(&w.ws, s.id, input("Pro plan", own)).await.unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("query.value"), "{db}: {e:?}");
        let leads_q = json!({"field": "segment_id", "operator": "=", "value": leads.id});
        let changed = w.engine.update_segment(&w.ws, s.id, input("Pro plan", leads_q.clone())).await.unwrap();
        assert_eq!(w.store.segment(w.ws.id, s.id).await.unwrap().unwrap().query, leads_q, "{db}");
        assert_eq!(changed.query, leads_q, "{db}");

        // Built-ins stay as they are.
        for r in [
            w.engine.update_segment(&w.ws, users.id, input("Everyone", pro.clone())).await.map(drop),
            w.engine.delete_segment(&w.ws, users.id).await,
        ] {
            assert!(matches!(r, Err(EngineError::Forbidden { .. })), "{db}: {r:?}");
        }

        // A segment another uses is kept until that one changes.
        let on_top = w
            .engine
            .create_segment(&w.ws, input("On top", json!({"field": "segment_id", "operator": "=", "value": s.id})))
            .await
            .unwrap();
        let e = w.engine.delete_segment(&w.ws, s.id).await.unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some("id"), "{db}: {e:?}");
        assert!(e.to_string().contains("On top"), "{db}: names the segment that uses it: {e}");
        w.engine.delete_segment(&w.ws, on_top.id).await.unwrap();
        w.events();
        w.engine.delete_segment(&w.ws, s.id).await.unwrap();
        assert_eq!(w.events(), [Event::SegmentChanged { workspace: w.ws.id, segment: s.id }], "{db}");
        assert!(w.store.segment(w.ws.id, s.id).await.unwrap().is_none(), "{db}: deleted");
        assert!(matches!(w.engine.delete_segment(&w.ws, s.id).await, Err(EngineError::NotFound { .. })), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_segment_is_changed_only_in_its_own_workspace() {
    for w in World::both().await {
        let db = w.db;
        let q = json!({"field": "name", "operator": "~", "value": "a"});
        let theirs = w.engine.create_segment(&w.ws, input("Theirs", q.clone())).await.unwrap();
        // Another workspace on the same database.
        let (other, _) = w
            .store
            .create_workspace(
                tidings_store::NewWorkspace {
                    app_id: format!("other-{}", theirs.id),
                    name: "Other".into(),
                    timezone: "UTC".into(),
                    identity_secret: "s".into(),
                    identity_required: true,
                    created_at: 1,
                },
                tidings_store::NewTeammate {
                    email: format!("other-{}@example.test", theirs.id),
                    name: "Other".into(),
                    password_hash: None,
                    role: tidings_store::TeammateRole::Owner,
                    created_at: 1,
                },
            )
            .await
            .unwrap();
        for r in [
            w.engine.update_segment(&other, theirs.id, input("Mine", q.clone())).await.map(drop),
            w.engine.delete_segment(&other, theirs.id).await,
        ] {
            assert!(matches!(r, Err(EngineError::NotFound { .. })), "{db}: {r:?}");
        }
        assert_eq!(w.store.segment(w.ws.id, theirs.id).await.unwrap().unwrap().name, "Theirs", "{db}");
        w.cleanup().await;
    }
}
