//! Webhooks sent to a real HTTP receiver (an axum server in the test): the envelope and its
//! signature, the topic of each kind of part, retries with backoff on the test's clock, the
//! private-address rule at send time, two nodes on one PostgreSQL sending each notification
//! once, and nothing lost across a restart or a node that died holding a claim.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value as Json, json};
use tidings_core::conversation::Change;
use tidings_core::webhook::Topic;
use tidings_engine::conversations::{ReplyTo, Words};
use tidings_engine::messages::{MessageInput, Then};
use tidings_engine::webhooks::sender::{Shaper, Worker};
use tidings_engine::webhooks::{WebhookInput, WebhookSetup};
use tidings_engine::{Engine, InProcess};
use tidings_store::{NotificationState, Store, Webhook};

use super::support::{START, World};

/// What the receiver was sent.
#[derive(Clone, Debug)]
struct Got {
    headers: HeaderMap,
    body: Bytes,
    json: Json,
}

#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<Got>>,
    /// Statuses to answer with, in turn; 200 when none is left.
    plan: Mutex<VecDeque<u16>>,
    /// How long to wait before answering.
    delay: Mutex<Duration>,
}

/// A webhook receiver on a free port of 127.0.0.1.
struct Receiver {
    addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl Receiver {
    async fn start() -> Receiver {
        async fn take(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
            let json = serde_json::from_slice(&body).unwrap_or(Json::Null);
            inbox.got.lock().unwrap().push(Got { headers, body, json });
            let delay = *inbox.delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            let status = inbox.plan.lock().unwrap().pop_front().unwrap_or(200);
            StatusCode::from_u16(status).unwrap()
        }
        let inbox = Arc::new(Inbox::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/hook", axum::routing::post(take)).with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, inbox }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn got(&self) -> Vec<Got> {
        self.inbox.got.lock().unwrap().clone()
    }

    fn answer(&self, statuses: &[u16]) {
        self.inbox.plan.lock().unwrap().extend(statuses);
    }
}

/// The conversation as these tests shape it: its id, state and parts.
struct Plain(Arc<dyn Store>);

#[async_trait::async_trait]
impl Shaper for Plain {
    async fn conversation(&self, ws: i64, id: i64) -> Result<Option<Json>, String> {
        let Some(c) = self.0.conversation(ws, id).await.map_err(|e| e.to_string())? else { return Ok(None) };
        let parts = self.0.parts(ws, id).await.map_err(|e| e.to_string())?;
        let ids: Vec<String> = parts.iter().map(|p| p.id.to_string()).collect();
        Ok(Some(json!({"type": "conversation", "id": c.id.to_string(), "state": c.state.as_str(), "parts": ids})))
    }
}

fn setup(allow_private: bool) -> WebhookSetup {
    WebhookSetup { allow_private, retry_after: vec![10, 60], ..WebhookSetup::default() }
}

fn worker(engine: &Arc<Engine>) -> Worker {
    Worker::new(engine.clone(), Arc::new(Plain(engine.store().clone())))
}

async fn subscribe(w: &World, url: &str, topics: &[Topic]) -> Webhook {
    let input = WebhookInput {
        url: Some(url.to_owned()),
        topics: Some(topics.iter().map(|t| t.as_str().to_owned()).collect()),
        active: None,
    };
    w.engine.create_webhook(&w.ws, input).await.unwrap()
}

fn hmac_sha1(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Waits (a few seconds at most) until `ok` holds for what the receiver got.
async fn until(r: &Receiver, what: &str, ok: impl Fn(&[Got]) -> bool) -> Vec<Got> {
    for _ in 0..200 {
        let got = r.got();
        if ok(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: got {} notifications", r.got().len());
}

/// How many times each notification id arrived.
fn arrivals(got: &[Got]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for g in got {
        *n.entry(g.json["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    n
}

#[tokio::test]
async fn each_part_is_sent_once_as_its_topic_in_intercoms_envelope_signed_with_the_secret() {
    for w in World::both().await {
        let db = w.db;
        let r = Receiver::start().await;
        w.engine.set_webhooks(setup(true));
        let hook = subscribe(&w, &r.url(), &Topic::ALL).await;
        let (ada, bea) = (w.contact("Ada").await, w.contact("Bea").await);
        let (ws, me) = (&w.ws, &w.owner);

        // Every kind of part, through the engine's own operations.
        let c = w.engine.contact_starts(ws, &ada, "Where is my order?").await.unwrap();
        w.engine.teammate_writes(ws, me, c.id, Words::Reply, "On it").await.unwrap();
        w.engine.teammate_writes(ws, me, c.id, Words::Note, "VIP").await.unwrap();
        w.engine.teammate_changes(ws, me, c.id, Change::Close, None).await.unwrap();
        w.engine.contact_replies(ws, &ada, ReplyTo::Conversation(c.id), "Still waiting").await.unwrap();
        w.engine.assign(ws, me, c.id, Some(me.id), None).await.unwrap();
        w.engine.teammate_changes(ws, me, c.id, Change::Snooze { until: START + 60 }, None).await.unwrap();
        w.clock.set(START + 60);
        tidings_engine::inbox::step(&w.engine, START + 60).await;
        w.engine.teammate_changes(ws, me, c.id, Change::Close, None).await.unwrap();
        w.engine.teammate_changes(ws, me, c.id, Change::Open, None).await.unwrap();
        w.engine.contact_replies(ws, &ada, ReplyTo::Conversation(c.id), "Thanks").await.unwrap();
        // A teammate's message that Bea answers starts a conversation of the team's.
        let input = MessageInput {
            body: Some("Hi {{first_name}}".into()),
            audience: Some(json!({"contact_ids": [bea.id]})),
            ..MessageInput::default()
        };
        w.engine.create_message(ws, me.id, input, Then::Send).await.unwrap();
        w.engine.deliver_pending(ws.id, bea.id).await.unwrap();
        let delivery = w.store.deliveries_of_contact(ws.id, bea.id).await.unwrap()[0].id;
        let theirs = w.engine.contact_replies(ws, &bea, ReplyTo::Delivery(delivery), "Hello!").await.unwrap();

        let now = START + 100;
        w.clock.set(now);
        let step = worker(&w.engine).step(now).await;
        assert_eq!((step.enqueued, step.attempted, step.delivered), (13, 13, 13), "{db}: {step:?}");
        let got = r.got();
        assert_eq!(got.len(), 13, "{db}");
        assert_eq!(arrivals(&got).len(), 13, "{db}: thirteen notifications, each once");

        for g in &got {
            let e = &g.json;
            let header = |name: &str| g.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert_eq!(header("x-hub-signature"), format!("sha1={}", hmac_sha1(&hook.secret, &g.body)), "{db}");
            assert_eq!(header("content-type"), "application/json", "{db}");
            assert_eq!(header("user-agent"), "Tidings-Webhook", "{db}");
            assert_eq!(e["type"], "notification_event", "{db}");
            assert_eq!(e["app_id"], json!(ws.app_id), "{db}");
            assert!(e["id"].as_str().unwrap().starts_with("notif_"), "{db}");
            assert_eq!(
                (e["delivery_status"].clone(), e["delivery_attempts"].clone()),
                (json!("pending"), json!(1)),
                "{db}"
            );
            assert_eq!((e["first_sent_at"].clone(), e["created_at"].clone()), (json!(now), json!(now)), "{db}");
            assert_eq!(
                (e["delivered_at"].clone(), e["links"].clone(), e["self"].clone()),
                (json!(0), json!({}), Json::Null),
                "{db}"
            );
            assert_eq!(e["data"]["type"], "notification_event_data", "{db}");
            let id: i64 = e["data"]["item"]["id"].as_str().unwrap().parse().unwrap();
            assert!(id == c.id || id == theirs.id, "{db}");
            assert_eq!(
                e["data"]["item"],
                Plain(w.store.clone()).conversation(ws.id, id).await.unwrap().unwrap(),
                "{db}"
            );
        }
        // Stored: each delivered, with the receiver's status; none is sent again.
        let stored = w.store.webhook_notifications(ws.id, hook.id, 100).await.unwrap();
        assert!(stored.iter().all(|n| n.state == NotificationState::Delivered && n.last_status == Some(200)), "{db}");
        let mut by_part: Vec<(i64, &str)> = stored.iter().map(|n| (n.part_id, n.topic.as_str())).collect();
        by_part.sort_unstable();
        let in_order: Vec<&str> = by_part.iter().map(|(_, t)| *t).collect();
        assert_eq!(&in_order[..11], &expected_in_order()[..], "{db}: Ada's parts, in order");
        assert_eq!(&in_order[11..], ["conversation.admin.single.created", "conversation.user.replied"], "{db}");
        let again = worker(&w.engine).step(now + 1).await;
        assert_eq!((again.enqueued, again.attempted), (0, 0), "{db}");
        assert_eq!(r.got().len(), got.len(), "{db}: nothing twice");
        w.cleanup().await;
    }
}

/// The topics of Ada's conversation above, part by part.
fn expected_in_order() -> [&'static str; 11] {
    [
        "conversation.user.created",
        "conversation.admin.replied",
        "conversation.admin.noted",
        "conversation.admin.closed",
        "conversation.user.replied",
        "conversation.admin.assigned",
        "conversation.admin.snoozed",
        "conversation.admin.unsnoozed",
        "conversation.admin.closed",
        "conversation.admin.opened",
        "conversation.user.replied",
    ]
}

#[tokio::test]
async fn failures_are_tried_again_after_growing_waits_until_the_attempts_run_out() {
    for w in World::both().await {
        let db = w.db;
        let r = Receiver::start().await;
        w.engine.set_webhooks(setup(true));
        let hook = subscribe(&w, &r.url(), &[Topic::UserCreated]).await;
        // Nobody listens on this one: every attempt fails to connect.
        let gone = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let dead = subscribe(&w, &format!("http://{gone}/hook"), &[Topic::UserCreated]).await;
        let ada = w.contact("Ada").await;
        w.engine.contact_starts(&w.ws, &ada, "Hello").await.unwrap();
        r.answer(&[500, 503]);
        let worker = worker(&w.engine);

        let first = worker.step(START).await;
        assert_eq!((first.attempted, first.delivered), (2, 0), "{db}");
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        assert_eq!(
            (n.state, n.attempts, n.next_attempt_at, n.last_status),
            (NotificationState::Pending, 1, Some(START + 10), Some(500)),
            "{db}: again in 10 seconds"
        );
        assert!(n.last_error.as_deref().unwrap().contains("500"), "{db}: {:?}", n.last_error);
        let d = &w.store.webhook_notifications(w.ws.id, dead.id, 1).await.unwrap()[0];
        assert_eq!((d.state, d.last_status), (NotificationState::Pending, None), "{db}");
        assert!(!d.last_error.as_deref().unwrap_or_default().is_empty(), "{db}: why it failed");

        w.clock.set(START + 9);
        assert_eq!(worker.step(START + 9).await.attempted, 0, "{db}: not before its time");
        w.clock.set(START + 10);
        assert_eq!(worker.step(START + 10).await.attempted, 2, "{db}");
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        assert_eq!(
            (n.attempts, n.next_attempt_at, n.last_status),
            (2, Some(START + 70), Some(503)),
            "{db}: then a minute"
        );
        w.clock.set(START + 70);
        let done = worker.step(START + 70).await;
        assert_eq!((done.attempted, done.delivered), (2, 1), "{db}");

        let got = r.got();
        assert_eq!(got.len(), 3, "{db}");
        assert_eq!(arrivals(&got).len(), 1, "{db}: one notification, the same id on every attempt");
        let attempts: Vec<Json> = got.iter().map(|g| g.json["delivery_attempts"].clone()).collect();
        assert_eq!(attempts, [json!(1), json!(2), json!(3)], "{db}");
        assert!(got.iter().all(|g| g.json["first_sent_at"] == json!(START)), "{db}: first sent at the first attempt");
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        assert_eq!(
            (n.state, n.delivered_at, n.last_error.as_deref()),
            (NotificationState::Delivered, Some(START + 70), None),
            "{db}"
        );
        let d = &w.store.webhook_notifications(w.ws.id, dead.id, 1).await.unwrap()[0];
        assert_eq!((d.state, d.attempts, d.next_attempt_at), (NotificationState::Failed, 3, None), "{db}: given up");
        assert!(d.last_error.as_deref().unwrap().starts_with("gave up after 3 attempts"), "{db}: {:?}", d.last_error);
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_private_target_is_refused_when_saved_and_when_sent_unless_the_server_allows_it() {
    for w in World::both().await {
        let db = w.db;
        let r = Receiver::start().await;
        w.engine.set_webhooks(setup(false));
        for url in [r.url(), "http://localhost/hook".into(), "http://[::1]/x".into(), "http://10.0.0.8/x".into()] {
            let input = WebhookInput {
                url: Some(url.clone()),
                topics: Some(vec!["conversation.user.created".into()]),
                active: None,
            };
            let refused = w.engine.create_webhook(&w.ws, input).await.unwrap_err();
            let tidings_engine::EngineError::Invalid(errors) = refused else { panic!("{db}: {url}") };
            assert_eq!(errors.0[0].field, "url", "{db}: {url}");
            assert!(errors.0[0].message.contains("not a public internet address"), "{db}: {}", errors.0[0].message);
        }
        assert!(w.store.webhooks(w.ws.id).await.unwrap().is_empty(), "{db}: nothing saved");

        // Saved while allowed, then the server stops allowing it: the send is refused too.
        w.engine.set_webhooks(setup(true));
        let hook = subscribe(&w, &r.url(), &[Topic::UserCreated]).await;
        w.engine.set_webhooks(setup(false));
        let ada = w.contact("Ada").await;
        w.engine.contact_starts(&w.ws, &ada, "Hello").await.unwrap();
        let step = worker(&w.engine).step(START).await;
        assert_eq!((step.attempted, step.delivered), (1, 0), "{db}");
        assert!(r.got().is_empty(), "{db}: nothing reached the receiver");
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        assert!(n.last_error.as_deref().unwrap().contains("not a public internet address"), "{db}: {:?}", n.last_error);
        w.engine.set_webhooks(setup(true));
        assert_eq!(worker(&w.engine).step(START + 10).await.delivered, 1, "{db}: allowed again, it goes");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn two_nodes_on_one_postgresql_send_each_notification_once() {
    let mut worlds = World::both().await;
    let w = worlds.pop().unwrap();
    worlds.pop().unwrap().cleanup().await;
    assert_eq!(w.db, "postgres");
    let r = Receiver::start().await;
    w.engine.set_webhooks(setup(true));
    subscribe(&w, &r.url(), &Topic::ALL).await;
    // Two nodes: their own pools and buses, on one database and the test's clock.
    let other = Engine::new(w.another_store().await.unwrap(), w.clock.clone(), Arc::new(InProcess::default()));
    other.set_webhooks(setup(true));
    let shaper = Arc::new(Plain(w.store.clone()));
    let (a, b) = (w.engine.start_webhooks(shaper.clone()), other.start_webhooks(shaper));
    let mut expected = 0;
    for i in 0..12 {
        let who = w.contact(&format!("P{i}")).await;
        // Half the parts written through each node.
        let engine = if i % 2 == 0 { &w.engine } else { &other };
        let c = engine.contact_starts(&w.ws, &who, "Hello").await.unwrap();
        engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "Hi").await.unwrap();
        engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Close, None).await.unwrap();
        expected += 3;
    }
    let got = until(&r, "every notification", |g| g.len() >= expected).await;
    // Give a second copy, were there one, time to arrive.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let got = if r.got().len() > got.len() { r.got() } else { got };
    a.shutdown().await;
    b.shutdown().await;
    let counts = arrivals(&got);
    assert_eq!(counts.len(), expected, "every notification arrived");
    assert!(counts.values().all(|n| *n == 1), "none twice: {counts:?}");
    w.cleanup().await;
}

#[tokio::test]
async fn nothing_is_lost_across_a_restart_nor_when_a_node_dies_holding_a_claim() {
    for w in World::both().await {
        let db = w.db;
        let r = Receiver::start().await;
        w.engine.set_webhooks(setup(true));
        let hook = subscribe(&w, &r.url(), &Topic::ALL).await;
        let ada = w.contact("Ada").await;
        let shaper: Arc<dyn Shaper> = Arc::new(Plain(w.store.clone()));

        // Running: a slow receiver, and a stop while a notification is on its way. The stop
        // waits for the answer and records it.
        *r.inbox.delay.lock().unwrap() = Duration::from_millis(700);
        let running = w.engine.start_webhooks(shaper.clone());
        let c = w.engine.contact_starts(&w.ws, &ada, "Hello").await.unwrap();
        until(&r, "the first notification on its way", |g| g.len() == 1).await;
        running.shutdown().await;
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        assert_eq!(
            (n.state, n.last_status),
            (NotificationState::Delivered, Some(200)),
            "{db}: recorded before stopping"
        );
        *r.inbox.delay.lock().unwrap() = Duration::ZERO;

        // Stopped: parts keep coming. A new node (a restart) sends them all, once.
        for words in ["One", "Two"] {
            w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Note, words).await.unwrap();
        }
        let restarted = Engine::new(w.store.clone(), w.clock.clone(), Arc::new(InProcess::default()));
        restarted.set_webhooks(setup(true));
        let running = restarted.start_webhooks(shaper.clone());
        let got = until(&r, "the notes written while stopped", |g| g.len() == 3).await;
        running.shutdown().await;
        assert_eq!(arrivals(&got).len(), 3, "{db}");

        // A node claims a notification and dies before it sends: when its claim ends, another
        // node sends it (the second attempt, with the same id).
        w.engine.teammate_changes(&w.ws, &w.owner, c.id, Change::Close, None).await.unwrap();
        w.store.enqueue_notifications(START, 100).await.unwrap();
        let claimed = w.store.claim_notifications(START, START + 60, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "{db}");
        let worker = worker(&w.engine);
        assert_eq!(worker.step(START + 59).await.attempted, 0, "{db}: the dead node's claim still holds");
        assert_eq!(worker.step(START + 60).await.delivered, 1, "{db}: then it is sent");
        let got = r.got();
        let last = got.last().unwrap();
        assert_eq!(last.json["id"], json!(claimed[0].notification.notification_id), "{db}");
        assert_eq!(
            (last.json["topic"].clone(), last.json["delivery_attempts"].clone()),
            (json!("conversation.admin.closed"), json!(2)),
            "{db}"
        );
        assert_eq!(arrivals(&got).len(), 4, "{db}");
        assert!(arrivals(&got).values().all(|n| *n == 1), "{db}");
        w.cleanup().await;
    }
}

/// `openssl s_server` with a certificate no public authority signed, stopped when dropped.
struct TlsServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl TlsServer {
    fn start(dir: std::path::PathBuf) -> TlsServer {
        std::fs::create_dir_all(&dir).unwrap();
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl makes the test's certificate (Debian's openssl package)");
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept", &format!("127.0.0.1:{port}"), "-cert"])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Held from here on, so that it is stopped however the wait below ends.
        let server = TlsServer { child, port, dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("openssl s_server did not start on {port}");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn https_targets_are_spoken_to_over_tls_and_a_certificate_nobody_vouches_for_is_refused() {
    for w in World::both().await {
        let db = w.db;
        let tls = TlsServer::start(std::env::temp_dir().join(format!("tidings-tls-{db}-{}", std::process::id())));
        w.engine.set_webhooks(setup(true));
        let hook = subscribe(&w, &format!("https://127.0.0.1:{}/hook", tls.port), &[Topic::UserCreated]).await;
        let ada = w.contact("Ada").await;
        w.engine.contact_starts(&w.ws, &ada, "Hello").await.unwrap();
        let step = worker(&w.engine).step(START).await;
        assert_eq!((step.attempted, step.delivered), (1, 0), "{db}");
        let n = &w.store.webhook_notifications(w.ws.id, hook.id, 1).await.unwrap()[0];
        let why = n.last_error.as_deref().unwrap_or_default();
        assert!(why.contains("certificate"), "{db}: the TLS handshake ran and refused the certificate: {why}");
        assert_eq!((n.state, n.last_status), (NotificationState::Pending, None), "{db}: tried again later");
        w.cleanup().await;
    }
}
