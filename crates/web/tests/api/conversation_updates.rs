//! What integrations do to a conversation besides replying, on both databases: assign it
//! (`POST /conversations/{id}/parts` with `assignment`), mark it read and set its attributes
//! (`PUT /conversations/{id}`), and tag it. Each answers Intercom's shapes, and bad input names
//! its field and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tidings_store::TeammateRole;

use super::conversations::{part_types, start};
use super::support::{Server, assert_error, servers};

async fn teammate(s: &Server, name: &str) -> i64 {
    let email = format!("{name}@example.test");
    tidings_web::provision::teammate(&s.store, &s.workspace, name, &email, "a-long-password", TeammateRole::Member)
        .await
        .unwrap()
        .id
}

async fn conversation(s: &Server, email: &str, words: &str) -> String {
    let c = s.contact(json!({"email": email, "name": "Ada"})).await;
    start(s, c["id"].as_str().unwrap(), words).await
}

fn last_part(c: &Json) -> &Json {
    c["conversation_parts"]["conversation_parts"].as_array().unwrap().last().unwrap()
}

#[tokio::test]
async fn assignment_assigns_unassigns_and_reopens_as_intercoms_does() {
    for s in servers().await {
        let db = s.db;
        let mate = teammate(&s, "mate").await;
        let id = conversation(&s, "ada@example.test", "Hello").await;
        let parts = format!("/conversations/{id}/parts");
        let owner = s.admin_id.to_string();

        // The SDKs send ids as strings; the docs' examples as numbers: both are taken.
        let (status, c) = s
            .post(
                &parts,
                json!({"message_type": "assignment", "type": "admin", "admin_id": owner, "assignee_id": mate}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {c}");
        assert_eq!(c["admin_assignee_id"], mate, "{db}: an integer, as Intercom's");
        let p = last_part(&c);
        assert_eq!(p["part_type"], "assignment", "{db}: {p}");
        assert_eq!(p["assigned_to"], json!({"type": "admin", "id": mate.to_string()}), "{db}");
        assert_eq!((p["author"]["id"].as_str(), p["body"].as_str()), (Some(owner.as_str()), None), "{db}");
        assert_eq!(c["state"], "open");

        // Assigning a closed conversation reopens it; "0" unassigns; words are for the team.
        s.post(&parts, json!({"message_type": "close", "type": "admin", "admin_id": owner})).await;
        let (status, c) = s
            .post(&parts, json!({"message_type": "assignment", "type": "admin", "admin_id": s.admin_id, "assignee_id": "0", "body": "Over to **anyone**"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {c}");
        assert!(c["admin_assignee_id"].is_null(), "{db}: {c}");
        assert_eq!((c["state"].as_str(), c["open"].as_bool()), (Some("open"), Some(true)), "{db}");
        let p = last_part(&c);
        assert_eq!(p["part_type"], "assign_and_reopen", "{db}: {p}");
        assert_eq!(p["assigned_to"]["id"], "0", "{db}");
        assert_eq!(p["body"], "<p>Over to <strong>anyone</strong></p>", "{db}");
        // `type` may be left out; it can only be admin.
        let (_, c) =
            s.post(&parts, json!({"message_type": "assignment", "admin_id": owner, "assignee_id": owner})).await;
        assert_eq!(c["admin_assignee_id"], s.admin_id, "{db}: {c}");

        // Bad input names the field and writes nothing.
        let count = part_types(&s.get(&format!("/conversations/{id}")).await.1).len();
        let assign = |extra: Json| {
            let mut b = json!({"message_type": "assignment", "type": "admin", "admin_id": owner, "assignee_id": mate});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"type": "team"}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "type", "{db}");
        assert!(e["message"].as_str().unwrap().contains("no teams"), "{db}: {e}");
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"assignee_id": null}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "assignee_id", "{db}");
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"assignee_id": "x"}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "assignee_id", "{db}");
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"assignee_id": 99_999_999}))).await,
            StatusCode::NOT_FOUND,
            "admin_not_found",
        );
        assert_eq!(e["field"], "assignee_id", "{db}");
        let (other, _) = s.other_workspace().await;
        let stranger = s.store.teammates(other.id).await.unwrap()[0].id;
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"assignee_id": stranger}))).await,
            StatusCode::NOT_FOUND,
            "admin_not_found",
        );
        assert_eq!(e["field"], "assignee_id", "{db}: another workspace's teammate");
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"admin_id": null}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "admin_id", "{db}");
        let e = assert_error(
            db,
            &s.post(&parts, assign(json!({"body": "Hi {{nope}}"}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "body", "{db}: {e}");
        assert_error(
            db,
            &s.post("/conversations/99999999/parts", assign(json!({}))).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let now = s.get(&format!("/conversations/{id}")).await.1;
        assert_eq!(part_types(&now).len(), count, "{db}: a refused assignment wrote a part");
        assert_eq!(now["admin_assignee_id"], s.admin_id, "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn put_marks_read_and_merges_custom_attributes() {
    for s in servers().await {
        let db = s.db;
        let id = conversation(&s, "ada@example.test", "Hello").await;
        let path = format!("/conversations/{id}");
        assert_eq!(s.get(&path).await.1["read"], false, "{db}: a contact's new conversation is unread");

        let (status, c) = s.put(&path, json!({"read": true})).await;
        assert_eq!((status, c["read"].as_bool()), (StatusCode::OK, Some(true)), "{db}: {c}");
        assert!(c["conversation_parts"]["conversation_parts"].is_array(), "{db}: the whole conversation");
        let (_, c) = s.put(&path, json!({"custom_attributes": {"score": 3, "channel": "web", "vip": true}})).await;
        assert_eq!(c["custom_attributes"], json!({"score": 3, "channel": "web", "vip": true}), "{db}");
        let (_, c) = s.put(&path, json!({"custom_attributes": {"channel": "app"}, "read": false})).await;
        assert_eq!(c["custom_attributes"], json!({"score": 3, "channel": "app", "vip": true}), "{db}: merged");
        assert_eq!(c["read"], false, "{db}");
        let (status, same) = s.put(&path, json!({})).await;
        assert_eq!((status, &same["custom_attributes"]), (StatusCode::OK, &c["custom_attributes"]), "{db}");

        // Bad input names the field and changes nothing, the read mark included.
        for (body, field, status, code) in [
            (
                json!({"read": true, "custom_attributes": {"list": [1]}}),
                "custom_attributes.list",
                400,
                "parameter_invalid",
            ),
            (json!({"read": true, "custom_attributes": {" ": 1}}), "custom_attributes. ", 400, "parameter_invalid"),
            (json!({"read": true, "custom_attributes": "x"}), "custom_attributes", 400, "parameter_invalid"),
            (json!({"read": "yes"}), "read", 400, "parameter_invalid"),
            (json!({"read": true, "title": "Refund"}), "title", 422, "unsupported"),
        ] {
            let e = assert_error(db, &s.put(&path, body.clone()).await, StatusCode::from_u16(status).unwrap(), code);
            assert_eq!(e["field"], field, "{db}: {body}");
        }
        let now = s.get(&path).await.1;
        assert_eq!((now["read"].as_bool(), &now["custom_attributes"]), (Some(false), &c["custom_attributes"]), "{db}");
        assert_error(
            db,
            &s.put("/conversations/99999999", json!({"read": true})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        // Another workspace cannot touch it.
        let (_, token) = s.other_workspace().await;
        let got = s.call_as(&token, Method::PUT, &path, Some(json!({"read": true}))).await;
        assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
        s.stop().await;
    }
}

#[tokio::test]
async fn tags_go_on_and_come_off_conversations() {
    for s in servers().await {
        let db = s.db;
        let id = conversation(&s, "ada@example.test", "Hello").await;
        let path = format!("/conversations/{id}");
        let tag = s.post("/tags", json!({"name": "billing"})).await.1;
        let tag_id = tag["id"].as_str().unwrap().to_owned();
        let owner = s.admin_id.to_string();

        // Tag ids as numbers (the docs' examples) or strings (the SDKs).
        let (status, got) =
            s.post(&format!("{path}/tags"), json!({"id": tag_id.parse::<i64>().unwrap(), "admin_id": owner})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {got}");
        assert_eq!(got, json!({"type": "tag", "id": tag_id, "name": "billing"}), "{db}");
        let (status, _) = s.post(&format!("{path}/tags"), json!({"id": tag_id, "admin_id": s.admin_id})).await;
        assert_eq!(status, StatusCode::OK, "{db}: tagging again changes nothing");
        let tags = &s.get(&path).await.1["tags"];
        assert_eq!(tags["type"], "tag.list", "{db}");
        let listed: Vec<&str> = tags["tags"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(listed, [tag_id.as_str()], "{db}");

        let untag = format!("{path}/tags/{tag_id}");
        let (status, got) = s.call(Method::DELETE, &untag, Some(json!({"admin_id": owner}))).await;
        assert_eq!((status, got), (StatusCode::OK, json!({"type": "tag", "id": tag_id, "name": "billing"})), "{db}");
        assert_eq!(s.get(&path).await.1["tags"]["tags"], json!([]), "{db}");

        // Bad input names the field and changes nothing.
        let e = assert_error(
            db,
            &s.call(Method::DELETE, &untag, Some(json!({"admin_id": owner}))).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(e["field"], "tag_id", "{db}: the tag is not on it any more");
        let e =
            assert_error(db, &s.call(Method::DELETE, &untag, None).await, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "admin_id", "{db}");
        let e = assert_error(
            db,
            &s.post(&format!("{path}/tags"), json!({"id": "99999999", "admin_id": owner})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(e["field"], "id", "{db}");
        let e = assert_error(
            db,
            &s.post(&format!("{path}/tags"), json!({"admin_id": owner})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "id", "{db}");
        let e = assert_error(
            db,
            &s.post(&format!("{path}/tags"), json!({"id": tag_id})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "admin_id", "{db}");
        // Another workspace's tag is not found here, and its token cannot tag this conversation.
        let (_, token) = s.other_workspace().await;
        let theirs = s.call_as(&token, Method::POST, "/tags", Some(json!({"name": "theirs"}))).await.1;
        let e = assert_error(
            db,
            &s.post(&format!("{path}/tags"), json!({"id": theirs["id"], "admin_id": owner})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(e["field"], "id", "{db}");
        let their_admin = s.call_as(&token, Method::GET, "/me", None).await.1["id"].clone();
        let got = s
            .call_as(
                &token,
                Method::POST,
                &format!("{path}/tags"),
                Some(json!({"id": theirs["id"], "admin_id": their_admin})),
            )
            .await;
        assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(s.get(&path).await.1["tags"]["tags"], json!([]), "{db}: a refused tag was applied");
        s.stop().await;
    }
}
