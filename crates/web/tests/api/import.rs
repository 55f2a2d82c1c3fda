//! Importing contacts through the admin app's routes, on SQLite and PostgreSQL: only the owner and
//! admins, only with the session's CSRF token, only their workspace's imports; files and choices
//! that cannot be imported answered with the reason (never a 5xx); and an import started, run in
//! the background to the end, started once only, with its report.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use tidings_store::{NewImport, TeammateRole};

use super::support::{Mate, Server};

const FILE: &[u8] = b"email,plan,tags\nada@example.test,pro,\"vip, beta\"\nnot-an-email,free,\n";

async fn state(s: &Server, mate: &Mate, id: &str) -> Json {
    let (status, text) = mate.page(s, &format!("/app/import/{id}/state")).await;
    assert_eq!(status, StatusCode::OK, "{}: {text}", s.db);
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn owners_and_admins_import_with_the_token_and_see_their_workspace_s_imports_only() {
    for s in super::support::servers().await {
        let db = s.db;
        let owner = Mate::owner(&s).await;
        let member = Mate::new(&s, "member", TeammateRole::Member).await;
        let admin = Mate::new(&s, "admin", TeammateRole::Admin).await;

        // A member is told who may, and nothing is kept.
        let (status, page) = member.page(&s, "/app/import").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(page.contains("can import contacts from a file"), "{db}: {page}");
        let (status, body) = member.upload(&s, "people.csv", FILE, true).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}: {body}");
        // Without the CSRF token, neither.
        let (status, _) = owner.upload(&s, "people.csv", FILE, false).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{db}");
        assert!(s.store.imports(s.workspace.id, 10).await.unwrap().is_empty(), "{db}");

        // Files that cannot be imported: the reason, naming the file.
        for (name, body, why) in [
            ("empty.csv", &b""[..], "empty"),
            ("sheet.xlsx", &b"PK\x03\x04\x00\x00"[..], "neither CSV nor JSON lines"),
            ("list.json", &b"[{\"email\": \"a@example.test\"}]"[..], "JSON array"),
        ] {
            let (status, body) = owner.upload(&s, name, body, true).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{db}: {name}: {body}");
            assert_eq!(body["errors"][0]["field"], "file", "{db}: {name}");
            assert!(body["errors"][0]["message"].as_str().unwrap().contains(why), "{db}: {name}: {body}");
        }

        // JSON lines naming nobody: the preview says so, and the start is refused with the reason.
        let (status, body) = owner.upload(&s, "nobody.jsonl", b"{\"name\": \"Ada\"}\n", true).await;
        assert_eq!(status, StatusCode::OK, "{db}: {body}");
        let nobody = body["id"].as_str().unwrap().to_owned();
        let (status, page) = owner.page(&s, &format!("/app/import/{nobody}")).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        assert!(page.contains("name no email or external_id"), "{db}: {page}");
        let (status, page) = owner.form(&s, &format!("/app/import/{nobody}/start"), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("finds each contact by email or external_id"), "{db}: {page}");

        // An admin uploads; the preview lists the columns.
        let (status, body) = admin.upload(&s, "people.csv", FILE, true).await;
        assert_eq!(status, StatusCode::OK, "{db}: {body}");
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(body["url"], format!("/app/import/{id}"), "{db}");
        let (status, page) = admin.page(&s, &format!("/app/import/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{db}");
        for part in ["data-column=\"plan\"", "value=\"new:string\" selected", "value=\"tags\" selected"] {
            assert!(page.contains(part), "{db}: {part} in {page}");
        }

        // Choices that would leave contacts unnamed are refused on the page.
        let (status, page) = admin.form(&s, &format!("/app/import/{id}/start"), &[("col0", "skip")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{db}");
        assert!(page.contains("email or external_id"), "{db}: {page}");
        assert_eq!(state(&s, &admin, &id).await["status"], "uploaded", "{db}");

        // Started, it runs to the end; a second start changes nothing.
        let (status, _) = admin.form(&s, &format!("/app/import/{id}/start"), &[("col1", "new:string")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{db}");
        let mut last = Json::Null;
        for _ in 0..200 {
            last = state(&s, &owner, &id).await;
            if last["finished"] == true {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            (&last["status"], &last["percent"], &last["created"], &last["rejected"]),
            (&"done".into(), &100.into(), &1.into(), &1.into()),
            "{db}: {last}"
        );
        let (status, _) = admin.form(&s, &format!("/app/import/{id}/start"), &[("col1", "new:string")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{db}: back to the import, which is not run again");
        assert_eq!(state(&s, &owner, &id).await["created"], 1, "{db}");
        let resp = owner.open(&s, &format!("/app/import/{id}/rejected.csv")).await;
        assert_eq!(resp.headers()["content-disposition"], "attachment; filename=\"people-rejected.csv\"", "{db}");
        let report = resp.text().await.unwrap();
        assert_eq!(
            report,
            "line,field,reason,email,plan,tags\n3,email,not-an-email is not a valid email address,not-an-email,free,\n",
            "{db}"
        );
        let (_, contact) = owner.call(&s, Method::GET, "/contacts", None).await;
        assert_eq!(contact["data"][0]["custom_attributes"]["plan"], "pro", "{db}: {contact}");
        let (_, list) = owner.page(&s, "/app/import").await;
        assert!(list.contains(&format!("href=\"/app/import/{id}\"")), "{db}: the recent imports list it");

        // Another workspace's import is not found, nor its report.
        let (other, _) = s.other_workspace().await;
        let theirs = s
            .store
            .create_import(
                other.id,
                &NewImport {
                    teammate_id: None,
                    file_name: "theirs.csv".into(),
                    format: "csv".into(),
                    path: "/nonexistent".into(),
                    size: 1,
                    created_at: 0,
                },
            )
            .await
            .unwrap();
        for path in ["", "/state", "/rejected.csv"] {
            let (status, _) = owner.page(&s, &format!("/app/import/{}{path}", theirs.id)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{db}: {path}");
        }
        let (status, _) = owner.form(&s, &format!("/app/import/{}/start", theirs.id), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{db}");
        s.stop().await;
    }
}
