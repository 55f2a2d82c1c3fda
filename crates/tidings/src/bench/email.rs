//! `tidings bench email`: personalised emails through the engine's real outbox (claim, render,
//! SMTP, record, on the database) into Postfix's `smtp-sink` on loopback, beside Postfix's own
//! `smtp-source` sending messages of the same size into the same sink in the same run; then one
//! large send end to end, from the send request to the last email recorded as accepted, with
//! the server's memory and CPU.
//!
//! Tidings runs as `tidings serve` (a child process of this binary, not pinned, since neither is
//! `smtp-source`), with `TIDINGS_SMTP_URL` at the sink. An email is done when its delivery is
//! recorded `sent`, which happens after the sink's 250.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{Map, json};
use tidings_core::contact::ContactInput;
use tidings_store::Store;

use super::server::{Launch, Memory, Server};
use super::{Common, Db, Scratch, Which, table, thousands};

const SINK: &str = "/usr/sbin/smtp-sink";
const SOURCE: &str = "/usr/sbin/smtp-source";
/// The goal: at 10 connections, at least this share of `smtp-source -s 10`'s rate.
const GOAL_RATIO: f64 = 0.7;

#[derive(Args, Clone, Debug)]
pub struct EmailArgs {
    /// Emails per rate measurement (each connection count, Tidings and smtp-source alike).
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// SMTP connections to measure the rate at.
    #[arg(long, value_delimiter = ',', default_values_t = vec![1, 10, 50])]
    pub connections: Vec<usize>,
    /// Recipients of the end-to-end send (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    pub recipients: u64,
    /// Which database to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub database: Which,
    /// PostgreSQL server to use; the benchmark works in a schema of its own and drops it.
    #[arg(long, env = "TIDINGS_BENCH_POSTGRES_URL", default_value = super::DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Where scratch SQLite databases go (removed afterwards) [default: the system's temporary
    /// directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

impl EmailArgs {
    fn common(&self) -> Common {
        Common {
            contacts: self.messages.max(self.recipients),
            database: self.database,
            postgres_url: self.postgres_url.clone(),
            work_dir: self.work_dir.clone(),
        }
    }

    fn flags(&self) -> String {
        let c = self.common();
        format!(
            "--messages {} --connections {} --recipients {} --database {}{}",
            self.messages,
            self.connections.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            self.recipients,
            match self.database {
                Which::Sqlite => "sqlite",
                Which::Postgres => "postgres",
                Which::Both => "both",
            },
            c.place_flags()
        )
    }
}

/// One rate measurement: connections, Tidings' emails/s, smtp-source's messages/s.
struct Rate {
    connections: usize,
    ours: f64,
    source: f64,
}

/// The end-to-end send.
struct EndToEnd {
    recipients: u64,
    secs: f64,
    cpu_secs: f64,
    start: Memory,
    end: Memory,
}

struct Section {
    version: String,
    bytes: u64,
    rates: Vec<Rate>,
    e2e: Option<EndToEnd>,
}

pub async fn run(args: EmailArgs) -> Result<(), String> {
    for tool in [SINK, SOURCE] {
        if !Path::new(tool).exists() {
            return Err(format!(
                "{tool} is missing: it comes with Postfix. Install it without configuring a mail system:\n  \
                 echo \"postfix postfix/main_mailer_type select No configuration\" | debconf-set-selections\n  \
                 apt-get install -y postfix\n(the benchmark starts its own smtp-sink; the postfix service is never needed)"
            ));
        }
    }
    let common = args.common();
    let mut sections = Vec::new();
    for db in common.databases() {
        let scratch = Scratch::create(db, &common, "email").await?;
        let result = one(&args, &common, &scratch).await;
        let removed = scratch.remove().await;
        sections.push(result?);
        removed?;
    }

    println!("\n## Email: personalised emails into smtp-sink, beside smtp-source\n\nMachine: {}\n", super::machine());
    println!(
        "{}; Postfix {}; server, sink and smtp-source all on loopback, none pinned.\n",
        if cfg!(debug_assertions) { "debug build: figures are not representative" } else { "release build" },
        super::tool_version("postconf", &["-d", "mail_version"]).replace("mail_version = ", ""),
    );
    let mut rows = Vec::new();
    for s in &sections {
        for r in &s.rates {
            let ratio = r.ours / r.source;
            rows.push(vec![
                s.version.clone(),
                r.connections.to_string(),
                format!("{:.0}", r.ours),
                format!("{:.0}", r.source),
                format!("{ratio:.2}"),
                if r.connections == 10 {
                    format!("≥ {GOAL_RATIO}×: {}", if ratio >= GOAL_RATIO { "met" } else { "not met" })
                } else {
                    "–".into()
                },
            ]);
        }
    }
    println!(
        "{}",
        table(
            &["database", "connections", "Tidings, emails/s", "smtp-source -s N, messages/s", "ratio", "goal"],
            &rows
        )
    );
    for s in &sections {
        println!(
            "{}: each email {} bytes (multipart, personalised); smtp-source sent {} messages of the same size per \
             row.",
            s.version,
            thousands(s.bytes),
            thousands(args.messages)
        );
    }
    println!(
        "\nTidings: from `POST /manual_messages/{{id}}/send` (the audience snapshot included) until every delivery is \
         recorded `sent` after the sink's 250, with `TIDINGS_SMTP_CONNECTIONS` = connections. smtp-source: \
         `smtp-source -d -s N -m {} -l <body bytes>` (connections kept open) to the same sink, timed to its exit.\n",
        args.messages
    );
    let e2e: Vec<Vec<String>> = sections
        .iter()
        .filter_map(|s| {
            let e = s.e2e.as_ref()?;
            Some(vec![
                s.version.clone(),
                thousands(e.recipients),
                format!("{:.1}", e.secs),
                format!("{:.0}", e.recipients as f64 / e.secs),
                format!("{:.1}", e.cpu_secs),
                format!("{:.0}", e.cpu_secs / e.secs * 100.0),
                format!("{:.1}", e.start.rss_kib as f64 / 1024.0),
                format!("{:.1}", e.end.rss_kib as f64 / 1024.0),
                format!("{:.1}", e.end.hwm_kib as f64 / 1024.0),
            ])
        })
        .collect();
    if !e2e.is_empty() {
        println!("### One send end to end, 10 connections\n");
        println!(
            "{}",
            table(
                &[
                    "database",
                    "recipients",
                    "send request → last accepted, s",
                    "emails/s",
                    "server CPU, s",
                    "server CPU, %",
                    "RSS at start, MiB",
                    "RSS at end, MiB",
                    "peak RSS, MiB"
                ],
                &e2e
            )
        );
    }
    println!("Reproduce: cargo run --release -p tidings -- bench email {}\n", args.flags());
    Ok(())
}

/// Postfix's `smtp-sink` on a free loopback port, killed when dropped.
struct Sink {
    child: tokio::process::Child,
    port: u16,
}

impl Sink {
    /// Starts it; `dump` appends every message to that file (to learn a message's size).
    async fn start(dump: Option<&Path>) -> Result<Sink, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut cmd = tokio::process::Command::new(SINK);
        // smtp-sink drops root for the postfix user once its socket is open.
        cmd.args(["-u", "postfix"]);
        if let Some(d) = dump {
            cmd.arg("-D").arg(d);
        }
        let child = cmd
            .arg(format!("127.0.0.1:{port}"))
            .arg("4096")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {SINK}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if Instant::now() > deadline {
                return Err(format!("{SINK} did not listen on port {port}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Sink { child, port })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A body of about 2 KB of Markdown, personalised: rendered as text and as HTML with its CSS
/// inlined, the email is about 5 KB.
fn body() -> String {
    let mut b = String::from("Hello {{first_name | fallback: \"there\"}},\n\n");
    let para = "Our spring release is out. It brings **faster search**, a calmer inbox and \
                [new reports](https://example.com/reports) that show how your team answers. \
                Here is what changed, and what it means for you, {{name | fallback: \"friend\"}}.\n\n";
    for _ in 0..5 {
        b.push_str(para);
    }
    b.push_str("- Search that finds people by any attribute\n- Reports per teammate\n- A new Messenger\n\n");
    b.push_str("Thanks for being with us, {{first_name | fallback: \"friend\"}}.\n");
    b
}

async fn contacts(store: &dyn Store, ws: i64, from: u64, to: u64) -> Result<(), String> {
    let now = tidings_web::auth::now();
    let mut i = from;
    while i < to {
        let end = (i + 5_000).min(to);
        let inputs: Vec<ContactInput> = (i..end)
            .map(|n| {
                let mut m = Map::new();
                m.insert("email".into(), json!(format!("person{n}@example.com")));
                m.insert("name".into(), json!(format!("Person{n} Example")));
                ContactInput::parse(&m, &[]).map_err(|e| format!("{e:?}"))
            })
            .collect::<Result<_, _>>()?;
        store.upsert_contacts(ws, &inputs, now).await.map_err(|e| e.to_string())?;
        i = end;
    }
    Ok(())
}

/// Sends an email to everyone in the workspace through `srv`; returns the seconds from the send
/// request until the last delivery is recorded.
async fn send_all(srv: &Server, store: &dyn Store, expected: u64, poll: Duration) -> Result<f64, String> {
    let client = reqwest::Client::new();
    let m = srv
        .post(
            &client,
            "/manual_messages",
            json!({"title": "bench", "channel": "email", "subject": "News for {{first_name | fallback: \"you\"}}",
                   "body": body(), "audience": {"everyone": true}}),
        )
        .await?;
    let id = m["id"].as_str().ok_or("the created message has no id")?.to_owned();
    let started = Instant::now();
    let sent = srv.post(&client, &format!("/manual_messages/{id}/send"), json!({})).await?;
    if sent["stats"]["targeted"].as_u64() != Some(expected) {
        return Err(format!("the send targeted {} of {expected}", sent["stats"]["targeted"]));
    }
    let left = format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id} AND state IN ('pending', 'sending')");
    let deadline = Instant::now() + Duration::from_secs(3_600);
    while store.scalar_raw(&left).await.map_err(|e| e.to_string())? > 0 {
        if Instant::now() > deadline {
            return Err("the send did not finish within an hour".into());
        }
        tokio::time::sleep(poll).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let done = store
        .scalar_raw(&format!("SELECT COUNT(*) FROM deliveries WHERE message_id = {id} AND state = 'sent'"))
        .await
        .map_err(|e| e.to_string())?;
    if done as u64 != expected {
        return Err(format!("only {done} of {expected} emails were sent; see the server's log"));
    }
    Ok(secs)
}

async fn launch(scratch: &Scratch, dir: &Path, token: &str, sink: &Sink, connections: usize) -> Result<Server, String> {
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let conns = connections.to_string();
    let env = [
        ("TIDINGS_SMTP_URL", smtp.as_str()),
        ("TIDINGS_EMAIL_FROM", "news@example.com"),
        ("TIDINGS_SMTP_CONNECTIONS", conns.as_str()),
    ];
    Server::launch(&scratch.url, dir, token, Launch { unlimited: true, env: &env, unpinned: true, ..Launch::default() })
        .await
}

/// The size of one email as the sink wrote it, without the lines the sink adds in front.
async fn email_size(scratch: &Scratch, dir: &Path, token: &str) -> Result<u64, String> {
    let dump = dir.join(format!("tidings-bench_{}_email.dump", std::process::id()));
    std::fs::write(&dump, "").map_err(|e| format!("cannot create {}: {e}", dump.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dump, std::fs::Permissions::from_mode(0o666));
    }
    let sink = Sink::start(Some(&dump)).await?;
    let srv = launch(scratch, dir, token, &sink, 1).await?;
    let sent = send_all(&srv, &*scratch.store, 1, Duration::from_millis(20)).await;
    srv.stop().await;
    sink.stop().await;
    sent?;
    let text = std::fs::read_to_string(&dump).unwrap_or_default();
    let _ = std::fs::remove_file(&dump);
    // smtp-sink writes its own headers (X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args,
    // X-Rcpt-Args, and a folded Received:) before the message: the size is what follows them.
    const SINK: [&str; 6] =
        ["X-Client-Addr:", "X-Client-Proto:", "X-Helo-Args:", "X-Mail-Args:", "X-Rcpt-Args:", "Received:"];
    let body: usize = text
        .split_inclusive('\n')
        .skip_while(|l| SINK.iter().any(|h| l.starts_with(h)) || l.starts_with([' ', '\t']))
        .map(str::len)
        .sum();
    if body == 0 {
        return Err("smtp-sink wrote no message".into());
    }
    Ok(body as u64)
}

/// `smtp-source -s sessions -d` (each session keeps its connection, as Tidings' workers do) sending `messages` messages of about `bytes` bytes; returns
/// messages per second.
async fn source(port: u16, sessions: usize, messages: u64, bytes: u64) -> Result<f64, String> {
    // smtp-source's own headers (From, To, Date, Message-Id) are about 150 bytes.
    let body = bytes.saturating_sub(150).max(100);
    let started = Instant::now();
    let out = tokio::process::Command::new(SOURCE)
        .args(["-d", "-s", &sessions.to_string(), "-m", &messages.to_string(), "-l", &body.to_string()])
        .args(["-f", "news@example.com", "-t", "person@example.com"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .await
        .map_err(|e| format!("cannot run {SOURCE}: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("smtp-source failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(messages as f64 / secs)
}

fn cpu_seconds(pid: u32) -> f64 {
    // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on
    // Linux); the command name (field 2) may hold spaces, so count from its closing parenthesis.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

async fn one(args: &EmailArgs, common: &Common, scratch: &Scratch) -> Result<Section, String> {
    let dir = common.work_dir();
    eprintln!("{}: setting up (load average {})", scratch.db.name(), super::load_average());
    let (ws, token) = scratch.workspace(&dir).await?;
    let store = &*scratch.store;

    // One email first, to learn its size for smtp-source.
    contacts(store, ws.id, 0, 1).await?;
    let bytes = email_size(scratch, &dir, &token).await?;
    eprintln!("  one email is {bytes} bytes");
    contacts(store, ws.id, 1, args.messages).await?;
    if scratch.db == Db::Postgres {
        store.execute_raw("VACUUM ANALYZE").await.map_err(|e| e.to_string())?;
    }

    let mut rates = Vec::new();
    for &c in &args.connections {
        let sink = Sink::start(None).await?;
        let srv = launch(scratch, &dir, &token, &sink, c).await?;
        let secs = send_all(&srv, store, args.messages, Duration::from_millis(20)).await;
        srv.stop().await;
        let secs = secs?;
        let ours = args.messages as f64 / secs;
        let theirs = source(sink.port, c, args.messages, bytes).await;
        sink.stop().await;
        let theirs = theirs?;
        eprintln!(
            "  {c} connections: Tidings {ours:.0} emails/s, smtp-source {theirs:.0} messages/s (load average {})",
            super::load_average()
        );
        rates.push(Rate { connections: c, ours, source: theirs });
    }

    let e2e = if args.recipients > 0 {
        contacts(store, ws.id, args.messages, args.recipients).await?;
        if scratch.db == Db::Postgres {
            store.execute_raw("VACUUM ANALYZE").await.map_err(|e| e.to_string())?;
        }
        let sink = Sink::start(None).await?;
        let srv = launch(scratch, &dir, &token, &sink, 10).await?;
        let start = srv.memory()?;
        let cpu0 = cpu_seconds(srv.pid);
        let secs = send_all(&srv, store, args.recipients.max(args.messages), Duration::from_millis(100)).await;
        let cpu = cpu_seconds(srv.pid) - cpu0;
        let end = srv.memory();
        srv.stop().await;
        sink.stop().await;
        let (secs, end) = (secs?, end?);
        eprintln!(
            "  {} recipients end to end: {secs:.1} s, server CPU {cpu:.1} s, peak RSS {:.1} MiB (load average {})",
            thousands(args.recipients),
            end.hwm_kib as f64 / 1024.0,
            super::load_average()
        );
        Some(EndToEnd { recipients: args.recipients.max(args.messages), secs, cpu_secs: cpu, start, end })
    } else {
        None
    };
    Ok(Section { version: scratch.version().await, bytes, rates, e2e })
}
