//! The `tidings` binary as a user runs it: `setup`, `import`, `export` on SQLite and PostgreSQL,
//! `serve` on a fresh data directory, a server killed in the middle of a send (in-app and email),
//! an SMTP server that fails in every way, several servers on PostgreSQL and NATS (with two
//! teammates and a contact in browsers of their own working one conversation across two of them),
//! and webhooks to a receiver on loopback only when the server allows it.

// The browser tests' WebDriver client and the company page with the Messenger, shared with the
// web crate's browser tests.
#[macro_use]
#[allow(dead_code)]
#[path = "../../../web/tests/browser/webdriver.rs"]
mod webdriver;
#[allow(dead_code)]
#[path = "../../../web/tests/browser/host.rs"]
mod host;

mod crash;
mod email;
mod import;
mod import_results;
mod inbox_nodes;
mod nodes;
mod webhooks;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value as Json, json};
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_store::Store;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_tidings");
static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

fn postgres_url() -> String {
    std::env::var("TIDINGS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database the CLI can be pointed at with `--database-url`, and a store on it for checks.
pub(crate) struct Db {
    pub(crate) name: &'static str,
    pub(crate) url: String,
    pub(crate) store: Arc<dyn Store>,
    dir: std::path::PathBuf,
    pub(crate) schema: Option<String>,
}

impl Db {
    pub(crate) async fn all() -> Vec<Db> {
        let dir = std::env::temp_dir().join(unique("tidings-cli"));
        std::fs::create_dir_all(dir.join("sqlite")).unwrap();
        let sqlite_url = format!("sqlite://{}", dir.join("sqlite").join("t.db").display());
        let sqlite = tidings_store::open(&sqlite_url).await.unwrap();
        let sqlite = Db { name: "sqlite", url: sqlite_url, store: sqlite, dir: dir.join("sqlite"), schema: None };
        vec![sqlite, Db::postgres_in(dir.join("pg")).await]
    }

    /// PostgreSQL alone (several nodes need it), in a schema of its own.
    pub(crate) async fn postgres() -> Db {
        Db::postgres_in(std::env::temp_dir().join(unique("tidings-cli")).join("pg")).await
    }

    async fn postgres_in(dir: std::path::PathBuf) -> Db {
        std::fs::create_dir_all(&dir).unwrap();
        let schema = unique("cli");
        let store = tidings_store::open_postgres_schema(&postgres_url(), &schema)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is required for the CLI tests at {} ({e})", postgres_url()));
        // libpq-style options select the schema for the CLI's own connections.
        let sep = if postgres_url().contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{schema}", postgres_url());
        Db { name: "postgres", url, store, dir, schema: Some(schema) }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(args).arg("--database-url").arg(&self.url).env_remove("TIDINGS_CONFIG").output().unwrap()
    }

    pub(crate) async fn cleanup(self) {
        if let Some(s) = &self.schema {
            tidings_store::drop_postgres_schema(&*self.store, s).await.unwrap();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `tidings serve` on a free port with `args` (after `serve --listen 127.0.0.1:0`) and
/// returns it with the URL it prints. Whatever it prints later is read, so that a full pipe
/// never stalls it.
pub(crate) fn serve(args: &[&str]) -> (std::process::Child, String) {
    serve_with(args, &[])
}

/// As [`serve`], with these environment variables set.
pub(crate) fn serve_with(args: &[&str], env: &[(&str, String)]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("TIDINGS_CONFIG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("serve exited before printing its URL").unwrap();
        if let Some(rest) = line.strip_prefix("Tidings is running at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The owner (of [`setup`]), logged in on the server at `url`: a client that sends their session cookie, and their CSRF token.
pub(crate) async fn owner_on(url: &str) -> (reqwest::Client, String) {
    let login = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{url}/app/login"))
        .form(&[("email", "owner@acme.test"), ("password", "a-long-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303, "the owner logs in");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", cookie.parse().unwrap());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap();
    let page = client.get(format!("{url}/app/import")).send().await.unwrap().text().await.unwrap();
    let csrf = page.split("name=\"csrf-token\" content=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    (client, csrf)
}

/// Uploads `csv` to the import page of the server at `url`, as the owner's `client`: the
/// import's id.
pub(crate) async fn upload_import(client: &reqwest::Client, url: &str, csrf: &str, csv: &str) -> String {
    let up = client
        .post(format!("{url}/app/import/upload?name=people.csv"))
        .header("x-csrf-token", csrf)
        .body(csv.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status().as_u16(), 200, "{url}: the upload");
    up.json::<Json>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// Starts import `id` on the server at `url` with the preview's `choices` (`col2` = `new:string`).
pub(crate) async fn start_import(client: &reqwest::Client, url: &str, csrf: &str, id: &str, choices: &[(&str, &str)]) {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(choices);
    let start = client.post(format!("{url}/app/import/{id}/start")).form(&form).send().await.unwrap();
    assert_eq!(start.status().as_u16(), 303, "{url}: the start: {}", start.text().await.unwrap());
}

/// Where import `id` stands, as its page reads it from the server at `url`.
pub(crate) async fn import_state(client: &reqwest::Client, url: &str, id: &str) -> Json {
    client.get(format!("{url}/app/import/{id}/state")).send().await.unwrap().json().await.unwrap()
}

pub(crate) fn setup(db: &Db, email: &str) -> Json {
    let out = db.run(&["setup", "--workspace", "Acme", "--email", email, "--password", "a-long-password", "--json"]);
    assert!(out.status.success(), "{}: {}", db.name, text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn setup_prints_the_workspace_a_working_token_and_the_identity_secret() {
    for db in Db::all().await {
        let p = setup(&db, "owner@acme.test");
        assert!(p["app_id"].as_str().is_some_and(|a| a.len() == 8), "{}: {p}", db.name);
        assert!(p["token"].as_str().is_some_and(|t| t.starts_with("tid_")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(ws.id, p["workspace_id"].as_i64().unwrap());
        assert_eq!(p["identity_secret"].as_str(), Some(ws.identity_secret.as_str()), "{}: {p}", db.name);
        let again =
            db.run(&["setup", "--workspace", "Other", "--email", "owner@acme.test", "--password", "a-long-password"]);
        assert!(!again.status.success(), "{}: a taken email must fail", db.name);
        assert!(text(&again).contains("already exists"), "{}: {}", db.name, text(&again));
        let short = db.run(&["setup", "--workspace", "X", "--email", "x@acme.test", "--password", "short"]);
        assert!(!short.status.success() && text(&short).contains("at least 8"), "{}", text(&short));
        let common = db.run(&["setup", "--workspace", "X", "--email", "x@acme.test", "--password", "Password1"]);
        assert!(!common.status.success() && text(&common).contains("most common"), "{}", text(&common));
        db.cleanup().await;
    }
}

#[tokio::test]
async fn import_reports_nul_and_overlong_values_by_line_and_writes_the_rest() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let csv = db.dir.join(format!("{name}-hostile.csv"));
        // PostgreSQL refuses both (a NUL, and an index entry past ~2,700 bytes); SQLite took them.
        let long = "x".repeat(3_000);
        let content = format!(
            "external_id,email,name\n\
             1,ada@example.test,Ada\n\
             2,bob@example.test,Bo\u{0}b\n\
             {long},cy@example.test,Cy\n\
             4,{long}@example.test,Dee\n\
             5,eve@example.test,Eve\n"
        );
        std::fs::write(&csv, content).unwrap();
        let out = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        let report = text(&out);
        assert!(out.status.success(), "{name}: {report}");
        assert!(report.contains("line 3: ") && report.contains("NUL"), "{name}: {report}");
        assert!(report.contains("line 4: ") && report.contains("external_id is too long"), "{name}: {report}");
        assert!(report.contains("line 5: ") && report.contains("email is too long"), "{name}: {report}");
        assert!(report.contains("2 created, 0 updated, 0 unchanged, 3 rejected"), "{name}: {report}");
        for written in ["1", "5"] {
            assert!(db.store.contact_by_external_id(ws.id, written).await.unwrap().is_some(), "{name}: {written}");
        }
        db.cleanup().await;
    }
}

#[tokio::test]
async fn import_reports_bad_lines_is_idempotent_and_round_trips_through_export() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, &format!("{}@acme.test", unique("o")));
        let ws = db.store.workspace_by_app_id(p["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        let plan = CustomAttribute::new("plan", DataType::String);
        db.store.create_custom_attribute(ws.id, &plan).await.unwrap();
        let seats =
            CustomAttribute { name: "seats".into(), label: "seats".into(), data_type: DataType::Integer, ..plan };
        db.store.create_custom_attribute(ws.id, &seats).await.unwrap();

        let csv = db.dir.join(format!("{name}.csv"));
        std::fs::write(
            &csv,
            "external_id,email,name,signed_up_at,plan,custom_attributes.seats\n\
             1,ada@example.test,Ada,1700000000,pro,3\n\
             2,not-an-email,Bob,,free,\n\
             ,,Nobody,,,\n\
             3,cy@example.test,Cy,,team,many\n\
             4,dee@example.test,\"Dee, Jr.\",,free,1\n",
        )
        .unwrap();
        let first = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        let out = text(&first);
        assert!(first.status.success(), "{name}: {out}");
        assert!(out.contains("line 3: ") && out.contains("not-an-email"), "{name}: bad email reported by line: {out}");
        assert!(out.contains("line 4: ") && out.contains("external_id or an email"), "{name}: {out}");
        assert!(out.contains("line 5: ") && out.contains("custom_attributes.seats"), "{name}: {out}");
        assert!(out.contains("2 created, 0 updated, 0 unchanged, 3 rejected"), "{name}: {out}");
        let ada = db.store.contact_by_external_id(ws.id, "1").await.unwrap().unwrap();
        assert_eq!(
            (ada.signed_up_at, ada.custom_attributes.get("seats")),
            (Some(1_700_000_000), Some(&json!(3))),
            "{name}"
        );
        assert_eq!(
            db.store.contact_by_external_id(ws.id, "4").await.unwrap().unwrap().name.as_deref(),
            Some("Dee, Jr.")
        );

        let second = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        assert!(text(&second).contains("0 created, 0 updated, 2 unchanged"), "{name}: {}", text(&second));
        assert_eq!(
            db.store.contact(ws.id, ada.id).await.unwrap().unwrap(),
            ada,
            "{name}: a second run changed nothing"
        );

        // Export as JSON lines, import into a second workspace, export again: the same people.
        let jsonl = db.dir.join(format!("{name}.jsonl"));
        let exported = db.run(&[
            "export",
            "contacts",
            "--workspace",
            &ws.app_id,
            "--format",
            "jsonl",
            "-o",
            jsonl.to_str().unwrap(),
        ]);
        assert!(exported.status.success(), "{name}: {}", text(&exported));
        let lines = std::fs::read_to_string(&jsonl).unwrap();
        assert_eq!(lines.lines().count(), 2, "{name}: {lines}");
        let other = setup(&db, &format!("{}@other.test", unique("o")));
        let other_ws = db.store.workspace_by_app_id(other["app_id"].as_str().unwrap()).await.unwrap().unwrap();
        for attr in db.store.custom_attributes(ws.id).await.unwrap() {
            db.store.create_custom_attribute(other_ws.id, &attr).await.unwrap();
        }
        let reimport = db.run(&["import", "contacts", "--workspace", &other_ws.app_id, jsonl.to_str().unwrap()]);
        assert!(text(&reimport).contains("2 created"), "{name}: {}", text(&reimport));
        let moved = db.store.contact_by_external_id(other_ws.id, "1").await.unwrap().unwrap();
        assert_eq!(
            (moved.email, moved.name, moved.signed_up_at, moved.custom_attributes),
            (ada.email.clone(), ada.name.clone(), ada.signed_up_at, ada.custom_attributes.clone()),
            "{name}"
        );
        let csv_out = db.run(&["export", "contacts", "--workspace", &ws.app_id]);
        let csv_text = String::from_utf8_lossy(&csv_out.stdout);
        assert!(csv_text.starts_with("id,external_id,email"), "{name}: {csv_text}");
        assert!(
            csv_text.contains("\"Dee, Jr.\"") && csv_text.contains("custom_attributes.seats"),
            "{name}: {csv_text}"
        );

        let ambiguous = db.run(&["import", "contacts", csv.to_str().unwrap()]);
        assert!(
            !ambiguous.status.success() && text(&ambiguous).contains("--workspace"),
            "{name}: {}",
            text(&ambiguous)
        );
        db.cleanup().await;
    }
}

#[tokio::test]
async fn serve_creates_the_first_workspace_prints_how_to_log_in_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(unique("tidings-serve"));
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .env_remove("TIDINGS_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = lines.next().expect("serve exited before printing its URL").unwrap();
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("Tidings is running at ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let field = |label: &str| {
        printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("{label} not printed: {printed:?}"))
    };
    let token = field("API token:");
    let email = field("email:");
    let password = field("password:");
    assert!(dir.join("tidings.db").exists(), "the SQLite database lives in the data directory");

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let me: Json = client.get(format!("{url}/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["email"], email.as_str());
    let login = client
        .post(format!("{url}/app/login"))
        .form(&[("email", &email), ("password", &password)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), reqwest::StatusCode::SEE_OTHER, "the printed password logs in");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    // A teammate's page keeps its live stream open; the stream lasts a minute by itself.
    let mut stream = client.get(format!("{url}/app/events")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(stream.status(), reqwest::StatusCode::OK);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream says it is ready");

    // SIGTERM: graceful shutdown, exit code 0; the open stream ends rather than holding it up.
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "an open /app/events stream held the stopping server up");
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");

    // A second start finds the workspace and does not print credentials again.
    let mut again = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(again.stdout.take().unwrap()).lines();
    let first = out.next().unwrap().unwrap();
    assert!(first.starts_with("Tidings is running at"), "{first}");
    // SQLite serves one node: a second server on the same file, or one told to join others
    // through NATS, is refused with what to do instead.
    for extra in [&[][..], &["--nats-url", "nats://127.0.0.1:4222"][..]] {
        let refused = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .args(extra)
            .env_remove("TIDINGS_DATABASE_URL")
            .output()
            .unwrap();
        let said = text(&refused);
        assert!(!refused.status.success(), "{extra:?}: {said}");
        assert!(said.contains("SQLite serves one node") && said.contains("PostgreSQL"), "{extra:?}: {said}");
    }
    let _ = Command::new("kill").args(["-TERM", &again.id().to_string()]).status();
    assert!(again.wait().unwrap().success());
    let _ = std::fs::remove_dir_all(&dir);
}
