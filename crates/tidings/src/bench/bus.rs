//! The bus's cost, the second part of `tidings bench nodes`: a send's answer time through one
//! `tidings serve` with the in-process bus beside the same server with `--nats-url` (the
//! benchmark's own nats-server, no other node listening), both on the same PostgreSQL schema,
//! sends alternating one by one. Each send is a chat to contacts chosen by a filter, with no
//! Messenger open, so what is timed is the send itself: the audience snapshot committed, the
//! event handed to the bus, the answer.

use std::path::Path;
use std::time::Instant;

use serde_json::Value as Json;

use super::online;
use super::server::{Launch, Memory, Server};
use super::{median, percentile, table, thousands};

/// How many sends are timed through each bus, and how many contacts each goes to.
#[derive(Clone, Copy)]
pub struct Plan {
    pub sends: usize,
    pub audience: u64,
}

/// Sends through each server before the timed ones (connections warm, plans cached).
const WARM_UP: usize = 10;

/// What the sends took, ms, and each server's memory after them.
#[derive(Default)]
pub struct BusCost {
    pub in_process: Vec<f64>,
    pub nats: Vec<f64>,
    pub memory: Vec<Memory>,
    pub pinned: bool,
    pub load: String,
}

/// Starts the two servers (kept in `servers`, for the caller to stop) and times the sends.
///
/// # Errors
/// When a server does not start or a send fails or targets other than `plan.audience`.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    plan: Plan,
    url: &str,
    dir: &Path,
    token: &str,
    nats_url: &str,
    query: &Json,
    servers: &mut Vec<Server>,
    out: &mut BusCost,
) -> Result<(), String> {
    out.load = super::load_average();
    eprintln!("  the bus's cost: {} sends each (load average {})", plan.sends, out.load);
    servers
        .push(Server::launch(url, dir, token, Launch { nats_url: None, unlimited: true, ..Launch::default() }).await?);
    servers.push(
        Server::launch(url, dir, token, Launch { nats_url: Some(nats_url), unlimited: true, ..Launch::default() })
            .await?,
    );
    let (local, joined) = (&servers[0], &servers[1]);
    out.pinned = local.pinned && joined.pinned;
    let http = reqwest::Client::new();
    let send = |srv| timed_send(srv, &http, query, plan.audience);
    for _ in 0..WARM_UP {
        send(local).await?;
        send(joined).await?;
    }
    let bar = super::progress(plan.sends as u64 * 2, "sends");
    for i in 0..plan.sends {
        if i % 2 == 0 {
            out.in_process.push(send(local).await?);
            out.nats.push(send(joined).await?);
        } else {
            out.nats.push(send(joined).await?);
            out.in_process.push(send(local).await?);
        }
        bar.inc(2);
    }
    bar.finish_and_clear();
    out.memory = vec![local.memory()?, joined.memory()?];
    eprintln!("    median ms: in process {:.2}, NATS {:.2}", median(&out.in_process), median(&out.nats));
    Ok(())
}

/// One send through `srv`, timed until its answer came back, ms.
async fn timed_send(srv: &Server, http: &reqwest::Client, query: &Json, expected: u64) -> Result<f64, String> {
    let started = Instant::now();
    let targeted = online::chat(srv, http, query).await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if targeted != expected as i64 {
        return Err(format!("a send targeted {targeted} contacts, expected {expected}"));
    }
    Ok(ms)
}

/// Prints the part's tables; `flags` are the command's, to reproduce it.
pub fn print(plan: Plan, flags: &str, b: &BusCost) {
    println!(
        "## The bus's cost: a send's answer time, in process vs NATS\n\nMachine: {}; at the start of this part: load average {}\n",
        super::machine(),
        b.load
    );
    let row = |what: &str, f: &dyn Fn(&[f64]) -> f64| {
        let (ours, nats) = (f(&b.in_process), f(&b.nats));
        vec![what.to_owned(), format!("{ours:.2}"), format!("{nats:.2}"), format!("{:.2}", nats / ours)]
    };
    let rows = vec![
        row("median answer, ms", &median),
        row("p90 answer, ms", &|v| percentile(v, 90.0)),
        row("p99 answer, ms", &|v| percentile(v, 99.0)),
        row("fastest answer, ms", &|v| percentile(v, 0.0)),
    ];
    println!("{}", table(&["figure", "in-process bus", "NATS (`--nats-url`)", "NATS / in process"], &rows));
    let mib = |m: Option<&Memory>| m.map_or("?".into(), |m| format!("{:.1} MiB", m.rss_kib as f64 / 1024.0));
    println!(
        "{} sends through each of two `tidings serve` on the same PostgreSQL schema{}, alternating one by one (which goes first alternating too), after {WARM_UP} untimed sends each: `POST /manual_messages` (chat, `send: true`) to the {} contacts a filter (`name IN (…)`) matches, no Messenger open. The answer comes once the audience snapshot is committed; the event is handed to the bus before it, and the NATS bus publishes it from a queue of its own, so no answer waits for NATS. nats-server had no other subscriber. RSS after the sends: in process {}, NATS {}.\n",
        thousands(plan.sends as u64),
        if b.pinned { " (both pinned to CPU 0 beside nats-server; the benchmark sends from CPU 1)" } else { "" },
        thousands(plan.audience),
        mib(b.memory.first()),
        mib(b.memory.get(1))
    );
    println!("Reproduce: cargo run --release -p tidings -- bench nodes {flags}\n");
}
