//! Starts the real server on port 0 for each database, with a workspace and a token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value as Json, json};
use tidings_store::{Store, TeammateRole, Workspace};
use tidings_web::logins::{LoginLimiter, LoginPolicy};
use tidings_web::{AppState, WebConfig, provision};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// One running server with one workspace.
pub struct Server {
    pub db: &'static str,
    pub base: String,
    pub store: Arc<dyn Store>,
    pub workspace: Workspace,
    pub token: String,
    pub admin_id: i64,
    /// The server's engine, for settings a test changes while it runs (webhooks' private targets).
    pub engine: Arc<tidings_engine::Engine>,
    client: reqwest::Client,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(std::path::PathBuf),
    Schema(String),
}

pub fn postgres_url() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

impl Server {
    async fn start(db: &'static str, timezone: &str, rate_limit_per_minute: u32, logins: LoginPolicy) -> Server {
        let (store, cleanup) = match db {
            "sqlite" => {
                let dir = std::env::temp_dir().join(unique("tidings-api"));
                std::fs::create_dir_all(&dir).unwrap();
                let store = tidings_store::open(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap();
                (store, Cleanup::Dir(dir))
            }
            _ => {
                let schema = unique("api");
                let store = tidings_store::open_postgres_schema(&postgres_url(), &schema).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for the API tests and could not be opened at {} ({e})",
                        postgres_url()
                    )
                });
                (store, Cleanup::Schema(schema))
            }
        };
        let p = provision::workspace(
            &store,
            "Acme",
            &format!("{}@example.test", unique("owner")),
            "a-long-password",
            timezone,
        )
        .await
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut state =
            AppState::new(store.clone(), WebConfig { rate_limit_per_minute, ..WebConfig::new(base.clone()) });
        state.logins = Arc::new(LoginLimiter::new(logins));
        let engine = state.engine.clone();
        tokio::spawn(tidings_web::launch(listener, state, std::future::pending()));
        Server {
            db,
            base,
            store,
            workspace: p.workspace,
            token: p.token_secret,
            admin_id: p.owner.id,
            engine,
            client: reqwest::Client::new(),
            cleanup,
        }
    }

    /// Starts another server on the same database, as a second node (or a restart) would.
    pub async fn another_instance(&self) -> String {
        self.another_instance_at(None).await
    }

    /// Starts another server on the same database whose public URL (what people type, e.g. an
    /// `https://` address behind a proxy) is `public_url`; returns the address it listens on.
    pub async fn another_instance_at(&self, public_url: Option<&str>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(self.store.clone(), WebConfig::new(public_url.unwrap_or(&base)));
        tokio::spawn(tidings_web::launch(listener, state, std::future::pending()));
        base
    }

    /// A second workspace on the same server, with its own token.
    pub async fn other_workspace(&self) -> (Workspace, String) {
        let p = provision::workspace(
            &self.store,
            "Other",
            &format!("{}@example.test", unique("other")),
            "a-long-password",
            "UTC",
        )
        .await
        .unwrap();
        (p.workspace, p.token_secret)
    }

    pub async fn call_as(&self, token: &str, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let json = if text.is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap_or(Json::String(text)) };
        (status, json)
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Json) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Json) -> (StatusCode, Json) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Json) -> (StatusCode, Json) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Json) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a contact and returns its JSON.
    pub async fn contact(&self, body: Json) -> Json {
        let (status, c) = self.post("/contacts", body).await;
        assert_eq!(status, StatusCode::OK, "{}: {c}", self.db);
        c
    }

    pub async fn attribute(&self, name: &str, data_type: &str) {
        let (status, a) =
            self.post("/data_attributes", json!({"name": name, "model": "contact", "data_type": data_type})).await;
        assert_eq!(status, StatusCode::OK, "{}: {a}", self.db);
    }

    pub async fn stop(self) {
        match self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema(schema) => {
                tidings_store::drop_postgres_schema(&*self.store, &schema).await.unwrap();
            }
        }
    }
}

/// One server per database, each with a fresh workspace in `timezone`.
pub async fn servers_in(timezone: &str) -> Vec<Server> {
    vec![
        Server::start("sqlite", timezone, 1000, LoginPolicy::default()).await,
        Server::start("postgres", timezone, 1000, LoginPolicy::default()).await,
    ]
}

/// One server per database, allowing `per_minute` API requests per token.
pub async fn servers_with_rate_limit(per_minute: u32) -> Vec<Server> {
    vec![
        Server::start("sqlite", "UTC", per_minute, LoginPolicy::default()).await,
        Server::start("postgres", "UTC", per_minute, LoginPolicy::default()).await,
    ]
}

/// One server per database, limiting failed logins by `policy`.
pub async fn servers_with_login_policy(policy: LoginPolicy) -> Vec<Server> {
    vec![
        Server::start("sqlite", "UTC", 1000, policy.clone()).await,
        Server::start("postgres", "UTC", 1000, policy).await,
    ]
}

pub async fn servers() -> Vec<Server> {
    servers_in("UTC").await
}

/// Asserts an Intercom `error.list` with the given status and code; returns the first error.
pub fn assert_error(db: &str, got: &(StatusCode, Json), status: StatusCode, code: &str) -> Json {
    let (s, body) = got;
    assert_eq!(*s, status, "{db}: {body}");
    assert_eq!(body["type"], "error.list", "{db}: {body}");
    assert!(body["request_id"].as_str().is_some_and(|r| r.len() == 36), "{db}: {body}");
    assert_eq!(body["errors"][0]["code"], code, "{db}: {body}");
    body["errors"][0].clone()
}

/// A teammate of the server's workspace, with an API token and a logged-in session.
pub struct Mate {
    pub id: i64,
    pub token: String,
    pub token_id: i64,
    cookie: String,
    csrf: String,
    client: reqwest::Client,
}

impl Mate {
    /// Adds a teammate with `role` and logs them in.
    pub async fn new(s: &Server, name: &str, role: TeammateRole) -> Mate {
        let email = format!("{name}@example.test");
        let t = provision::teammate(&s.store, &s.workspace, name, &email, "a-long-password", role).await.unwrap();
        let (token, secret) = provision::api_token(&s.store, &s.workspace, &t, "Token").await.unwrap();
        Mate::login(s, t.id, &email, secret, token.id).await
    }

    /// The workspace's owner, with the server's first token.
    pub async fn owner(s: &Server) -> Mate {
        let (_, me) = s.get("/me").await;
        let token_id = s.store.api_tokens(s.workspace.id).await.unwrap()[0].id;
        Mate::login(s, s.admin_id, me["email"].as_str().unwrap(), s.token.clone(), token_id).await
    }

    async fn login(s: &Server, id: i64, email: &str, token: String, token_id: i64) -> Mate {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let login = client
            .post(format!("{}/app/login", s.base))
            .form(&[("email", email), ("password", "a-long-password")])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), StatusCode::SEE_OTHER, "{}: {email} logs in", s.db);
        let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let page = client.get(format!("{}/app/contacts", s.base)).header("cookie", &cookie).send().await.unwrap();
        let html = page.text().await.unwrap();
        let csrf = html.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
        Mate { id, token, token_id, cookie, csrf, client }
    }

    /// The settings page as this teammate sees it.
    pub async fn settings(&self, s: &Server) -> String {
        let resp =
            self.client.get(format!("{}/app/settings", s.base)).header("cookie", &self.cookie).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", s.db);
        resp.text().await.unwrap()
    }

    /// Posts a settings form with the session's CSRF token; the status and the page.
    pub async fn form(&self, s: &Server, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        let resp = self
            .client
            .post(format!("{}{path}", s.base))
            .header("cookie", &self.cookie)
            .form(&all)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// Calls the API with the session (and its CSRF token), as the admin app's scripts do.
    pub async fn session_call(&self, s: &Server, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", s.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, if text.is_empty() { Json::Null } else { serde_json::from_str(&text).unwrap() })
    }

    pub async fn call(&self, s: &Server, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        s.call_as(&self.token, method, path, body).await
    }

    /// Uploads a file to import as the import page's script does (with the session's CSRF token
    /// unless `csrf` is false); the status and the JSON answer.
    pub async fn upload(&self, s: &Server, name: &str, body: &[u8], csrf: bool) -> (StatusCode, Json) {
        let mut req = self
            .client
            .post(format!("{}/app/import/upload?name={name}", s.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/octet-stream")
            .body(body.to_vec());
        if csrf {
            req = req.header("x-csrf-token", &self.csrf);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Json::Null))
    }

    /// A page with the session: the status and the text.
    pub async fn page(&self, s: &Server, path: &str) -> (StatusCode, String) {
        let resp = self.open(s, path).await;
        (resp.status(), resp.text().await.unwrap())
    }

    /// A `GET` with the session, answered as it comes: for streams such as `/app/events`.
    pub async fn open(&self, s: &Server, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", s.base)).header("cookie", &self.cookie).send().await.unwrap()
    }
}
