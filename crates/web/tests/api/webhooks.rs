//! `/webhooks` and Settings › Webhooks: bodies checked field by field, targets on private
//! addresses refused unless the server allows them, the owner and admins only, each workspace its
//! own; and a real receiver sent the conversation exactly as `GET /conversations/{id}` shows it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tidings_engine::webhooks::WebhookSetup;
use tidings_store::TeammateRole;

use super::support::{Mate, assert_error};

/// A public address that needs no name lookup: saving it checks it and sends nothing.
const PUBLIC: &str = "https://93.184.215.14/hooks/tidings";

type Got = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on 127.0.0.1 that answers 200 and keeps what it was sent.
async fn receiver() -> (String, Got) {
    async fn take(State(got): State<Got>, headers: HeaderMap, body: Bytes) {
        got.lock().unwrap().push((headers, body));
    }
    let got = Got::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/in", axum::routing::post(take)).with_state(got.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn fields(body: &Json) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn bodies_are_checked_field_by_field_and_private_targets_refused() {
    for s in super::support::servers().await {
        let db = s.db;
        let (status, body) = s.post("/webhooks", json!({})).await;
        assert_eq!(
            (status, fields(&body)),
            (StatusCode::BAD_REQUEST, vec!["url".into(), "topics".into()]),
            "{db}: {body}"
        );
        assert_eq!(body["errors"][0]["code"], "parameter_missing", "{db}");
        let topics = json!(["conversation.user.created"]);
        for (bad, field) in [
            (json!({"url": 5, "topics": topics}), "url"),
            (json!({"url": "ftp://example.com/", "topics": topics}), "url"),
            (json!({"url": " https://93.184.215.14/", "topics": topics}), "url"),
            (json!({"url": "https://", "topics": topics}), "url"),
            (json!({"url": PUBLIC, "topics": "conversation.user.created"}), "topics"),
            (json!({"url": PUBLIC, "topics": []}), "topics"),
            (json!({"url": PUBLIC, "topics": ["conversation.user.created", "user.created"]}), "topics[1]"),
            (json!({"url": PUBLIC, "topics": [7]}), "topics[0]"),
            (json!({"url": PUBLIC, "topics": topics, "active": "yes"}), "active"),
        ] {
            let got = s.post("/webhooks", bad.clone()).await;
            let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
            assert_eq!(e["field"], field, "{db}: {bad}");
        }
        // Loopback, private and the like, however written, unless the server allows them.
        let (local, _) = receiver().await;
        for url in [
            local.as_str(),
            "http://localhost:9/",
            "http://[::1]/",
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://2130706433/",
        ] {
            let got = s.post("/webhooks", json!({"url": url, "topics": topics})).await;
            let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
            assert_eq!(e["field"], "url", "{db}: {url}");
            assert!(e["message"].as_str().unwrap().contains("TIDINGS_WEBHOOK_ALLOW_PRIVATE"), "{db}: {e}");
        }
        let (_, list) = s.get("/webhooks").await;
        assert_eq!(list, json!({"type": "list", "data": []}), "{db}: nothing refused was saved");
        s.engine.set_webhooks(WebhookSetup { allow_private: true, ..WebhookSetup::default() });
        let (status, allowed) = s.post("/webhooks", json!({"url": local, "topics": topics})).await;
        assert_eq!(status, StatusCode::OK, "{db}: allowed by the server: {allowed}");

        // Made, read, changed, refused a bad change (nothing changes), deleted.
        let (status, w) = s
            .post(
                "/webhooks",
                json!({"url": "HTTPS://93.184.215.14", "topics": ["conversation.admin.closed", "conversation.user.created", "conversation.admin.closed"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {w}");
        assert_eq!(w["type"], "webhook", "{db}");
        assert_eq!(w["url"], "https://93.184.215.14/", "{db}: stored as read");
        assert_eq!(
            w["topics"],
            json!(["conversation.admin.closed", "conversation.user.created"]),
            "{db}: repeats once"
        );
        assert_eq!(w["active"], true, "{db}");
        let secret = w["secret"].as_str().unwrap();
        assert!(secret.len() == 64 && secret.chars().all(|c| c.is_ascii_hexdigit()), "{db}: {secret}");
        let path = format!("/webhooks/{}", w["id"].as_str().unwrap());
        assert_eq!(s.get(&path).await, (StatusCode::OK, w.clone()), "{db}");
        let (status, changed) = s.put(&path, json!({"topics": ["conversation.admin.noted"], "active": false})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {changed}");
        assert_eq!(
            (changed["topics"].clone(), changed["active"].clone(), changed["url"].clone()),
            (json!(["conversation.admin.noted"]), json!(false), w["url"].clone()),
            "{db}"
        );
        let got = s.put(&path, json!({"url": "http://localhost.invalid/"})).await;
        assert_eq!(assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid")["field"], "url", "{db}");
        assert_eq!(s.get(&path).await.1, changed, "{db}: unchanged");
        let (_, deliveries) = s.get(&format!("{path}/deliveries")).await;
        assert_eq!(deliveries, json!({"type": "list", "data": []}), "{db}");
        let (status, gone) = s.delete(&path).await;
        assert_eq!(
            (status, gone),
            (StatusCode::OK, json!({"type": "webhook", "id": w["id"], "deleted": true})),
            "{db}"
        );
        assert_error(db, &s.get(&path).await, StatusCode::NOT_FOUND, "not_found");
        assert_error(db, &s.delete(&path).await, StatusCode::NOT_FOUND, "not_found");
        assert_error(db, &s.get("/webhooks/abc").await, StatusCode::NOT_FOUND, "not_found");

        // At most 20 a workspace.
        for _ in 1..20 {
            let (status, _) = s.post("/webhooks", json!({"url": PUBLIC, "topics": topics})).await;
            assert_eq!(status, StatusCode::OK, "{db}");
        }
        let got = s.post("/webhooks", json!({"url": PUBLIC, "topics": topics})).await;
        assert_error(db, &got, StatusCode::CONFLICT, "webhook_limit_reached");
        s.stop().await;
    }
}

#[tokio::test]
async fn only_the_owner_and_admins_see_or_change_webhooks_and_each_workspace_its_own() {
    for s in super::support::servers().await {
        let db = s.db;
        let topics = json!(["conversation.user.created"]);
        let (_, w) = s.post("/webhooks", json!({"url": PUBLIC, "topics": topics})).await;
        let path = format!("/webhooks/{}", w["id"].as_str().unwrap());
        let member = Mate::new(&s, "member", TeammateRole::Member).await;
        for (method, p, body) in [
            (Method::GET, "/webhooks".to_owned(), None),
            (Method::POST, "/webhooks".to_owned(), Some(json!({"url": PUBLIC, "topics": topics}))),
            (Method::GET, path.clone(), None),
            (Method::PUT, path.clone(), Some(json!({"active": false}))),
            (Method::DELETE, path.clone(), None),
            (Method::GET, format!("{path}/deliveries"), None),
        ] {
            let got = member.call(&s, method.clone(), &p, body.clone()).await;
            assert_error(db, &got, StatusCode::FORBIDDEN, "action_forbidden");
            let got = member.session_call(&s, method, &p, body).await;
            assert_error(db, &got, StatusCode::FORBIDDEN, "action_forbidden");
        }
        let (_, list) = s.get("/webhooks").await;
        assert_eq!(list["data"].as_array().unwrap().len(), 1, "{db}: the member made nothing");
        assert_eq!(list["data"][0]["active"], true, "{db}: nor changed anything");
        let page = member.settings(&s).await;
        assert!(!page.contains("/app/settings/webhooks") && !page.contains(w["secret"].as_str().unwrap()), "{db}");
        let (status, _) = member
            .form(&s, "/app/settings/webhooks", &[("url", PUBLIC), ("topics", "conversation.user.created")])
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        let id = w["id"].as_str().unwrap();
        let (status, _) = member.form(&s, &format!("/app/settings/webhooks/{id}/delete"), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert_eq!(s.get("/webhooks").await.1, list, "{db}: the forms changed nothing either");

        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;
        let (status, _) = admin.call(&s, Method::PUT, &path, Some(json!({"active": false}))).await;
        assert_eq!(status, StatusCode::OK, "{db}: an admin may");

        let (_, other) = s.other_workspace().await;
        assert_error(db, &s.call_as(&other, Method::GET, &path, None).await, StatusCode::NOT_FOUND, "not_found");
        assert_error(db, &s.call_as(&other, Method::DELETE, &path, None).await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(s.call_as(&other, Method::GET, "/webhooks", None).await.1["data"], json!([]), "{db}");
        assert_eq!(s.get(&path).await.0, StatusCode::OK, "{db}: still there");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_notification_carries_the_conversation_as_the_api_shows_it() {
    for s in super::support::servers().await {
        let db = s.db;
        s.engine.set_webhooks(WebhookSetup { allow_private: true, ..WebhookSetup::default() });
        let (url, got) = receiver().await;
        let (status, w) = s
            .post(
                "/webhooks",
                json!({"url": url, "topics": ["conversation.user.created", "conversation.admin.replied"]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {w}");
        let contact = s.contact(json!({"email": "ada@example.test", "name": "Ada"})).await;
        let (status, started) =
            s.post("/conversations", json!({"from": {"type": "user", "id": contact["id"]}, "body": "Hello"})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {started}");
        let conversation = started["conversation_id"].as_str().unwrap().to_owned();
        let reply = json!({"type": "admin", "message_type": "comment", "admin_id": s.admin_id, "body": "Hi **Ada**"});
        let (status, _) = s.post(&format!("/conversations/{conversation}/reply"), reply).await;
        assert_eq!(status, StatusCode::OK, "{db}");

        let mut sent = Vec::new();
        for _ in 0..200 {
            sent = got.lock().unwrap().clone();
            if sent.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(sent.len(), 2, "{db}: both notifications arrived");
        let (_, shown) = s.get(&format!("/conversations/{conversation}")).await;
        let secret = w["secret"].as_str().unwrap();
        let mut topics = Vec::new();
        for (headers, body) in &sent {
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(body);
            let expected = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(headers["x-hub-signature"].to_str().unwrap(), expected, "{db}");
            let e: Json = serde_json::from_slice(body).unwrap();
            assert_eq!(
                (e["type"].clone(), e["app_id"].clone()),
                (json!("notification_event"), json!(s.workspace.app_id)),
                "{db}"
            );
            assert_eq!(e["data"]["item"]["id"], json!(conversation), "{db}");
            topics.push(e["topic"].as_str().unwrap().to_owned());
            if e["topic"] == "conversation.admin.replied" {
                assert_eq!(e["data"]["item"], shown, "{db}: exactly as GET /conversations/{{id}} shows it");
            }
        }
        topics.sort();
        assert_eq!(topics, ["conversation.admin.replied", "conversation.user.created"], "{db}");

        let (_, deliveries) = s.get(&format!("/webhooks/{}/deliveries", w["id"].as_str().unwrap())).await;
        let list = deliveries["data"].as_array().unwrap();
        assert_eq!(list.len(), 2, "{db}: {deliveries}");
        for d in list {
            assert_eq!(
                (d["delivery_status"].clone(), d["delivery_attempts"].clone(), d["last_status"].clone()),
                (json!("delivered"), json!(1), json!(200)),
                "{db}: {d}"
            );
            assert_eq!(d["conversation_id"], json!(conversation), "{db}");
        }
        // The owner sees them in Settings › Webhooks, with the secret.
        let owner = Mate::owner(&s).await;
        let page = owner.settings(&s).await;
        assert!(
            page.contains(secret) && page.contains("conversation.admin.replied") && page.contains("delivered"),
            "{db}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn settings_add_switch_off_and_delete_a_webhook() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let page = owner.settings(&s).await;
        assert!(
            page.contains("id=\"webhooks\"") && page.contains("conversation.admin.unsnoozed"),
            "{db}: the section and its topics"
        );

        // Refused: the URL typed stays in the form, the error says why, nothing is saved.
        let (status, page) = owner
            .form(
                &s,
                "/app/settings/webhooks",
                &[("url", "http://10.1.2.3/in"), ("topics", "conversation.user.created")],
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}");
        assert!(
            page.contains("value=\"http://10.1.2.3/in\"") && page.contains("not a public internet address"),
            "{db}"
        );
        let (status, page) = owner.form(&s, "/app/settings/webhooks", &[("url", PUBLIC)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("Choose at least one topic"), "{db}");
        assert!(s.store.webhooks(s.workspace.id).await.unwrap().is_empty(), "{db}");

        let (status, page) = owner
            .form(
                &s,
                "/app/settings/webhooks",
                &[("url", PUBLIC), ("topics", "conversation.user.created"), ("topics", "conversation.admin.noted")],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let w = s.store.webhooks(s.workspace.id).await.unwrap().remove(0);
        assert_eq!(w.url, PUBLIC, "{db}");
        assert_eq!(w.topics.len(), 2, "{db}");
        assert!(page.contains(&w.secret) && page.contains("Switch off"), "{db}: the secret is shown");

        let (status, page) =
            owner.form(&s, &format!("/app/settings/webhooks/{}/active", w.id), &[("active", "off")]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(page.contains("Switch on"), "{db}");
        assert!(!s.store.webhook(s.workspace.id, w.id).await.unwrap().unwrap().active, "{db}");
        let (status, _) = owner.form(&s, &format!("/app/settings/webhooks/{}/delete", w.id), &[]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(s.store.webhooks(s.workspace.id).await.unwrap().is_empty(), "{db}");
        s.stop().await;
    }
}
