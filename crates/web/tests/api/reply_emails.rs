//! Reply emails over real HTTP: `POST /email/inbound` takes a contact's email back, whole, and
//! answers what it did (added once, ignored and why, not ours), and Settings › Email sets how long
//! a reply may stay unseen before it is emailed, refusing a wrong delay with nothing saved.

use reqwest::StatusCode;
use serde_json::{Value as Json, json};
use tidings_engine::email::reply_letter::reply_address;
use tidings_store::TeammateRole;

use super::support::{Mate, servers};

fn email(from: &str, to: &str, id: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: Re: Hello\r\nMessage-ID: <{id}>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    )
}

#[tokio::test]
async fn inbound_emails_continue_the_conversation_their_signed_address_names() {
    for s in servers().await {
        let db = s.db;
        let client = reqwest::Client::new();
        let ada = s.contact(json!({"email": "ada@example.test", "name": "Ada"})).await;
        let (status, m) =
            s.post("/conversations", json!({"from": {"type": "user", "id": ada["id"]}, "body": "Hello"})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        let id: i64 = m["conversation_id"].as_str().unwrap().parse().unwrap();
        let address = reply_address("replies@mail.acme.test", &s.workspace, id).unwrap();
        let post = |body: String, recipient: String| {
            let client = client.clone();
            let url = format!("{}/email/inbound", s.base);
            async move {
                let r = client.post(url).query(&[("recipient", recipient)]).body(body).send().await.unwrap();
                let status = r.status();
                (status, r.json::<Json>().await.unwrap())
            }
        };

        let words = "Still broken, sorry.\r\n\r\nOn Tue, Grace wrote:\r\n> Try again\r\n";
        let (status, j) =
            post(email("Ada <ada@example.test>", &address, "a1@example.test", words), address.clone()).await;
        assert_eq!(status, StatusCode::OK, "{db}: {j}");
        assert_eq!((j["type"].as_str(), j["result"].as_str()), (Some("email_reply"), Some("added")), "{db}: {j}");
        assert_eq!(j["conversation_id"], id.to_string(), "{db}");
        let (_, c) = s.get(&format!("/conversations/{id}")).await;
        let parts = c["conversation_parts"]["conversation_parts"].as_array().unwrap();
        assert_eq!(parts.len(), 2, "{db}: the opening words and the email's: {c}");
        assert_eq!(parts[1]["body"], "<p>Still broken, sorry.</p>", "{db}: without the quote");
        assert_eq!(parts[1]["author"]["id"], ada["id"], "{db}");

        // The same email again, another sender, an email naming nothing of ours, and bytes.
        let (status, j) = post(email("ada@example.test", &address, "a1@example.test", words), String::new()).await;
        assert_eq!((status, j["result"].as_str()), (StatusCode::OK, Some("ignored")), "{db}: {j}");
        assert!(j["why"].as_str().unwrap().contains("already"), "{db}: {j}");
        let (status, j) = post(email("eve@example.test", &address, "e1@example.test", "Hi"), address.clone()).await;
        assert_eq!((status, j["result"].as_str()), (StatusCode::OK, Some("ignored")), "{db}: {j}");
        let forged = address.replacen(&format!("+r{id}."), &format!("+r{}.", id + 1), 1);
        let (status, j) = post(email("ada@example.test", &forged, "a2@example.test", "Hi"), forged.clone()).await;
        assert_eq!((status, j["result"].as_str()), (StatusCode::OK, Some("not_ours")), "{db}: {j}");
        for junk in [String::from_utf8_lossy(&[0xff, 0x00, 0xfe]).into_owned(), String::new()] {
            let (status, j) = post(junk, "nobody@x.test".into()).await;
            assert_eq!((status, j["result"].as_str()), (StatusCode::OK, Some("not_ours")), "{db}: {j}");
        }
        let (_, c) = s.get(&format!("/conversations/{id}")).await;
        assert_eq!(c["conversation_parts"]["total_count"], 2, "{db}: nothing else was added: {c}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_reply_email_delay_is_set_in_settings_and_a_wrong_one_saves_nothing() {
    for s in servers().await {
        let db = s.db;
        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;
        let page = admin.settings(&s).await;
        assert!(page.contains("Email unseen replies after N minutes"), "{db}");
        assert!(
            page.contains("name=\"reply_email_minutes\" id=\"email-reply-minutes\" inputmode=\"numeric\" value=\"5\"")
        );

        let (status, page) = admin
            .form(&s, "/app/settings/email", &[("from", "hello@acme.test"), ("reply_email_minutes", "1441")])
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("from 1 to 1440"), "{db}: the field's error is said");
        assert!(page.contains("value=\"1441\" required aria-invalid=\"true\""), "{db}: and marked, as typed");
        assert_eq!(s.store.reply_email_after(s.workspace.id).await.unwrap(), Some(300), "{db}");
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(ws.email.from, None, "{db}: nothing else was saved either");

        let (status, page) =
            admin.form(&s, "/app/settings/email", &[("from", "hello@acme.test"), ("reply_email_minutes", "15")]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(page.contains("value=\"15\""), "{db}");
        assert_eq!(s.store.reply_email_after(s.workspace.id).await.unwrap(), Some(900), "{db}");
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(ws.email.from.as_deref(), Some("hello@acme.test"), "{db}");
        s.stop().await;
    }
}
