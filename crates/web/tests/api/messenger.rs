//! The Messenger protocol with real HTTP and WebSocket clients: identity verification, offline
//! delivery on fetch, real-time pushes, stop, replies, and sessions that only ever see their own
//! contact's messages.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use tokio_tungstenite::tungstenite::Message as Ws;

use super::support::{Server, assert_error, servers};

fn user_hash(secret: &str, identity: &str) -> String {
    tidings_web::messenger::session::user_hash(secret, identity)
}

/// A contact's Messenger: boots over HTTP, then calls the Messenger API with its session.
pub(super) struct Widget {
    base: String,
    pub(super) session: String,
    pub(super) contact_id: String,
    client: reqwest::Client,
}

impl Widget {
    pub(super) async fn boot(s: &Server, settings: Json) -> Widget {
        let (status, body) = boot(s, settings).await;
        assert_eq!(status, StatusCode::OK, "{}: {body}", s.db);
        Widget {
            base: s.base.clone(),
            session: body["session"].as_str().unwrap().to_owned(),
            contact_id: body["contact"]["id"].as_str().unwrap().to_owned(),
            client: reqwest::Client::new(),
        }
    }

    pub(super) async fn call(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let mut req = self
            .client
            .request(method, format!("{}/messenger/v1{path}", self.base))
            .header("x-messenger-session", &self.session);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap() })
    }

    async fn messages(&self) -> Json {
        let (status, body) = self.call(reqwest::Method::GET, "/messages", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    pub(super) async fn socket(
        &self,
    ) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
        let url = format!("{}/messenger/v1/ws?session={}", self.base.replace("http://", "ws://"), self.session);
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = next_text(&mut ws).await;
        assert_eq!(hello["type"], "hello");
        ws
    }
}

pub(super) async fn boot(s: &Server, settings: Json) -> (StatusCode, Json) {
    let mut body = settings;
    body["app_id"] = json!(s.workspace.app_id);
    let resp = reqwest::Client::new().post(format!("{}/messenger/v1/boot", s.base)).json(&body).send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

/// The next text frame, waiting at most 10 seconds (a bound, not a measurement).
pub(super) async fn next_text<S>(ws: &mut S) -> Json
where
    S: futures_util::Stream<Item = Result<Ws, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.expect("no frame within 10 s").unwrap().unwrap();
        if let Ws::Text(t) = frame {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

pub(super) fn verified(s: &Server, user_id: &str, name: &str) -> Json {
    json!({"user_id": user_id, "name": name, "email": format!("{user_id}@example.test"), "user_hash": user_hash(&s.workspace.identity_secret, user_id)})
}

#[tokio::test]
async fn boot_verifies_identity_and_visitors_become_leads() {
    for s in servers().await {
        let db = s.db;
        let bad = boot(&s, json!({"user_id": "u1", "user_hash": "00"})).await;
        assert_error(db, &bad, StatusCode::UNAUTHORIZED, "identity_verification_failed");
        let missing = boot(&s, json!({"user_id": "u1"})).await;
        assert_error(db, &missing, StatusCode::UNAUTHORIZED, "identity_verification_required");
        let (_, list) = s.get("/contacts").await;
        assert_eq!(list["total_count"], 0, "{db}: refused boots created nobody");

        let w = Widget::boot(&s, json!({"user_id": "u1", "user_hash": user_hash(&s.workspace.identity_secret, "u1"), "name": "Ada", "created_at": 1_700_000_000})).await;
        let (_, c) = s.get(&format!("/contacts/{}", w.contact_id)).await;
        assert_eq!(
            (c["external_id"].as_str(), c["name"].as_str(), c["signed_up_at"].as_i64(), c["role"].as_str()),
            (Some("u1"), Some("Ada"), Some(1_700_000_000), Some("user")),
            "{db}: {c}"
        );
        assert!(c["last_seen_at"].as_i64().is_some());
        let again = Widget::boot(&s, verified(&s, "u1", "Ada L.")).await;
        assert_eq!(again.contact_id, w.contact_id, "{db}: the same user");

        let visitor = Widget::boot(&s, json!({})).await;
        let (_, lead) = s.get(&format!("/contacts/{}", visitor.contact_id)).await;
        assert_eq!(lead["role"], "lead", "{db}");
        let returning = Widget::boot(&s, json!({"session": visitor.session})).await;
        assert_eq!(returning.contact_id, visitor.contact_id, "{db}: a returning visitor keeps their lead");

        s.stop().await;
    }
}

#[tokio::test]
async fn offline_contacts_get_it_on_fetch_and_online_ones_in_real_time() {
    for s in servers().await {
        let db = s.db;
        let online = Widget::boot(&s, verified(&s, "on", "Olga")).await;
        let offline = Widget::boot(&s, verified(&s, "off", "Otto")).await;
        let mut socket = online.socket().await;

        let (_, m) = s
            .post("/manual_messages", json!({"title": "Hi", "channel": "chat", "body": "Hello **{{first_name}}**", "audience": {"contact_ids": [online.contact_id, offline.contact_id]}, "send": true}))
            .await;
        let id = m["id"].as_str().unwrap().to_owned();

        let pushed = next_text(&mut socket).await;
        assert_eq!(pushed["type"], "message", "{db}: {pushed}");
        assert_eq!(
            pushed["item"]["html"], "<p>Hello <strong>Olga</strong></p>",
            "{db}: personalised for the recipient"
        );
        assert_eq!(pushed["item"]["message_id"], id.as_str());

        let (_, stats) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(
            (stats["stats"]["sent"].as_i64(), stats["stats"]["pending"].as_i64()),
            (Some(1), Some(1)),
            "{db}: {stats}"
        );
        // The offline contact's delivery stays pending, off their profile, until their Messenger opens.
        let (_, pending) = s.get(&format!("/manual_messages/{id}/recipients?stat=pending")).await;
        assert_eq!(pending["data"][0]["id"], offline.contact_id.as_str(), "{db}");
        let fetched = offline.messages().await;
        assert_eq!(fetched["items"].as_array().unwrap().len(), 1, "{db}: {fetched}");
        assert_eq!(fetched["items"][0]["html"], "<p>Hello <strong>Otto</strong></p>");
        assert_eq!(fetched["unread_count"], 1);
        let (_, stats) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!((stats["stats"]["sent"].as_i64(), stats["stats"]["pending"].as_i64()), (Some(2), Some(0)), "{db}");

        // Seen, then a reply that opens a conversation with the sender.
        let delivery = fetched["items"][0]["delivery_id"].as_str().unwrap().to_owned();
        let (_, seen) = offline.call(reqwest::Method::POST, "/seen", Some(json!({"delivery_ids": [delivery]}))).await;
        assert_eq!(seen["unread_count"], 0, "{db}: {seen}");
        let (status, conv) = offline
            .call(
                reqwest::Method::POST,
                &format!("/deliveries/{delivery}/reply"),
                Some(json!({"body": "Thanks <b>a lot</b>"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {conv}");
        let parts: Vec<&str> =
            conv["parts"].as_array().unwrap().iter().map(|p| p["author"].as_str().unwrap()).collect();
        assert_eq!(parts, ["admin", "user"], "{db}");
        assert_eq!(conv["parts"][1]["html"], "<p>Thanks &lt;b&gt;a lot&lt;/b&gt;</p>", "{db}: replies are escaped");
        let again = offline.messages().await;
        assert_eq!(
            again["items"][0]["conversation"]["id"], conv["id"],
            "{db}: the reply shows in the Messenger's history"
        );
        let (_, stats) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!((stats["stats"]["seen"].as_i64(), stats["stats"]["replied"].as_i64()), (Some(1), Some(1)), "{db}");
        let conversations = s.store.conversations_of_teammate(s.workspace.id, s.admin_id).await.unwrap();
        assert_eq!(conversations.len(), 1, "{db}: the conversation is the sender's");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_stopped_message_never_reaches_anyone_who_comes_online_afterwards() {
    for s in servers().await {
        let db = s.db;
        let late = Widget::boot(&s, verified(&s, "late", "Lea")).await;
        let (_, m) = s
            .post("/manual_messages", json!({"title": "Typo", "channel": "post", "body": "Big newz", "audience": {"everyone": true}, "send": true}))
            .await;
        let id = m["id"].as_str().unwrap();
        let (status, _) = s.post(&format!("/manual_messages/{id}/stop"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let mut socket = late.socket().await;
        let fetched = late.messages().await;
        assert!(fetched["items"].as_array().unwrap().is_empty(), "{db}: {fetched}");
        // Nothing arrives over the socket either (a later message proves the socket works).
        s.post("/manual_messages", json!({"title": "Fixed", "channel": "post", "body": "Big news", "audience": {"everyone": true}, "send": true})).await;
        let next = next_text(&mut socket).await;
        assert_eq!(next["item"]["html"], "<p>Big news</p>", "{db}: the stopped message arrived: {next}");
        let stats = s.store.message_stats(s.workspace.id, id.parse().unwrap()).await.unwrap();
        assert_eq!((stats.sent, stats.cancelled), (0, 1), "{db}");
        let (_, recipients) = s.get(&format!("/manual_messages/{id}/recipients?stat=cancelled")).await;
        assert_eq!(recipients["total_count"], 1);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_session_sees_only_its_own_contact_and_bad_sessions_are_refused() {
    for s in servers().await {
        let db = s.db;
        let a = Widget::boot(&s, verified(&s, "a", "Ann")).await;
        let b = Widget::boot(&s, verified(&s, "b", "Ben")).await;
        s.post("/manual_messages", json!({"title": "For B", "channel": "chat", "body": "secret for Ben", "audience": {"contact_ids": [b.contact_id]}, "send": true})).await;
        assert!(a.messages().await["items"].as_array().unwrap().is_empty(), "{db}: A saw B's message");
        let b_items = b.messages().await;
        let delivery = b_items["items"][0]["delivery_id"].as_str().unwrap().to_owned();
        let (status, _) = a
            .call(reqwest::Method::POST, &format!("/deliveries/{delivery}/reply"), Some(json!({"body": "hijack"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{db}: A replied to B's message");
        let (_, marked) = a.call(reqwest::Method::POST, "/seen", Some(json!({"delivery_ids": [delivery]}))).await;
        assert_eq!(marked["marked"], 0, "{db}: A marked B's message seen");

        let forged =
            Widget { session: a.session.replace(&format!(".{}.", a.contact_id), &format!(".{}.", b.contact_id)), ..a };
        let (status, _) = forged.call(reqwest::Method::GET, "/messages", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db}: a forged session was accepted");
        let none = Widget { session: String::new(), ..forged };
        assert_eq!(none.call(reqwest::Method::GET, "/messages", None).await.0, StatusCode::UNAUTHORIZED);
        s.stop().await;
    }
}

#[tokio::test]
async fn origins_are_limited_to_the_workspace_list() {
    for s in servers().await {
        let db = s.db;
        s.store.update_messenger_settings(s.workspace.id, true, &["https://shop.example".to_owned()]).await.unwrap();
        let client = reqwest::Client::new();
        let boot_from = |origin: &'static str| {
            client
                .post(format!("{}/messenger/v1/boot", s.base))
                .header("origin", origin)
                .json(&json!({"app_id": s.workspace.app_id, "user_id": "o", "user_hash": user_hash(&s.workspace.identity_secret, "o")}))
                .send()
        };
        let ok = boot_from("https://shop.example").await.unwrap();
        assert_eq!(ok.status(), StatusCode::OK, "{db}");
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://shop.example");
        let refused = boot_from("https://evil.example").await.unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{db}");
        let preflight = client
            .request(reqwest::Method::OPTIONS, format!("{}/messenger/v1/messages", s.base))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "GET")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
        assert!(preflight.headers()["access-control-allow-headers"].to_str().unwrap().contains("x-messenger-session"));
        s.stop().await;
    }
}

#[tokio::test]
async fn teammates_replies_reach_the_open_messenger_at_once_and_after_a_refetch() {
    for s in servers().await {
        let db = s.db;
        let w = Widget::boot(&s, verified(&s, "cv", "Cleo")).await;
        let mut socket = w.socket().await;

        // POST /messages goes through the manual-message send, so it is pushed like one.
        let (status, m) = s
            .post("/messages", json!({"message_type": "inapp", "body": "Hi {{first_name}}", "from": {"type": "admin", "id": s.admin_id}, "to": {"type": "user", "user_id": "cv"}, "create_conversation_without_contact_reply": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        let pushed = next_text(&mut socket).await;
        assert_eq!(
            (pushed["type"].as_str(), pushed["item"]["html"].as_str()),
            (Some("message"), Some("<p>Hi Cleo</p>")),
            "{db}: {pushed}"
        );
        let message_conversation = m["conversation_id"].as_str().unwrap().to_owned();

        let (status, started) =
            w.call(reqwest::Method::POST, "/conversations", Some(json!({"body": "Where is my order?"}))).await;
        assert_eq!(status, StatusCode::OK, "{db}: {started}");
        let cid = started["id"].as_str().unwrap().to_owned();
        let reply = |kind: &str, body: &str| json!({"message_type": kind, "type": "admin", "admin_id": s.admin_id, "body": body});
        let (status, _) = s.post(&format!("/conversations/{cid}/reply"), reply("note", "internal: refund them")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = s
            .post(
                &format!("/conversations/{cid}/reply"),
                reply("comment", "Hi <script>alert(1)</script> **{{first_name}}**"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // The note never reaches the contact: the next frame is the comment.
        let frame = next_text(&mut socket).await;
        assert_eq!(
            (frame["type"].as_str(), frame["conversation_id"].as_str()),
            (Some("conversation_part"), Some(cid.as_str())),
            "{db}: {frame}"
        );
        let part = &frame["part"];
        let (_, me) = s.get("/me").await;
        assert_eq!((part["author"].as_str(), &part["sender"]["name"]), (Some("admin"), &me["name"]), "{db}: {frame}");
        let html = part["html"].as_str().unwrap();
        assert!(
            html.contains("<strong>Cleo</strong>") && html.contains("&lt;script&gt;") && !html.contains("<script"),
            "{db}: {html}"
        );

        // A reply to the conversation the message opened arrives too.
        s.post(&format!("/conversations/{message_conversation}/reply"), reply("comment", "Anything else?")).await;
        let frame = next_text(&mut socket).await;
        assert_eq!(frame["conversation_id"], message_conversation.as_str(), "{db}: {frame}");

        // A refetch shows the same, still without the note.
        let fetched = w.messages().await;
        let text = fetched.to_string();
        assert!(!text.contains("refund them"), "{db}: a note reached the contact: {text}");
        let conversation = &fetched["conversations"][0];
        assert_eq!(conversation["id"], cid.as_str(), "{db}: {fetched}");
        let authors: Vec<&str> =
            conversation["parts"].as_array().unwrap().iter().map(|p| p["author"].as_str().unwrap()).collect();
        assert_eq!(authors, ["user", "admin"], "{db}");
        assert_eq!(conversation["parts"][1]["html"], html, "{db}");
        let opened = &fetched["items"][0]["conversation"];
        assert_eq!(opened["id"], message_conversation.as_str(), "{db}: {fetched}");
        let last = opened["parts"].as_array().unwrap().last().unwrap();
        assert_eq!(last["html"], "<p>Anything else?</p>", "{db}: {opened}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_click_counts_once_for_the_contact_whose_message_it_is() {
    for s in servers().await {
        let db = s.db;
        let ann = Widget::boot(&s, verified(&s, "ann", "Ann")).await;
        let ben = Widget::boot(&s, verified(&s, "ben", "Ben")).await;
        let (_, m) = s
            .post("/manual_messages", json!({"title": "Guide", "channel": "chat", "body": "[Read the guide](https://docs.example.test/guide)", "audience": {"everyone": true}, "send": true}))
            .await;
        let id: i64 = m["id"].as_str().unwrap().parse().unwrap();
        let item = ann.messages().await["items"][0].clone();
        assert!(item["html"].as_str().unwrap().contains("href=\"https://docs.example.test/guide\""), "{db}: {item}");
        let delivery = item["delivery_id"].as_str().unwrap().to_owned();
        ben.messages().await;

        // Ben cannot click for Ann.
        let (status, body) = ben.call(reqwest::Method::POST, &format!("/deliveries/{delivery}/click"), None).await;
        assert_eq!((status, &body["clicked"]), (StatusCode::OK, &json!(false)), "{db}: {body}");
        assert_eq!(s.store.message_stats(s.workspace.id, id).await.unwrap().clicked, 0, "{db}: Ben's click counted");

        // Ann's first click counts; the second does not count again.
        let (_, first) = ann.call(reqwest::Method::POST, &format!("/deliveries/{delivery}/click"), None).await;
        let (_, again) = ann.call(reqwest::Method::POST, &format!("/deliveries/{delivery}/click"), None).await;
        assert_eq!((&first["clicked"], &again["clicked"]), (&json!(true), &json!(false)), "{db}");
        let stats = s.store.message_stats(s.workspace.id, id).await.unwrap();
        assert_eq!((stats.clicked, stats.seen, stats.sent), (1, 1, 2), "{db}: a click is also a view");
        let (_, clicked) = s.get(&format!("/manual_messages/{id}/recipients?stat=clicked")).await;
        assert_eq!(clicked["data"][0]["id"], json!(ann.contact_id), "{db}: {clicked}");
        assert_eq!(clicked["total_count"], 1, "{db}");
        s.stop().await;
    }
}

/// The contact's `last_seen_at`, read from the database.
async fn last_seen(s: &Server, contact: &str) -> Option<i64> {
    s.store.contact(s.workspace.id, contact.parse().unwrap()).await.unwrap().unwrap().last_seen_at
}

#[tokio::test]
async fn pings_keep_last_seen_fresh_for_a_verified_contact_only() {
    for s in servers().await {
        let db = s.db;
        let ann = Widget::boot(&s, verified(&s, "ann", "Ann")).await;
        let ben = Widget::boot(&s, verified(&s, "ben", "Ben")).await;
        // Long ago, so a ping's effect shows.
        for w in [&ann, &ben] {
            s.store.touch_contacts(s.workspace.id, &[w.contact_id.parse().unwrap()], 1_000).await.unwrap();
        }
        let (_, archived) = s.post(&format!("/contacts/{}/archive", ben.contact_id), json!({})).await;
        assert_eq!(archived["archived"], json!(true), "{db}: {archived}");

        for w in [&ann, &ben] {
            let (status, _) = w.call(reqwest::Method::POST, "/ping", None).await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{db}");
        }
        let forged = Widget { session: format!("{}x", ann.session), ..ann };
        assert_eq!(forged.call(reqwest::Method::POST, "/ping", None).await.0, StatusCode::UNAUTHORIZED, "{db}");

        // Pings are written in batches every second: wait for Ann's (a bound, not a measurement).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while last_seen(&s, &forged.contact_id).await == Some(1_000) {
            assert!(tokio::time::Instant::now() < deadline, "{db}: the ping never reached last_seen_at");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(last_seen(&s, &forged.contact_id).await > Some(1_700_000_000), "{db}");
        assert_eq!(last_seen(&s, &ben.contact_id).await, Some(1_000), "{db}: an archived contact's ping was written");
        s.stop().await;
    }
}

/// HMAC-SHA256 as hex, for forging tokens the way an attacker would.
fn hmac_hex(key: &[u8], data: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn no_user_hash_a_company_hands_out_can_sign_a_session() {
    for s in servers().await {
        let db = s.db;
        let victim = Widget::boot(&s, verified(&s, "victim", "Vera")).await;
        let (_, m) = s
            .post("/manual_messages", json!({"title": "Private", "channel": "chat", "body": "Your reset code is Quokka-Umbra", "audience": {"contact_ids": [victim.contact_id]}, "send": true}))
            .await;
        assert_eq!(m["state"], "sent", "{db}: {m}");
        assert!(
            victim.messages().await.to_string().contains("Quokka-Umbra"),
            "{db}: the victim reads their own message"
        );

        // The attacker signs up with a user id of their choosing and gets its user_hash, as any
        // user does; that hash must not be able to sign a session for anyone.
        let mut tokens = Vec::new();
        for chosen in ["tidings messenger session key", "tidings/messenger-session-key/v2"] {
            let key = user_hash(&s.workspace.identity_secret, chosen);
            let attacker = Widget::boot(&s, json!({"user_id": chosen, "user_hash": key})).await;
            assert_ne!(attacker.contact_id, victim.contact_id);
            let expires = tidings_web::auth::now() + 3600;
            let (ws, contact) = (s.workspace.id, &victim.contact_id);
            for payload in [format!("v1.{ws}.{contact}.{expires}"), format!("v2.{ws}.{contact}.{expires}.u")] {
                tokens.push(format!("{payload}.{}", hmac_hex(key.as_bytes(), &payload)));
            }
        }
        for token in tokens {
            let forged = Widget { session: token.clone(), ..Widget::boot(&s, json!({})).await };
            let got = forged.call(reqwest::Method::GET, "/messages", None).await;
            assert_error(db, &got, StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(!got.1.to_string().contains("Quokka-Umbra"), "{db}: {token} read the victim's messages");
            let url = format!("{}/messenger/v1/ws?session={token}", s.base.replace("http://", "ws://"));
            assert!(tokio_tungstenite::connect_async(url).await.is_err(), "{db}: {token} opened a socket");
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn a_visitors_session_ends_when_its_contact_becomes_a_verified_user() {
    for s in servers().await {
        let db = s.db;
        let visitor = Widget::boot(&s, json!({"name": "Guest"})).await;
        assert_eq!(visitor.call(reqwest::Method::GET, "/messages", None).await.0, StatusCode::OK, "{db}");

        // The company's server turns the lead into a known user.
        let (status, c) =
            s.put(&format!("/contacts/{}", visitor.contact_id), json!({"role": "user", "external_id": "acct-9"})).await;
        assert_eq!((status, c["role"].as_str()), (StatusCode::OK, Some("user")), "{db}: {c}");
        let got = visitor.call(reqwest::Method::GET, "/messages", None).await;
        assert_error(db, &got, StatusCode::UNAUTHORIZED, "unauthorized");
        // Nor does the old session bring the visitor back as that user at boot.
        let again = Widget::boot(&s, json!({"session": visitor.session})).await;
        assert_ne!(again.contact_id, visitor.contact_id, "{db}: a new lead, not the user");
        // The user signs in with a user_hash as any user does.
        let user = Widget::boot(&s, verified(&s, "acct-9", "Guest")).await;
        assert_eq!(user.contact_id, visitor.contact_id, "{db}");
        assert_eq!(user.call(reqwest::Method::GET, "/messages", None).await.0, StatusCode::OK, "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_renderers_own_markers_in_a_body_never_make_a_script_link() {
    // U+E000 is the character the renderer's placeholders start with.
    let bodies = ["[x](\u{E000}javascript:alert(1))", "![y](\u{E000}javascript:alert(1)) {{name}}"];
    let unsafe_html = |html: &str| html.to_ascii_lowercase().replace(['\t', '\n'], "").contains("javascript:");
    for s in servers().await {
        let db = s.db;
        let w = Widget::boot(&s, verified(&s, "pua", "Pia")).await;
        for body in bodies {
            let (status, preview) =
                s.post("/manual_messages/preview", json!({"body": body, "contact_id": w.contact_id})).await;
            assert_eq!(status, StatusCode::OK, "{db}: {preview}");
            assert!(!unsafe_html(preview["html"].as_str().unwrap()), "{db}: preview {preview}");

            let (_, m) = s
                .post(
                    "/manual_messages",
                    json!({"channel": "chat", "body": body, "audience": {"contact_ids": [w.contact_id]}, "send": true}),
                )
                .await;
            assert!(!unsafe_html(m["body_html"].as_str().unwrap()), "{db}: body_html {m}");
        }
        let messages = w.messages().await;
        assert_eq!(messages["items"].as_array().unwrap().len(), 2, "{db}: {messages}");
        assert!(!unsafe_html(&messages.to_string()), "{db}: the Messenger's html {messages}");

        let (_, c) =
            s.post("/conversations", json!({"from": {"type": "user", "id": w.contact_id}, "body": "Help"})).await;
        let path = format!("/conversations/{}/reply", c["conversation_id"].as_str().unwrap());
        for message_type in ["comment", "note"] {
            let reply = json!({"message_type": message_type, "type": "admin", "admin_id": s.admin_id.to_string(), "body": bodies[0]});
            let (status, c) = s.post(&path, reply).await;
            assert_eq!(status, StatusCode::OK, "{db}: {c}");
            assert!(!unsafe_html(&c.to_string()), "{db}: a teammate's {message_type}: {c}");
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn rotating_the_identity_secret_refuses_old_hashes_and_ends_every_session() {
    for s in servers().await {
        let db = s.db;
        let old = s.workspace.identity_secret.clone();
        let ann = Widget::boot(&s, verified(&s, "ann", "Ann")).await;
        let visitor = Widget::boot(&s, json!({})).await;
        let mut socket = ann.socket().await;
        // The ping reads the workspace through this server's cache: fill it with the old secret.
        assert_eq!(ann.call(reqwest::Method::POST, "/ping", None).await.0, StatusCode::NO_CONTENT, "{db}");

        let (status, rotated) = s.post("/identity_secret/rotate", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {rotated}");
        assert_eq!(rotated["type"], "identity_secret", "{db}");
        let new = rotated["identity_secret"].as_str().unwrap().to_owned();
        assert!(new.len() >= 40 && new != old, "{db}: {rotated}");
        assert!(rotated["rotated_at"].as_i64().is_some_and(|t| t > 1_700_000_000), "{db}: {rotated}");
        assert_eq!(s.get("/identity_secret").await, (StatusCode::OK, rotated.clone()), "{db}");

        let stale = boot(&s, json!({"user_id": "ann", "user_hash": user_hash(&old, "ann")})).await;
        assert_error(db, &stale, StatusCode::UNAUTHORIZED, "identity_verification_failed");
        for (who, w) in [("a user", &ann), ("a visitor", &visitor)] {
            let (status, _) = w.call(reqwest::Method::GET, "/messages", None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{db}: {who}'s session outlived the secret");
        }
        let (status, _) = ann.call(reqwest::Method::POST, "/ping", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{db}: the cached workspace kept the old secret");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, socket.next()).await.expect("the socket stayed open") {
                None | Some(Err(_)) | Some(Ok(Ws::Close(_))) => break,
                Some(Ok(_)) => {}
            }
        }

        let again = Widget::boot(&s, json!({"user_id": "ann", "user_hash": user_hash(&new, "ann")})).await;
        assert_eq!(again.contact_id, ann.contact_id, "{db}: the same user, with the new hash");
        assert_eq!(again.call(reqwest::Method::GET, "/messages", None).await.0, StatusCode::OK, "{db}");
        s.stop().await;
    }
}

/// A delivery window that is closed now whatever the zone: one day, three days from today.
fn closed_window() -> Json {
    let days_since_epoch =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 86_400;
    // 1970-01-01 was a Thursday (4).
    let today = (days_since_epoch + 3) % 7 + 1;
    let later = (today + 2) % 7 + 1;
    json!({"days": [later], "start": "00:00", "end": "23:59"})
}

#[tokio::test]
async fn a_message_waiting_for_its_window_reaches_no_messenger_until_it_opens() {
    for s in servers().await {
        let db = s.db;
        let online = Widget::boot(&s, verified(&s, "won", "Wanda")).await;
        let offline = Widget::boot(&s, verified(&s, "woff", "Walt")).await;
        let mut socket = online.socket().await;
        let to = json!({"contact_ids": [online.contact_id, offline.contact_id]});
        let (status, waiting) = s
            .post("/manual_messages", json!({"title": "Later", "channel": "chat", "body": "In your window", "audience": to, "delivery_window": closed_window(), "send": true}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {waiting}");
        let waiting_id = waiting["id"].as_str().unwrap().to_owned();
        let (_, now) = s
            .post(
                "/manual_messages",
                json!({"title": "Now", "channel": "chat", "body": "Right away", "audience": to, "send": true}),
            )
            .await;
        // The open Messenger is pushed the second message only; the fetch and the stats below
        // show the first reached nobody (a delivery pushed is a delivery marked sent).
        let pushed = next_text(&mut socket).await;
        assert_eq!(pushed["item"]["message_id"], now["id"], "{db}: {pushed}");
        let fetched = offline.messages().await;
        let ids: Vec<&str> =
            fetched["items"].as_array().unwrap().iter().map(|i| i["message_id"].as_str().unwrap()).collect();
        assert_eq!(ids, [now["id"].as_str().unwrap()], "{db}: the waiting one is not fetched: {fetched}");
        assert_eq!(fetched["unread_count"], 1, "{db}: nor counted unread");
        let (_, got) = s.get(&format!("/manual_messages/{waiting_id}")).await;
        assert_eq!((got["stats"]["pending"].as_i64(), got["stats"]["sent"].as_i64()), (Some(2), Some(0)), "{db}");

        // Its time comes (as when the window opens): the server's background task wakes it, and
        // it is pushed to the open Messenger and fetched by the other, as a fresh send.
        let due = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
        s.store
            .execute_raw(&format!("UPDATE deliveries SET due_at = {due} WHERE message_id = {waiting_id}"))
            .await
            .unwrap();
        let pushed = next_text(&mut socket).await;
        assert_eq!(pushed["item"]["message_id"], waiting_id.as_str(), "{db}: {pushed}");
        let fetched = offline.messages().await;
        assert_eq!(fetched["items"].as_array().unwrap().len(), 2, "{db}: {fetched}");
        let (_, got) = s.get(&format!("/manual_messages/{waiting_id}")).await;
        assert_eq!((got["stats"]["pending"].as_i64(), got["stats"]["sent"].as_i64()), (Some(0), Some(2)), "{db}");
        s.stop().await;
    }
}
