//! Bad input on SQLite and PostgreSQL alike: NUL characters, values past their documented length,
//! empty audiences and filters too large for one statement each get a 400 in Intercom's
//! `error.list` that names the field, and change nothing. (Before, each was a 500 on one database
//! or both.) "Changes nothing" is read back through the API after each refusal.

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tidings_core::message::{Channel, MessageState};
use tidings_store::NewMessage;

use super::support::{Server, assert_error, servers};

/// Asserts a 400 naming `field`.
fn refused(s: &Server, got: &(StatusCode, Json), field: &str) {
    let e = assert_error(s.db, got, StatusCode::BAD_REQUEST, "parameter_invalid");
    assert_eq!(e["field"], field, "{}: {}", s.db, got.1);
}

/// What the workspace holds, as the API lists it.
async fn everything(s: &Server) -> Vec<Json> {
    let mut out = Vec::new();
    for path in ["/contacts", "/tags", "/segments", "/manual_messages", "/conversations", "/data_attributes"] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{}: {path}: {body}", s.db);
        out.push(body);
    }
    out
}

#[tokio::test]
async fn a_nul_character_anywhere_is_refused_by_name_and_changes_nothing() {
    for s in servers().await {
        s.attribute("plan", "string").await;
        let ada = s.contact(json!({"email": "ada@example.test", "name": "Ada"})).await;
        let ada_id = ada["id"].as_str().unwrap().to_owned();
        let conversation = s
            .post("/conversations", json!({"from": {"type": "user", "id": ada_id}, "body": "Hi"}))
            .await
            .1["conversation_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = everything(&s).await;
        let nul = "a\u{0}b";
        let cases: Vec<(Method, String, Json, &str)> = vec![
            (Method::POST, "/contacts".into(), json!({"email": "x@example.test", "name": nul}), "name"),
            (
                Method::POST,
                "/contacts".into(),
                json!({"email": "y@example.test", "custom_attributes": {"plan": nul}}),
                "custom_attributes.plan",
            ),
            (Method::PUT, format!("/contacts/{ada_id}"), json!({"external_id": nul}), "external_id"),
            (Method::POST, "/tags".into(), json!({"name": nul}), "name"),
            (
                Method::POST,
                "/segments".into(),
                json!({"name": nul, "query": {"field": "email", "operator": "~", "value": "a"}}),
                "name",
            ),
            (
                Method::POST,
                "/contacts/search".into(),
                json!({"query": {"operator": "AND", "value": [{"field": "name", "operator": "=", "value": "Ada"}, {"field": "email", "operator": "=", "value": nul}]}}),
                "query.value[1].value",
            ),
            (
                Method::POST,
                "/contacts/count".into(),
                json!({"query": {"field": "name", "operator": "IN", "value": ["a", nul]}}),
                "query.value[1]",
            ),
            (Method::POST, "/manual_messages".into(), json!({"title": "T", "body": nul}), "body"),
            (Method::POST, "/manual_messages".into(), json!({"title": nul, "body": "Hello"}), "title"),
            (
                Method::POST,
                format!("/conversations/{conversation}/reply"),
                json!({"message_type": "comment", "type": "admin", "admin_id": s.admin_id.to_string(), "body": nul}),
                "body",
            ),
            (
                Method::POST,
                "/data_attributes".into(),
                json!({"name": "ok", "model": "contact", "data_type": "string", "description": nul}),
                "description",
            ),
        ];
        for (method, path, body, field) in cases {
            let got = s.call(method.clone(), &path, Some(body)).await;
            refused(&s, &got, field);
        }
        // In the query string and in a key.
        refused(&s, &s.get("/manual_messages?search=a%00b").await, "search");
        refused(
            &s,
            &s.post("/contacts", json!({"email": "z@example.test", "custom_attributes": {"pl\u{0}an": "x"}})).await,
            "custom_attributes.pl\\u0000an",
        );
        // From the Messenger, where an anonymous visitor may send it.
        let boot = reqwest::Client::new()
            .post(format!("{}/messenger/v1/boot", s.base))
            .json(&json!({"app_id": s.workspace.app_id, "name": nul}))
            .send()
            .await
            .unwrap();
        let got = (boot.status(), boot.json::<Json>().await.unwrap());
        refused(&s, &got, "name");
        // In a form: the login page.
        let login = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(format!("{}/app/login", s.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("email=a%00b%40example.test&password=whatever1")
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::BAD_REQUEST, "{}", s.db);

        assert_eq!(everything(&s).await, before, "{}: a refused request changed something", s.db);
        s.stop().await;
    }
}

#[tokio::test]
async fn values_past_their_documented_length_are_refused_alike_on_both_databases() {
    for s in servers().await {
        let before = everything(&s).await;
        // Past PostgreSQL's index limit (~2,700 bytes) and past the documented limits.
        let long = "x".repeat(3_000);
        let cases: Vec<(&str, Json, &str)> = vec![
            ("/tags", json!({"name": long}), "name"),
            ("/segments", json!({"name": long, "query": {"field": "email", "operator": "~", "value": "a"}}), "name"),
            ("/contacts", json!({"external_id": long}), "external_id"),
            ("/contacts", json!({"email": format!("{long}@example.test")}), "email"),
            ("/contacts", json!({"email": "n@example.test", "name": "n".repeat(256)}), "name"),
            ("/manual_messages", json!({"body": "b".repeat(50_001)}), "body"),
            ("/manual_messages", json!({"body": "Hi", "title": "t".repeat(256)}), "title"),
            ("/contacts/search", json!({"query": {"field": "email", "operator": "=", "value": long}}), "query.value"),
        ];
        for (path, body, field) in cases {
            refused(&s, &s.post(path, body).await, field);
        }
        // At the limit, accepted.
        let (status, tag) = s.post("/tags", json!({"name": "é".repeat(255)})).await;
        assert_eq!(status, StatusCode::OK, "{}: {tag}", s.db);
        s.delete(&format!("/tags/{}", tag["id"].as_str().unwrap())).await;
        assert_eq!(everything(&s).await, before, "{}: a refused request changed something", s.db);
        s.stop().await;
    }
}

#[tokio::test]
async fn one_bad_row_of_a_bulk_upsert_is_reported_and_the_rest_are_written() {
    for s in servers().await {
        let (status, report) = s
            .post(
                "/contacts/bulk",
                json!({"contacts": [
                    {"external_id": "ok-1", "name": "One"},
                    {"external_id": "x".repeat(3_000)},
                    {"external_id": "ok-2", "name": "nul\u{0}"},
                    {"external_id": "ok-3", "email": format!("{}@example.test", "e".repeat(3_000))},
                    {"external_id": "ok-4", "name": "Four"},
                ]}),
            )
            .await;
        // A NUL anywhere in the document refuses the whole request, naming the row.
        refused(&s, &(status, report), "contacts[2].name");
        let (status, report) = s
            .post(
                "/contacts/bulk",
                json!({"contacts": [
                    {"external_id": "ok-1", "name": "One"},
                    {"external_id": "x".repeat(3_000)},
                    {"external_id": "ok-3", "email": format!("{}@example.test", "e".repeat(3_000))},
                    {"external_id": "ok-4", "name": "Four"},
                ]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{}: {report}", s.db);
        assert_eq!(report["created"], 2, "{}: {report}", s.db);
        let indexes: Vec<u64> =
            report["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
        assert_eq!(indexes, [1, 2], "{}: {report}", s.db);
        assert_eq!(s.get("/contacts").await.1["total_count"], 2, "{}", s.db);
        s.stop().await;
    }
}

#[tokio::test]
async fn an_empty_audience_list_is_refused_and_leaves_no_draft() {
    for s in servers().await {
        let db = s.db;
        s.contact(json!({"email": "a@example.test"})).await;
        for (audience, field) in
            [(json!({"segment_ids": []}), "audience.segment_ids"), (json!({"contact_ids": []}), "audience.contact_ids")]
        {
            refused(&s, &s.post("/manual_messages/audience_count", json!({"audience": audience})).await, field);
            refused(&s, &s.post("/manual_messages", json!({"body": "Hi", "audience": audience})).await, field);
            let sent = json!({"body": "Hi", "audience": audience, "send": true});
            refused(&s, &s.post("/manual_messages", sent).await, field);
        }
        assert_eq!(s.get("/manual_messages").await.1["total_count"], 0, "{db}: no draft was left behind");

        // A draft saved before this rule (written straight to storage) is refused at send time.
        let owner = s.admin_id;
        let new = NewMessage {
            title: "Old draft".into(),
            sender_id: owner,
            channel: Channel::Chat,
            subject: None,
            body: "Hi".into(),
            template: Default::default(),
            delivery_window: None,
            audience: json!({"segment_ids": []}),
            state: MessageState::Draft,
            scheduled_at: None,
        };
        let draft = tidings_store::MessageStore::create_message(&*s.store, s.workspace.id, new, 0).await.unwrap();
        refused(&s, &s.post(&format!("/manual_messages/{}/send", draft.id), json!({})).await, "audience.segment_ids");
        let (_, m) = s.get(&format!("/manual_messages/{}", draft.id)).await;
        assert_eq!((m["state"].as_str(), m["stats"]["targeted"].as_i64()), (Some("draft"), Some(0)), "{db}: {m}");
        s.stop().await;
    }
}

#[tokio::test]
async fn filters_too_large_for_one_statement_are_refused_by_name() {
    for s in servers().await {
        let db = s.db;
        let ids = |n: usize| -> Vec<Json> { (1..=n as i64).map(|i| json!(i)).collect() };
        // One list past what a query may hold (more than SQLite's 32,766 parameters, too).
        let big = json!({"field": "id", "operator": "IN", "value": ids(40_000)});
        refused(&s, &s.post("/contacts/search", json!({"query": big})).await, "query.value");
        refused(&s, &s.post("/contacts/count", json!({"query": big})).await, "query.value");
        // Many lists that each fit but not together.
        let group: Vec<Json> = (0..15).map(|_| json!({"field": "id", "operator": "NIN", "value": ids(700)})).collect();
        let together = json!({"query": {"operator": "AND", "value": group}});
        refused(&s, &s.post("/contacts/search", together.clone()).await, "query.value[14].value");
        refused(
            &s,
            &s.post("/manual_messages/audience_count", json!({"audience": together})).await,
            "audience.query.value[14].value",
        );

        // Saved segments that each fit, used together.
        let mut segments = Vec::new();
        for i in 0..4 {
            let q = json!({"field": "id", "operator": "NIN", "value": ids(9_000)});
            let (status, seg) = s.post("/segments", json!({"name": format!("big {i}"), "query": q})).await;
            assert_eq!(status, StatusCode::OK, "{db}: {seg}");
            segments.push(seg["id"].as_str().unwrap().to_owned());
        }
        let audience = json!({"audience": {"segment_ids": segments}});
        refused(&s, &s.post("/manual_messages/audience_count", audience.clone()).await, "audience");
        let leaves: Vec<Json> =
            segments.iter().map(|id| json!({"field": "segment_id", "operator": "=", "value": id})).collect();
        refused(&s, &s.post("/contacts/count", json!({"query": {"operator": "OR", "value": leaves}})).await, "query");
        refused(
            &s,
            &s.post("/manual_messages", json!({"body": "Hi", "audience": {"segment_ids": segments}, "send": true}))
                .await,
            "audience",
        );
        assert_eq!(s.get("/manual_messages").await.1["total_count"], 0, "{db}");

        // At the limits, answered.
        let (status, c) =
            s.post("/contacts/count", json!({"query": {"field": "id", "operator": "IN", "value": ids(10_000)}})).await;
        assert_eq!((status, c["count"].as_i64()), (StatusCode::OK, Some(0)), "{db}: {c}");
        let (status, c) =
            s.post("/manual_messages/audience_count", json!({"audience": {"segment_ids": &segments[..3]}})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {c}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_body_left_out_reads_as_empty_and_white_space_alone_is_refused() {
    for s in servers().await {
        let db = s.db;
        let c = s.contact(json!({"email": "ada@example.test"})).await;
        let path = format!("/contacts/{}", c["id"].as_str().unwrap());
        let send = |body: &'static str| {
            reqwest::Client::new()
                .put(format!("{}{path}", s.base))
                .bearer_auth(&s.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        assert_eq!(send("").await.unwrap().status(), StatusCode::OK, "{db}: no body is {{}}");
        for blank in ["\r", " \n "] {
            let resp = send(blank).await.unwrap();
            let got = (resp.status(), resp.json().await.unwrap());
            assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
        }
        s.stop().await;
    }
}
