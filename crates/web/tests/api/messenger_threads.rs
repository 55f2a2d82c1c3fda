//! The Messenger's home, its list of a contact's conversations and each thread, over real HTTP
//! and WebSocket clients on both databases: what each thread holds unread and how opening it
//! clears that, authors' names and avatars, notes and assignments that never reach the contact,
//! and another contact's conversation that is simply not there.

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};

use super::messenger::{Widget, next_text, verified};
use super::support::{Mate, Server, assert_error, servers};

const AVATAR: &str = "https://cdn.example.com/olga.png";

/// The owner names themself Olga, with an avatar, and gives the Messenger its look.
async fn dress(s: &Server) {
    let owner = Mate::owner(s).await;
    let (status, _) = owner.form(s, "/app/settings/profile", &[("name", "Olga"), ("avatar_url", AVATAR)]).await;
    assert_eq!(status, StatusCode::OK, "{}", s.db);
    let look = [("name", "Acme Help"), ("color", "#0a7d4f"), ("greeting", "We answer within the hour.")];
    let (status, _) = owner.form(s, "/app/settings/messenger/look", &look).await;
    assert_eq!(status, StatusCode::OK, "{}", s.db);
}

async fn get(w: &Widget, path: &str) -> Json {
    let (status, body) = w.call(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

async fn post(w: &Widget, path: &str, body: Json) -> Json {
    let (status, answer) = w.call(Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "POST {path}: {answer}");
    answer
}

/// A teammate's reply (or note) through the REST API.
async fn team_writes(s: &Server, conversation: &str, kind: &str, body: &str) {
    let reply = json!({"message_type": kind, "type": "admin", "admin_id": s.admin_id, "body": body});
    let (status, answer) = s.post(&format!("/conversations/{conversation}/reply"), reply).await;
    assert_eq!(status, StatusCode::OK, "{}: {answer}", s.db);
}

/// The list's entry for a conversation (by id) or for a chat nobody answered (by delivery).
fn entry<'a>(list: &'a Json, key: &str, id: &str) -> &'a Json {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c[key] == id)
        .unwrap_or_else(|| panic!("no conversation with {key} {id}: {list}"))
}

#[tokio::test]
async fn the_home_shows_the_workspaces_look_and_team() {
    for s in servers().await {
        let db = s.db;
        dress(&s).await;
        let w = Widget::boot(&s, verified(&s, "h1", "Hugo")).await;
        let home = get(&w, "/home").await;
        assert_eq!(
            (home["type"].as_str(), home["name"].as_str(), home["greeting"].as_str(), home["color"].as_str()),
            (Some("messenger_home"), Some("Acme Help"), Some("We answer within the hour."), Some("#0a7d4f")),
            "{db}: {home}"
        );
        assert_eq!(
            home["teammates"],
            json!([{"id": s.admin_id.to_string(), "name": "Olga", "avatar": AVATAR}]),
            "{db}: names and avatars only, no emails"
        );
        assert_eq!(home["unread_count"], 0, "{db}");
        let (_, booted) = super::messenger::boot(&s, verified(&s, "h1", "Hugo")).await;
        assert_eq!(booted["app"]["color"], "#0a7d4f", "{db}: the launcher's colour comes with the session");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_list_counts_what_each_thread_holds_unread_and_opening_a_thread_clears_it() {
    for s in servers().await {
        let db = s.db;
        dress(&s).await;
        let w = Widget::boot(&s, verified(&s, "c1", "Cleo")).await;
        let send = |channel: &str, title: &str, body: &str| json!({"title": title, "channel": channel, "body": body, "audience": {"contact_ids": [w.contact_id]}, "send": true});
        let (status, _) = s.post("/manual_messages", send("chat", "Welcome", "Hello {{first_name}}")).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let (status, _) = s.post("/manual_messages", send("post", "News", "# Big news\n\nWe moved.")).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let started = post(&w, "/conversations", json!({"body": "Where is my order?"})).await;
        let cid = started["id"].as_str().unwrap().to_owned();
        team_writes(&s, &cid, "note", "internal: refund them").await;
        // An assignment with words for the team, through the engine on the same database.
        let engine = tidings_engine::Engine::local(s.store.clone());
        let owner = s.store.teammate(s.workspace.id, s.admin_id).await.unwrap().unwrap();
        let id: i64 = cid.parse().unwrap();
        engine.assign(&s.workspace, &owner, id, Some(s.admin_id), Some("internal: yours")).await.unwrap();
        team_writes(&s, &cid, "comment", "It ships **today**, {{first_name}}.").await;

        let list = get(&w, "/conversations").await;
        let text = list.to_string();
        assert!(
            !text.contains("refund them") && !text.contains("internal: yours"),
            "{db}: the team's words leaked: {text}"
        );
        assert_eq!(list["type"], "messenger_conversation_list", "{db}");
        let threads = list["conversations"].as_array().unwrap();
        assert_eq!(threads.len(), 2, "{db}: the conversation and the chat: {list}");
        assert_eq!(threads[0]["id"], cid.as_str(), "{db}: newest first");
        let talk = &threads[0];
        assert_eq!(talk["unread_count"], 1, "{db}: one reply unseen: {talk}");
        assert_eq!(talk["last_part"]["html"], "<p>It ships <strong>today</strong>, Cleo.</p>", "{db}");
        assert_eq!(talk["last_part"]["sender"], json!({"name": "Olga", "avatar": AVATAR}), "{db}");
        assert_eq!(talk["teammate"], json!({"name": "Olga", "avatar": AVATAR}), "{db}");
        assert!(talk["updated_at"].as_i64().is_some() && talk["delivery_id"].is_null(), "{db}: {talk}");
        let chat = &threads[1];
        assert!(chat["id"].is_null(), "{db}: nobody answered the chat yet: {chat}");
        assert_eq!((chat["unread_count"].as_i64(), chat["state"].as_str()), (Some(1), Some("open")), "{db}");
        assert_eq!(chat["last_part"]["html"], "<p>Hello Cleo</p>", "{db}: personalised");
        assert_eq!(chat["last_part"]["sender"]["avatar"], AVATAR, "{db}");
        let delivery = chat["delivery_id"].as_str().unwrap().to_owned();
        let news = &list["announcements"];
        assert_eq!(news.as_array().unwrap().len(), 1, "{db}: {list}");
        assert_eq!((news[0]["type"].as_str(), news[0]["seen_at"].as_i64()), (Some("post"), None), "{db}");
        assert_eq!(news[0]["sender"]["name"], "Olga", "{db}");
        assert_eq!(list["unread_count"], 3, "{db}: the reply, the chat and the announcement");
        let (_, again) = super::messenger::boot(&s, verified(&s, "c1", "Cleo")).await;
        assert_eq!(again["unread_count"], 3, "{db}: the launcher's count at boot is the same");

        // The thread: every part the contact sees, in order, with names and avatars.
        let thread = get(&w, &format!("/conversations/{cid}")).await;
        let who: Vec<(&str, &str)> = thread["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["author"].as_str().unwrap(), p["sender"]["name"].as_str().unwrap()))
            .collect();
        assert_eq!(who, [("user", ""), ("admin", "Olga")], "{db}: {thread}");
        assert_eq!(thread["parts"][1]["sender"]["avatar"], AVATAR, "{db}");
        assert!(thread["parts"].as_array().unwrap().iter().all(|p| p["created_at"].as_i64().is_some()), "{db}");
        assert!(!thread.to_string().contains("refund them"), "{db}: a note in the thread");
        assert_eq!((thread["state"].as_str(), &thread["delivery_id"]), (Some("open"), &Json::Null), "{db}");

        // Opening it clears its badge, and the team sees it was seen.
        let seen = post(&w, &format!("/conversations/{cid}/seen"), json!({})).await;
        assert_eq!((seen["seen"].as_bool(), seen["unread_count"].as_i64()), (Some(true), Some(2)), "{db}: {seen}");
        let seen_again = post(&w, &format!("/conversations/{cid}/seen"), json!({})).await;
        assert_eq!(seen_again["seen"], false, "{db}: nothing new");
        let stored = s.store.conversation(s.workspace.id, cid.parse().unwrap()).await.unwrap().unwrap();
        assert!(stored.contact_seen_part_id >= stored.team_part_id && stored.team_part_id > 0, "{db}: {stored:?}");
        let list = get(&w, "/conversations").await;
        assert_eq!(entry(&list, "id", &cid)["unread_count"], 0, "{db}");

        // Replying to the chat opens its conversation, seen by the one who wrote in it; the
        // team's next words count once, not with the chat they follow.
        let opened = post(&w, &format!("/deliveries/{delivery}/reply"), json!({"body": "Thanks!"})).await;
        let chat_cid = opened["id"].as_str().unwrap().to_owned();
        assert_eq!(opened["delivery_id"], delivery.as_str(), "{db}: the thread keeps its chat: {opened}");
        let list = get(&w, "/conversations").await;
        let chat = entry(&list, "id", &chat_cid);
        assert_eq!((chat["unread_count"].as_i64(), chat["delivery_id"].as_str()), (Some(0), Some(delivery.as_str())));
        assert_eq!(list["unread_count"], 1, "{db}: the announcement only");
        team_writes(&s, &chat_cid, "comment", "You are welcome.").await;
        let list = get(&w, "/conversations").await;
        assert_eq!(entry(&list, "id", &chat_cid)["unread_count"], 1, "{db}: {list}");
        assert_eq!(list["conversations"][0]["id"], chat_cid.as_str(), "{db}: the newest words come first");
        assert_eq!(list["unread_count"], 2, "{db}");
        post(&w, &format!("/conversations/{chat_cid}/seen"), json!({})).await;
        let news_delivery = list["announcements"][0]["delivery_id"].clone();
        let read = post(&w, "/seen", json!({"delivery_ids": [news_delivery]})).await;
        assert_eq!(read["unread_count"], 0, "{db}: {read}");
        s.stop().await;
    }
}

#[tokio::test]
async fn another_contacts_conversation_is_not_there() {
    for s in servers().await {
        let db = s.db;
        let ada = Widget::boot(&s, verified(&s, "ada", "Ada")).await;
        let bob = Widget::boot(&s, verified(&s, "bob", "Bob")).await;
        let started = post(&ada, "/conversations", json!({"body": "Private words"})).await;
        let cid = started["id"].as_str().unwrap().to_owned();
        team_writes(&s, &cid, "comment", "For Ada only").await;

        for path in [format!("/conversations/{cid}"), "/conversations/999999999".into(), "/conversations/abc".into()] {
            let got = bob.call(Method::GET, &path, None).await;
            assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
            let got = bob.call(Method::POST, &format!("{path}/seen"), Some(json!({}))).await;
            assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
        }
        let stored = s.store.conversation(s.workspace.id, cid.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(stored.contact_seen_part_id, 0, "{db}: Bob's try marked nothing seen for Ada");
        let list = get(&bob, "/conversations").await;
        assert_eq!(list["conversations"], json!([]), "{db}: {list}");
        assert!(!list.to_string().contains("Ada only"), "{db}");
        let got = bob.call(Method::POST, &format!("/conversations/{cid}/reply"), Some(json!({"body": "hi"}))).await;
        assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
        let no_session = reqwest::get(format!("{}/messenger/v1/conversations", s.base)).await.unwrap();
        assert_eq!(no_session.status(), StatusCode::UNAUTHORIZED, "{db}");
        assert_eq!(get(&ada, "/conversations").await["unread_count"], 1, "{db}: Ada's is there");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_socket_carries_replies_with_their_authors_and_word_of_what_was_seen() {
    for s in servers().await {
        let db = s.db;
        dress(&s).await;
        let w = Widget::boot(&s, verified(&s, "sk", "Sky")).await;
        let started = post(&w, "/conversations", json!({"body": "Hello?"})).await;
        let cid = started["id"].as_str().unwrap().to_owned();
        let mut socket = w.socket().await;
        team_writes(&s, &cid, "comment", "Hi Sky").await;
        let frame = next_text(&mut socket).await;
        assert_eq!(frame["type"], "conversation_part", "{db}: {frame}");
        assert_eq!(frame["part"]["sender"], json!({"name": "Olga", "avatar": AVATAR}), "{db}: {frame}");
        // Seen in another tab: this one hears it, to clear its badges.
        post(&w, &format!("/conversations/{cid}/seen"), json!({})).await;
        let frame = next_text(&mut socket).await;
        assert_eq!(frame, json!({"type": "conversation_seen", "conversation_id": cid}), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_messenger_routes_are_documented_behind_the_contacts_session() {
    for s in servers().await {
        let (_, doc) = s.get("/openapi.json").await;
        for (path, method) in [
            ("/messenger/v1/home", "get"),
            ("/messenger/v1/conversations", "get"),
            ("/messenger/v1/conversations", "post"),
            ("/messenger/v1/conversations/{id}", "get"),
            ("/messenger/v1/conversations/{id}/seen", "post"),
        ] {
            let op = &doc["paths"][path][method];
            assert_eq!(op["security"], json!([{"messengerSession": []}]), "{}: {method} {path}: {op}", s.db);
            assert_eq!(op["tags"], json!(["Messenger"]), "{}: {path}", s.db);
        }
        s.stop().await;
    }
}
