//! Settings › Your profile and the Messenger's look: each teammate edits their own name and
//! avatar, which `/me` and `/admins` show as Intercom does; the owner and admins set the
//! workspace's name, the Messenger's colour and greeting; wrong values are refused, naming the
//! field, and change nothing.

use reqwest::StatusCode;
use tidings_store::TeammateRole;

use super::support::{Mate, servers};

#[tokio::test]
async fn teammates_edit_their_own_profile_and_the_api_shows_their_avatar() {
    for s in servers().await {
        let db = s.db;
        let member = Mate::new(&s, "mia", TeammateRole::Member).await;
        let (_, me) = member.call(&s, reqwest::Method::GET, "/me", None).await;
        assert_eq!(me["avatar"], serde_json::json!({"type": "avatar", "image_url": null}), "{db}: {me}");

        let url = "https://cdn.example.com/mia.png";
        let (status, page) =
            member.form(&s, "/app/settings/profile", &[("name", "  Mia Wong "), ("avatar_url", url)]).await;
        assert_eq!(status, StatusCode::OK, "{db}: {page}");
        assert!(page.contains("Your profile was saved."), "{db}");
        assert!(page.contains(&format!("value=\"{url}\"")), "{db}: the form shows the saved avatar");
        let (_, me) = member.call(&s, reqwest::Method::GET, "/me", None).await;
        assert_eq!((me["name"].as_str(), me["avatar"]["image_url"].as_str()), (Some("Mia Wong"), Some(url)), "{db}");
        assert_eq!(me["avatar"]["type"], "avatar", "{db}");
        let (_, list) = s.get("/admins").await;
        let id = member.id.to_string();
        let listed = list["admins"].as_array().unwrap().iter().find(|a| a["id"].as_str() == Some(&id)).unwrap();
        assert_eq!(listed["avatar"]["image_url"], url, "{db}: {list}");
        let (_, one) = s.get(&format!("/admins/{}", member.id)).await;
        assert_eq!(one["avatar"]["image_url"], url, "{db}");

        // Wrong values come back with what was typed and the field named; nothing is saved.
        for (fields, field, words) in [
            (vec![("name", "Mia"), ("avatar_url", "javascript:alert(1)")], "avatar_url", "avatar_url must be an http"),
            (vec![("name", "   "), ("avatar_url", "")], "name", "name must not be empty"),
        ] {
            let (status, page) = member.form(&s, "/app/settings/profile", &fields).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db}: {field}");
            assert!(page.contains(words), "{db}: {field}: {page}");
            assert!(page.contains("id=\"profile-error\""), "{db}: the error shows by the form");
            let marked = page.split(&format!("name=\"{field}\" id=\"profile-")).nth(1).unwrap();
            assert!(marked.split('>').next().unwrap().contains("aria-invalid=\"true\""), "{db}: {field} is marked");
            let t = s.store.teammate(s.workspace.id, member.id).await.unwrap().unwrap();
            assert_eq!((t.name.as_str(), t.avatar_url.as_deref()), ("Mia Wong", Some(url)), "{db}: unchanged");
        }
        let (status, _) = member.form(&s, "/app/settings/profile", &[("name", "Long"), ("avatar_url", "")]).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        let t = s.store.teammate(s.workspace.id, member.id).await.unwrap().unwrap();
        assert_eq!(t.avatar_url, None, "{db}: an empty avatar removes it");
        let owner = s.store.teammate(s.workspace.id, s.admin_id).await.unwrap().unwrap();
        assert_ne!(owner.name, "Long", "{db}: only the teammate's own profile changed");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_owner_and_admins_set_the_messengers_look_and_members_may_not() {
    for s in servers().await {
        let db = s.db;
        let member = Mate::new(&s, "mo", TeammateRole::Member).await;
        let admin = Mate::new(&s, "ann", TeammateRole::Admin).await;
        let look = [("name", "Acme Support"), ("color", "#0A7D4F"), ("greeting", "We answer within the hour.")];

        let page = member.settings(&s).await;
        assert!(!page.contains("id=\"messenger-look\""), "{db}: a member is not offered the form");
        let (status, page) = member.form(&s, "/app/settings/messenger/look", &look).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("Only the workspace&#39;s owner and admins can change the Messenger settings"), "{db}");
        assert_eq!(s.store.workspace(s.workspace.id).await.unwrap().unwrap(), s.workspace, "{db}: unchanged");

        let (status, page) = admin.form(&s, "/app/settings/messenger/look", &look).await;
        assert_eq!(status, StatusCode::OK, "{db}: {page}");
        let ws = s.store.workspace(s.workspace.id).await.unwrap().unwrap();
        assert_eq!(
            (ws.name.as_str(), ws.messenger_color.as_str(), ws.messenger_greeting.as_str()),
            ("Acme Support", "#0a7d4f", "We answer within the hour."),
            "{db}"
        );
        let (_, me) = s.get("/me").await;
        assert_eq!(me["app"]["name"], "Acme Support", "{db}: the API names the workspace anew");

        for (field, value, words) in [
            ("color", "blue", "color must be a colour written #rrggbb"),
            ("color", "#12345", "color must be a colour written #rrggbb"),
            ("name", "", "name must not be empty"),
            ("greeting", &"g".repeat(256), "greeting is too long: at most 255 characters"),
        ] {
            let mut fields = look.to_vec();
            fields.retain(|(k, _)| *k != field);
            fields.push((field, value));
            let (status, page) = admin.form(&s, "/app/settings/messenger/look", &fields).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db}: {field} {value:?}");
            assert!(page.contains(words), "{db}: {field}: {page}");
            assert!(page.contains("id=\"look-error\""), "{db}");
            assert_eq!(s.store.workspace(s.workspace.id).await.unwrap().unwrap(), ws, "{db}: {field}: unchanged");
        }
        let (status, _) = admin.form(&s, "/app/settings/messenger/look", &[("name", "X")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}: a form without a colour");
        s.stop().await;
    }
}
