//! Manual messages over the API: compose, audience count, send, stats, stop, follow-up, preview,
//! list and search.

use reqwest::StatusCode;
use serde_json::json;

use super::support::{assert_error, servers};

#[tokio::test]
async fn compose_send_stop_and_follow_up() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        let ada = s
            .contact(json!({"email": "ada@example.test", "name": "Ada Lovelace", "custom_attributes": {"plan": "pro"}}))
            .await;
        s.contact(json!({"email": "bob@example.test", "name": "Bob", "custom_attributes": {"plan": "pro"}})).await;
        s.contact(json!({"email": "cy@example.test", "custom_attributes": {"plan": "free"}})).await;
        let pro = json!({"query": {"field": "custom_attributes.plan", "operator": "=", "value": "pro"}});

        let (_, count) = s.post("/manual_messages/audience_count", json!({"audience": pro})).await;
        assert_eq!(count["count"], 2, "{db}: {count}");
        let (status, draft) = s
            .post("/manual_messages", json!({"title": "Pro welcome", "channel": "chat", "body": "Hi **{{first_name | fallback: \"there\"}}**", "audience": pro}))
            .await;
        assert_eq!(status, StatusCode::OK, "{db}: {draft}");
        assert_eq!((draft["state"].as_str(), draft["stats"]["targeted"].as_i64()), (Some("draft"), Some(0)));
        let id = draft["id"].as_str().unwrap().to_owned();

        let (_, preview) = s.post(&format!("/manual_messages/{id}/preview"), json!({"contact_id": ada["id"]})).await;
        assert_eq!(preview["html"], "<p>Hi <strong>Ada</strong></p>", "{db}: {preview}");

        let (status, sent) = s.post(&format!("/manual_messages/{id}/send"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {sent}");
        assert_eq!(
            (sent["state"].as_str(), sent["stats"]["targeted"].as_i64(), sent["stats"]["pending"].as_i64()),
            (Some("sent"), Some(2), Some(2))
        );
        // Someone who matches only after the send never receives it.
        s.contact(json!({"email": "late@example.test", "custom_attributes": {"plan": "pro"}})).await;
        let (_, again) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(again["stats"]["targeted"], 2, "{db}");
        assert_error(
            db,
            &s.post(&format!("/manual_messages/{id}/send"), json!({})).await,
            StatusCode::CONFLICT,
            "message_already_sent",
        );
        assert_error(
            db,
            &s.put(&format!("/manual_messages/{id}"), json!({"title": "x"})).await,
            StatusCode::CONFLICT,
            "message_already_sent",
        );

        let (status, stopped) = s.post(&format!("/manual_messages/{id}/stop"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {stopped}");
        assert_eq!(
            (stopped["state"].as_str(), stopped["stats"]["cancelled"].as_i64(), stopped["stats"]["pending"].as_i64()),
            (Some("stopped"), Some(2), Some(0))
        );
        for action in ["stop", "send"] {
            let e = assert_error(
                db,
                &s.post(&format!("/manual_messages/{id}/{action}"), json!({})).await,
                StatusCode::CONFLICT,
                "message_stopped",
            );
            assert!(e["message"].as_str().unwrap().contains("can never be resumed"), "{db}: {e}");
        }
        let (_, cancelled) = s.get(&format!("/manual_messages/{id}/recipients?stat=cancelled")).await;
        assert_eq!(cancelled["total_count"], 2, "{db}: {cancelled}");

        let (_, follow) = s.post(&format!("/manual_messages/{id}/follow_up"), json!({})).await;
        assert_eq!(follow["state"], "draft", "{db}: {follow}");
        let (_, count) = s.post("/manual_messages/audience_count", json!({"audience": follow["audience"]})).await;
        assert_eq!(count["count"], 2, "{db}: the follow-up targets exactly those the stopped message never reached");
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_messages_are_refused_with_the_field() {
    for s in servers().await {
        let db = s.db;
        let cases = [
            (json!({"channel": "chat", "body": ""}), "body"),
            (json!({"channel": "chat", "body": "Hi {{frist_name}}"}), "body"),
            (json!({"channel": "fax", "body": "x"}), "channel"),
            (
                json!({"channel": "chat", "body": "x", "audience": {"query": {"field": "nope", "operator": "=", "value": 1}}}),
                "audience.query.field",
            ),
            (json!({"channel": "chat", "body": "x", "audience": {"segments": [1]}}), "audience.segments"),
            (json!({"channel": "chat", "body": "x", "send": true}), "audience"),
        ];
        for (body, field) in cases {
            let got = s.post("/manual_messages", body.clone()).await;
            let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
            assert_eq!(e["field"], field, "{db}: {body} -> {e}");
        }
        let (_, list) = s.get("/manual_messages").await;
        assert_eq!(list["total_count"], 0, "{db}: refused messages were saved");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_list_has_tabs_and_searches_title_or_sender() {
    for s in servers().await {
        let db = s.db;
        s.contact(json!({"email": "x@example.test"})).await;
        let everyone = json!({"everyone": true});
        s.post("/manual_messages", json!({"title": "Draft one", "body": "a"})).await;
        s.post(
            "/manual_messages",
            json!({"title": "Later", "body": "b", "audience": everyone, "scheduled_at": 4_102_444_800i64}),
        )
        .await;
        s.post(
            "/manual_messages",
            json!({"title": "Big news", "channel": "post", "body": "c", "audience": everyone, "send": true}),
        )
        .await;
        let titles = |v: &serde_json::Value| {
            v["data"].as_array().unwrap().iter().map(|m| m["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(titles(&s.get("/manual_messages?state=draft").await.1), ["Draft one"], "{db}");
        assert_eq!(titles(&s.get("/manual_messages?state=scheduled").await.1), ["Later"], "{db}");
        assert_eq!(titles(&s.get("/manual_messages?state=sent").await.1), ["Big news"], "{db}");
        assert_eq!(titles(&s.get("/manual_messages?search=NEWS").await.1), ["Big news"], "{db}");
        let (_, me) = s.get("/me").await;
        let by_sender = s.get(&format!("/manual_messages?search={}", me["name"].as_str().unwrap())).await.1;
        assert_eq!(by_sender["total_count"], 3, "{db}: {by_sender}");
        s.stop().await;
    }
}

#[tokio::test]
async fn scheduled_messages_go_out_at_their_time_exactly_once_with_two_servers_running() {
    for s in servers().await {
        let db = s.db;
        let _second = s.another_instance().await;
        for i in 0..3 {
            s.contact(json!({"email": format!("s{i}@example.test")})).await;
        }
        let at = tidings_web::auth::now() + 2;
        let (_, m) = s
            .post(
                "/manual_messages",
                json!({"title": "Later", "body": "Hello", "audience": {"everyone": true}, "scheduled_at": at}),
            )
            .await;
        assert_eq!(m["state"], "scheduled", "{db}: {m}");
        let id = m["id"].as_str().unwrap().to_owned();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let sent = loop {
            let (_, now) = s.get(&format!("/manual_messages/{id}")).await;
            if now["state"] == "sent" {
                break now;
            }
            assert!(std::time::Instant::now() < deadline, "{db}: not sent 20 s after its time: {now}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert!(sent["sent_at"].as_i64().unwrap() >= at, "{db}: sent before its time: {sent}");
        assert_eq!(sent["stats"]["targeted"], 3, "{db}");
        // Both schedulers saw it due; the conditional send let only one write the snapshot.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let deliveries =
            s.store.scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id}")).await.unwrap();
        assert_eq!(deliveries, 3, "{db}: every recipient exactly once");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_delivery_window_is_taken_shown_edited_and_refused_by_its_path() {
    for s in servers().await {
        let db = s.db;
        let office = json!({"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:30"});
        let (status, m) =
            s.post("/manual_messages", json!({"title": "Office hours", "body": "Hi", "delivery_window": office})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {m}");
        assert_eq!(m["delivery_window"], office, "{db}");
        let id = m["id"].as_str().unwrap().to_owned();
        let (_, got) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(got["delivery_window"], office, "{db}: stored");

        // Each wrong part is named by its path, all at once, and nothing changes.
        let got = s
            .put(
                &format!("/manual_messages/{id}"),
                json!({"delivery_window": {"days": [1, 2, 8], "start": "9am", "end": "17:00"}}),
            )
            .await;
        let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "delivery_window.days[2]", "{db}: {}", got.1);
        assert_eq!(got.1["errors"][1]["field"], "delivery_window.start", "{db}: {}", got.1);
        for (window, field) in [
            (json!({"days": [], "start": "09:00", "end": "17:00"}), "delivery_window.days"),
            (json!({"days": [6], "start": "09:00", "end": "09:00"}), "delivery_window.end"),
            (json!({"days": [6], "start": "09:00"}), "delivery_window.end"),
            (json!({"days": [6], "start": "09:00", "end": "10:00", "zone": "UTC"}), "delivery_window.zone"),
            (json!("weekdays"), "delivery_window"),
        ] {
            let got = s.put(&format!("/manual_messages/{id}"), json!({"delivery_window": window})).await;
            let e = &got.1["errors"][0];
            assert_eq!(got.0, StatusCode::BAD_REQUEST, "{db}: {window} -> {}", got.1);
            assert_eq!(e["field"], field, "{db}: {window} -> {}", got.1);
        }
        let (_, got) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(got["delivery_window"], office, "{db}: a refused edit changed nothing");

        // Overnight is allowed; null removes the window; leaving it out keeps it.
        let night = json!({"days": [5], "start": "22:00", "end": "06:00"});
        let (_, got) = s.put(&format!("/manual_messages/{id}"), json!({"delivery_window": night})).await;
        assert_eq!(got["delivery_window"], night, "{db}");
        let (_, got) = s.put(&format!("/manual_messages/{id}"), json!({"title": "Renamed"})).await;
        assert_eq!(got["delivery_window"], night, "{db}: kept");
        let (_, got) = s.put(&format!("/manual_messages/{id}"), json!({"delivery_window": null})).await;
        assert_eq!(got["delivery_window"], serde_json::Value::Null, "{db}: removed");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_send_to_nobody_is_refused_naming_the_audience_and_changes_nothing() {
    for s in servers().await {
        let db = s.db;
        s.attribute("plan", "string").await;
        s.contact(json!({"email": "ada@example.test", "custom_attributes": {"plan": "free"}})).await;
        let nobody = json!({"query": {"field": "custom_attributes.plan", "operator": "=", "value": "pro"}});
        let got = s.post("/manual_messages", json!({"body": "Hi", "audience": nobody, "send": true})).await;
        let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "audience", "{db}: {}", got.1);
        let (_, list) = s.get("/manual_messages").await;
        assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{db}: the refused send saved nothing: {list}");

        // A draft to nobody may be saved, but not sent; it stays a draft.
        let (status, draft) = s.post("/manual_messages", json!({"body": "Hi", "audience": nobody})).await;
        assert_eq!(status, StatusCode::OK, "{db}: {draft}");
        let id = draft["id"].as_str().unwrap().to_owned();
        let got = s.post(&format!("/manual_messages/{id}/send"), json!({})).await;
        let e = assert_error(db, &got, StatusCode::BAD_REQUEST, "parameter_invalid");
        assert_eq!(e["field"], "audience", "{db}: {}", got.1);
        let (_, again) = s.get(&format!("/manual_messages/{id}")).await;
        assert_eq!(again["state"], "draft", "{db}: {again}");
        s.stop().await;
    }
}

#[tokio::test]
async fn a_message_without_a_title_is_named_by_its_first_words_with_tags_read_as_words() {
    for s in servers().await {
        let db = s.db;
        s.contact(json!({"email": "ada@example.test"})).await;
        let everyone = json!({"everyone": true});
        for (body, title) in [
            ("Hi {{first_name | fallback: \"there\"}}, news!\n\nMore below.", "Hi there, news!"),
            ("# Hello {{first_name}} at {{email}}", "Hello First name at Email"),
        ] {
            let (status, m) = s.post("/manual_messages", json!({"body": body, "audience": everyone})).await;
            assert_eq!(status, StatusCode::OK, "{db}: {m}");
            assert_eq!(m["title"], title, "{db}: {m}");
        }
        s.stop().await;
    }
}
