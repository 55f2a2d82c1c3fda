//! The Inbox's pages over real HTTP, on SQLite and on PostgreSQL: only a logged-in teammate sees
//! them, only their workspace's conversations are listed, views and states hold what they say,
//! "More conversations" pages by keyset to the end, search matches contacts and words, escapes
//! what contacts wrote, presence needs the session's token, the light composer lands in the new
//! conversation, and saved replies are kept with clear refusals.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tidings_store::TeammateRole;

use super::support::{Mate, servers};

/// The conversation ids an Inbox page lists, in order.
fn listed(html: &str) -> Vec<String> {
    html.split("class=\"inbox-entry")
        .skip(1)
        .filter_map(|s| s.split("data-id=\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect()
}

/// The `href` of the "More conversations" link, unescaped.
fn older(html: &str) -> Option<String> {
    let after = html.split("id=\"inbox-older\"").next()?;
    let href = after.rsplit("href=\"").next()?.split('"').next()?;
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

#[tokio::test]
async fn the_inbox_lists_views_pages_and_searches_its_own_workspace() {
    for s in servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let grace = Mate::new(&s, "grace", TeammateRole::Member).await;
        let ada = s.contact(json!({"role": "user", "name": "Ada <b>Lovelace</b>", "email": "ada@example.test"})).await;
        let bob = s.contact(json!({"role": "user", "name": "Bob", "email": "bob@example.test"})).await;
        let mut ids = Vec::new();
        for i in 0..30 {
            let who = if i % 3 == 0 { &bob } else { &ada };
            let (st, m) = s
                .post(
                    "/conversations",
                    json!({"from": {"type": "user", "id": who["id"]}, "body": format!("Question {i} <script>")}),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{db}: {m}");
            ids.push(m["conversation_id"].as_str().unwrap().to_owned());
        }
        // Without a session: the login form.
        let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = anonymous.get(format!("{}/app/inbox", s.base)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{db}: {}", r.status());

        // Unassigned, open: 25 on the first page, newest first, then the last five.
        let page = owner.open(&s, "/app/inbox?view=unassigned").await.text().await.unwrap();
        let first = listed(&page);
        let newest: Vec<String> = ids.iter().rev().take(25).cloned().collect();
        assert_eq!(first, newest, "{db}");
        let preview =
            page.split("entry-preview\">").nth(1).unwrap_or_default().split("</span>").next().unwrap_or_default();
        assert_eq!(preview, "Question 29 &#60;script&#62;", "{db}: what a contact wrote is escaped");
        assert!(!page.contains("<script>"), "{db}");
        assert!(page.contains("Ada &#60;b&#62;Lovelace&#60;/b&#62;"), "{db}: a contact's name is escaped");
        let next = older(&page).expect("a link to more");
        let rest = listed(&owner.open(&s, &next).await.text().await.unwrap());
        let oldest: Vec<String> = ids.iter().rev().skip(25).cloned().collect();
        assert_eq!(rest, oldest, "{db}: the next page starts after the last one shown");

        // Assign one to Grace: it leaves Unassigned and is in her inbox and in "All".
        let grace_id = grace.id.to_string();
        let (st, body) = owner
            .session_call(&s, Method::POST, &format!("/conversations/{}/parts", ids[0]), Some(json!({"message_type": "assignment", "type": "admin", "admin_id": owner.id.to_string(), "assignee_id": grace_id})))
            .await;
        assert_eq!(st, StatusCode::OK, "{db}: {body}");
        let hers = listed(&grace.open(&s, "/app/inbox").await.text().await.unwrap());
        assert_eq!(hers, [ids[0].clone()], "{db}: Grace's inbox");
        let all = owner.open(&s, "/app/inbox?view=all").await.text().await.unwrap();
        assert!(all.contains("class=\"count\">30<"), "{db}: the Open tab counts all 30");

        // Closed: nothing until one is closed.
        let (st, _) = s
            .post(
                &format!("/conversations/{}/parts", ids[1]),
                json!({"message_type": "close", "admin_id": s.admin_id.to_string()}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{db}");
        assert_eq!(
            listed(&owner.open(&s, "/app/inbox?view=all&state=closed").await.text().await.unwrap()),
            [ids[1].clone()],
            "{db}"
        );

        // Search: Bob's by his email; words of a part.
        let bobs = listed(&owner.open(&s, "/app/inbox?view=all&q=bob%40example").await.text().await.unwrap());
        assert_eq!(bobs.len(), 10, "{db}: {bobs:?}");
        let found = listed(&owner.open(&s, "/app/inbox?view=all&q=question+17").await.text().await.unwrap());
        assert_eq!(found, [ids[17].clone()], "{db}");

        // Another workspace's teammate sees none of it, and not the conversation's page.
        let (_, other_token) = s.other_workspace().await;
        let (st, _) = s.call_as(&other_token, Method::GET, &format!("/conversations/{}", ids[0]), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn presence_start_a_conversation_and_saved_replies_go_through_their_forms() {
    for s in servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let ada = s.contact(json!({"role": "user", "name": "Ada", "email": "ada@example.test"})).await;
        let ada_id = ada["id"].as_str().unwrap();

        // The light composer: the chat is sent and the answer goes to its conversation.
        let (st, page) = owner
            .form(&s, &format!("/app/contacts/{ada_id}/conversations"), &[("body", "Hi {{first_name}}, got a minute?")])
            .await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{db}: {page}");
        let (_, list) = s.get("/conversations").await;
        let c = &list["conversations"][0];
        assert_eq!(c["source"]["body"], "<p>Hi Ada, got a minute?</p>", "{db}: {c}");
        assert_eq!(c["admin_assignee_id"], json!(s.admin_id), "{db}: its sender is assigned");
        let (st, page) = owner.form(&s, &format!("/app/contacts/{ada_id}/conversations"), &[("body", "  ")]).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("id=\"start-error\""), "{db}: the form says what is wrong");

        // Presence needs the session's token and a conversation of the workspace.
        let cid = c["id"].as_str().unwrap();
        let (st, _) = owner.form(&s, &format!("/app/conversations/{cid}/presence"), &[("typing", "true")]).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{db}");
        let (st, _) = owner.form(&s, "/app/conversations/999999/presence", &[]).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{db}");

        // Saved replies: kept, named once, refused with the reason.
        let (st, page) =
            owner.form(&s, "/app/saved-replies", &[("name", "Thanks"), ("body", "Thanks {{first_name}}!")]).await;
        assert_eq!(st, StatusCode::OK, "{db}");
        assert!(page.contains("Saved “Thanks”"), "{db}");
        let (st, page) = owner.form(&s, "/app/saved-replies", &[("name", "Thanks"), ("body", "again")]).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("Another saved reply has this name"), "{db}");
        let conversation = owner.open(&s, &format!("/app/conversations/{cid}")).await.text().await.unwrap();
        assert!(
            conversation.contains("value=\"Thanks {{first_name}}!\">Thanks</option>"),
            "{db}: the composer offers it"
        );
        s.stop().await;
    }
}
