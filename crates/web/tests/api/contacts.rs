//! Contacts: object shape, create/read/update/delete/archive, errors, list paging, bulk upsert.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::{assert_error, servers};

/// Every key of Intercom's contact object (intercom-api.md §2.1).
const CONTACT_KEYS: &[&str] = &[
    "type",
    "id",
    "workspace_id",
    "external_id",
    "role",
    "email",
    "phone",
    "name",
    "avatar",
    "owner_id",
    "social_profiles",
    "has_hard_bounced",
    "marked_email_as_spam",
    "unsubscribed_from_emails",
    "created_at",
    "updated_at",
    "signed_up_at",
    "last_seen_at",
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "location",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "android_last_seen_at",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "ios_last_seen_at",
    "custom_attributes",
    "tags",
    "notes",
    "companies",
    "opted_out_subscription_types",
    "opted_in_subscription_types",
    "utm_campaign",
    "utm_content",
    "utm_medium",
    "utm_source",
    "utm_term",
    "referrer",
];

#[tokio::test]
async fn contact_lifecycle_follows_the_contract() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        s.attribute("seats", "integer").await;
        let c = s
            .contact(
                json!({"email": "joe@example.test", "external_id": 70, "name": "Joe", "signed_up_at": "1719492784",
                            "custom_attributes": {"plan": "pro", "seats": "3"}}),
            )
            .await;
        for key in CONTACT_KEYS {
            assert!(c.get(*key).is_some(), "{db}: contact lacks {key}: {c}");
        }
        let id = c["id"].as_str().expect("ids are strings").to_owned();
        assert_eq!(c["type"], "contact");
        assert_eq!(c["workspace_id"], s.workspace.app_id.as_str());
        assert_eq!(c["external_id"], "70", "{db}: numeric external ids are kept as text");
        assert_eq!(c["role"], "user");
        assert_eq!(c["signed_up_at"], 1719492784, "{db}: dates are integers");
        assert_eq!(c["custom_attributes"], json!({"plan": "pro", "seats": 3}), "{db}");
        assert!(c["created_at"].as_i64().is_some());
        assert_eq!(c["tags"]["url"], format!("/contacts/{id}/tags"));

        let (status, got) = s.get(&format!("/contacts/{id}")).await;
        assert_eq!((status, &got), (StatusCode::OK, &c), "{db}: GET returns what POST returned");
        let (_, by_ext) = s.get("/contacts/find_by_external_id/70").await;
        assert_eq!(by_ext["id"], id.as_str());

        // PUT changes only what it names; custom attributes merge key by key.
        let (status, updated) =
            s.put(&format!("/contacts/{id}"), json!({"name": "Joe B", "custom_attributes": {"seats": 4}})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {updated}");
        assert_eq!(updated["name"], "Joe B");
        assert_eq!(updated["email"], "joe@example.test");
        assert_eq!(updated["custom_attributes"], json!({"plan": "pro", "seats": 4}), "{db}");
        let (_, cleared) = s.put(&format!("/contacts/{id}"), json!({"custom_attributes": {"plan": null}})).await;
        assert_eq!(cleared["custom_attributes"], json!({"seats": 4}), "{db}: null removes a value");

        let (_, archived) = s.post(&format!("/contacts/{id}/archive"), json!({})).await;
        assert_eq!(archived, json!({"id": id, "external_id": "70", "type": "contact", "archived": true}));
        let (_, list) = s.get("/contacts").await;
        assert_eq!(list["total_count"], 0, "{db}: archived contacts leave lists");
        let (_, unarchived) = s.post(&format!("/contacts/{id}/unarchive"), json!({})).await;
        assert_eq!(unarchived["archived"], false);

        let (status, deleted) = s.delete(&format!("/contacts/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(deleted, json!({"id": id, "external_id": "70", "type": "contact", "deleted": true}));
        let e = assert_error(db, &s.get(&format!("/contacts/{id}")).await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(e["message"], "User Not Found");
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_contact_input_is_refused_and_changes_nothing() {
    for s in servers().await {
        let db = s.db;
        s.attribute("seats", "integer").await;
        s.contact(json!({"email": "taken@example.test"})).await;

        let dup = assert_error(
            db,
            &s.post("/contacts", json!({"email": "taken@example.test"})).await,
            StatusCode::CONFLICT,
            "conflict",
        );
        assert!(
            dup["message"].as_str().unwrap().starts_with("A contact matching those details already exists with id="),
            "{db}: {dup}"
        );

        let e = assert_error(
            db,
            &s.post("/contacts", json!({"name": "no identity"})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "email");

        let bad = s
            .post(
                "/contacts",
                json!({"email": "x@example.test", "custom_attributes": {"seats": "many", "ghost": 1}, "role": "boss"}),
            )
            .await;
        let body = &bad.1;
        assert_error(db, &bad, StatusCode::BAD_REQUEST, "parameter_invalid");
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().filter_map(|e| e["field"].as_str()).collect();
        for f in ["custom_attributes.seats", "custom_attributes.ghost", "role"] {
            assert!(fields.contains(&f), "{db}: {f} not named in {body}");
        }

        let raw = reqwest::Client::new()
            .post(format!("{}/contacts", s.base))
            .bearer_auth(&s.token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = raw.json().await.unwrap();
        assert_eq!(body["type"], "error.list");

        let (_, list) = s.get("/contacts").await;
        assert_eq!(list["total_count"], 1, "{db}: refused requests created nothing: {list}");
        s.stop().await;
    }
}

#[tokio::test]
async fn list_pages_with_an_opaque_cursor() {
    for s in servers().await {
        let db = s.db;
        for i in 0..5 {
            s.contact(json!({"email": format!("p{i}@example.test")})).await;
        }
        let mut seen = Vec::new();
        let mut path = "/contacts?per_page=2".to_owned();
        let mut pages = 0;
        loop {
            let (status, list) = s.get(&path).await;
            assert_eq!(status, StatusCode::OK, "{db}: {list}");
            assert_eq!(list["type"], "list");
            assert_eq!(list["total_count"], 5);
            assert_eq!(list["pages"]["type"], "pages");
            assert_eq!(list["pages"]["total_pages"], 3);
            seen.extend(list["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()));
            pages += 1;
            match list["pages"]["next"]["starting_after"].as_str() {
                Some(cursor) => path = format!("/contacts?per_page=2&starting_after={cursor}"),
                None => break,
            }
        }
        assert_eq!(pages, 3, "{db}");
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!((seen.len(), unique.len()), (5, 5), "{db}: every contact exactly once: {seen:?}");
        assert_error(
            db,
            &s.get("/contacts?starting_after=garbage").await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_error(db, &s.get("/contacts?per_page=151").await, StatusCode::BAD_REQUEST, "parameter_invalid");
        s.stop().await;
    }
}

#[tokio::test]
async fn bulk_upsert_reports_each_bad_item_and_is_idempotent() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        let body = json!({"contacts": [
            {"external_id": "a", "email": "a@example.test", "custom_attributes": {"plan": "pro"}},
            {"email": "b@example.test", "name": "B"},
            {"name": "nobody"},
            {"external_id": "c", "custom_attributes": {"plan": 5}},
            "not an object",
        ]});
        let (status, r) = s.post("/contacts/bulk", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{db}: {r}");
        assert_eq!(
            (r["created"].as_u64(), r["updated"].as_u64(), r["unchanged"].as_u64()),
            (Some(2), Some(0), Some(0)),
            "{db}: {r}"
        );
        let bad: Vec<u64> = r["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
        assert_eq!(bad, vec![2, 3, 4], "{db}: {r}");
        let (_, again) = s.post("/contacts/bulk", body).await;
        assert_eq!((again["created"].as_u64(), again["unchanged"].as_u64()), (Some(0), Some(2)), "{db}: {again}");
        let (_, a) = s.get("/contacts/find_by_external_id/a").await;
        assert_eq!(a["custom_attributes"]["plan"], "pro");
        let (_, list) = s.call(Method::GET, "/contacts", None).await;
        assert_eq!(list["total_count"], 2, "{db}");
        s.stop().await;
    }
}
