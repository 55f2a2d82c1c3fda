//! Teammates' roles, through tokens and logged-in sessions: members do the daily work and manage
//! nothing, admins manage those below them, and only the owner touches what is the owner's.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tidings_store::TeammateRole;
use tidings_web::provision;

use super::support::{Mate, Server, assert_error};

async fn role_of(s: &Server, id: i64) -> TeammateRole {
    s.store.teammate(s.workspace.id, id).await.unwrap().unwrap().role
}

async fn live(s: &Server, token: &str) -> bool {
    s.call_as(token, Method::GET, "/me", None).await.0 == StatusCode::OK
}

#[tokio::test]
async fn a_member_does_the_daily_work_and_manages_nothing() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let member = Mate::new(&s, "member", TeammateRole::Member).await;

        // Contacts, tags and messages, with the member's token and with their session.
        let (status, contact) = member.call(&s, Method::POST, "/contacts", Some(json!({"email": "c@x.test"}))).await;
        assert_eq!(status, StatusCode::OK, "{db}: {contact}");
        let (status, _) = member.session_call(&s, Method::POST, "/tags", Some(json!({"name": "vip"}))).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let send = json!({"title": "Hi", "channel": "chat", "body": "Hello", "audience": {"contact_ids": [contact["id"]]}, "send": true});
        let (status, sent) = member.call(&s, Method::POST, "/manual_messages", Some(send.clone())).await;
        assert_eq!((status, sent["state"].as_str()), (StatusCode::OK, Some("sent")), "{db}: {sent}");
        let (status, sent) = member.session_call(&s, Method::POST, "/manual_messages", Some(send)).await;
        assert_eq!((status, sent["state"].as_str()), (StatusCode::OK, Some("sent")), "{db}: {sent}");
        let (status, list) = member.session_call(&s, Method::GET, "/manual_messages", None).await;
        assert_eq!((status, list["total_count"].as_i64()), (StatusCode::OK, Some(2)), "{db}: {list}");
        let (status, admins) = member.call(&s, Method::GET, "/admins", None).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(admins["admins"][0].get("role").is_none(), "{db}: the admin object keeps Intercom's shape");

        // The page hides what a member may not do…
        let page = member.settings(&s).await;
        assert!(!page.contains(&s.workspace.identity_secret), "{db}: a member sees no identity secret");
        for absent in ["/app/settings/messenger", "/app/settings/email", "/app/settings/teammates", "Change role"] {
            assert!(!page.contains(absent), "{db}: a member is offered {absent}");
        }
        let owner_prefix = s.store.api_tokens(s.workspace.id).await.unwrap()[0].prefix.clone();
        assert!(!page.contains(&owner_prefix), "{db}: a member sees only their own tokens");
        assert!(page.contains(&format!("/app/settings/tokens/{}/revoke", member.token_id)), "{db}");

        // …and the server refuses it anyway.
        let add =
            [("name", "Mal"), ("email", "mallory@example.test"), ("password", "a-long-password"), ("role", "admin")];
        let (status, page) = member.form(&s, "/app/settings/teammates", &add).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("Only the workspace&#39;s owner and admins can manage teammates"), "{db}: {page}");
        assert!(s.store.teammate_by_email("mallory@example.test").await.unwrap().is_none(), "{db}");
        let (status, _) =
            member.form(&s, &format!("/app/settings/teammates/{}/role", member.id), &[("role", "admin")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}: a member promotes themself");
        assert_eq!(role_of(&s, member.id).await, TeammateRole::Member, "{db}");
        let (status, _) = member.form(&s, &format!("/app/settings/tokens/{}/revoke", owner.token_id), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(live(&s, &owner.token).await, "{db}: the owner's token still works");
        let (status, _) =
            member.form(&s, "/app/settings/messenger", &[("allowed_origins", "https://evil.example")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!((ws.identity_required, ws.allowed_origins.len()), (true, 0), "{db}: the settings are unchanged");
        let (status, page) = member.form(&s, "/app/settings/email", &[("from", "evil@example.test")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("Only the workspace&#39;s owner and admins can change the email settings"), "{db}");
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(ws.email.from, None, "{db}: the email settings are unchanged");

        // Tokens are made by the owner and admins; a member may only give up one of their own.
        let before = s.store.api_tokens(s.workspace.id).await.unwrap().len();
        let (status, page) = member.form(&s, "/app/settings/tokens", &[("name", "mine")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(!page.contains("id=\"new-token\""), "{db}");
        assert_eq!(s.store.api_tokens(s.workspace.id).await.unwrap().len(), before, "{db}: no token was made");
        let (status, _) = member.form(&s, &format!("/app/settings/tokens/{}/revoke", member.token_id), &[]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(!live(&s, &member.token).await, "{db}: the member revoked their own token");
        s.stop().await;
    }
}

#[tokio::test]
async fn admins_manage_those_below_them_but_not_the_owner_or_other_admins() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;
        let other_admin = Mate::new(&s, "other-admin", TeammateRole::Admin).await;

        let page = admin.settings(&s).await;
        assert!(page.contains(&s.workspace.identity_secret), "{db}: an admin sees the identity secret");
        assert!(page.contains("action=\"/app/settings/messenger\""), "{db}");
        assert!(page.contains("action=\"/app/settings/email#email\""), "{db}: an admin sets up email");
        assert!(
            !page.contains(&format!("/app/settings/tokens/{}/revoke", owner.token_id)),
            "{db}: no revoke button for the owner's token"
        );

        let add = [("name", "Mia"), ("email", "mia@example.test"), ("password", "a-long-password"), ("role", "member")];
        let (status, page) = admin.form(&s, "/app/settings/teammates", &add).await;
        assert_eq!(status, StatusCode::OK, "{db}: {page}");
        let mia = s.store.teammate_by_email("mia@example.test").await.unwrap().unwrap();
        assert_eq!(mia.role, TeammateRole::Member, "{db}");
        let owner_again =
            [("name", "O2"), ("email", "o2@example.test"), ("password", "a-long-password"), ("role", "owner")];
        assert_eq!(admin.form(&s, "/app/settings/teammates", &owner_again).await.0, StatusCode::BAD_REQUEST, "{db}");
        assert!(s.store.teammate_by_email("o2@example.test").await.unwrap().is_none(), "{db}");

        let role = |id: i64| format!("/app/settings/teammates/{id}/role");
        assert_eq!(admin.form(&s, &role(mia.id), &[("role", "admin")]).await.0, StatusCode::OK, "{db}");
        assert_eq!(role_of(&s, mia.id).await, TeammateRole::Admin, "{db}: an admin promotes a member");
        let (status, page) = admin.form(&s, &role(other_admin.id), &[("role", "member")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("Only the owner can change an admin&#39;s role"), "{db}: {page}");
        assert_eq!(role_of(&s, other_admin.id).await, TeammateRole::Admin, "{db}");
        assert_eq!(admin.form(&s, &role(owner.id), &[("role", "member")]).await.0, StatusCode::FORBIDDEN, "{db}");
        assert_eq!(role_of(&s, owner.id).await, TeammateRole::Owner, "{db}");

        let revoke = |id: i64| format!("/app/settings/tokens/{id}/revoke");
        let (status, page) = admin.form(&s, &revoke(owner.token_id), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}: an admin revoked the owner's token");
        assert!(page.contains("Only the owner can revoke the tokens of the owner or of another admin"), "{db}");
        assert!(live(&s, &owner.token).await, "{db}");
        assert_eq!(admin.form(&s, &revoke(other_admin.token_id), &[]).await.0, StatusCode::FORBIDDEN, "{db}");
        assert!(live(&s, &other_admin.token).await, "{db}");
        let (mia_token, mia_secret) = provision::api_token(&s.store, &s.workspace, &mia, "Mia's").await.unwrap();
        assert!(
            s.store.set_teammate_role(s.workspace.id, mia.id, TeammateRole::Admin, TeammateRole::Member).await.unwrap()
        );
        assert_eq!(admin.form(&s, &revoke(mia_token.id), &[]).await.0, StatusCode::OK, "{db}: a member's token");
        assert!(!live(&s, &mia_secret).await, "{db}");

        let (status, _) =
            admin.form(&s, "/app/settings/messenger", &[("allowed_origins", "https://shop.example")]).await;
        assert_eq!(status, StatusCode::OK, "{db}: an admin saves the Messenger settings");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_owner_manages_everyone_and_stays_the_owner() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;
        let page = owner.settings(&s).await;
        assert!(page.contains(&s.workspace.identity_secret), "{db}");
        assert!(page.contains(&format!("/app/settings/teammates/{}/role", admin.id)), "{db}");
        assert!(!page.contains(&format!("/app/settings/teammates/{}/role", owner.id)), "{db}: not their own");

        let add = [("name", "Ann"), ("email", "ann@example.test"), ("password", "a-long-password"), ("role", "admin")];
        assert_eq!(owner.form(&s, "/app/settings/teammates", &add).await.0, StatusCode::OK, "{db}");
        let ann = s.store.teammate_by_email("ann@example.test").await.unwrap().unwrap();
        assert_eq!(ann.role, TeammateRole::Admin, "{db}");

        let role = |id: i64| format!("/app/settings/teammates/{id}/role");
        assert_eq!(owner.form(&s, &role(admin.id), &[("role", "member")]).await.0, StatusCode::OK, "{db}");
        assert_eq!(role_of(&s, admin.id).await, TeammateRole::Member, "{db}: the owner demotes an admin");
        let (status, _) = admin.form(&s, "/app/settings/messenger", &[("allowed_origins", "")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}: the new role applies to the open session at once");
        assert_eq!(owner.form(&s, &role(ann.id), &[("role", "owner")]).await.0, StatusCode::FORBIDDEN, "{db}");
        assert_eq!(owner.form(&s, &role(owner.id), &[("role", "member")]).await.0, StatusCode::FORBIDDEN, "{db}");
        assert_eq!(role_of(&s, owner.id).await, TeammateRole::Owner, "{db}");
        assert_eq!(role_of(&s, ann.id).await, TeammateRole::Admin, "{db}");

        let revoke = format!("/app/settings/tokens/{}/revoke", admin.token_id);
        assert_eq!(owner.form(&s, &revoke, &[]).await.0, StatusCode::OK, "{db}");
        assert!(!live(&s, &admin.token).await, "{db}");
        let (status, _) = owner.form(&s, "/app/settings/messenger", &[("allowed_origins", "https://a.example")]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        s.stop().await;
    }
}

/// The API routes only the owner and admins may call; every other route is the daily work.
const MANAGING: [&str; 5] =
    ["/identity_secret", "/identity_secret/rotate", "/webhooks", "/webhooks/{id}", "/webhooks/{id}/deliveries"];

async fn secret(s: &Server) -> String {
    s.store.workspace(s.workspace.id).await.unwrap().unwrap().identity_secret
}

#[tokio::test]
async fn a_member_reaches_every_api_route_but_the_identity_secret_and_webhooks() {
    for s in super::support::servers().await {
        let db = s.db;
        let member = Mate::new(&s, "member", TeammateRole::Member).await;
        let mut refused = 0;
        for route in tidings_web::api::routes() {
            let path = route.path.replace("{id}", "999999999").replace("{tag_id}", "999999999");
            let path = path.replace("{external_id}", "nobody");
            let body = matches!(route.method, Method::POST | Method::PUT).then(|| json!({}));
            let by_token = member.call(&s, route.method.clone(), &path, body.clone()).await;
            let by_session = member.session_call(&s, route.method.clone(), &path, body).await;
            for (via, got) in [("token", by_token), ("session", by_session)] {
                if MANAGING.contains(&route.path) {
                    assert_error(db, &got, StatusCode::FORBIDDEN, "action_forbidden");
                    refused += 1;
                } else {
                    assert_ne!(
                        got.0,
                        StatusCode::FORBIDDEN,
                        "{db}: {} {path} by a member's {via}: {}",
                        route.method,
                        got.1
                    );
                }
            }
        }
        let managing = tidings_web::api::routes().iter().filter(|r| MANAGING.contains(&r.path)).count();
        assert_eq!(refused, 2 * managing, "{db}");
        assert_eq!(secret(&s).await, s.workspace.identity_secret, "{db}: a member rotated the secret");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_owner_and_admins_read_and_rotate_the_identity_secret_members_do_not() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;
        let member = Mate::new(&s, "member", TeammateRole::Member).await;

        let got = member.call(&s, Method::GET, "/identity_secret", None).await;
        let e = assert_error(db, &got, StatusCode::FORBIDDEN, "action_forbidden");
        assert!(!got.1.to_string().contains(&s.workspace.identity_secret), "{db}: {e}");
        let (status, page) = member.form(&s, "/app/settings/identity_secret/rotate", &[("confirm", "yes")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("can see or rotate the identity secret"), "{db}: {page}");
        assert_eq!(secret(&s).await, s.workspace.identity_secret, "{db}");

        let (status, read) = admin.call(&s, Method::GET, "/identity_secret", None).await;
        assert_eq!(status, StatusCode::OK, "{db}: {read}");
        assert_eq!(
            read,
            json!({"type": "identity_secret", "identity_secret": s.workspace.identity_secret, "rotated_at": null})
        );
        let (status, by_admin) = admin.session_call(&s, Method::POST, "/identity_secret/rotate", None).await;
        assert_eq!(status, StatusCode::OK, "{db}: {by_admin}");
        assert_eq!(by_admin["identity_secret"].as_str().unwrap(), secret(&s).await, "{db}");
        let (status, by_owner) = owner.call(&s, Method::POST, "/identity_secret/rotate", None).await;
        assert_eq!(status, StatusCode::OK, "{db}: {by_owner}");
        assert_ne!(by_owner["identity_secret"], by_admin["identity_secret"], "{db}");

        // The settings page asks for the box to be ticked, then rotates and shows the new secret.
        let before = secret(&s).await;
        let (status, page) = owner.form(&s, "/app/settings/identity_secret/rotate", &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}: {page}");
        assert_eq!(secret(&s).await, before, "{db}: rotated without the box ticked");
        let (status, page) = owner.form(&s, "/app/settings/identity_secret/rotate", &[("confirm", "yes")]).await;
        assert_eq!(status, StatusCode::OK, "{db}: {page}");
        let after = secret(&s).await;
        assert_ne!(after, before, "{db}");
        assert!(page.contains(&after) && !page.contains(&before), "{db}: the page shows the new secret only");
        assert!(page.contains("every user_hash"), "{db}: the page warns what rotating breaks");
        s.stop().await;
    }
}
