//! Email, nothing lost and nothing twice: real `tidings serve` processes on SQLite and PostgreSQL
//! send to a real SMTP server process (`scripts/smtp-server`, aiosmtpd), and the test counts what
//! that server accepted, per recipient and by Message-ID.
//!
//! - A server killed (SIGKILL) in the middle of a 20,000-recipient send, then started again:
//!   every recipient gets the email exactly once. The kill comes while the SMTP server holds
//!   every connection's letter unanswered (a `delay` rule) and once everything it did accept is
//!   recorded, so emails are claimed, some on the wire, none in the one window SMTP cannot tell
//!   about; the claims left by the dead server are taken again when their lease ends.
//! - The SMTP server gone (connection refused), stopped (SIGSTOP, then SIGCONT), answering 4xx
//!   for a while, and refusing some recipients for good (5xx) or for a while longer than the
//!   retries last: every email ends sent, bounced or failed with the reason in the stats.
//! - The one case SMTP cannot tell: the server accepted the letter (a `hold` rule keeps its 250
//!   back) and Tidings was killed before it heard. Started again, Tidings sends it again, with
//!   the same Message-ID, after the lease.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};
use tidings_core::contact::ContactInput;
use tidings_store::MessageStats;

use crate::{Db, serve_with, setup, unique};

/// The SMTP server process: started, killed and started again on the same port, stopped and
/// continued, its answers changed through its rules file.
struct Sink {
    child: Option<Child>,
    port: u16,
    out: PathBuf,
    rules: PathBuf,
}

impl Sink {
    fn start(dir: &Path) -> Sink {
        let out = dir.join("sink.jsonl");
        let rules = dir.join("rules.txt");
        std::fs::write(&rules, "").unwrap();
        let mut sink = Sink { child: None, port: 0, out, rules };
        sink.run();
        sink
    }

    /// Starts the process (again, on the same port once it has one).
    fn run(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/smtp-server");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--out")
            .arg(&self.out)
            .arg("--rules")
            .arg(&self.rules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs the test SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        self.port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the test SMTP server did not start (is aiosmtpd installed? scripts/test installs it): {line:?}")
        });
        self.child = Some(child);
    }

    /// Kills the process: connections refused until [`Sink::run`].
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        assert!(Command::new("kill").args([sig, &pid]).status().unwrap().success());
    }

    /// Replaces the rules at once: written beside and renamed over, so the server never reads a
    /// file cut short and answers a recipient as if no rule named it.
    fn rules(&self, text: &str) {
        let next = self.rules.with_extension("next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, &self.rules).unwrap();
    }

    /// What the server accepted, one JSON object per recipient.
    fn accepted(&self) -> Vec<Json> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.ends_with('}'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The Message-IDs each recipient was accepted with, in order.
    fn by_recipient(&self) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for a in self.accepted() {
            m.entry(a["to"].as_str().unwrap().to_owned())
                .or_default()
                .push(a["message_id"].as_str().unwrap_or_default().to_owned());
        }
        m
    }

    fn smtp_url(&self) -> String {
        // A short timeout, so that a stopped server is noticed quickly.
        format!("smtp://127.0.0.1:{}?timeout=2", self.port)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
        }
        self.kill();
    }
}

/// A `tidings serve` that sends email.
struct Server {
    child: Child,
    url: String,
}

/// How the server sends: its connections, its lease and its retry delays.
struct Mail<'a> {
    smtp_url: &'a str,
    connections: usize,
    lease: u32,
    retries: &'a str,
}

impl Server {
    fn start(db: &Db, mail: &Mail) -> Server {
        let env = [
            ("TIDINGS_SMTP_URL", mail.smtp_url.to_owned()),
            ("TIDINGS_EMAIL_FROM", "news@acme.test".to_owned()),
            ("TIDINGS_SMTP_CONNECTIONS", mail.connections.to_string()),
            ("TIDINGS_EMAIL_LEASE_SECONDS", mail.lease.to_string()),
            ("TIDINGS_EMAIL_RETRY_SECONDS", mail.retries.to_owned()),
            ("TIDINGS_RATE_LIMIT_PER_MINUTE", "0".to_owned()),
            ("TIDINGS_LOG", "warn".to_owned()),
        ];
        let (child, url) = serve_with(&["--database-url", &db.url], &env);
        Server { child, url }
    }

    /// SIGKILL: no chance to record anything.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.child.wait().unwrap();
    }

    /// Creates an email to everyone and sends it; returns its id.
    async fn send_email(&self, token: &str) -> i64 {
        let client = reqwest::Client::new();
        let draft = json!({
            "title": "News", "channel": "email", "subject": "News for {{first_name | fallback: \"you\"}}",
            "body": "Hello {{first_name | fallback: \"there\"}}, this is the news.", "audience": {"everyone": true}
        });
        let r = client.post(format!("{}/manual_messages", self.url)).bearer_auth(token).json(&draft).send().await;
        let m: Json = r.unwrap().json().await.unwrap();
        let id: i64 = m["id"].as_str().unwrap_or_else(|| panic!("no message: {m}")).parse().unwrap();
        let r = client.post(format!("{}/manual_messages/{id}/send", self.url)).bearer_auth(token).json(&json!({}));
        let r = r.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        id
    }
}

async fn contacts(db: &Db, ws: i64, emails: &[String]) {
    let now = tidings_web::auth::now();
    for chunk in emails.chunks(5_000) {
        let inputs: Vec<ContactInput> = chunk
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("email".into(), json!(e));
                ContactInput::parse(&m, &[]).unwrap()
            })
            .collect();
        db.store.upsert_contacts(ws, &inputs, now).await.unwrap();
    }
}

async fn stats(db: &Db, ws: i64, id: i64) -> MessageStats {
    tidings_store::MessageStore::message_stats(&*db.store, ws, id).await.unwrap()
}

/// Waits (at most `limit`) until `ok` holds.
async fn until<F: FnMut() -> bool>(limit: Duration, what: &str, mut ok: F) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until no email of the message is left pending or sending; returns its stats.
async fn settled(db: &Db, ws: i64, id: i64, limit: Duration) -> MessageStats {
    let deadline = Instant::now() + limit;
    loop {
        let s = stats(db, ws, id).await;
        if s.pending == 0 {
            return s;
        }
        assert!(Instant::now() < deadline, "{}: the send did not finish: {s:?}", db.name);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn workdir(db: &Db) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(&format!("tidings-email-{}", db.name)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const RECIPIENTS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_in_the_middle_of_an_email_send_reaches_everyone_exactly_once() {
    let _only = crate::crash::SENDING.lock().await;
    for db in Db::all().await {
        killed_mid_email(&db).await;
        db.cleanup().await;
    }
}

async fn killed_mid_email(db: &Db) {
    let who = db.name;
    let dir = workdir(db);
    let created = setup(db, "owner@acme.test");
    let token = created["token"].as_str().unwrap().to_owned();
    let ws = created["workspace_id"].as_i64().unwrap();
    let emails: Vec<String> = (0..RECIPIENTS).map(|i| format!("u{i}@example.test")).collect();
    contacts(db, ws, &emails).await;
    let sink = Sink::start(&dir);
    let smtp_url = sink.smtp_url();
    // A lease above three SMTP timeouts (2 s): a worker sends only while its claim has that much
    // left, so a loaded machine never has an email on the wire from two claims.
    let mail = Mail { smtp_url: &smtp_url, connections: 10, lease: 15, retries: "1,1,1,1,1" };

    let server = Server::start(db, &mail);
    let id = server.send_email(&token).await;
    // A first part goes out…
    until(Duration::from_secs(120), &format!("{who}: nothing was sent"), || sink.accepted().len() >= 1_500).await;
    // …then the SMTP server holds every letter unanswered (it accepts none of them), and once
    // the database has recorded everything it did accept, the server is killed.
    sink.rules("delay * 60\n");
    let deadline = Instant::now() + Duration::from_secs(30);
    let accepted_before = loop {
        let accepted = sink.accepted().len() as i64;
        let s = stats(db, ws, id).await;
        if s.sent == accepted {
            break accepted;
        }
        assert!(Instant::now() < deadline, "{who}: {accepted} accepted, {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let sending = db
        .store
        .scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id} AND state = 'sending'"))
        .await
        .unwrap();
    server.kill();
    assert!(
        accepted_before < RECIPIENTS as i64 && sending > 0,
        "{who}: the kill came with {accepted_before} sent and {sending} claimed: not in the middle of the send"
    );
    eprintln!("{who}: killed with {accepted_before} of {RECIPIENTS} sent and {sending} claimed");
    sink.rules("");

    // Started again, the server sends the rest, and takes the dead one's claims again when
    // their lease ends.
    let again = Server::start(db, &mail);
    let s = settled(db, ws, id, Duration::from_secs(240)).await;
    assert_eq!(
        (s.targeted, s.sent, s.failed, s.bounced, s.skipped),
        (RECIPIENTS as i64, RECIPIENTS as i64, 0, 0, 0),
        "{who}: {s:?}"
    );
    again.stop();

    let got = sink.by_recipient();
    let mut ids = std::collections::HashSet::new();
    for e in &emails {
        let copies = got.get(e).map_or(&[][..], Vec::as_slice);
        assert_eq!(copies.len(), 1, "{who}: {e} was accepted {} times: {copies:?}", copies.len());
        assert!(copies[0].contains("@acme.test>"), "{who}: {e}: {copies:?}");
        ids.insert(copies[0].clone());
    }
    assert_eq!((got.len(), ids.len()), (RECIPIENTS, RECIPIENTS), "{who}: one Message-ID per recipient");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_gone_stopped_deferring_and_refusing_leaves_every_email_sent_or_failed_once() {
    let _only = crate::crash::SENDING.lock().await;
    for db in Db::all().await {
        faults(&db).await;
        db.cleanup().await;
    }
}

/// Recipients refused for good (5xx at RCPT) and refused for longer than the retries last (4xx).
const BOUNCED: usize = 10;
const DEFERRED: usize = 5;
const FINE: usize = 400;
const CONNECTIONS: usize = 4;

async fn faults(db: &Db) {
    let who = db.name;
    let dir = workdir(db);
    let created = setup(db, "owner@acme.test");
    let token = created["token"].as_str().unwrap().to_owned();
    let ws = created["workspace_id"].as_i64().unwrap();
    let fine: Vec<String> = (0..FINE).map(|i| format!("u{i}@example.test")).collect();
    let bounced: Vec<String> = (0..BOUNCED).map(|i| format!("gone{i}@example.test")).collect();
    let deferred: Vec<String> = (0..DEFERRED).map(|i| format!("full{i}@example.test")).collect();
    contacts(db, ws, &[fine.clone(), bounced.clone(), deferred.clone()].concat()).await;
    let mut sink = Sink::start(&dir);
    let smtp_url = sink.smtp_url();
    let always = "rcpt gone 550 5.1.1 No such user\ndata full 452 4.2.2 Mailbox full\n";
    sink.rules(always);
    // Fifteen retries a second apart: enough to outlast the faults below, not the mailbox that
    // stays full.
    let retries = vec!["1"; 15].join(",");
    let mail = Mail { smtp_url: &smtp_url, connections: CONNECTIONS, lease: 20, retries: &retries };

    // 1. The SMTP server is gone: connections are refused, every email waits for a retry.
    sink.kill();
    let server = Server::start(db, &mail);
    let id = server.send_email(&token).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sql = format!(
            "SELECT COUNT(*) FROM deliveries WHERE message_id = {id} AND state = 'pending' AND reason LIKE 'could not connect%'"
        );
        if db.store.scalar_raw(&sql).await.unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{who}: no email waited for a refused connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stats(db, ws, id).await.sent, 0, "{who}");
    sink.run();

    // 2. Back: a part goes out; then it stops answering (SIGSTOP) for a while, and continues.
    until(Duration::from_secs(60), &format!("{who}: nothing sent after the server came back"), || {
        sink.accepted().len() >= 60
    })
    .await;
    sink.signal("-STOP");
    tokio::time::sleep(Duration::from_secs(5)).await;
    sink.signal("-CONT");

    // 3. It answers 4xx to everything for a while.
    until(Duration::from_secs(60), &format!("{who}: nothing sent after SIGCONT"), || sink.accepted().len() >= 140)
        .await;
    sink.rules(&format!("{always}data * 421 4.3.2 System not accepting network messages\n"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.rules(always);

    // 4. It is slow for a while.
    until(Duration::from_secs(60), &format!("{who}: nothing sent after the 4xx"), || sink.accepted().len() >= 220)
        .await;
    sink.rules(&format!("{always}delay * 0.2\n"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.rules(always);

    let s = settled(db, ws, id, Duration::from_secs(120)).await;
    server.stop();
    assert_eq!(
        (s.targeted, s.sent, s.bounced, s.failed, s.skipped, s.cancelled),
        ((FINE + BOUNCED + DEFERRED) as i64, FINE as i64, BOUNCED as i64, DEFERRED as i64, 0, 0),
        "{who}: {s:?}"
    );
    let reasons = db.store.delivery_reasons(ws, id).await.unwrap();
    let reason = |state: &str| reasons.iter().filter(|(st, ..)| st.as_str() == state).collect::<Vec<_>>();
    assert!(
        reason("bounced").iter().all(|(_, r, _)| r.contains("550") && r.contains("No such user")),
        "{who}: {reasons:?}"
    );
    assert!(
        reason("failed").iter().all(|(_, r, _)| r.contains("gave up after") && r.contains("Mailbox full")),
        "{who}: {reasons:?}"
    );
    let hard = db
        .store
        .scalar_raw(&format!(
            "SELECT COUNT(*) FROM contacts WHERE workspace_id = {ws} AND has_hard_bounced AND email LIKE 'gone%'"
        ))
        .await
        .unwrap();
    assert_eq!(hard, BOUNCED as i64, "{who}: a 5xx marks the contact hard-bounced");

    let got = sink.by_recipient();
    for e in bounced.iter().chain(&deferred) {
        assert!(!got.contains_key(e), "{who}: {e} was refused, yet accepted: {:?}", got[e]);
    }
    // Each stopped connection may hold one letter whose end the server read only after the
    // client gave up on it (RFC 5321 leaves that case open): that one may be accepted twice, with
    // the same Message-ID. Nothing else is.
    let mut twice = 0;
    for e in &fine {
        let copies = got.get(e).map_or(&[][..], Vec::as_slice);
        assert!(!copies.is_empty(), "{who}: {e} was never accepted");
        assert!(copies.iter().all(|m| m == &copies[0]), "{who}: {e} got different Message-IDs: {copies:?}");
        twice += copies.len() - 1;
    }
    assert!(twice <= CONNECTIONS, "{who}: {twice} emails went twice");
    eprintln!("{who}: {twice} emails accepted twice after the stop (same Message-ID)");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_after_the_smtp_server_accepted_sends_again_with_the_same_message_id() {
    let _only = crate::crash::SENDING.lock().await;
    for db in Db::all().await {
        killed_after_250(&db).await;
        db.cleanup().await;
    }
}

async fn killed_after_250(db: &Db) {
    let who = db.name;
    let dir = workdir(db);
    let created = setup(db, "owner@acme.test");
    let token = created["token"].as_str().unwrap().to_owned();
    let ws = created["workspace_id"].as_i64().unwrap();
    let emails: Vec<String> = ["ann", "bob", "cat"].iter().map(|n| format!("{n}@example.test")).collect();
    contacts(db, ws, &emails).await;
    let sink = Sink::start(&dir);
    // The server takes Bob's letter (and writes it down), then keeps its 250 back.
    sink.rules("hold bob@ 120\n");
    let smtp_url = sink.smtp_url();
    let mail = Mail { smtp_url: &smtp_url, connections: 1, lease: 10, retries: "1,1,1" };
    let server = Server::start(db, &mail);
    let id = server.send_email(&token).await;
    let bob = "bob@example.test";
    until(Duration::from_secs(60), &format!("{who}: Bob's letter never arrived"), || {
        sink.by_recipient().contains_key(bob)
    })
    .await;
    // Any letter taken before Bob's had its 250: wait until those are recorded too, so that the
    // kill falls after the 250 for Bob alone (on a loaded machine a record can trail the next
    // letter by a moment, and that email would rightly be sent again). With one connection held
    // on Bob's letter, no other arrives meanwhile.
    let before_bob = sink.by_recipient().keys().filter(|e| e.as_str() != bob).count() as i64;
    let sent = format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id} AND state = 'sent'");
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.store.scalar_raw(&sent).await.unwrap() < before_bob {
        assert!(Instant::now() < deadline, "{who}: the emails before Bob's were never recorded as sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let bob_delivery = db
        .store
        .scalar_raw(&format!(
            "SELECT d.id FROM deliveries d JOIN contacts c ON c.id = d.contact_id \
             WHERE d.message_id = {id} AND c.email = '{bob}' AND d.state = 'sending'"
        ))
        .await
        .unwrap();
    assert!(bob_delivery > 0, "{who}: Bob's email is still claimed, not recorded as sent");
    sink.rules("");

    let again = Server::start(db, &mail);
    let s = settled(db, ws, id, Duration::from_secs(60)).await;
    again.stop();
    assert_eq!((s.targeted, s.sent, s.failed), (3, 3, 0), "{who}: {s:?}");
    let got = sink.by_recipient();
    for e in &emails {
        let copies = &got[e];
        if e == bob {
            assert_eq!(copies.len(), 2, "{who}: Bob's email goes again: {copies:?}");
            assert_eq!(copies[0], copies[1], "{who}: with the same Message-ID");
            assert!(copies[0].starts_with(&format!("<d{bob_delivery}.")), "{who}: {copies:?}");
        } else {
            assert_eq!(copies.len(), 1, "{who}: {e}: {copies:?}");
        }
    }
    let attempts =
        db.store.scalar_raw(&format!("SELECT attempts FROM deliveries WHERE id = {bob_delivery}")).await.unwrap();
    assert_eq!(attempts, 2, "{who}: the second attempt is counted");
    let _ = std::fs::remove_dir_all(&dir);
}
