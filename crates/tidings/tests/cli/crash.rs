//! A server killed (SIGKILL, no chance to clean up) in the middle of a large send, then started
//! again, on SQLite and PostgreSQL: no recipient is lost and none gets the message twice.
//!
//! How we know the kill landed mid-send: on PostgreSQL the server is killed while
//! `pg_stat_activity` shows the snapshot's `INSERT INTO deliveries` running. On SQLite a first,
//! whole send of the same audience is timed, and the kill comes at half that time after the send
//! request left (then a quarter, …); the snapshot's transaction is most of that time. A message
//! found still a draft after the restart, with no deliveries, was killed before its transaction
//! committed; the test fails if that never happens. Whatever the timing, after every restart the
//! message has no delivery at all or exactly one per recipient, never a part, and sending it
//! again then reaches everyone once.
//!
//! The same for an import from the admin app: killed while it runs (its page counts contacts
//! written), it is run again from its file in the database (at start-up on SQLite; on PostgreSQL
//! by the server's background step once it has not moved for 30 seconds) and ends with every
//! contact once.

use std::process::{Child, Command};
use std::time::Instant;

use serde_json::{Map, Value as Json, json};
use tidings_core::contact::ContactInput;

use crate::{Db, import_state, owner_on, serve, setup, start_import, upload_import};

/// Big enough that writing the snapshot takes a while, small enough to generate quickly.
const CONTACTS: usize = 60_000;

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db: &Db) -> Server {
        let (child, url) = serve(&["--database-url", &db.url]);
        Server { child, url }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap();
    }
}

async fn post(client: &reqwest::Client, url: &str, token: &str, body: Json) -> reqwest::Result<(u16, Json)> {
    let r = client.post(url).bearer_auth(token).json(&body).send().await?;
    Ok((r.status().as_u16(), r.json().await.unwrap_or(Json::Null)))
}

/// `(deliveries, distinct recipients, state)` of a message, read from the database.
async fn snapshot(db: &Db, ws: i64, id: i64) -> (i64, i64, String) {
    let n = db.store.scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id}")).await.unwrap();
    let distinct = db
        .store
        .scalar_raw(&format!("SELECT COUNT(DISTINCT contact_id) FROM deliveries WHERE message_id = {id}"))
        .await
        .unwrap();
    let state = tidings_store::MessageStore::message(&*db.store, ws, id).await.unwrap().unwrap().state;
    (n, distinct, state.as_str().to_owned())
}

/// Held by every test in this binary that sends through a server on PostgreSQL: a test that
/// waits for a send's `INSERT` in `pg_stat_activity` sees only its own.
pub(crate) static SENDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until PostgreSQL is running a send's snapshot `INSERT` (hold [`SENDING`]).
pub(crate) async fn wait_for_insert(db: &Db, who: &str) {
    let deadline = Instant::now() + std::time::Duration::from_secs(30);
    let sql = "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO deliveries%'";
    while db.store.scalar_raw(sql).await.unwrap() == 0 {
        assert!(Instant::now() < deadline, "{who}: the send's INSERT never showed in pg_stat_activity");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_killed_midway_loses_no_one_and_duplicates_no_one() {
    let _only = SENDING.lock().await;
    for db in Db::all().await {
        killed_midway(&db).await;
        db.cleanup().await;
    }
}

async fn killed_midway(db: &Db) {
    let who = db.name;
    let created = setup(db, "owner@acme.test");
    let token = created["token"].as_str().unwrap().to_owned();
    let ws = created["workspace_id"].as_i64().unwrap();
    let now = tidings_web::auth::now();
    for batch in 0..CONTACTS / 5_000 {
        let inputs: Vec<ContactInput> = (batch * 5_000..(batch + 1) * 5_000)
            .map(|i| {
                let mut m = Map::new();
                m.insert("external_id".into(), json!(format!("u{i}")));
                m.insert("email".into(), json!(format!("u{i}@example.test")));
                ContactInput::parse(&m, &[]).unwrap()
            })
            .collect();
        db.store.upsert_contacts(ws, &inputs, now).await.unwrap();
    }
    let client = reqwest::Client::new();
    let draft =
        |title: &str| json!({"title": title, "channel": "chat", "body": "Hello", "audience": {"everyone": true}});

    // Calibration: how long a whole send of this audience takes here.
    let server = Server::start(db);
    let (_, m) = post(&client, &format!("{}/manual_messages", server.url), &token, draft("calibration")).await.unwrap();
    let id = m["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (status, sent) =
        post(&client, &format!("{}/manual_messages/{id}/send", server.url), &token, json!({})).await.unwrap();
    let whole = started.elapsed();
    assert_eq!(status, 200, "{who}: {sent}");
    assert_eq!(sent["stats"]["targeted"], json!(CONTACTS), "{who}: {sent}");
    eprintln!("{who}: a send to {CONTACTS} contacts takes {whole:?}");

    let mut server = Some(server);
    let mut killed_mid_send = false;
    for attempt in 0..5u32 {
        let s = server.take().unwrap_or_else(|| Server::start(db));
        let (_, m) = post(&client, &format!("{}/manual_messages", s.url), &token, draft("crash")).await.unwrap();
        let id: i64 = m["id"].as_str().unwrap().parse().unwrap();
        let send_url = format!("{}/manual_messages/{id}/send", s.url);
        let (c, t) = (client.clone(), token.clone());
        let request = tokio::spawn(async move { post(&c, &send_url, &t, json!({})).await });
        if db.schema.is_some() {
            // PostgreSQL shows the snapshot's INSERT while it runs: kill the server then.
            wait_for_insert(db, who).await;
        } else {
            // Half the send's time, then a quarter, …: the kill lands ever earlier in it.
            tokio::time::sleep(whole / 2u32.pow(attempt + 1)).await;
        }
        s.kill();
        let answered = request.await.unwrap();

        // After the crash the message has no delivery or all of them, each recipient once.
        let (n, distinct, state) = snapshot(db, ws, id).await;
        assert_eq!(n, distinct, "{who}: a recipient has two deliveries of one message");
        assert!(
            (state == "draft" && n == 0) || (state == "sent" && n == CONTACTS as i64),
            "{who}: after a crash the message is {state} with {n} of {CONTACTS} deliveries"
        );
        if let Ok((200, _)) = answered {
            assert_eq!(state, "sent", "{who}: a send that was answered 200 was lost");
        }

        // Started again, the send completes: everyone once.
        let before_commit = state == "draft";
        eprintln!("{who}: attempt {attempt}: killed {} the commit", if before_commit { "before" } else { "after" });
        let again = Server::start(db);
        if before_commit {
            killed_mid_send = true;
            let (status, body) =
                post(&client, &format!("{}/manual_messages/{id}/send", again.url), &token, json!({})).await.unwrap();
            assert_eq!(status, 200, "{who}: {body}");
        }
        let (n, distinct, state) = snapshot(db, ws, id).await;
        assert_eq!((n, distinct, state.as_str()), (CONTACTS as i64, CONTACTS as i64, "sent"), "{who}");
        // A second send of a sent message is refused and adds nothing.
        let (status, _) =
            post(&client, &format!("{}/manual_messages/{id}/send", again.url), &token, json!({})).await.unwrap();
        assert_eq!(status, 409, "{who}: a sent message was sent again");
        assert_eq!(snapshot(db, ws, id).await.0, CONTACTS as i64, "{who}");
        server = Some(again);
        if killed_mid_send {
            break;
        }
    }
    if let Some(s) = server {
        s.stop();
    }
    assert!(killed_mid_send, "{who}: no kill landed before the send committed; the test proved nothing");
}

/// Fewer than a bulk load takes (50,000): written batch by batch, so a kill lands between
/// batches already committed and batches not written yet.
const IMPORTED: usize = 45_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_midway_runs_again_and_ends_with_every_contact_once() {
    let _only = SENDING.lock().await;
    let mut csv = String::from("external_id,email,plan\n");
    for i in 0..IMPORTED {
        csv.push_str(&format!("u{i},u{i}@example.test,pro\n"));
    }
    for db in Db::all().await {
        let name = db.name;
        let w = setup(&db, "owner@acme.test");
        let ws = w["workspace_id"].as_i64().unwrap();
        let server = Server::start(&db);
        let (client, csrf) = owner_on(&server.url).await;
        let id = upload_import(&client, &server.url, &csrf, &csv).await;
        start_import(&client, &server.url, &csrf, &id, &[("col2", "new:string")]).await;
        // Killed once its page counts contacts written (a batch committed), and before it ends.
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let s = import_state(&client, &server.url, &id).await;
            assert_ne!(s["finished"], json!(true), "{name}: the import ended before the kill: {s}");
            if s["created"].as_i64().unwrap_or(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: the import did not start: {s}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        server.kill();
        let written = count(&db, ws).await;
        assert!(written > 0 && written < IMPORTED as i64, "{name}: killed midway ({written} written)");

        // Started again, with nobody looking at the import: it runs again and ends (taken over
        // at start-up on SQLite; on PostgreSQL by the server's background step, once the
        // killed run's heartbeat is 30 seconds old).
        let server = Server::start(&db);
        let deadline = Instant::now() + std::time::Duration::from_secs(180);
        let import_id: i64 = id.parse().unwrap();
        loop {
            let i = db.store.import(ws, import_id).await.unwrap().unwrap();
            if i.status.finished() {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: the import did not end after the restart: {i:?}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        let (client, _) = owner_on(&server.url).await;
        let end = import_state(&client, &server.url, &id).await;
        assert_eq!(end["status"], json!("done"), "{name}: {end}");
        assert!(end["status_text"].as_str().unwrap().contains("stopped"), "{name}: {end}");
        let (created, unchanged) = (end["created"].as_i64().unwrap(), end["unchanged"].as_i64().unwrap());
        assert_eq!((created + unchanged, end["rejected"].as_i64()), (IMPORTED as i64, Some(0)), "{name}: {end}");
        assert_eq!(unchanged, written, "{name}: what the killed run wrote is found unchanged");
        assert_eq!(count(&db, ws).await, IMPORTED as i64, "{name}: every contact, once");
        server.stop();
        db.cleanup().await;
    }
}

async fn count(db: &Db, ws: i64) -> i64 {
    db.store.scalar_raw(&format!("SELECT COUNT(*) FROM contacts WHERE workspace_id = {ws}")).await.unwrap()
}
