//! The teammates' live stream, `GET /app/events`, over real HTTP on both databases: a logged-in
//! teammate hears what changes in their workspace (`ready` first, then a send and a
//! conversation's parts), each as a kind and an id, never another workspace's events; without a
//! teammate's session nobody hears anything.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::support::{Mate, Server, servers};

/// An open `/app/events` stream, read event by event.
struct Events {
    answer: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(s: &Server, mate: &Mate) -> Events {
        let answer = mate.open(s, "/app/events").await;
        assert_eq!(answer.status(), StatusCode::OK, "{}", s.db);
        let h = answer.headers();
        assert_eq!(h["content-type"], "text/event-stream", "{}", s.db);
        assert_eq!(h["cache-control"], "no-cache", "{}", s.db);
        assert_eq!(
            h["content-security-policy"],
            tidings_web::headers::CONTENT_SECURITY_POLICY,
            "{}: the stream keeps the security headers",
            s.db
        );
        Events { answer, buffer: String::new() }
    }

    /// The data of the next event, skipping heartbeats and the `retry` field, waiting at most 10 s
    /// (a bound so that a missing event fails the test rather than hanging it, not a measurement).
    async fn next(&mut self) -> Json {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.answer.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Sends a chat to one contact; returns the message's id.
async fn send_chat(s: &Server, token: &str, contact: &str) -> String {
    let body = json!({"title": "Hi", "channel": "chat", "body": "Hello", "audience": {"contact_ids": [contact]}, "send": true});
    let (status, m) = s.call_as(token, Method::POST, "/manual_messages", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{}: {m}", s.db);
    m["id"].as_str().unwrap().to_owned()
}

/// A contact's new conversation; returns its id.
async fn contact_starts(s: &Server, token: &str, contact: &str) -> String {
    let body = json!({"from": {"type": "user", "id": contact}, "body": "Where is my order?"});
    let (status, c) = s.call_as(token, Method::POST, "/conversations", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{}: {c}", s.db);
    c["conversation_id"].as_str().unwrap().to_owned()
}

async fn contact(s: &Server, token: &str, email: &str) -> String {
    let (status, c) = s.call_as(token, Method::POST, "/contacts", Some(json!({"email": email}))).await;
    assert_eq!(status, StatusCode::OK, "{}: {c}", s.db);
    c["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_teammate_hears_what_changes_in_their_workspace_only() {
    for s in servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let mut events = Events::open(&s, &owner).await;
        assert_eq!(events.next().await, json!({"type": "ready"}), "{db}: a stream starts by asking to read again");

        // Another workspace on the same server works first. The bus keeps the order things were
        // published in, so had any of its events been sent, it would arrive before ours.
        let (_, other) = s.other_workspace().await;
        let theirs = contact(&s, &other, "them@example.test").await;
        let their_message = send_chat(&s, &other, &theirs).await;
        let their_conversation = contact_starts(&s, &other, &theirs).await;

        let ann = contact(&s, &s.token, "ann@example.test").await;
        let message = send_chat(&s, &s.token, &ann).await;
        let conversation = contact_starts(&s, &s.token, &ann).await;
        let reply = json!({"message_type": "comment", "type": "user", "intercom_user_id": ann, "body": "Any news?"});
        let (status, _) = s.post(&format!("/conversations/{conversation}/reply"), reply).await;
        assert_eq!(status, StatusCode::OK, "{db}");

        // The contact's reply is the last thing published: read up to it.
        let mut heard = Vec::new();
        while heard.iter().filter(|e| **e == json!({"type": "part_added", "conversation_id": conversation})).count() < 2
        {
            heard.push(events.next().await);
        }
        for want in [
            json!({"type": "message_sent", "message_id": message}),
            json!({"type": "conversation_changed", "conversation_id": conversation}),
        ] {
            assert!(heard.contains(&want), "{db}: {want} is missing from {heard:?}");
        }
        for e in &heard {
            let id = e.get("message_id").or_else(|| e.get("conversation_id"));
            assert!(
                id.is_some() && e.as_object().unwrap().len() == 2,
                "{db}: an event says what changed and its id, nothing more: {e}"
            );
            assert!(
                id != Some(&json!(their_message)) && id != Some(&json!(their_conversation)),
                "{db}: another workspace's event was sent: {e} in {heard:?}"
            );
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn the_stream_needs_a_teammates_session() {
    for s in servers().await {
        let db = s.db;
        let url = format!("{}/app/events", s.base);
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let refused = |r: reqwest::Response, who: &str| {
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{db}: {who}");
            assert_ne!(r.headers()["content-type"], "text/event-stream", "{db}: {who}");
        };
        refused(http.get(&url).send().await.unwrap(), "nobody");
        refused(http.get(&url).bearer_auth(&s.token).send().await.unwrap(), "an API token");
        refused(http.get(&url).header("cookie", "tidings_session=made-up").send().await.unwrap(), "a made-up session");

        // A teammate who logged out is refused too.
        let mate = Mate::new(&s, "leaver", tidings_store::TeammateRole::Member).await;
        assert_eq!(mate.open(&s, "/app/events").await.status(), StatusCode::OK, "{db}: a member may follow");
        let (status, _) = mate.form(&s, "/app/logout", &[]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{db}");
        refused(mate.open(&s, "/app/events").await, "a session that ended");
        s.stop().await;
    }
}
