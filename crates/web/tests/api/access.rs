//! Who may call what: every API route needs a token or a session (with CSRF for changes), and one
//! workspace's credentials can neither read nor change another's data, route by route.

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};

use super::support::{Mate, Server, assert_error, servers, servers_with_rate_limit};

/// A snapshot of everything workspace A owns, read with A's own token.
async fn snapshot(s: &Server) -> Vec<Json> {
    let mut out = Vec::new();
    for path in [
        "/contacts",
        "/tags",
        "/segments?include_count=true",
        "/data_attributes?include_archived=true",
        "/admins",
        "/manual_messages",
        "/conversations",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{}: {path}: {body}", s.db);
        out.push(body);
    }
    out
}

#[tokio::test]
async fn another_workspace_can_neither_read_nor_change_anything_route_by_route() {
    for a in servers().await {
        let db = a.db;
        a.attribute("asecret", "string").await;
        let contact = a
            .contact(json!({"email": "alice-private@a.test", "name": "Alice Private", "external_id": "a-ext", "custom_attributes": {"asecret": "x"}}))
            .await;
        let cid = contact["id"].as_str().unwrap().to_owned();
        let (_, tag) = a.post("/tags", json!({"name": "a-private-tag"})).await;
        let tid = tag["id"].as_str().unwrap().to_owned();
        a.post(&format!("/contacts/{cid}/tags"), json!({"id": tid})).await;
        let (_, seg) = a
            .post(
                "/segments",
                json!({"name": "A private segment", "query": {"field": "email", "operator": "~", "value": "alice"}}),
            )
            .await;
        let sid = seg["id"].as_str().unwrap().to_owned();
        let (_, attrs) = a.get("/data_attributes").await;
        let aid = attrs["data"].as_array().unwrap().iter().find(|d| d["name"] == "asecret").unwrap()["id"].to_string();
        let (_, message) = a
            .post("/manual_messages", json!({"title": "A private message", "body": "Hello", "channel": "chat", "audience": {"everyone": true}}))
            .await;
        let mid = message["id"].as_str().unwrap().to_owned();
        let (_, started) = a
            .post("/conversations", json!({"from": {"type": "user", "id": cid}, "body": "A private conversation"}))
            .await;
        let conv = started["conversation_id"].as_str().unwrap().to_owned();
        let before = snapshot(&a).await;
        let conversation_before = a.get(&format!("/conversations/{conv}")).await.1;
        // Read after the conversation: Alice's words in it are her last reply.
        let contact_before = a.get(&format!("/contacts/{cid}")).await.1;
        assert!(contact_before["last_replied_at"].is_i64(), "{db}: {contact_before}");

        let (_, b_token) = a.other_workspace().await;
        let (_, b_me) = a.call_as(&b_token, Method::GET, "/me", None).await;
        let b_admin = b_me["id"].as_str().unwrap().to_owned();
        let markers = [
            "alice-private",
            "Alice Private",
            "a-private-tag",
            "A private segment",
            "asecret",
            "A private message",
            "A private conversation",
        ];
        // Bodies valid in every respect but the ids of A's data, signed by B's own teammate, so
        // only workspace scoping can refuse them.
        let conversation_bodies = |path: &str| -> Vec<Json> {
            match path {
                "/messages" => vec![
                    json!({"message_type": "inapp", "body": "hijacked", "from": {"type": "admin", "id": b_admin}, "to": {"type": "user", "id": cid}}),
                ],
                "/conversations" => vec![json!({"from": {"type": "user", "id": cid}, "body": "hijacked"})],
                "/conversations/{id}/reply" => vec![
                    json!({"message_type": "comment", "type": "admin", "admin_id": b_admin, "body": "hijacked"}),
                    json!({"message_type": "comment", "type": "user", "intercom_user_id": cid, "body": "hijacked"}),
                ],
                "/conversations/{id}/parts" => vec![
                    json!({"message_type": "close", "type": "admin", "admin_id": b_admin, "body": "hijacked"}),
                    json!({"message_type": "snoozed", "admin_id": b_admin, "snoozed_until": 4_102_444_800_i64}),
                ],
                _ => vec![],
            }
        };
        // A body that would change A's data if any handler looked ids up outside the caller's workspace.
        let body = json!({
            "name": "hijacked", "id": tid, "archived": true, "email": "intruder@b.test", "role": "user",
            "query": {"field": "role", "operator": "=", "value": "user"}, "model": "contact", "data_type": "string",
            "users": [{"id": cid}], "contacts": [{"external_id": "b-ext", "name": "hijacked"}], "admin_id": a.admin_id,
        });
        let admin_id = a.admin_id.to_string();
        let mut checked = 0;
        for route in tidings_web::api::routes() {
            let id = match route.path.split('/').nth(1) {
                Some("segments") => &sid,
                Some("tags") => &tid,
                Some("admins") => &admin_id,
                Some("data_attributes") => &aid,
                Some("manual_messages") => &mid,
                Some("conversations") => &conv,
                _ => &cid,
            };
            let path = route.path.replace("{id}", id).replace("{tag_id}", &tid).replace("{external_id}", "a-ext");
            let special = if route.method == Method::POST { conversation_bodies(route.path) } else { vec![] };
            for b in &special {
                let got = a.call_as(&b_token, Method::POST, &path, Some(b.clone())).await;
                assert_error(db, &got, StatusCode::NOT_FOUND, "not_found");
            }
            let send_body = matches!(route.method, Method::POST | Method::PUT).then(|| body.clone());
            let (status, response) = a.call_as(&b_token, route.method.clone(), &path, send_body).await;
            let text = response.to_string();
            for m in markers {
                assert!(
                    !text.contains(m),
                    "{db}: {} {path} with another workspace's token leaked {m}: {text}",
                    route.method
                );
            }
            if route.path.contains('{') && route.path != "/admins/{id}" {
                assert!(
                    matches!(status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
                    "{db}: {} {path} answered {status} to another workspace: {text}",
                    route.method
                );
            }
            checked += 1;
        }
        assert!(checked >= 30, "{db}: only {checked} routes were checked");
        assert_eq!(snapshot(&a).await, before, "{db}: another workspace changed A's data");
        let conversation_after = a.get(&format!("/conversations/{conv}")).await.1;
        assert_eq!(conversation_after, conversation_before, "{db}: another workspace changed A's conversation");
        let (_, still) = a.get(&format!("/contacts/{cid}")).await;
        assert_eq!(still, contact_before, "{db}");
        assert_eq!(still, contact_with_tag(&contact, &tid, &still["last_replied_at"]), "{db}");
        a.stop().await;
    }
}

fn contact_with_tag(c: &Json, tid: &str, last_replied_at: &Json) -> Json {
    let mut c = c.clone();
    c["last_replied_at"] = last_replied_at.clone();
    c["tags"]["data"] = json!([{"type": "tag", "id": tid, "name": "a-private-tag", "url": format!("/tags/{tid}")}]);
    c["tags"]["total_count"] = json!(1);
    c
}

#[tokio::test]
async fn every_api_route_needs_credentials() {
    for s in servers().await {
        let db = s.db;
        let client = reqwest::Client::new();
        for route in tidings_web::api::routes() {
            if route.path == "/openapi.json" {
                continue;
            }
            let path = route.path.replace("{id}", "1").replace("{tag_id}", "1").replace("{external_id}", "x");
            for auth in [None, Some("Bearer tid_not-a-real-token")] {
                let mut req = client.request(route.method.clone(), format!("{}{path}", s.base)).json(&json!({}));
                if let Some(a) = auth {
                    req = req.header("authorization", a);
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let body: Json = resp.json().await.unwrap();
                let e = assert_error(db, &(status, body), StatusCode::UNAUTHORIZED, "unauthorized");
                assert_eq!(e["message"], "Access Token Invalid", "{db}: {} {path}", route.method);
            }
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn revoked_tokens_stop_working_at_once() {
    for s in servers().await {
        let db = s.db;
        let token = s.store.api_tokens(s.workspace.id).await.unwrap().remove(0);
        assert_eq!(s.get("/me").await.0, StatusCode::OK);
        assert!(s.store.revoke_api_token(s.workspace.id, token.id, 1).await.unwrap());
        assert_error(db, &s.get("/me").await, StatusCode::UNAUTHORIZED, "unauthorized");
        s.stop().await;
    }
}

#[tokio::test]
async fn sessions_need_the_csrf_token_to_change_anything_and_end_at_logout() {
    for s in servers().await {
        let db = s.db;
        let (_, me) = s.get("/me").await;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let wrong = client
            .post(format!("{}/app/login", s.base))
            .form(&[("email", me["email"].as_str().unwrap()), ("password", "not-the-password")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{db}");
        assert!(wrong.headers().get("set-cookie").is_none());
        let login = client
            .post(format!("{}/app/login", s.base))
            .form(&[("email", me["email"].as_str().unwrap()), ("password", "a-long-password")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::SEE_OTHER, "{db}");
        let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().unwrap().to_owned();

        let page = client.get(format!("{}/app/contacts", s.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let csrf = html.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();

        let read = client.get(format!("{}/me", s.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(read.status(), StatusCode::OK, "{db}: a session may read");
        let no_csrf = client
            .post(format!("{}/tags", s.base))
            .header("cookie", &cookie)
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN, "{db}");
        let with_csrf = client
            .post(format!("{}/tags", s.base))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(with_csrf.status(), StatusCode::OK, "{db}");
        let (_, tags) = s.get("/tags").await;
        assert_eq!(tags["data"].as_array().unwrap().len(), 1, "{db}: only the request with the CSRF token tagged");

        // A logged-in teammate acts only as themself; a token may act for any teammate.
        let other = tidings_web::provision::teammate(
            &s.store,
            &s.workspace,
            "Other",
            "other@example.test",
            "a-long-password",
            tidings_store::TeammateRole::Admin,
        )
        .await
        .unwrap();
        let (_, contact) = s.post("/contacts", json!({"email": "someone@example.test"})).await;
        let (_, started) =
            s.post("/conversations", json!({"from": {"type": "user", "id": contact["id"]}, "body": "Hi"})).await;
        let conversation = started["conversation_id"].as_str().unwrap().to_owned();
        let reply_as = async |admin: String| {
            client
                .post(format!("{}/conversations/{conversation}/reply", s.base))
                .header("cookie", &cookie)
                .header("x-csrf-token", &csrf)
                .json(&json!({"message_type": "comment", "type": "admin", "admin_id": admin, "body": "Hello"}))
                .send()
                .await
                .unwrap()
                .status()
        };
        assert_eq!(
            reply_as(other.id.to_string()).await,
            StatusCode::FORBIDDEN,
            "{db}: a session replied as another teammate"
        );
        assert_eq!(reply_as(me["id"].as_str().unwrap().to_owned()).await, StatusCode::OK, "{db}");
        let (_, c) = s.get(&format!("/conversations/{conversation}")).await;
        assert_eq!(c["conversation_parts"]["total_count"], 2, "{db}: only the reply as themself was written: {c}");

        let bad_logout = client
            .post(format!("{}/app/logout", s.base))
            .header("cookie", &cookie)
            .form(&[("csrf", "nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad_logout.status(), StatusCode::FORBIDDEN);
        let logout = client
            .post(format!("{}/app/logout", s.base))
            .header("cookie", &cookie)
            .form(&[("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::SEE_OTHER);
        let after = client.get(format!("{}/me", s.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "{db}: the session ended");
        let page = client.get(format!("{}/app/contacts", s.base)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(page.headers()["location"], "/app/login");
        s.stop().await;
    }
}

#[tokio::test]
async fn unknown_paths_get_an_error_list_and_openapi_lists_every_route() {
    for s in servers().await {
        let db = s.db;
        assert_error(db, &s.get("/no/such/thing").await, StatusCode::NOT_FOUND, "not_found");
        let (status, doc) = s.call(Method::GET, "/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        for route in tidings_web::api::routes() {
            let op = &doc["paths"][route.path][route.method.as_str().to_ascii_lowercase()];
            assert!(op["summary"].is_string(), "{db}: {} {} is not documented", route.method, route.path);
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn tokens_are_rate_limited_with_intercoms_headers() {
    // 12 a minute is 2 per 10-second window.
    for s in servers_with_rate_limit(12).await {
        let db = s.db;
        let client = reqwest::Client::new();
        let call = |token: &str| client.get(format!("{}/me", s.base)).bearer_auth(token.to_owned()).send();
        // A window may turn over between calls; the loop below allows for that.
        let first = call(&s.token).await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["x-ratelimit-limit"], "2", "{db}");
        let reset: i64 = first.headers()["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        let mut last = call(&s.token).await.unwrap();
        let mut calls = 2;
        while last.status() == StatusCode::OK && calls < 10 {
            last = call(&s.token).await.unwrap();
            calls += 1;
        }
        assert_eq!(last.status(), StatusCode::TOO_MANY_REQUESTS, "{db}: never limited after {calls} calls");
        assert!(last.headers().contains_key("retry-after"), "{db}");
        assert_eq!(last.headers()["x-ratelimit-remaining"], "0");
        assert!(last.headers()["x-ratelimit-reset"].to_str().unwrap().parse::<i64>().unwrap() >= reset);
        let body: Json = last.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "rate_limit_exceeded", "{db}: {body}");
        // Callers without valid credentials get no rate-limit headers.
        let anonymous = call("tid_not-a-real-token").await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert!(!anonymous.headers().contains_key("x-ratelimit-limit"), "{db}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_owner_saves_messenger_settings_and_bad_origins_change_nothing() {
    for s in servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let page = owner.settings(&s).await;
        assert!(page.contains(&s.workspace.identity_secret), "{db}: the owner sees the identity secret");
        let save =
            async |origins: &str| owner.form(&s, "/app/settings/messenger", &[("allowed_origins", origins)]).await.0;
        assert_eq!(save("https://shop.example/\nhttp://localhost:3000").await, StatusCode::OK);
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(ws.allowed_origins, ["https://shop.example", "http://localhost:3000"], "{db}");
        assert!(!ws.identity_required, "{db}: an unticked box turns verification off");
        assert_eq!(save("shop.example/path").await, StatusCode::BAD_REQUEST);
        let after = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(after.allowed_origins, ws.allowed_origins, "{db}: a bad origin changed the settings");
        s.stop().await;
    }
}
