//! Intercom's messages and conversations endpoints: `POST /messages`, `POST /conversations`,
//! the list and the full object, replies from both sides and the state changes, with the exact
//! shapes and errors of the v2.11 contract.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::support::{Server, assert_error, servers};

/// Every field of Intercom's conversation object (§5.1), parts aside.
pub(super) const CONVERSATION_KEYS: [&str; 27] = [
    "type",
    "id",
    "created_at",
    "updated_at",
    "waiting_since",
    "snoozed_until",
    "source",
    "contacts",
    "first_contact_reply",
    "admin_assignee_id",
    "team_assignee_id",
    "open",
    "state",
    "read",
    "tags",
    "priority",
    "sla_applied",
    "statistics",
    "conversation_rating",
    "teammates",
    "title",
    "custom_attributes",
    "topics",
    "ticket",
    "linked_objects",
    "ai_agent",
    "ai_agent_participated",
];

pub(super) fn keys(v: &Json) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

pub(super) fn expected_keys(with_parts: bool) -> Vec<String> {
    let mut k: Vec<String> = CONVERSATION_KEYS.iter().map(|s| s.to_string()).collect();
    if with_parts {
        k.push("conversation_parts".into());
    }
    k.sort();
    k
}

pub(super) fn part_types(c: &Json) -> Vec<String> {
    c["conversation_parts"]["conversation_parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["part_type"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn start(s: &Server, contact_id: &str, body: &str) -> String {
    let (status, m) = s.post("/conversations", json!({"from": {"type": "user", "id": contact_id}, "body": body})).await;
    assert_eq!(status, StatusCode::OK, "{}: {m}", s.db);
    m["conversation_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn post_messages_sends_an_in_app_message_to_one_contact() {
    for s in servers().await {
        let db = s.db;
        let ada = s.contact(json!({"email": "ada@example.test", "name": "Ada Lovelace", "external_id": "ada-1"})).await;
        let ada_id = ada["id"].as_str().unwrap();
        s.contact(json!({"email": "bob@example.test", "name": "Bob"})).await;

        // The SDKs send the admin id as a JSON number.
        let (status, m) = s
            .post("/messages", json!({"message_type": "inapp", "body": "Hi {{first_name}}", "from": {"type": "admin", "id": s.admin_id}, "to": {"type": "user", "id": ada_id}}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        assert_eq!(
            (m["type"].as_str(), m["message_type"].as_str(), m["body"].as_str()),
            (Some("admin_message"), Some("inapp"), Some("Hi {{first_name}}")),
            "{db}: {m}"
        );
        assert!(m["conversation_id"].is_null() && m["subject"].is_null(), "{db}: {m}");
        assert_eq!(m["owner"]["id"], s.admin_id.to_string(), "{db}");
        assert_eq!(m["owner"]["type"], "admin");
        assert!(m["created_at"].as_i64().is_some_and(|t| t > 1_700_000_000));
        // It is a manual message to exactly that contact, waiting for their Messenger.
        let (_, manual) = s.get(&format!("/manual_messages/{}", m["id"].as_str().unwrap())).await;
        assert_eq!(
            (manual["state"].as_str(), manual["channel"].as_str()),
            (Some("sent"), Some("chat")),
            "{db}: {manual}"
        );
        assert_eq!((manual["stats"]["targeted"].as_i64(), manual["stats"]["pending"].as_i64()), (Some(1), Some(1)));
        let (_, to) = s.get(&format!("/manual_messages/{}/recipients", m["id"].as_str().unwrap())).await;
        assert_eq!(to["data"][0]["id"], ada_id, "{db}: {to}");

        // in_app is accepted and echoed as inapp; the contact may be named by external id; the
        // conversation can be opened at once.
        let (status, m) = s
            .post("/messages", json!({"message_type": "in_app", "body": "Welcome {{first_name}}", "from": {"type": "admin", "id": s.admin_id.to_string()}, "to": {"type": "user", "user_id": "ada-1"}, "create_conversation_without_contact_reply": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        assert_eq!(m["message_type"], "inapp");
        let cid = m["conversation_id"].as_str().expect("a conversation id").to_owned();
        let (_, c) = s.get(&format!("/conversations/{cid}")).await;
        assert_eq!(keys(&c), expected_keys(true), "{db}: {c}");
        assert_eq!(c["source"]["delivered_as"], "admin_initiated", "{db}: {c}");
        assert_eq!(c["source"]["body"], "<p>Welcome Ada</p>", "{db}: personalised for the contact");
        assert_eq!(c["source"]["author"]["id"], s.admin_id.to_string());
        assert_eq!(c["admin_assignee_id"], s.admin_id, "{db}: an integer, as Intercom's");
        assert_eq!((c["state"].as_str(), c["open"].as_bool()), (Some("open"), Some(true)));
        assert!(c["waiting_since"].is_null() && c["first_contact_reply"].is_null(), "{db}: {c}");
        assert_eq!(c["contacts"]["contacts"][0], json!({"type": "contact", "id": ada_id, "external_id": "ada-1"}));

        // Bad input names the field and sends nothing.
        let (_, before) = s.get("/manual_messages").await;
        let msg = |extra: Json| {
            let mut b = json!({"message_type": "inapp", "body": "Hello", "from": {"type": "admin", "id": s.admin_id}, "to": {"type": "user", "id": ada_id}});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        let e = assert_error(
            db,
            &s.post("/messages", msg(json!({"body": null}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!((e["message"].as_str(), e["field"].as_str()), (Some("Body is required"), Some("body")));
        let email = msg(json!({"message_type": "email", "template": "plain"}));
        let e = assert_error(
            db,
            &s.post("/messages", email.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_not_found",
        );
        assert_eq!(e["message"], "No subject supplied for email message");
        let mut with_subject = email;
        with_subject["subject"] = json!("Hi");
        // This server has no SMTP server: the answer says what to set up, and nothing is sent.
        let e = assert_error(db, &s.post("/messages", with_subject).await, StatusCode::CONFLICT, "email_not_set_up");
        assert!(e["message"].as_str().unwrap().contains("TIDINGS_SMTP_URL"), "{db}: {e}");
        let e = assert_error(
            db,
            &s.post("/messages", msg(json!({"to": {"type": "user", "id": "99999999"}}))).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(e["message"], "User Not Found");
        let e = assert_error(
            db,
            &s.post("/messages", msg(json!({"from": {"type": "admin", "id": 99999999}}))).await,
            StatusCode::NOT_FOUND,
            "admin_not_found",
        );
        assert_eq!(e["field"], "from.id");
        let e = assert_error(
            db,
            &s.post("/messages", msg(json!({"message_type": "sms"}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "message_type");
        let e = assert_error(
            db,
            &s.post("/messages", msg(json!({"to": {"type": "company", "id": ada_id}}))).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "to.type");
        let (_, after) = s.get("/manual_messages").await;
        assert_eq!(after["total_count"], before["total_count"], "{db}: a refused message was stored");
        s.stop().await;
    }
}

#[tokio::test]
async fn contacts_start_conversations_and_replies_and_state_changes_follow_intercom() {
    for s in servers().await {
        let db = s.db;
        let ada = s.contact(json!({"email": "ada@example.test", "name": "Ada"})).await;
        let ada_id = ada["id"].as_str().unwrap();
        let bob = s.contact(json!({"email": "bob@example.test", "name": "Bob"})).await;

        let (status, m) =
            s.post("/conversations", json!({"from": {"type": "user", "id": ada_id}, "body": "Hello <there>"})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        assert_eq!(
            (m["type"].as_str(), m["message_type"].as_str(), m["body"].as_str()),
            (Some("user_message"), Some("inapp"), Some("Hello <there>"))
        );
        let id = m["conversation_id"].as_str().unwrap().to_owned();
        let path = format!("/conversations/{id}");

        let (status, c) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{db}: {c}");
        assert_eq!(keys(&c), expected_keys(true), "{db}");
        assert_eq!(c["source"]["delivered_as"], "customer_initiated", "{db}: {c}");
        assert_eq!(c["source"]["body"], "<p>Hello &lt;there&gt;</p>", "{db}: a contact's words are escaped");
        assert_eq!(
            c["source"]["author"],
            json!({"type": "user", "id": ada_id, "name": "Ada", "email": "ada@example.test"})
        );
        assert!(c["admin_assignee_id"].is_null(), "{db}");
        let waiting = c["waiting_since"].as_i64().expect("the contact is waiting");
        assert_eq!(c["first_contact_reply"]["created_at"], waiting);
        assert_eq!(c["conversation_parts"]["total_count"], 1);

        let admin = |message_type: &str, body: &str| json!({"message_type": message_type, "type": "admin", "admin_id": s.admin_id.to_string(), "body": body});
        let reply = format!("{path}/reply");
        let (_, c) = s.post(&reply, admin("note", "Looks like a **VIP**")).await;
        assert_eq!(part_types(&c), ["comment", "note"], "{db}: {c}");
        assert_eq!(c["waiting_since"], waiting, "{db}: a note does not answer the contact");
        let (_, c) = s
            .post(&reply, json!({"message_type": "comment", "type": "admin", "admin_id": s.admin_id, "body": "On it"}))
            .await;
        assert!(c["waiting_since"].is_null(), "{db}: a comment does: {c}");
        let last = &c["conversation_parts"]["conversation_parts"][2];
        assert_eq!((last["body"].as_str(), last["author"]["type"].as_str()), (Some("<p>On it</p>"), Some("admin")));

        let parts = format!("{path}/parts");
        let (_, c) = s.post(&parts, json!({"message_type": "close", "type": "admin", "admin_id": s.admin_id.to_string(), "body": "Goodbye :)"})).await;
        assert_eq!((c["state"].as_str(), c["open"].as_bool()), (Some("closed"), Some(false)), "{db}: {c}");
        assert_eq!(c["conversation_parts"]["conversation_parts"][3]["body"], "<p>Goodbye :)</p>");
        // The contact writing again reopens it, recorded as an `open` part.
        let (_, c) = s.post(&reply, json!({"message_type": "comment", "type": "user", "intercom_user_id": ada_id, "body": "One more thing"})).await;
        assert_eq!((c["state"].as_str(), c["open"].as_bool()), (Some("open"), Some(true)), "{db}: {c}");
        assert_eq!(part_types(&c).last().map(String::as_str), Some("open"));
        assert!(c["waiting_since"].as_i64().is_some(), "{db}");

        let (_, c) = s.post(&parts, json!({"message_type": "snoozed", "admin_id": s.admin_id.to_string(), "snoozed_until": 4_102_444_800_i64})).await;
        assert_eq!(
            (c["state"].as_str(), c["open"].as_bool(), c["snoozed_until"].as_i64()),
            (Some("snoozed"), Some(true), Some(4_102_444_800)),
            "{db}: {c}"
        );
        let (_, c) = s.post(&parts, json!({"message_type": "open", "admin_id": s.admin_id.to_string()})).await;
        assert_eq!((c["state"].as_str(), c["snoozed_until"].as_i64()), (Some("open"), None), "{db}: {c}");
        // `last` is the replying contact's latest conversation; email names the contact too.
        let (status, c) = s
            .post(
                "/conversations/last/reply",
                json!({"message_type": "comment", "type": "user", "email": "ada@example.test", "body": "Thanks"}),
            )
            .await;
        assert_eq!((status, c["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "{db}: {c}");
        assert_eq!(
            part_types(&c),
            ["comment", "note", "comment", "close", "open", "snoozed", "open", "comment"],
            "{db}"
        );

        // Bad input names the field and changes nothing.
        let count = part_types(&s.get(&path).await.1).len();
        let e = assert_error(
            db,
            &s.post(&reply, json!({"message_type": "comment", "type": "admin", "body": "x"})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "admin_id");
        let e = assert_error(
            db,
            &s.post(&reply, json!({"message_type": "comment", "type": "admin", "admin_id": 99999999, "body": "x"}))
                .await,
            StatusCode::NOT_FOUND,
            "admin_not_found",
        );
        assert_eq!(e["field"], "admin_id");
        let e =
            assert_error(db, &s.post(&reply, admin("shout", "x")).await, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "message_type");
        let e = assert_error(
            db,
            &s.post(&reply, admin("comment", "  ")).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!((e["field"].as_str(), e["message"].as_str()), (Some("body"), Some("Body is required")));
        let e = assert_error(
            db,
            &s.post(
                &reply,
                json!({"message_type": "comment", "type": "user", "intercom_user_id": bob["id"], "body": "hijack"}),
            )
            .await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "intercom_user_id", "{db}: another contact cannot reply");
        let e = assert_error(
            db,
            &s.post(&parts, json!({"message_type": "snoozed", "admin_id": s.admin_id})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "snoozed_until");
        // A field that is there is read, whatever the action: a negative id is no id.
        let e = assert_error(
            db,
            &s.post(&parts, json!({"message_type": "open", "admin_id": s.admin_id, "assignee_id": -102})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "assignee_id");
        let e = assert_error(
            db,
            &s.post(&parts, json!({"message_type": "transfer", "admin_id": s.admin_id})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "message_type");
        assert_eq!(part_types(&s.get(&path).await.1).len(), count, "{db}: a refused request wrote a part");

        let e = assert_error(db, &s.get("/conversations/99999999").await, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(e["message"], "Resource Not Found");
        assert_error(
            db,
            &s.post("/conversations/99999999/reply", admin("comment", "x")).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let e = assert_error(
            db,
            &s.post("/conversations", json!({"from": {"type": "user", "id": "99999999"}, "body": "x"})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_eq!(e["message"], "User Not Found");
        let e = assert_error(
            db,
            &s.post("/conversations", json!({"from": {"type": "lead", "id": ada_id}})).await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "body");
        assert_eq!(s.get("/conversations").await.1["total_count"], 1, "{db}: a refused start opened a conversation");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_conversation_list_pages_with_a_cursor_and_leaves_parts_out() {
    for s in servers().await {
        let db = s.db;
        let mut started = Vec::new();
        for i in 0..3 {
            let c = s.contact(json!({"email": format!("c{i}@example.test")})).await;
            started.push(start(&s, c["id"].as_str().unwrap(), &format!("Question {i}")).await);
        }
        let (status, page) = s.get("/conversations?per_page=2").await;
        assert_eq!(status, StatusCode::OK, "{db}: {page}");
        assert_eq!((page["type"].as_str(), page["total_count"].as_i64()), (Some("conversation.list"), Some(3)));
        let first = page["conversations"].as_array().unwrap();
        assert_eq!(first.len(), 2, "{db}");
        assert_eq!(keys(&first[0]), expected_keys(false), "{db}: list items carry no parts");
        let cursor = page["pages"]["next"]["starting_after"].as_str().unwrap();
        let (_, rest) = s.get(&format!("/conversations?per_page=2&starting_after={cursor}")).await;
        assert!(rest["pages"]["next"].is_null(), "{db}: {rest}");
        let mut seen: Vec<String> = first
            .iter()
            .chain(rest["conversations"].as_array().unwrap())
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        started.sort();
        assert_eq!(seen, started, "{db}: every conversation exactly once");
        let e =
            assert_error(db, &s.get("/conversations?per_page=500").await, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "per_page");
        let e = assert_error(
            db,
            &s.get("/conversations?starting_after=nope").await,
            StatusCode::BAD_REQUEST,
            "parameter_invalid",
        );
        assert_eq!(e["field"], "starting_after");
        s.stop().await;
    }
}
