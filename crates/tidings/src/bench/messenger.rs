//! `tidings bench messenger`: the Messenger's real-time side under load, on one `tidings serve`
//! pinned to CPU 0, beside nginx on the same core.
//!
//! 1. Connections: N contacts (generated through `upsert_contacts`) open authenticated WebSockets
//!    (`GET /messenger/v1/ws?session=…`, sessions made with `sign_session`) at once; the server's
//!    RSS before and after, divided by N, is its memory per idle connection.
//! 2. Fan-out: one chat (`POST /manual_messages`, sent at once) to M online contacts, timed from
//!    the request until the last client has the frame, and then several chats back to back
//!    (deliveries per second), alternating with nginx + nchan publishing a message of the same
//!    body to M WebSocket subscribers of one channel.
//! 3. Ping: `POST /messenger/v1/ping` under `wrk` beside nginx's `return 204`.
//!
//! The WebSocket clients are the processes of `clients.rs`, pinned to CPU 1.
//! Every process started here is stopped by its pid when the benchmark ends, failed or not.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::process::{Child, Command};

use super::clients::{Group, Kind, PER_PROCESS, Rounds, raise_file_limit};
use super::online::{self, BODY};
use super::server::{self, Memory, Server};
use super::{Common, Scratch, Which, median, table, thousands, tool_version};

/// Goals: the Messenger's (connections, ping) and the engine's (fan-out beside nchan).
const GOAL_CONNECTIONS: u64 = 19_000;
const GOAL_KIB_PER_CONNECTION: f64 = 8.0;
const GOAL_LATENCY_RATIO: f64 = 1.5;
const GOAL_THROUGHPUT_RATIO: f64 = 0.8;
const GOAL_PING_RATIO: f64 = 0.5;

const CHANNEL: &str = "bench";
const NCHAN_MODULE: &str = "/usr/lib/nginx/modules/ngx_nchan_module.so";
const WRK_CONNECTIONS: u32 = 64;

#[derive(Args, Clone, Debug)]
pub struct MessengerArgs {
    /// Concurrent authenticated WebSockets to open on the server (the connection goal is 19,000).
    #[arg(long, default_value_t = 19_000)]
    pub connections: u64,
    /// Online contacts one chat goes to, and nchan subscribers beside it (at most --connections).
    #[arg(long, default_value_t = 10_000)]
    pub fanout: u64,
    /// Chats sent back to back for the sustained deliveries/s figure.
    #[arg(long, default_value_t = 10)]
    pub messages: u64,
    /// Rounds of each side-by-side measurement, alternating which goes first (medians reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Seconds of each wrk run on the ping.
    #[arg(long, default_value_t = 10)]
    pub wrk_seconds: u64,
    /// Which database to measure.
    #[arg(long, value_enum, default_value_t = Which::Sqlite)]
    pub database: Which,
    /// PostgreSQL server to use; the benchmark works in a schema of its own and drops it.
    #[arg(long, env = "TIDINGS_BENCH_POSTGRES_URL", default_value = super::DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Where scratch SQLite databases and nginx's files go (removed afterwards)
    /// [default: the system's temporary directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

impl MessengerArgs {
    fn common(&self) -> Common {
        Common {
            contacts: self.connections,
            database: self.database,
            postgres_url: self.postgres_url.clone(),
            work_dir: self.work_dir.clone(),
        }
    }

    fn flags(&self) -> String {
        let common = self.common().flags();
        // Common's flags start with `--contacts N`, which this benchmark calls --connections.
        let rest = common.split_once(" --database").map_or(String::new(), |(_, r)| format!(" --database{r}"));
        format!(
            "--connections {} --fanout {} --messages {} --runs {} --wrk-seconds {}{rest}",
            self.connections, self.fanout, self.messages, self.runs, self.wrk_seconds
        )
    }
}

// --- the report ---------------------------------------------------------------------------------

#[derive(Default)]
struct Section {
    version: String,
    generated_per_sec: f64,
    connect: Option<Connect>,
    fanout: Fanout,
    ping: Ping,
    /// Tidings' and nginx's worker RSS at each moment.
    memory: Vec<(String, Memory, Option<Memory>)>,
}

struct Connect {
    opened: u64,
    failed: u64,
    first_error: String,
    seconds: f64,
    before: Memory,
    after: Memory,
}

#[derive(Default)]
struct Fanout {
    ours: Rounds,
    peer: Rounds,
    ours_bytes: u64,
    peer_bytes: u64,
    peer_subscriber_kib: f64,
    missed: Vec<String>,
}

#[derive(Default)]
struct Ping {
    ours_rps: Vec<f64>,
    peer_rps: Vec<f64>,
    ours_p99: Vec<f64>,
    peer_p99: Vec<f64>,
}

pub async fn run(args: MessengerArgs) -> Result<(), String> {
    if args.fanout > args.connections || args.fanout == 0 || args.runs == 0 || args.messages == 0 {
        return Err("--fanout must be between 1 and --connections; --runs and --messages at least 1".into());
    }
    let nginx_version = check_tools()?;
    let (soft, hard) = raise_file_limit()?;
    // The server holds every connection plus its database files and listener.
    if args.connections + 200 > soft {
        return Err(format!(
            "one process may hold {soft} open files (hard limit {hard}) but the server needs {} for --connections {}: \
             use --connections {} or less",
            args.connections + 200,
            args.connections,
            soft.saturating_sub(200)
        ));
    }
    let common = args.common();
    let mut sections = Vec::new();
    for db in common.databases() {
        let scratch = Scratch::create(db, &common, "messenger").await?;
        let result = one(&args, &scratch).await;
        let removed = scratch.remove().await;
        sections.push(result?);
        removed?;
    }
    server::pin_self(&server::online_cpus());
    println!(
        "\n## Messenger\n\n{} concurrent WebSockets on one server; one chat to {} online contacts.\n\nMachine: {}\n",
        thousands(args.connections),
        thousands(args.fanout),
        super::machine()
    );
    println!(
        "Versions: tidings {} ({}), {}, {}.\n",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug build: figures are not representative" } else { "release build" },
        nginx_version,
        tool_version("wrk", &["-v"])
    );
    println!(
        "`tidings serve` and nginx (one worker) are pinned to CPU 0; the WebSocket clients (this binary, at most {} sockets a process), the benchmark and wrk to CPU 1. Everything is on 127.0.0.1. Medians of {} runs, alternating which server goes first.\n",
        thousands(PER_PROCESS as u64),
        args.runs
    );
    for s in &sections {
        print_section(&args, s);
    }
    println!("Reproduce: cargo run --release -p tidings -- bench messenger {}", args.flags());
    Ok(())
}

fn met(ok: bool) -> String {
    if ok { "met".into() } else { "**not met**".into() }
}

fn print_section(args: &MessengerArgs, s: &Section) {
    println!(
        "### {} ({} contacts generated at {:.0}/s through upsert_contacts)\n",
        s.version,
        thousands(args.connections),
        s.generated_per_sec
    );
    let mib = |k: u64| format!("{:.1} MiB", k as f64 / 1024.0);

    println!("#### Connections\n");
    if let Some(c) = &s.connect {
        let kib = c.after.rss_kib.saturating_sub(c.before.rss_kib) as f64 / c.opened.max(1) as f64;
        let rows = vec![
            vec![
                "concurrent authenticated WebSockets on one `tidings serve`".into(),
                format!(
                    "{} of {} open ({} failed{}), in {:.1} s",
                    thousands(c.opened),
                    thousands(args.connections),
                    thousands(c.failed),
                    if c.first_error.is_empty() { String::new() } else { format!(": {}", c.first_error) },
                    c.seconds
                ),
                format!("≥ {}", thousands(GOAL_CONNECTIONS)),
                met(c.opened >= GOAL_CONNECTIONS && c.failed == 0),
            ],
            vec![
                "server memory per idle connection".into(),
                format!(
                    "{kib:.2} KiB (RSS {} before, {} with all open and idle)",
                    mib(c.before.rss_kib),
                    mib(c.after.rss_kib)
                ),
                format!("≤ {GOAL_KIB_PER_CONNECTION:.0} KiB"),
                met(kib <= GOAL_KIB_PER_CONNECTION),
            ],
        ];
        println!("{}", table(&["figure", "measured", "target", ""], &rows));
    }

    let f = &s.fanout;
    println!("#### Fan-out: one chat to {} online contacts\n", thousands(args.fanout));
    let (om, pm) = (median(&f.ours.ms), median(&f.peer.ms));
    let (or, pr) = (median(&f.ours.rate), median(&f.peer.rate));
    let rows = vec![
        vec![
            "send → last client has the frame, ms".into(),
            format!("{om:.1}"),
            format!("{pm:.1}"),
            format!("{:.2}", om / pm),
            format!("≤ {GOAL_LATENCY_RATIO}×"),
            met(om / pm <= GOAL_LATENCY_RATIO),
        ],
        vec![
            format!("sustained deliveries/s ({} messages back to back)", args.messages),
            format!("{or:.0}"),
            format!("{pr:.0}"),
            format!("{:.2}", or / pr),
            format!("≥ {GOAL_THROUGHPUT_RATIO}×"),
            met(or / pr >= GOAL_THROUGHPUT_RATIO),
        ],
    ];
    println!("{}", table(&["figure", "Tidings", "nginx + nchan", "Tidings / nchan", "target", ""], &rows));
    let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
    println!(
        "Tidings: `POST /manual_messages` (chat, audience: the {} contacts, sent at once) writes one delivery per recipient, then pushes to open Messengers; each client receives a {}-byte `message` frame. nchan: `POST /pub/{CHANNEL}` with the same {}-byte body to {} subscribers of one channel. The send's HTTP answer took {:.1} ms (median). Per run: latency ms Tidings {} | nchan {}; deliveries/s Tidings {} | nchan {}. nchan's worker held {:.1} KiB per subscriber.{}\n",
        thousands(args.fanout),
        f.ours_bytes,
        f.peer_bytes,
        thousands(args.fanout),
        median(&f.ours.request_ms),
        list(&f.ours.ms),
        list(&f.peer.ms),
        list(&f.ours.rate),
        list(&f.peer.rate),
        f.peer_subscriber_kib,
        if f.missed.is_empty() { String::new() } else { format!(" Missed: {}.", f.missed.join("; ")) }
    );

    let p = &s.ping;
    println!(
        "#### Ping: `POST /messenger/v1/ping`, wrk, {WRK_CONNECTIONS} connections, 1 thread, {} s\n",
        args.wrk_seconds
    );
    let (orps, prps) = (median(&p.ours_rps), median(&p.peer_rps));
    let rows = vec![
        vec![
            "requests/s".into(),
            format!("{orps:.0}"),
            format!("{prps:.0}"),
            format!("{:.2}", orps / prps),
            format!("≥ {GOAL_PING_RATIO}×"),
            met(orps / prps >= GOAL_PING_RATIO),
        ],
        vec![
            "p99 latency, ms".into(),
            format!("{:.2}", median(&p.ours_p99)),
            format!("{:.2}", median(&p.peer_p99)),
            format!("{:.2}", median(&p.ours_p99) / median(&p.peer_p99)),
            "–".into(),
            "–".into(),
        ],
    ];
    println!(
        "{}",
        table(
            &["figure", "Tidings `/messenger/v1/ping`", "nginx `return 204`", "Tidings / nginx", "target", ""],
            &rows
        )
    );
    println!(
        "A Tidings ping checks the session's signature against its workspace (cached for a few seconds) and records the contact, whose last_seen_at is written in a batch every second. Per run: requests/s Tidings {} | nginx {}.\n",
        list(&p.ours_rps),
        list(&p.peer_rps)
    );

    println!("#### Server memory (RSS)\n");
    let rows: Vec<Vec<String>> = s
        .memory
        .iter()
        .map(|(when, ours, peer)| {
            vec![when.clone(), mib(ours.rss_kib), mib(ours.hwm_kib), peer.map_or("–".into(), |m| mib(m.rss_kib))]
        })
        .collect();
    println!("{}", table(&["moment", "tidings serve", "tidings serve peak", "nginx worker"], &rows));
}

// --- the benchmark --------------------------------------------------------------------------------

async fn one(args: &MessengerArgs, scratch: &Scratch) -> Result<Section, String> {
    let dir = args.common().work_dir();
    eprintln!("{}: setting up (load average {})", scratch.db.name(), super::load_average());
    let (ws, token) = scratch.workspace(&dir).await?;
    // Contacts 0..fanout are the chat's audience ("Fan-out"); the others only connect.
    let fanout = args.fanout;
    let online::Online { sessions, generated_per_sec } =
        online::generate(&scratch.store, &ws, args.connections, |i| if i < fanout { "Fan-out" } else { "Idle" })
            .await?;

    let srv = Server::start(&scratch.url, &dir, &token).await?;
    let nginx_dir = dir.join(format!("tidings-bench_{}_nginx", std::process::id()));
    let mut section = Section { version: scratch.version().await, generated_per_sec, ..Section::default() };
    let mut peer: Option<Nginx> = None;
    let mut groups: Vec<Group> = Vec::new();
    // Ctrl-C ends the measurement, not the program, so that the cleanup below still runs.
    let result = tokio::select! {
        r = measure(args, &srv, &sessions, &nginx_dir, &mut peer, &mut groups, &mut section) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    // Stop everything by pid, whatever happened.
    for g in groups {
        g.stop().await;
    }
    if let Some(p) = peer {
        p.stop().await;
    }
    srv.stop().await;
    let _ = std::fs::remove_dir_all(&nginx_dir);
    server::pin_self(&server::online_cpus());
    result.map(|()| section)
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &MessengerArgs,
    srv: &Server,
    sessions: &[String],
    nginx_dir: &Path,
    peer: &mut Option<Nginx>,
    groups: &mut Vec<Group>,
    s: &mut Section,
) -> Result<(), String> {
    let pinned = srv.pinned && server::pin_self("1");
    let before = srv.memory()?;
    s.memory.push(("started".into(), before, None));
    eprintln!(
        "  server pid {} ({}), RSS {:.1} MiB",
        srv.pid,
        if pinned { "CPU 0, clients on CPU 1" } else { "not pinned" },
        before.rss_kib as f64 / 1024.0
    );
    let http = reqwest::Client::new();
    let base = srv.base().to_owned();
    let urls: Vec<String> = sessions.iter().map(|t| srv.messenger_ws(t)).collect();
    let fanout = args.fanout as usize;

    // 1. Connections: the audience first (it stays), then the rest.
    let started = Instant::now();
    let bar = super::progress(args.connections, "connecting to tidings");
    let mut audience = Group::spawn(Kind::Tidings, fanout, pinned).await?;
    let a = audience.connect(&urls[..fanout], &bar).await;
    groups.push(audience);
    let (opened_a, failed_a, err_a) = a?;
    let (mut opened, mut failed, mut first_error) = (opened_a, failed_a, err_a);
    if fanout < urls.len() {
        let mut rest = Group::spawn(Kind::Tidings, urls.len() - fanout, pinned).await?;
        let r = rest.connect(&urls[fanout..], &bar).await;
        groups.push(rest);
        let (o, f, e) = r?;
        opened += o;
        failed += f;
        if first_error.is_empty() {
            first_error = e;
        }
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    // Let the server settle: every connection idle, nothing in flight.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = srv.memory()?;
    s.memory.push((format!("{} connections open, idle", thousands(opened)), after, None));
    eprintln!(
        "  {} open, {} failed in {seconds:.1} s; RSS {:.1} → {:.1} MiB ({:.2} KiB per connection){}",
        thousands(opened),
        thousands(failed),
        before.rss_kib as f64 / 1024.0,
        after.rss_kib as f64 / 1024.0,
        after.rss_kib.saturating_sub(before.rss_kib) as f64 / opened.max(1) as f64,
        if first_error.is_empty() { String::new() } else { format!("; first error: {first_error}") }
    );
    s.connect = Some(Connect { opened, failed, first_error, seconds, before, after });
    if opened_a < fanout as u64 {
        return Err(format!("only {opened_a} of the {fanout} fan-out clients connected"));
    }
    // Only the audience stays connected, as many as nchan's subscribers.
    while groups.len() > 1 {
        if let Some(g) = groups.pop() {
            g.close().await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.memory.push((format!("{} connections open", thousands(args.fanout)), srv.memory()?, None));

    // 2. Fan-out, beside nginx + nchan.
    let nginx = Nginx::start(nginx_dir).await?;
    let nginx_base = nginx.base.clone();
    *peer = Some(nginx);
    let nginx_mem = || peer_memory(peer);
    let peer_before = nginx_mem();
    let bar = super::progress(args.fanout, "connecting to nchan");
    let sub_urls: Vec<String> =
        (0..fanout).map(|_| format!("{}/sub/{CHANNEL}", nginx_base.replacen("http://", "ws://", 1))).collect();
    let mut subscribers = Group::spawn(Kind::Nchan, fanout, pinned).await?;
    let c = subscribers.connect(&sub_urls, &bar).await;
    groups.push(subscribers);
    bar.finish_and_clear();
    let (subscribed, _, err) = c?;
    if subscribed < fanout as u64 {
        return Err(format!("only {subscribed} of {fanout} nchan subscribers connected: {err}"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peer_after = nginx_mem();
    if let (Some(b), Some(a)) = (peer_before, peer_after) {
        s.fanout.peer_subscriber_kib = a.rss_kib.saturating_sub(b.rss_kib) as f64 / fanout as f64;
    }
    s.memory.push((format!("{} nchan subscribers connected", thousands(args.fanout)), srv.memory()?, peer_after));

    let audience = online::named(&["Fan-out"]);
    let chat = || async {
        let targeted = online::chat(srv, &http, &audience).await?;
        if targeted != args.fanout as i64 {
            return Err(format!("the chat targeted {targeted} contacts, expected {}", args.fanout));
        }
        Ok(())
    };
    let publish = || async {
        let resp = http
            .post(format!("{nginx_base}/pub/{CHANNEL}"))
            .body(BODY)
            .send()
            .await
            .map_err(|e| format!("POST /pub/{CHANNEL}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("nchan answered {} to a publish", resp.status()));
        }
        Ok::<(), String>(())
    };

    // Warm up both (and check every client gets what is sent); not counted.
    let (tidings_group, nchan_group) = groups.split_at_mut(1);
    let (ours, theirs) = (&mut tidings_group[0], &mut nchan_group[0]);
    s.fanout.ours_bytes = ours.warm_up(fanout, "Tidings", chat()).await?;
    s.fanout.peer_bytes = theirs.warm_up(fanout, "nchan", publish()).await?;

    let bar = super::progress(args.runs as u64 * 2, "fan-out rounds");
    let f = &mut s.fanout;
    for r in 0..args.runs {
        eprintln!("  fan-out run {}/{} (load average {})", r + 1, args.runs, super::load_average());
        for step in 0..2 {
            if (step == 0) == (r % 2 == 0) {
                ours.round(fanout, args.messages, "Tidings", chat, &mut f.ours, &mut f.missed).await?;
            } else {
                theirs.round(fanout, args.messages, "nchan", publish, &mut f.peer, &mut f.missed).await?;
            }
            bar.inc(1);
        }
        eprintln!(
            "    latency ms: Tidings {:.1}, nchan {:.1}; deliveries/s: Tidings {:.0}, nchan {:.0}",
            f.ours.ms.last().unwrap_or(&f64::NAN),
            f.peer.ms.last().unwrap_or(&f64::NAN),
            f.ours.rate.last().unwrap_or(&f64::NAN),
            f.peer.rate.last().unwrap_or(&f64::NAN),
        );
    }
    bar.finish_and_clear();
    s.memory.push(("after the fan-out rounds".into(), srv.memory()?, nginx_mem()));
    // The ping runs without WebSockets open on either side.
    while let Some(g) = groups.pop() {
        g.close().await;
    }

    // 3. Ping, beside nginx's `return 204`.
    let script = nginx_dir.join("ping.lua");
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.headers[\"X-Messenger-Session\"] = \"{}\"\n", sessions[0]),
    )
    .map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    let ping_url = format!("{base}/messenger/v1/ping");
    let check = http
        .post(&ping_url)
        .header("x-messenger-session", &sessions[0])
        .send()
        .await
        .map_err(|e| format!("POST /messenger/v1/ping: {e}"))?;
    if check.status().as_u16() != 204 {
        return Err(format!("POST /messenger/v1/ping answered {}", check.status()));
    }
    let nginx_ping = format!("{nginx_base}/ping");
    let bar = super::progress(args.runs as u64 * 2, "wrk");
    for r in 0..args.runs {
        for step in 0..2 {
            if (step == 0) == (r % 2 == 0) {
                let w = wrk(&ping_url, &script, args.wrk_seconds, pinned).await?;
                s.ping.ours_rps.push(w.rps);
                s.ping.ours_p99.push(w.p99_ms);
            } else {
                let w = wrk(&nginx_ping, &script, args.wrk_seconds, pinned).await?;
                s.ping.peer_rps.push(w.rps);
                s.ping.peer_p99.push(w.p99_ms);
            }
            bar.inc(1);
        }
        eprintln!(
            "  ping run {}/{}: Tidings {:.0} req/s, nginx {:.0} req/s",
            r + 1,
            args.runs,
            s.ping.ours_rps.last().unwrap_or(&f64::NAN),
            s.ping.peer_rps.last().unwrap_or(&f64::NAN)
        );
    }
    bar.finish_and_clear();
    s.memory.push(("after the ping runs".into(), srv.memory()?, nginx_mem()));
    Ok(())
}

// --- tools, limits ----------------------------------------------------------------------------------

/// Checks nginx, nchan and wrk are installed; returns nginx's and nchan's versions.
fn check_tools() -> Result<String, String> {
    let has = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd).arg(arg).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    };
    let mut missing = Vec::new();
    if !has("nginx", "-v") {
        missing.push("nginx-light libnginx-mod-nchan");
    } else if !Path::new(NCHAN_MODULE).exists() {
        missing.push("libnginx-mod-nchan");
    }
    if !has("wrk", "-v") {
        missing.push("wrk");
    }
    if !missing.is_empty() {
        return Err(format!(
            "this benchmark runs beside nginx + nchan and uses wrk: install {} (as root: apt-get install {})",
            missing.join(" and "),
            missing.join(" ")
        ));
    }
    let nchan = std::process::Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "libnginx-mod-nchan"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into());
    Ok(format!("{}, nchan {nchan} (Debian)", tool_version("nginx", &["-v"])))
}

// --- nginx --------------------------------------------------------------------------------------------

/// nginx with nchan and a `return 204` location, one worker, pinned to CPU 0, in the foreground
/// (`daemon off`) so that the child's pid is the master's.
struct Nginx {
    child: Child,
    pid: u32,
    base: String,
}

impl Nginx {
    async fn start(dir: &Path) -> Result<Nginx, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let d = dir.display();
        let conf = format!(
            "daemon off;\nworker_processes 1;\nworker_rlimit_nofile 20000;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             load_module {NCHAN_MODULE};\nevents {{ worker_connections 16000; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
             server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    location = /ping {{ return 204; }}\n\
             location ~ ^/sub/(\\w+)$ {{ nchan_subscriber websocket; nchan_channel_id $1; nchan_subscriber_first_message newest; }}\n\
             location ~ ^/pub/(\\w+)$ {{ nchan_publisher; nchan_channel_id $1; }}\n  }}\n}}\n"
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let pinned = server::cpu_count() >= 2;
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", "nginx"]);
            c
        } else {
            Command::new("nginx")
        };
        let child = cmd
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        let pid = child.id().ok_or("nginx exited at once")?;
        let mut nginx = Nginx { child, pid, base: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = client.get(format!("{}/ping", nginx.base)).send().await
                && r.status().as_u16() == 204
            {
                return Ok(nginx);
            }
            if nginx.child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                nginx.stop().await;
                return Err(format!("nginx did not come up: {log}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The worker's pid: the master's only child.
    fn worker(&self) -> Option<u32> {
        std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned)))
                .flatten()
                .is_some_and(|ppid| ppid == self.pid.to_string())
        })
    }

    /// Graceful stop (`kill -QUIT` of the master), then a kill if it lingers.
    async fn stop(mut self) {
        let _ = Command::new("kill").args(["-QUIT", &self.pid.to_string()]).status().await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.is_err() {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

fn peer_memory(peer: &Option<Nginx>) -> Option<Memory> {
    peer.as_ref().and_then(Nginx::worker).and_then(|pid| server::memory_of(pid).ok())
}

// --- wrk ----------------------------------------------------------------------------------------------

struct Wrk {
    rps: f64,
    p99_ms: f64,
}

async fn wrk(url: &str, script: &Path, seconds: u64, pinned: bool) -> Result<Wrk, String> {
    let mut cmd = if pinned {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "wrk"]);
        c
    } else {
        Command::new("wrk")
    };
    let child = cmd
        .args(["-t1", &format!("-c{WRK_CONNECTIONS}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let out = tokio::time::timeout(Duration::from_secs(seconds + 30), child.wait_with_output())
        .await
        .map_err(|_| "wrk did not finish in time".to_owned())?
        .map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr)));
    }
    if let Some(line) = text.lines().find(|l| l.contains("Non-2xx") || l.contains("Socket errors")) {
        return Err(format!("wrk against {url}: {}", line.trim()));
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("wrk printed no Requests/sec: {text}"))?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| duration_ms(v.trim()))
        .ok_or_else(|| format!("wrk printed no 99% latency: {text}"))?;
    Ok(Wrk { rps, p99_ms })
}

/// wrk's `812.00us`, `1.23ms`, `2.01s` in milliseconds.
fn duration_ms(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|n| n * scale)
}
