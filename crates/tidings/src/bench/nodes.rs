//! `tidings bench nodes`: Tidings on several nodes, on one PostgreSQL (a scratch schema) and a
//! `nats-server` of the benchmark's own, beside one node with the in-process bus, in one run.
//!
//! 1. Fan-out across nodes: N `tidings serve --nats-url …` and one `tidings serve` without it,
//!    all on the same database. Every generated contact opens one authenticated Messenger
//!    WebSocket on a node (contact i on node i mod N) and, as far as one process's file limit
//!    allows, one on the single node. One chat (`POST /manual_messages`, sent at once) goes
//!    through node 1 to every contact, and through the single node to those connected to it;
//!    each is timed from the request until the last client has the frame, then chats are sent
//!    back to back (deliveries per second), alternating the two sides. The single node does
//!    not hear the nodes' bus, nor they its, so each side's clients count only their side's chats.
//! 2. The bus's cost (`bus.rs`): a send's answer time through one server with each bus.
//!
//! With two cores, the nodes cannot have a core each: every server and nats-server share CPU 0,
//! the clients and the benchmark CPU 1, so this measures that fan-out across nodes is complete
//! and what the bus costs, not scale-out. Every process started here is stopped by its pid when
//! the benchmark ends, failed or not.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::bus::{self, BusCost};
use super::clients::{Group, Kind, PER_PROCESS, Rounds, raise_file_limit};
use super::nats::Nats;
use super::online;
use super::server::{self, Launch, Memory, Server};
use super::{Common, Db, Scratch, Which, median, table, thousands};

/// Contacts' names, by which servers they are online on and whether the bus part's sends go to
/// them; each audience is a set of these.
const ONE_NODE_BUS: &str = "Online everywhere, bus";
const ONE_NODE: &str = "Online everywhere";
const NODES_BUS: &str = "Online on the nodes, bus";
const NODES: &str = "Online on the nodes";

/// Files a server needs besides its WebSockets (database pool, listener, NATS).
const SERVER_FILES: u64 = 200;

#[derive(Args, Clone, Debug)]
pub struct NodesArgs {
    /// `tidings serve` processes joined by NATS (at least 2).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Contacts to generate, each with one Messenger WebSocket, spread evenly over the nodes.
    #[arg(long, default_value_t = 30_000)]
    pub contacts: u64,
    /// Chats sent back to back for the sustained deliveries/s figure.
    #[arg(long, default_value_t = 10)]
    pub messages: u64,
    /// Rounds of the fan-out on each side, alternating which goes first (medians reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Sends timed through each bus for the bus's cost, alternating one by one (0 skips it).
    #[arg(long, default_value_t = 200)]
    pub sends: usize,
    /// Contacts each of those sends goes to, chosen by a filter (no Messenger open).
    #[arg(long, default_value_t = 1_000)]
    pub send_audience: u64,
    /// PostgreSQL server to use; the benchmark works in a schema of its own and drops it.
    #[arg(long, env = "TIDINGS_BENCH_POSTGRES_URL", default_value = super::DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Where the servers' start-up logs go while they start (removed afterwards)
    /// [default: the system's temporary directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

impl NodesArgs {
    fn common(&self) -> Common {
        Common {
            contacts: self.contacts,
            database: Which::Postgres,
            postgres_url: self.postgres_url.clone(),
            work_dir: self.work_dir.clone(),
        }
    }

    /// The flags that reproduce this run.
    fn bus_plan(&self) -> bus::Plan {
        bus::Plan { sends: self.sends, audience: self.send_audience }
    }

    pub fn flags(&self) -> String {
        format!(
            "--nodes {} --contacts {} --messages {} --runs {} --sends {} --send-audience {}{}",
            self.nodes,
            self.contacts,
            self.messages,
            self.runs,
            self.sends,
            self.send_audience,
            self.common().place_flags()
        )
    }
}

/// What the run found.
#[derive(Default)]
struct Report {
    version: String,
    /// The machine's load when the run began (the one printed with the tables includes the run's own).
    start_load: String,
    /// WebSockets on the single node: every contact, or as many as one process may hold.
    single_sockets: u64,
    file_limit: u64,
    pinned: bool,
    nodes_connect: Connect,
    single_connect: Connect,
    nodes: Rounds,
    single: Rounds,
    frame_bytes: u64,
    missed: Vec<String>,
    /// Each node's, nats-server's and the single node's RSS at each moment.
    memory: Vec<(String, Vec<Memory>)>,
    bus: BusCost,
}

#[derive(Default)]
struct Connect {
    opened: u64,
    failed: u64,
    first_error: String,
    seconds: f64,
}

/// Every process the benchmark started, stopped together whatever happened.
#[derive(Default)]
struct Procs {
    nats: Option<Nats>,
    servers: Vec<Server>,
    groups: Vec<Group>,
}

impl Procs {
    async fn stop_servers(&mut self) {
        for s in self.servers.drain(..) {
            s.stop().await;
        }
    }

    async fn stop(mut self) {
        for g in self.groups.drain(..) {
            g.stop().await;
        }
        self.stop_servers().await;
        if let Some(n) = self.nats.take() {
            n.stop().await;
        }
    }
}

pub async fn run(args: NodesArgs) -> Result<(), String> {
    if args.nodes < 2 || args.contacts < args.nodes as u64 || args.runs == 0 || args.messages == 0 {
        return Err("--nodes must be at least 2, --contacts at least --nodes, --runs and --messages at least 1".into());
    }
    if args.send_audience == 0 || args.send_audience > args.contacts {
        return Err("--send-audience must be between 1 and --contacts".into());
    }
    Nats::binary()?;
    let (soft, hard) = raise_file_limit()?;
    let per_node = args.contacts.div_ceil(args.nodes as u64);
    if per_node + SERVER_FILES > soft {
        return Err(format!(
            "one process may hold {soft} open files (hard limit {hard}) but each node needs {} for {} WebSockets: \
             use more --nodes or fewer --contacts",
            per_node + SERVER_FILES,
            thousands(per_node)
        ));
    }
    let common = args.common();
    let scratch = Scratch::create(Db::Postgres, &common, "nodes").await?;
    let mut report = Report {
        version: scratch.version().await,
        start_load: super::load_average(),
        single_sockets: args.contacts.min(soft.saturating_sub(SERVER_FILES)),
        file_limit: soft,
        ..Report::default()
    };
    let result = one(&args, &scratch, &mut report).await;
    let removed = scratch.remove().await;
    result?;
    removed?;
    print_fanout(&args, &report);
    if args.sends > 0 {
        bus::print(args.bus_plan(), &args.flags(), &report.bus);
    }
    Ok(())
}

async fn one(args: &NodesArgs, scratch: &Scratch, report: &mut Report) -> Result<(), String> {
    let dir = args.common().work_dir();
    eprintln!("{}: setting up (load average {})", scratch.version().await, super::load_average());
    let (ws, token) = scratch.workspace(&dir).await?;
    let (single, bus) = (report.single_sockets, args.send_audience);
    let online = online::generate(&scratch.store, &ws, args.contacts, |i| match (i < single, i < bus) {
        (true, true) => ONE_NODE_BUS,
        (true, false) => ONE_NODE,
        (false, true) => NODES_BUS,
        (false, false) => NODES,
    })
    .await?;
    let mut procs = Procs::default();
    // Ctrl-C ends the measurement, not the program, so that the cleanup below still runs.
    let result = tokio::select! {
        r = measure(args, &scratch.url, &dir, &token, &online.sessions, &mut procs, report) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    procs.stop().await;
    server::pin_self(&server::online_cpus());
    result
}

/// Each node's, nats-server's and the single node's memory (the servers in the order started).
fn memory(procs: &Procs) -> Result<Vec<Memory>, String> {
    let mut out = Vec::new();
    let (nodes, single) = procs.servers.split_at(procs.servers.len().saturating_sub(1));
    for s in nodes {
        out.push(s.memory()?);
    }
    out.push(procs.nats.as_ref().ok_or("nats-server is not running")?.memory()?);
    for s in single {
        out.push(s.memory()?);
    }
    Ok(out)
}

fn expect_targeted(targeted: i64, expected: u64) -> Result<(), String> {
    if targeted == expected as i64 {
        Ok(())
    } else {
        Err(format!("the chat targeted {targeted} contacts, expected {expected}"))
    }
}

async fn measure(
    args: &NodesArgs,
    url: &str,
    dir: &Path,
    token: &str,
    sessions: &[String],
    procs: &mut Procs,
    r: &mut Report,
) -> Result<(), String> {
    // The servers and NATS share CPU 0 when the machine has two: see the module's header.
    let nats = Nats::start(server::cpu_count() >= 2).await?;
    let nats_url = nats.url.clone();
    procs.nats = Some(nats);
    let joined = Launch { nats_url: Some(&nats_url), unlimited: true, ..Launch::default() };
    for _ in 0..args.nodes {
        procs.servers.push(Server::launch(url, dir, token, joined).await?);
    }
    procs
        .servers
        .push(Server::launch(url, dir, token, Launch { nats_url: None, unlimited: true, ..Launch::default() }).await?);
    r.pinned = procs.servers.iter().all(|s| s.pinned) && server::pin_self("1");
    r.memory.push(("started".into(), memory(procs)?));
    eprintln!(
        "  {} nodes and one single node started ({}), nats-server at {nats_url}",
        args.nodes,
        if r.pinned { "servers and nats-server on CPU 0, clients on CPU 1" } else { "not pinned" }
    );

    // Contact i on node i mod N, and the first ones on the single node as well.
    let (nodes, single) = procs.servers.split_at(args.nodes);
    let single = &single[0];
    let node_urls: Vec<String> =
        sessions.iter().enumerate().map(|(i, s)| nodes[i % nodes.len()].messenger_ws(s)).collect();
    let single_n = r.single_sockets as usize;
    let single_urls: Vec<String> = sessions[..single_n].iter().map(|s| single.messenger_ws(s)).collect();
    for (urls, what, c) in [
        (&node_urls, "connecting to the nodes", &mut r.nodes_connect),
        (&single_urls, "connecting to the single node", &mut r.single_connect),
    ] {
        let started = Instant::now();
        let bar = super::progress(urls.len() as u64, what);
        let mut group = Group::spawn(Kind::Tidings, urls.len(), r.pinned).await?;
        let result = group.connect(urls, &bar).await;
        procs.groups.push(group);
        bar.finish_and_clear();
        (c.opened, c.failed, c.first_error) = result?;
        c.seconds = started.elapsed().as_secs_f64();
        eprintln!("  {what}: {} open, {} failed in {:.1} s", thousands(c.opened), thousands(c.failed), c.seconds);
        if c.opened < urls.len() as u64 {
            return Err(format!("{what}: only {} of {} opened: {}", c.opened, urls.len(), c.first_error));
        }
    }
    // Let the servers settle: every connection idle, nothing in flight.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    r.memory.push(("WebSockets open, idle".into(), memory(procs)?));

    let http = reqwest::Client::new();
    let (nodes, single) = procs.servers.split_at(args.nodes);
    let (node1, single) = (&nodes[0], &single[0]);
    let everyone = online::named(&[ONE_NODE_BUS, ONE_NODE, NODES_BUS, NODES]);
    let single_audience = online::named(&[ONE_NODE_BUS, ONE_NODE]);
    let through_nodes = || async { expect_targeted(online::chat(node1, &http, &everyone).await?, args.contacts) };
    let through_single =
        || async { expect_targeted(online::chat(single, &http, &single_audience).await?, r.single_sockets) };
    let (first, second) = procs.groups.split_at_mut(1);
    let (on_nodes, on_single) = (&mut first[0], &mut second[0]);
    let all = args.contacts as usize;
    // Warm up both (every client must get it); not counted.
    let bytes = on_nodes.warm_up(all, "node", through_nodes()).await?;
    on_single.warm_up(single_n, "single-node", through_single()).await?;
    let (mut nodes_rounds, mut single_rounds, mut missed) = (Rounds::default(), Rounds::default(), Vec::new());
    let bar = super::progress(args.runs as u64 * 2, "fan-out rounds");
    for run in 0..args.runs {
        eprintln!("  fan-out run {}/{} (load average {})", run + 1, args.runs, super::load_average());
        for step in 0..2 {
            if (step == 0) == (run % 2 == 0) {
                let what = format!("{} nodes", args.nodes);
                on_nodes.round(all, args.messages, &what, through_nodes, &mut nodes_rounds, &mut missed).await?;
            } else {
                on_single
                    .round(single_n, args.messages, "one node", through_single, &mut single_rounds, &mut missed)
                    .await?;
            }
            bar.inc(1);
        }
        eprintln!(
            "    latency ms: nodes {:.1}, one node {:.1}; deliveries/s: nodes {:.0}, one node {:.0}",
            nodes_rounds.ms.last().unwrap_or(&f64::NAN),
            single_rounds.ms.last().unwrap_or(&f64::NAN),
            nodes_rounds.rate.last().unwrap_or(&f64::NAN),
            single_rounds.rate.last().unwrap_or(&f64::NAN),
        );
    }
    bar.finish_and_clear();
    (r.nodes, r.single, r.frame_bytes) = (nodes_rounds, single_rounds, bytes);
    r.missed.append(&mut missed);
    r.memory.push(("after the fan-out rounds".into(), memory(procs)?));
    for g in procs.groups.drain(..) {
        g.close().await;
    }
    procs.stop_servers().await;

    if args.sends > 0 {
        let query = online::named(&[ONE_NODE_BUS, NODES_BUS]);
        bus::measure(args.bus_plan(), url, dir, token, &nats_url, &query, &mut procs.servers, &mut r.bus).await?;
    }
    Ok(())
}

fn print_fanout(args: &NodesArgs, r: &Report) {
    let n = args.nodes;
    println!(
        "\n## Fan-out across nodes\n\nOne chat to {} online contacts whose Messengers are spread over {n} `tidings serve` joined by NATS, beside one `tidings serve` with the in-process bus, on one PostgreSQL.\n\nMachine: {}; at the start of the run: load average {}\n",
        thousands(args.contacts),
        super::machine(),
        r.start_load
    );
    println!(
        "Versions: tidings {} ({}), {}, {}.\n",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug build: figures are not representative" } else { "release build" },
        r.version,
        Nats::version()
    );
    if r.pinned {
        println!(
            "Placement: the {n} nodes, the single node and nats-server are all pinned to CPU 0; the WebSocket clients (this binary, at most {} sockets a process) and the benchmark to CPU 1; PostgreSQL (the machine's own) is not pinned. The nodes share one core (this machine has {}), so this measures that a chat reaches every client across nodes and what the bus costs, not scale-out. Everything is on 127.0.0.1. Medians of {} runs, alternating which side goes first.\n",
            thousands(PER_PROCESS as u64),
            server::cpu_count(),
            args.runs
        );
    } else {
        println!(
            "Placement: not pinned (fewer than two cores, or no taskset): the {n} nodes, the single node, nats-server, PostgreSQL, the WebSocket clients and the benchmark share the machine's {} cores. Everything is on 127.0.0.1. Medians of {} runs, alternating which side goes first.\n",
            server::cpu_count(),
            args.runs
        );
    }

    let single = r.single_sockets;
    let connect = |c: &Connect, of: u64| {
        format!(
            "{} of {} in {:.1} s ({} failed{})",
            thousands(c.opened),
            thousands(of),
            c.seconds,
            thousands(c.failed),
            if c.first_error.is_empty() { String::new() } else { format!(": {}", c.first_error) }
        )
    };
    let (nm, sm) = (median(&r.nodes.ms), median(&r.single.ms));
    let (nr, sr) = (median(&r.nodes.rate), median(&r.single.rate));
    let (nq, sq) = (median(&r.nodes.request_ms), median(&r.single.request_ms));
    let rows = vec![
        vec![
            "recipients, all online (one WebSocket each)".into(),
            format!(
                "{} ({} to {} per node)",
                thousands(args.contacts),
                thousands(args.contacts / n as u64),
                thousands(args.contacts.div_ceil(n as u64))
            ),
            thousands(single),
            "–".into(),
        ],
        vec![
            "WebSockets opened".into(),
            connect(&r.nodes_connect, args.contacts),
            connect(&r.single_connect, single),
            "–".into(),
        ],
        vec![
            "send → last client has the frame, ms".into(),
            format!("{nm:.1}"),
            format!("{sm:.1}"),
            format!("{:.2}", nm / sm),
        ],
        vec![
            format!("sustained deliveries/s ({} chats back to back)", args.messages),
            format!("{nr:.0}"),
            format!("{sr:.0}"),
            format!("{:.2}", nr / sr),
        ],
        vec!["the send's HTTP answer, ms".into(), format!("{nq:.1}"), format!("{sq:.1}"), format!("{:.2}", nq / sq)],
        vec![
            "clients that missed a frame".into(),
            if r.missed.iter().any(|m| m.starts_with(&format!("{n} nodes"))) {
                "some: see below".into()
            } else {
                "none".into()
            },
            if r.missed.iter().any(|m| m.starts_with("one node")) { "some: see below".into() } else { "none".into() },
            "–".into(),
        ],
    ];
    println!(
        "{}",
        table(&["figure", &format!("{n} nodes + NATS"), "one node, in-process bus", "nodes / one node"], &rows)
    );
    let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
    println!(
        "The chat is `POST /manual_messages` (chat, `send: true`, an audience `name IN (…)` that matches exactly the connected contacts), through node 1 for the nodes and through the single node for itself; each client receives a {}-byte `message` frame. Node 1 writes one delivery per recipient and publishes the event; every node hears it (node 1 in process, the others through NATS), marks its own online recipients delivered and pushes to them. Per run: latency ms nodes {} | one node {}; deliveries/s nodes {} | one node {}. Every server runs with the API's rate limit off (`TIDINGS_RATE_LIMIT_PER_MINUTE=0`): the benchmark sends more with one token than a minute allows.{}\n",
        r.frame_bytes,
        list(&r.nodes.ms),
        list(&r.single.ms),
        list(&r.nodes.rate),
        list(&r.single.rate),
        if r.missed.is_empty() {
            " Every client got every chat of its side.".to_owned()
        } else {
            format!(" Missed: {}.", r.missed.join("; "))
        }
    );
    if single < args.contacts {
        println!(
            "One process may hold {} open files here (the limit cannot be raised), so the single node holds {} WebSockets, not {}: its chat goes to those {} contacts (the same database and contacts), and the ratios set a chat to {} over {n} nodes beside one to {} on one node.\n",
            thousands(r.file_limit),
            thousands(single),
            thousands(args.contacts),
            thousands(single),
            thousands(args.contacts),
            thousands(single)
        );
    }

    println!("### Memory (RSS)\n");
    let mib = |m: &Memory| format!("{:.1} MiB", m.rss_kib as f64 / 1024.0);
    let mut headers: Vec<String> = (1..=n).map(|k| format!("node {k}")).collect();
    headers.insert(0, "moment".into());
    headers.push("nats-server".into());
    headers.push("single node".into());
    let rows: Vec<Vec<String>> = r
        .memory
        .iter()
        .map(|(when, mems)| std::iter::once(when.clone()).chain(mems.iter().map(mib)).collect())
        .collect();
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    println!("{}", table(&headers, &rows));
    if let (Some((_, start)), Some((_, open))) = (r.memory.first(), r.memory.get(1)) {
        let per =
            |k: usize, sockets: u64| open[k].rss_kib.saturating_sub(start[k].rss_kib) as f64 / sockets.max(1) as f64;
        let node_kib: Vec<String> =
            (0..n).map(|k| format!("{:.2}", per(k, (args.contacts + (n - 1 - k) as u64) / n as u64))).collect();
        println!(
            "Per idle WebSocket: nodes {} KiB, single node {:.2} KiB.\n",
            node_kib.join(" / "),
            per(n + 1, single)
        );
    }
    println!("Reproduce: cargo run --release -p tidings -- bench nodes {}\n", args.flags());
}
