//! Several `tidings serve` processes on one PostgreSQL and one `nats-server` of the test's own (on
//! a free port, stopped by its pid: never a server it did not start), with real Messenger
//! WebSockets spread over them and a teammate's live stream on one of them.
//!
//! "Exactly once" is read two ways: from the database (one delivery per recipient, moved from
//! `pending` once), and from each widget, which keeps every `message` frame it is pushed and every
//! item `GET /messages` answers, by delivery: a recipient never holds two deliveries of a message,
//! and is never pushed the same one twice. Waits are bounds on how long a missing frame may take
//! to show (so that it fails rather than hangs), never measurements.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Map, Value as Json, json};
use tidings_core::contact::ContactInput;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::crash::{SENDING, wait_for_insert};
use crate::{Db, import_state, owner_on, serve, serve_with, setup, start_import, upload_import};

/// How long a frame that should come may take before the test fails.
const BOUND: Duration = Duration::from_secs(15);

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `nats-server` of this test's own.
pub(crate) struct Nats {
    child: Child,
    port: u16,
}

impl Nats {
    pub(crate) fn start(port: u16) -> Nats {
        let binary = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("nats-server is required for the several-node tests (Debian: apt-get install nats-server)");
        let child = Command::new(binary)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so that it is stopped (in `drop`) however the test ends.
        let nats = Nats { child, port };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return nats;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start on port {port}");
    }

    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `tidings serve` on PostgreSQL and NATS.
pub(crate) struct Node {
    child: Child,
    pub(crate) url: String,
}

impl Node {
    pub(crate) fn start(db: &Db, nats: &str) -> Node {
        let (child, url) = serve(&["--database-url", &db.url, "--nats-url", nats]);
        Node { child, url }
    }

    /// As [`Node::start`], with a temporary folder of its own, as a node on another machine has.
    fn start_in(db: &Db, nats: &str, tmp: &std::path::Path) -> Node {
        std::fs::create_dir_all(tmp).unwrap();
        let (child, url) =
            serve_with(&["--database-url", &db.url, "--nats-url", nats], &[("TMPDIR", tmp.display().to_string())]);
        Node { child, url }
    }

    /// SIGKILL: no chance to clean up.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn health(&self) -> (u16, Json) {
        let r = reqwest::get(format!("{}/healthz", self.url)).await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Waits until `/healthz` answers `status` (the bus reconnects in its own time).
    async fn health_becomes(&self, status: u16, why: &str) -> Json {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let (s, body) = self.health().await;
            if s == status {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "{why}: /healthz stayed {s}: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace every test here uses, made with `tidings setup --json`.
struct Workspace {
    token: String,
    app_id: String,
    secret: String,
    ws: i64,
}

impl Workspace {
    fn new(db: &Db) -> Workspace {
        let p = setup(db, "owner@acme.test");
        Workspace {
            token: p["token"].as_str().unwrap().to_owned(),
            app_id: p["app_id"].as_str().unwrap().to_owned(),
            secret: p["identity_secret"].as_str().unwrap().to_owned(),
            ws: p["workspace_id"].as_i64().unwrap(),
        }
    }

    async fn call(&self, node: &Node, method: reqwest::Method, path: &str, body: Option<Json>) -> (u16, Json) {
        let mut r = reqwest::Client::new().request(method, format!("{}{path}", node.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Json::Null))
    }
}

/// A contact's Messenger: booted as a user, its WebSocket on one node, and everything it holds.
struct Widget {
    user_id: String,
    session: String,
    node: String,
    socket: Option<WebSocketStream<MaybeTlsStream<TcpStream>>>,
    /// `message` frames pushed to it, by delivery id: never more than one each.
    pushed: HashMap<String, u32>,
    /// Every item it holds (pushed or fetched), by delivery id, with its message id.
    items: HashMap<String, String>,
    resyncs: u32,
}

impl Widget {
    async fn boot(w: &Workspace, node: &Node, user_id: &str) -> Widget {
        let hash = tidings_web::messenger::session::user_hash(&w.secret, user_id);
        let r = reqwest::Client::new()
            .post(format!("{}/messenger/v1/boot", node.url))
            .json(&json!({"app_id": w.app_id, "user_id": user_id, "user_hash": hash}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{user_id} boots");
        let body: Json = r.json().await.unwrap();
        let mut widget = Widget {
            user_id: user_id.to_owned(),
            session: body["session"].as_str().unwrap().to_owned(),
            node: node.url.clone(),
            socket: None,
            pushed: HashMap::new(),
            items: HashMap::new(),
            resyncs: 0,
        };
        widget.connect(&node.url).await;
        widget
    }

    /// Opens the WebSocket on `node` (waiting for its hello), then fetches, as the widget does
    /// after every (re)connect.
    async fn connect(&mut self, node: &str) {
        let url = format!("{}/messenger/v1/ws?session={}", node.replacen("http://", "ws://", 1), self.session);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let hello = tokio::time::timeout(BOUND, socket.next()).await.expect("no hello").unwrap().unwrap();
        assert_eq!(frame(&hello).unwrap()["type"], "hello", "{}", self.user_id);
        self.node = node.to_owned();
        self.socket = Some(socket);
        self.fetch().await;
    }

    /// `GET /messages` on the widget's node: delivers what is pending, answers what it holds.
    async fn fetch(&mut self) {
        let r = reqwest::Client::new()
            .get(format!("{}/messenger/v1/messages", self.node))
            .header("x-messenger-session", &self.session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{} fetches", self.user_id);
        let body: Json = r.json().await.unwrap();
        let mut by_message: HashMap<String, Vec<String>> = HashMap::new();
        for item in body["items"].as_array().unwrap() {
            let (delivery, message) = (id(&item["delivery_id"]), id(&item["message_id"]));
            by_message.entry(message.clone()).or_default().push(delivery.clone());
            self.items.insert(delivery, message);
        }
        for (message, deliveries) in by_message {
            assert_eq!(deliveries.len(), 1, "{} holds message {message} twice: {deliveries:?}", self.user_id);
        }
    }

    /// Reads frames until `done` says so; a `resync` is answered with a fetch, as the widget does.
    /// `None` when the socket closed (its node went away).
    async fn read_until(&mut self, what: &str, mut done: impl FnMut(&Widget, &Json) -> bool) -> Option<Json> {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            let socket = self.socket.as_mut()?;
            let next = tokio::time::timeout_at(deadline, socket.next()).await;
            let got = next.unwrap_or_else(|_| panic!("{}: no {what} within {BOUND:?}", self.user_id));
            let Some(Ok(ws)) = got else {
                self.socket = None;
                return None;
            };
            let Some(f) = frame(&ws) else { continue };
            match f["type"].as_str() {
                Some("message") => {
                    let delivery = id(&f["item"]["delivery_id"]);
                    let n = self.pushed.entry(delivery.clone()).or_default();
                    *n += 1;
                    assert_eq!(*n, 1, "{}: delivery {delivery} pushed twice", self.user_id);
                    self.items.insert(delivery, id(&f["item"]["message_id"]));
                }
                Some("resync") => {
                    self.resyncs += 1;
                    self.fetch().await;
                }
                _ => {}
            }
            if done(self, &f) {
                return Some(f);
            }
        }
    }

    /// Waits until the widget holds `message` (pushed, or fetched after a resync).
    async fn holds(&mut self, message: &str) -> bool {
        let message = message.to_owned();
        if self.items.values().any(|m| *m == message) {
            return true;
        }
        self.read_until("message", |w, _| w.items.values().any(|m| *m == message)).await.is_some()
    }

    /// How many of the widget's items are `message`.
    fn count(&self, message: &str) -> usize {
        self.items.values().filter(|m| *m == message).count()
    }

    fn pushed_count(&self, message: &str) -> u32 {
        let deliveries: Vec<&String> = self.items.iter().filter(|(_, m)| *m == message).map(|(d, _)| d).collect();
        deliveries.iter().map(|d| self.pushed.get(*d).copied().unwrap_or(0)).sum()
    }
}

/// An id as the API writes it (a string), whatever JSON it came in.
fn id(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn frame(ws: &Ws) -> Option<Json> {
    match ws {
        Ws::Text(t) => serde_json::from_str(t.as_str()).ok(),
        _ => None,
    }
}

/// `(deliveries, distinct recipients, not pending)` of a message, read from the database.
async fn deliveries(db: &Db, message: &str) -> (i64, i64, i64) {
    let q = |sql: String| async move { db.store.scalar_raw(&sql).await.unwrap() };
    (
        q(format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {message}")).await,
        q(format!("SELECT COUNT(DISTINCT contact_id) FROM deliveries WHERE message_id = {message}")).await,
        q(format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {message} AND state <> 'pending'")).await,
    )
}

async fn send_to_everyone(w: &Workspace, node: &Node, title: &str) -> String {
    let body = json!({"title": title, "channel": "chat", "body": "Hello {{first_name | fallback: \"there\"}}",
                      "audience": {"everyone": true}, "send": true});
    let (status, m) = w.call(node, reqwest::Method::POST, "/manual_messages", Some(body)).await;
    assert_eq!(status, 200, "{m}");
    id(&m["id"])
}

/// A teammate's live stream (`/app/events`), logged in on one node.
struct Stream {
    answer: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(node: &Node) -> Stream {
        let (client, _) = owner_on(&node.url).await;
        let answer = client.get(format!("{}/app/events", node.url)).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        let mut s = Stream { answer, buffer: String::new() };
        assert_eq!(s.next().await["type"], "ready");
        s
    }

    async fn next(&mut self) -> Json {
        let deadline = tokio::time::Instant::now() + BOUND;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
                if !data.is_empty() {
                    return serde_json::from_str(&data.join("\n")).unwrap();
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.answer.chunk()).await.expect("no event").unwrap();
            self.buffer.push_str(std::str::from_utf8(&chunk.expect("the stream ended")).unwrap());
        }
    }

    /// Waits for the notice `kind` about `id`.
    async fn heard(&mut self, kind: &str, key: &str, id: &str) {
        loop {
            let n = self.next().await;
            if n["type"] == kind && n[key] == id {
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_once_and_carry_replies_between_them() {
    let _only = SENDING.lock().await;
    let db = Db::postgres().await;
    let w = Workspace::new(&db);
    let nats = Nats::start(free_port());
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&db, &nats.url())).collect();
    for n in &nodes {
        let h = n.health_becomes(200, "a fresh node").await;
        assert_eq!(h["bus"], json!({"kind": "nats", "ok": true}), "{h}");
    }
    // Nine contacts, three on each node.
    let mut widgets = Vec::new();
    for i in 0..9 {
        widgets.push(Widget::boot(&w, &nodes[i % 3], &format!("u{i}")).await);
    }

    // A message sent through node 1 reaches every one of them at once, exactly once.
    let sent = send_to_everyone(&w, &nodes[0], "Three nodes").await;
    for widget in &mut widgets {
        assert!(widget.holds(&sent).await, "{} lost its node", widget.user_id);
        assert_eq!(widget.pushed_count(&sent), 1, "{}: pushed in real time", widget.user_id);
    }
    assert_eq!(deliveries(&db, &sent).await, (9, 9, 9));

    // A scheduled message is sent by exactly one of the three nodes' schedulers.
    let at = tidings_web::auth::now() + 2;
    let draft = json!({"title": "Later", "channel": "chat", "body": "Later", "audience": {"everyone": true},
                       "scheduled_at": at});
    let (status, m) = w.call(&nodes[1], reqwest::Method::POST, "/manual_messages", Some(draft)).await;
    assert_eq!(status, 200, "{m}");
    let later = m["id"].as_str().unwrap().to_owned();
    for widget in &mut widgets {
        assert!(widget.holds(&later).await);
        assert_eq!((widget.count(&later), widget.pushed_count(&later)), (1, 1), "{}", widget.user_id);
    }
    assert_eq!(deliveries(&db, &later).await, (9, 9, 9));
    let (_, m) = w.call(&nodes[2], reqwest::Method::GET, &format!("/manual_messages/{later}"), None).await;
    assert_eq!(m["state"], "sent", "{m}");

    // A contact on node 3 writes; the teammate's page on node 1 hears it.
    let mut page = Stream::open(&nodes[0]).await;
    let ada = &mut widgets[2];
    assert_eq!(ada.node, nodes[2].url);
    let wrote = std::time::Instant::now();
    let r = reqwest::Client::new()
        .post(format!("{}/messenger/v1/conversations", nodes[2].url))
        .header("x-messenger-session", &ada.session)
        .json(&json!({"body": "Where is my invoice?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let conversation = r.json::<Json>().await.unwrap()["id"].as_str().unwrap().to_owned();
    page.heard("part_added", "conversation_id", &conversation).await;
    // Printed, not asserted: how long a contact's words took to reach another node's page.
    eprintln!("the page on node 1 heard the contact's words on node 3 after {:?}", wrote.elapsed());
    let (_, c) = w.call(&nodes[0], reqwest::Method::GET, &format!("/conversations/{conversation}"), None).await;
    assert!(c.to_string().contains("Where is my invoice?"), "node 1 reads the contact's words: {c}");

    // A teammate's reply on node 2 reaches the contact's Messenger on node 3.
    let (_, me) = w.call(&nodes[1], reqwest::Method::GET, "/me", None).await;
    let reply = json!({"message_type": "comment", "type": "admin", "admin_id": me["id"], "body": "Sent it again"});
    let path = format!("/conversations/{conversation}/reply");
    let (status, answer) = w.call(&nodes[1], reqwest::Method::POST, &path, Some(reply)).await;
    assert_eq!(status, 200, "{answer}");
    let part = ada
        .read_until("the teammate's reply", |_, f| f["type"] == "conversation_part")
        .await
        .expect("node 3 stayed up");
    assert_eq!(part["conversation_id"], conversation.as_str());
    assert!(part["part"]["html"].as_str().unwrap().contains("Sent it again"), "{part}");
    // And the page on node 1 hears the reply too.
    page.heard("part_added", "conversation_id", &conversation).await;
    drop(nodes);
    db.cleanup().await;
}

/// Recipients of the 30,000-contact send that have a Messenger open.
const ONLINE: usize = 30;
const RECIPIENTS: usize = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_during_a_send_loses_no_one_and_duplicates_no_one() {
    let _only = SENDING.lock().await;
    let db = Db::postgres().await;
    let w = Workspace::new(&db);
    let now = tidings_web::auth::now();
    for batch in 0..RECIPIENTS / 5_000 {
        let inputs: Vec<ContactInput> = (batch * 5_000..(batch + 1) * 5_000)
            .map(|i| {
                let mut m = Map::new();
                m.insert("external_id".into(), json!(format!("u{i}")));
                m.insert("email".into(), json!(format!("u{i}@example.test")));
                ContactInput::parse(&m, &[]).unwrap()
            })
            .collect();
        db.store.upsert_contacts(w.ws, &inputs, now).await.unwrap();
    }
    let nats = Nats::start(free_port());
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&db, &nats.url())).collect();
    for n in &nodes {
        n.health_becomes(200, "a fresh node").await;
    }
    let mut widgets = Vec::new();
    for i in 0..ONLINE {
        widgets.push(Widget::boot(&w, &nodes[i % 3], &format!("u{i}")).await);
    }

    // Sent through node 1; node 3 is killed while the send writes its 30,000 deliveries
    // (PostgreSQL shows the snapshot's INSERT running), before any node can hear of it.
    let sending = tokio::spawn({
        let (url, token) = (nodes[0].url.clone(), w.token.clone());
        async move {
            let body = json!({"title": "Everyone", "channel": "chat", "body": "Hello {{first_name | fallback: \"there\"}}",
                              "audience": {"everyone": true}, "send": true});
            let r = reqwest::Client::new()
                .post(format!("{url}/manual_messages"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Json>().await.unwrap()
        }
    });
    wait_for_insert(&db, "three nodes").await;
    nodes[2].kill();
    let answer = sending.await.unwrap();
    assert_eq!(answer["stats"]["targeted"], json!(RECIPIENTS), "{answer}");
    let sent = id(&answer["id"]);

    let survivors = [nodes[0].url.clone(), nodes[1].url.clone()];
    for (i, widget) in widgets.iter_mut().enumerate() {
        if i % 3 == 2 {
            // Its node died before the send committed: nothing was pushed to it. It reconnects to
            // another node and fetches there.
            while widget.read_until("its socket to close", |_, _| false).await.is_some() {}
            assert_eq!(widget.count(&sent), 0, "{}: its node was gone before the send", widget.user_id);
            widget.connect(&survivors[i % 2]).await;
            assert_eq!(widget.count(&sent), 1, "{}: had it after reconnecting elsewhere", widget.user_id);
        } else {
            assert!(widget.holds(&sent).await, "{}", widget.user_id);
            assert_eq!(widget.pushed_count(&sent), 1, "{}: pushed in real time", widget.user_id);
        }
    }
    // Nobody twice: one delivery per recipient; every open Messenger's is delivered, the rest wait.
    let (n, distinct, moved) = deliveries(&db, &sent).await;
    assert_eq!((n, distinct), (RECIPIENTS as i64, RECIPIENTS as i64));
    assert_eq!(moved, ONLINE as i64, "delivered to exactly the open Messengers");
    // Fetching again on either node changes nothing.
    for widget in &mut widgets {
        widget.fetch().await;
        assert_eq!(widget.count(&sent), 1, "{}", widget.user_id);
    }
    assert_eq!(deliveries(&db, &sent).await.2, ONLINE as i64);
    drop(nodes);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_for_seconds_loses_nothing_and_every_messenger_resyncs() {
    let _only = SENDING.lock().await;
    let db = Db::postgres().await;
    let w = Workspace::new(&db);
    let port = free_port();
    let nats = Nats::start(port);
    let nodes: Vec<Node> = (0..2).map(|_| Node::start(&db, &nats.url())).collect();
    for n in &nodes {
        n.health_becomes(200, "a fresh node").await;
    }
    let mut widgets = Vec::new();
    for i in 0..6 {
        widgets.push(Widget::boot(&w, &nodes[i % 2], &format!("u{i}")).await);
    }

    // NATS goes away: each node says so, and still serves its own clients.
    drop(nats);
    for n in &nodes {
        let h = n.health_becomes(503, "NATS stopped").await;
        assert_eq!(h["bus"]["ok"], false, "{h}");
        assert_eq!(h["database"]["ok"], true, "{h}");
    }
    let sent = send_to_everyone(&w, &nodes[0], "While NATS is down").await;
    for widget in widgets.iter_mut().step_by(2) {
        assert!(widget.holds(&sent).await, "{}: node 1 hears its own send", widget.user_id);
        assert_eq!(widget.pushed_count(&sent), 1);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    // NATS is back on the same port: the nodes reconnect and tell their Messengers to resync.
    let _nats = Nats::start(port);
    for n in &nodes {
        n.health_becomes(200, "NATS back").await;
    }
    for widget in widgets.iter_mut().skip(1).step_by(2) {
        assert!(widget.holds(&sent).await, "{}: after the resync", widget.user_id);
        assert_eq!(widget.count(&sent), 1, "{}", widget.user_id);
        if widget.resyncs == 0 {
            widget.read_until("a resync", |w, _| w.resyncs > 0).await.unwrap();
        }
    }
    // Nobody twice, on either node, however the push and the resync crossed.
    for widget in &mut widgets {
        widget.fetch().await;
        assert_eq!(widget.count(&sent), 1, "{}", widget.user_id);
        assert!(widget.pushed_count(&sent) <= 1, "{}", widget.user_id);
    }
    assert_eq!(deliveries(&db, &sent).await, (6, 6, 6));
    drop(nodes);
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_to_one_node_is_previewed_and_imported_by_another() {
    let db = Db::postgres().await;
    let w = Workspace::new(&db);
    let nats = Nats::start(free_port());
    // Each node with a temporary folder of its own: node B never sees the file node A received.
    let tmp = std::env::temp_dir().join(format!("tidings-import-nodes-{}", std::process::id()));
    let (a, b) = (Node::start_in(&db, &nats.url(), &tmp.join("a")), Node::start_in(&db, &nats.url(), &tmp.join("b")));
    let mut csv = String::from("external_id,email,plan\n");
    for i in 0..3_000 {
        csv.push_str(&format!("u{i},u{i}@example.test,pro\n"));
    }

    let (on_a, csrf_a) = owner_on(&a.url).await;
    let id = upload_import(&on_a, &a.url, &csrf_a, &csv).await;
    let received = std::fs::read_dir(tmp.join("a").join("tidings-imports")).unwrap().count();
    assert_eq!(received, 1, "node A keeps the file it received");

    // Node B shows the preview and starts the import: `plan` is new, created as text.
    let (on_b, csrf_b) = owner_on(&b.url).await;
    let preview = on_b.get(format!("{}/app/import/{id}", b.url)).send().await.unwrap();
    assert_eq!(preview.status().as_u16(), 200);
    let page = preview.text().await.unwrap();
    assert!(page.contains("u2999@example.test") || page.contains("u0@example.test"), "the preview's samples");
    start_import(&on_b, &b.url, &csrf_b, &id, &[("col2", "new:string")]).await;

    // Node A follows it to the end.
    let deadline = tokio::time::Instant::now() + BOUND;
    let state = loop {
        let s = import_state(&on_a, &a.url, &id).await;
        if s["finished"] == json!(true) {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "the import did not end: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((&state["status"], &state["created"], &state["rejected"]), (&json!("done"), &json!(3000), &json!(0)));
    let (status, found) = w
        .call(
            &a,
            reqwest::Method::POST,
            "/contacts/search",
            Some(json!({"query": {"field": "custom_attributes.plan", "operator": "=", "value": "pro"}})),
        )
        .await;
    assert_eq!((status, &found["total_count"]), (200, &json!(3000)), "{found}");
    let copies = std::fs::read_dir(tmp.join("b").join("tidings-imports")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(copies, 0, "node B's copy is removed once imported");
    drop((a, b));
    let _ = std::fs::remove_dir_all(&tmp);
    db.cleanup().await;
}
