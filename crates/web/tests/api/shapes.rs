//! Answers in the shapes `/openapi.json` and Intercom promise, on both databases: the wrong
//! method on a known path, deletes, and drafts without an audience.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::support::{assert_error, servers};

#[tokio::test]
async fn a_known_path_with_the_wrong_method_answers_an_error_list_and_allow() {
    for s in servers().await {
        let db = s.db;
        let tag = s.post("/tags", json!({"name": "vip"})).await.1;
        let path = format!("/tags/{}", tag["id"].as_str().unwrap());
        for (method, path) in
            [(Method::PATCH, path.as_str()), (Method::PUT, "/tags"), (Method::DELETE, "/contacts/search")]
        {
            let resp = reqwest::Client::new()
                .request(method.clone(), format!("{}{path}", s.base))
                .bearer_auth(&s.token)
                .send()
                .await
                .unwrap();
            let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().to_owned());
            let got = (resp.status(), resp.json().await.unwrap());
            let e = assert_error(db, &got, StatusCode::METHOD_NOT_ALLOWED, "unsupported");
            assert!(e["message"].as_str().unwrap().contains(method.as_str()), "{db}: {e}");
            assert!(allow.is_some_and(|a| !a.is_empty()), "{db}: {method} {path} without an Allow header");
        }
        // The Messenger's routes too, with CORS preflights still answered.
        let got = s.call(Method::DELETE, "/messenger/v1/boot", None).await;
        assert_error(db, &got, StatusCode::METHOD_NOT_ALLOWED, "unsupported");
        let preflight = reqwest::Client::new()
            .request(Method::OPTIONS, format!("{}/messenger/v1/boot", s.base))
            .header("origin", "https://shop.example.test")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT, "{db}");
        s.stop().await;
    }
}

/// Every documented path, called with each method it does not take, answers 405 with an
/// `error.list` and an `Allow` header listing exactly the methods it takes.
#[tokio::test]
async fn every_documented_path_answers_other_methods_with_405_and_allow() {
    use std::collections::{BTreeMap, BTreeSet};
    let mut by_path: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in tidings_web::api::routes() {
        by_path.entry(r.path).or_default().insert(r.method.to_string());
    }
    assert!(by_path.contains_key("/conversations/{id}/tags/{tag_id}"), "the new routes are listed");
    for s in servers().await {
        let mut checked = 0;
        for (path, methods) in &by_path {
            // Any id will do: the method is refused before the path's records are looked up.
            let concrete: String =
                path.split('/').map(|seg| if seg.starts_with('{') { "1" } else { seg }).collect::<Vec<_>>().join("/");
            let mut allowed: BTreeSet<String> = methods.clone();
            if allowed.contains("GET") {
                allowed.insert("HEAD".into());
            }
            for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
                if allowed.contains(method.as_str()) {
                    continue;
                }
                let resp = reqwest::Client::new()
                    .request(method.clone(), format!("{}{concrete}", s.base))
                    .bearer_auth(&s.token)
                    .send()
                    .await
                    .unwrap();
                let allow: BTreeSet<String> = resp
                    .headers()
                    .get("allow")
                    .map(|v| v.to_str().unwrap().split(',').map(|m| m.trim().to_owned()).collect())
                    .unwrap_or_default();
                let got = (resp.status(), resp.json().await.unwrap_or(serde_json::Value::Null));
                let e = assert_error(s.db, &got, StatusCode::METHOD_NOT_ALLOWED, "unsupported");
                assert!(e["message"].as_str().unwrap().contains(method.as_str()), "{method} {path}: {e}");
                assert_eq!(allow, allowed, "{}: {method} {path}: the Allow header", s.db);
                checked += 1;
            }
        }
        assert!(checked > 100, "only {checked} wrong methods were tried");
        s.stop().await;
    }
}

#[tokio::test]
async fn deleting_a_tag_answers_with_what_was_deleted() {
    for s in servers().await {
        let db = s.db;
        let tag = s.post("/tags", json!({"name": "old"})).await.1;
        let id = tag["id"].as_str().unwrap();
        let (status, body) = s.delete(&format!("/tags/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert_eq!(body, json!({"type": "tag", "id": id, "name": "old", "deleted": true}), "{db}");
        assert_error(db, &s.get(&format!("/tags/{id}")).await, StatusCode::NOT_FOUND, "not_found");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_draft_without_an_audience_says_null_and_null_parts_are_not_kept() {
    for s in servers().await {
        let db = s.db;
        let (_, draft) = s.post("/manual_messages", json!({"body": "Hi"})).await;
        assert!(draft["audience"].is_null(), "{db}: {draft}");
        let (_, draft) = s.post("/manual_messages", json!({"body": "Hi", "audience": {"query": null}})).await;
        assert!(draft["audience"].is_null(), "{db}: no parts is no audience: {draft}");
        let (_, draft) =
            s.post("/manual_messages", json!({"body": "Hi", "audience": {"everyone": true, "query": null}})).await;
        assert_eq!(draft["audience"], json!({"everyone": true}), "{db}: {draft}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_document_read_with_a_token_lists_that_workspaces_attributes_tags_and_segments() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        let tag = s.post("/tags", json!({"name": "vip"})).await.1;
        let tag_id = tag["id"].as_str().unwrap().to_owned();
        let (status, mine) = s.get("/openapi.json").await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let schemas = &mine["components"]["schemas"];
        let custom = &schemas["contact_input"]["properties"]["custom_attributes"];
        assert!(custom["properties"]["plan"].is_object(), "{db}: {custom}");
        assert_eq!(custom["additionalProperties"], false, "{db}: only declared attributes are taken");
        let leaves = schemas["filter_leaf"].to_string();
        assert!(leaves.contains("custom_attributes.plan") && leaves.contains(&tag_id), "{db}: {leaves}");

        let anonymous =
            reqwest::get(format!("{}/openapi.json", s.base)).await.unwrap().json::<serde_json::Value>().await.unwrap();
        let leaves = anonymous["components"]["schemas"]["filter_leaf"].to_string();
        assert!(!leaves.contains("custom_attributes.plan") && !leaves.contains("tag_id"), "{db}: {leaves}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_message_not_ready_for_what_is_asked_answers_409() {
    for s in servers().await {
        let db = s.db;
        let (_, draft) = s.post("/manual_messages", json!({"body": "Hi"})).await;
        let id = draft["id"].as_str().unwrap();
        let e = assert_error(
            db,
            &s.post(&format!("/manual_messages/{id}/send"), json!({})).await,
            StatusCode::CONFLICT,
            "audience_missing",
        );
        assert_eq!(e["field"], "audience", "{db}");
        assert_error(
            db,
            &s.post(&format!("/manual_messages/{id}/schedule"), json!({"scheduled_at": 4_102_444_800_i64})).await,
            StatusCode::CONFLICT,
            "audience_missing",
        );
        assert_error(
            db,
            &s.post(&format!("/manual_messages/{id}/follow_up"), json!({})).await,
            StatusCode::CONFLICT,
            "message_not_sent",
        );
        let (_, m) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(m["state"], "draft", "{db}: {m}");
        s.stop().await;
    }
}

#[tokio::test]
async fn healthz_reports_the_database_and_the_bus_without_credentials() {
    for s in servers().await {
        let db = s.db;
        let resp = reqwest::get(format!("{}/healthz", s.base)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{db}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"status": "ok", "database": {"ok": true}, "bus": {"kind": "in-process", "ok": true}}),
            "{db}"
        );
        s.stop().await;
    }
}
