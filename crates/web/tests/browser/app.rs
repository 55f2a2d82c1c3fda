//! A real Tidings server for the browser tests: a fresh SQLite file, one workspace with its
//! owner, a custom `plan` attribute and a small cast of contacts seeded through the REST API.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::{Value as Json, json};
use tidings_web::{AppState, WebConfig, provision};

use crate::webdriver::{Result, scratch_dir};

/// One seeded contact.
pub struct Person {
    pub name: &'static str,
    pub email: &'static str,
    pub role: &'static str,
    pub plan: Option<&'static str>,
}

const fn user(name: &'static str, email: &'static str, plan: Option<&'static str>) -> Person {
    Person { name, email, role: "user", plan }
}

/// Eight users and one lead. The lead is on the pro plan and has an `acme` address on purpose:
/// "All users" and every segment built on it must leave her out, so a filter that forgot the
/// segment would show one contact too many.
pub const PEOPLE: &[Person] = &[
    user("Ada Lovelace", "ada@acme.test", Some("pro")),
    user("Grace Hopper", "grace@navy.test", Some("pro")),
    user("Alan Turing", "alan@acme.test", Some("free")),
    user("Katherine Johnson", "katherine@nasa.test", Some("pro")),
    user("Edsger Dijkstra", "edsger@acme.test", Some("free")),
    user("Barbara Liskov", "barbara@mit.test", Some("pro")),
    user("Donald Knuth", "donald@stanford.test", Some("free")),
    user("Margaret Hamilton", "margaret@nasa.test", None),
    Person { name: "Lena Lead", email: "lena@acme.test", role: "lead", plan: Some("pro") },
];

/// The owner's login.
pub const OWNER_EMAIL: &str = "owner@example.test";
pub const OWNER_PASSWORD: &str = "a-long-password";

pub struct App {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub app_id: String,
    /// The workspace's Messenger identity secret, for `user_hash`.
    pub identity_secret: String,
    pub api: Api,
    /// The server's state, to ask its hub who has a Messenger open.
    pub state: AppState,
    pub workspace_id: i64,
    ids: HashMap<&'static str, i64>,
    dir: PathBuf,
}

impl App {
    /// Starts the server on a free port and seeds it.
    ///
    /// # Errors
    /// When the store, provisioning or a seeding request fails.
    pub async fn start() -> Result<App> {
        App::start_with_mail(None).await
    }

    /// Starts the server, sending email through the SMTP server on `smtp_port` (when given)
    /// from `hello@acme.test`, and seeds it.
    ///
    /// # Errors
    /// As [`App::start`].
    pub async fn start_with_mail(smtp_port: Option<u16>) -> Result<App> {
        App::start_with(smtp_port, "UTC").await
    }

    /// Starts the server with its workspace in the time zone `zone` (e.g. `Europe/Paris`).
    ///
    /// # Errors
    /// As [`App::start`].
    pub async fn start_in_zone(zone: &str) -> Result<App> {
        App::start_with(None, zone).await
    }

    /// Starts the server with an empty workspace: no `plan` attribute and no contacts.
    ///
    /// # Errors
    /// As [`App::start`].
    pub async fn start_empty() -> Result<App> {
        App::start_seeded(None, "UTC", false).await
    }

    async fn start_with(smtp_port: Option<u16>, zone: &str) -> Result<App> {
        App::start_seeded(smtp_port, zone, true).await
    }

    async fn start_seeded(smtp_port: Option<u16>, zone: &str, seed: bool) -> Result<App> {
        let dir = scratch_dir("tidings-browser-db")?;
        let store = tidings_store::open(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .map_err(|e| fail!("open the SQLite store: {e}"))?;
        let p = provision::workspace(&store, "Acme", OWNER_EMAIL, OWNER_PASSWORD, zone)
            .await
            .map_err(|e| fail!("provision the workspace: {e:?}"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| fail!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| fail!("bind: {e}"))?;
        let base = format!("http://{addr}");
        let state = AppState::new(store.clone(), WebConfig::new(base.clone()));
        if let Some(port) = smtp_port {
            let mut mail = tidings_engine::email::MailSetup::new(&base);
            mail.smtp = Some(
                tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{port}"))
                    .map_err(|e| fail!("the SMTP URL: {e}"))?,
            );
            mail.from = Some("hello@acme.test".into());
            mail.connections = 2;
            state.engine.set_mail(mail);
        }
        tokio::spawn(tidings_web::launch(listener, state.clone(), std::future::pending()));

        let api = Api { http: reqwest::Client::new(), base: base.clone(), token: p.token_secret };
        let mut ids = HashMap::new();
        let people = if seed { PEOPLE } else { &[] };
        if seed {
            api.post("/data_attributes", json!({"name": "plan", "model": "contact", "data_type": "string"})).await?;
        }
        for person in people {
            let mut body = json!({"role": person.role, "name": person.name, "email": person.email});
            if let Some(plan) = person.plan {
                body["custom_attributes"] = json!({"plan": plan});
            }
            let created = api.post("/contacts", body).await?;
            let id = created["id"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| fail!("created contact has no id: {created}"))?;
            ids.insert(person.email, id);
        }
        Ok(App {
            base,
            app_id: p.workspace.app_id,
            identity_secret: p.workspace.identity_secret,
            api,
            state,
            workspace_id: p.workspace.id,
            ids,
            dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The id of the contact seeded with this email.
    pub fn id(&self, email: &str) -> i64 {
        self.ids[email]
    }

    /// The ids of the seeded contacts for which `keep` holds.
    pub fn ids_where(&self, keep: impl Fn(&Person) -> bool) -> BTreeSet<i64> {
        PEOPLE.iter().filter(|p| keep(p)).map(|p| self.id(p.email)).collect()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The REST API with the workspace's token: how the tests seed data and read what a page did.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub async fn post(&self, path: &str, body: Json) -> Result<Json> {
        self.call(self.http.post(format!("{}{path}", self.base)).json(&body), "POST", path).await
    }

    pub async fn put(&self, path: &str, body: Json) -> Result<Json> {
        self.call(self.http.put(format!("{}{path}", self.base)).json(&body), "PUT", path).await
    }

    pub async fn get(&self, path: &str) -> Result<Json> {
        self.call(self.http.get(format!("{}{path}", self.base)), "GET", path).await
    }

    async fn call(&self, request: reqwest::RequestBuilder, method: &str, path: &str) -> Result<Json> {
        let r = request.bearer_auth(&self.token).send().await.map_err(|e| fail!("{method} {path}: {e}"))?;
        let status = r.status();
        let answer: Json = r.json().await.map_err(|e| fail!("{method} {path}: answer is not JSON: {e}"))?;
        if !status.is_success() {
            return Err(fail!("{method} {path}: {status} {answer}"));
        }
        Ok(answer)
    }
}
