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
