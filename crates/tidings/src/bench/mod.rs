//! `tidings bench …`: measures Tidings' hot paths on generated data, side by side with the same
//! work written by hand, and prints the figures as Markdown tables together with the command
//! that reproduces them. The latest results live in `docs/benchmarks.md`. Benchmarks are never
//! timed assertions in tests.
//!
//! Every benchmark works on scratch databases of its own (a SQLite file in a temporary directory,
//! a PostgreSQL schema named `bench_<pid>_…`) and removes them when it ends, failed or not.

mod bus;
mod clients;
mod data;
mod email;
mod import;
mod inbox;
mod inbox_live;
mod messenger;
mod nats;
mod nodes;
mod online;
mod search;
mod send;
mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tidings_store::Store;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Subcommand)]
pub enum Bench {
    /// Import generated contacts from a JSON-lines file through `tidings import`'s code path, then
    /// import the same file again (everything unchanged). Reports contacts/s, beside a
    /// hand-written multi-row INSERT of the same rows.
    Import(ImportArgs),
    /// Count and first page (50, newest first) of three audience searches over generated
    /// contacts: filter language → compiled SQL, against the same predicate written by hand.
    /// Then serves the same database with `tidings serve` (pinned to CPU 0) and reports HTTP
    /// latency and the server's memory during the searches.
    Search(SearchArgs),
    /// A manual message to N generated contacts chosen by a filter: time until its audience
    /// snapshot is durable, beside the same `INSERT … SELECT` written by hand, then over HTTP
    /// through `tidings serve` with the server's memory.
    Send(SendArgs),
    /// The Messenger's real time on one `tidings serve` (pinned to CPU 0): concurrent
    /// authenticated WebSockets and memory per idle connection; one chat to many online
    /// contacts beside nginx + nchan (latency and sustained deliveries/s); `POST /ping` under wrk
    /// beside nginx's `return 204`. Needs nginx-light, libnginx-mod-nchan and wrk.
    Messenger(messenger::MessengerArgs),
    /// Several `tidings serve` on one PostgreSQL joined by a `nats-server` of the benchmark's own:
    /// one chat through node 1 to contacts whose Messengers are spread over the nodes (time to
    /// the last client, sustained deliveries/s, memory per node), beside one `tidings serve` with
    /// the in-process bus; then a send's answer time with the in-process bus and with NATS.
    /// Needs nats-server.
    Nodes(nodes::NodesArgs),
    /// Personalised ~5 KB emails through the outbox (claim, render, SMTP, record) into Postfix's
    /// `smtp-sink` at 1, 10 and 50 connections, beside `smtp-source` into the same sink; then one
    /// 100,000-recipient send end to end with the server's memory and CPU. Needs Postfix's tools
    /// (`apt-get install postfix`; the service is never started).
    Email(email::EmailArgs),
    /// The Inbox on N generated conversations: the first page of every view and every view's
    /// counts through the store beside hand-written SQL, the pages and a 500-part conversation
    /// over HTTP as a teammate's browser gets them; then a contact's reply reaching 50 teammates'
    /// open screens on one node and across nodes joined by NATS (needs nats-server).
    Inbox(inbox::InboxArgs),
    /// WebSocket clients for `bench messenger` and `bench nodes`, driven over stdin/stdout
    /// (started by them).
    #[command(hide = true)]
    WsClients(clients::ClientArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Sqlite,
    Postgres,
    Both,
}

/// Options every benchmark takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// How many contacts to generate.
    #[arg(long, default_value_t = 1_000_000)]
    pub contacts: u64,
    /// Which database to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub database: Which,
    /// PostgreSQL server to use; the benchmark works in a schema of its own and drops it.
    #[arg(long, env = "TIDINGS_BENCH_POSTGRES_URL", default_value = DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Where scratch SQLite databases and generated files go (removed afterwards)
    /// [default: the system's temporary directory].
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

impl Common {
    fn databases(&self) -> Vec<Db> {
        match self.database {
            Which::Sqlite => vec![Db::Sqlite],
            Which::Postgres => vec![Db::Postgres],
            Which::Both => vec![Db::Sqlite, Db::Postgres],
        }
    }

    fn work_dir(&self) -> PathBuf {
        self.work_dir.clone().unwrap_or_else(std::env::temp_dir)
    }

    /// The flags that reproduce this run, defaults left out.
    fn flags(&self) -> String {
        format!(
            "--contacts {} --database {}{}",
            self.contacts,
            match self.database {
                Which::Sqlite => "sqlite",
                Which::Postgres => "postgres",
                Which::Both => "both",
            },
            self.place_flags()
        )
    }

    /// The flags that say where the scratch databases went, when they are not the defaults.
    fn place_flags(&self) -> String {
        let mut s = String::new();
        if self.postgres_url != DEFAULT_POSTGRES {
            s.push_str(&format!(" --postgres-url '{}'", crate::settings::redact(&self.postgres_url)));
        }
        if let Some(dir) = &self.work_dir {
            s.push_str(&format!(" --work-dir {}", dir.display()));
        }
        s
    }
}

#[derive(Args, Clone, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub common: Common,
    /// Repeat the whole benchmark (fresh databases each time) and report medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

#[derive(Args, Clone, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub common: Common,
    /// Timed runs of each query (median reported), alternating ours and hand-written.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    /// Skip the HTTP part (the `tidings serve` child process).
    #[arg(long)]
    pub no_server: bool,
    /// Keep the generated databases (printed at the end) instead of removing them, to inspect
    /// plans; drop them yourself afterwards.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Clone, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub common: Common,
    /// Timed sends of each kind (median reported), alternating ours and hand-written.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Skip the HTTP part (the `tidings serve` child process).
    #[arg(long)]
    pub no_server: bool,
}

/// Runs a benchmark.
///
/// # Errors
/// When a database cannot be set up or a step fails; scratch databases are removed either way.
pub async fn run(bench: Bench) -> Result<(), String> {
    match bench {
        Bench::Import(args) => import::run(args).await,
        Bench::Search(args) => search::run(args).await,
        Bench::Send(args) => send::run(args).await,
        Bench::Messenger(args) => messenger::run(args).await,
        Bench::Nodes(args) => nodes::run(args).await,
        Bench::Email(args) => email::run(args).await,
        Bench::Inbox(args) => inbox::run(args).await,
        Bench::WsClients(args) => clients::client(args).await,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

impl Db {
    pub fn name(self) -> &'static str {
        match self {
            Db::Sqlite => "SQLite",
            Db::Postgres => "PostgreSQL",
        }
    }
}

/// A scratch database, removed by [`Scratch::remove`].
pub struct Scratch {
    pub db: Db,
    pub store: Arc<dyn Store>,
    /// The URL another process (the server under test) opens the same database with.
    pub url: String,
    dir: Option<PathBuf>,
    schema: Option<String>,
}

impl Scratch {
    /// Creates an empty, migrated database. `label` keeps several scratches of one run apart.
    ///
    /// # Errors
    /// When the database cannot be created or reached.
    pub async fn create(db: Db, common: &Common, label: &str) -> Result<Self, String> {
        let name = format!("bench_{}_{label}", std::process::id());
        match db {
            Db::Sqlite => {
                let dir = common.work_dir().join(format!("tidings-{name}"));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                let url = format!("sqlite://{}", dir.join("tidings.db").display());
                let store = tidings_store::open(&url).await.map_err(|e| format!("opening {url}: {e}"))?;
                Ok(Scratch { db, store, url, dir: Some(dir), schema: None })
            }
            Db::Postgres => {
                let base = &common.postgres_url;
                let store = tidings_store::open_postgres_schema(base, &name).await.map_err(|e| {
                    format!(
                        "opening PostgreSQL at {} (is it running? see --postgres-url): {e}",
                        crate::settings::redact(base)
                    )
                })?;
                let sep = if base.contains('?') { '&' } else { '?' };
                Ok(Scratch {
                    db,
                    store,
                    url: format!("{base}{sep}options[search_path]={name}"),
                    dir: None,
                    schema: Some(name),
                })
            }
        }
    }

    /// Creates the benchmark's workspace with `tidings setup` (as an operator would) and reads it
    /// back; returns it with its API token.
    ///
    /// # Errors
    /// When setup fails or the workspace cannot be read.
    pub async fn workspace(&self, dir: &std::path::Path) -> Result<(tidings_store::Workspace, String), String> {
        let (id, token) = server::setup(&self.url, dir).await?;
        let ws = self
            .store
            .workspace(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the workspace `tidings setup` created is missing")?;
        Ok((ws, token))
    }

    /// Drops the schema or deletes the files.
    ///
    /// # Errors
    /// When the schema cannot be dropped (the files are removed best-effort).
    pub async fn remove(self) -> Result<(), String> {
        if let Some(schema) = &self.schema {
            tidings_store::drop_postgres_schema(&*self.store, schema)
                .await
                .map_err(|e| format!("dropping schema {schema}: {e}"))?;
        }
        drop(self.store);
        if let Some(dir) = &self.dir {
            // Let the pools close their connections before the files go.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = std::fs::remove_dir_all(dir);
        }
        Ok(())
    }

    /// The database engine's version, e.g. `SQLite 3.46.0`.
    pub async fn version(&self) -> String {
        let sql = match self.db {
            Db::Sqlite => "SELECT sqlite_version()",
            Db::Postgres => "SHOW server_version",
        };
        let v = self.store.strings_raw(sql).await.ok().and_then(|v| v.into_iter().next()).unwrap_or_else(|| "?".into());
        format!("{} {v}", self.db.name())
    }

    /// Bytes on disk (SQLite files) or of the contacts table with its indexes (PostgreSQL).
    pub async fn size(&self) -> Option<u64> {
        match (&self.dir, &self.schema) {
            (Some(dir), _) => std::fs::read_dir(dir)
                .ok()
                .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum()),
            (_, Some(_)) => {
                self.store.scalar_raw("SELECT pg_total_relation_size('contacts')").await.ok().map(|n| n as u64)
            }
            _ => None,
        }
    }
}

/// The median of some measurements (the mean of the middle two for an even count).
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

/// The `p`-th percentile (0–100) of some measurements: the smallest value at least `p`% of them
/// do not exceed (nearest rank).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// A Markdown table with aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(headers.iter().map(|h| (*h).to_owned()).collect());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A progress bar over `len` items with rate and ETA.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/{{human_len}} {{per_sec}} ETA {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The machine and its load, for the report's header.
pub fn machine() -> String {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = server::cpu_count();
    let mem_gib = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    format!("{cpu}, {cores} cores, {mem_gib:.0} GiB; load average {}", load_average())
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first line a tool prints about its version (nginx prints it on stderr).
pub fn tool_version(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let first = text.lines().next()?.trim().trim_start_matches("nginx version: ");
            // wrk goes on with its build and a copyright on the same line.
            Some(first.split(" [").next().unwrap_or(first).to_owned())
        })
        .unwrap_or_else(|| format!("{cmd} ?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_ranks() {
        let xs: Vec<f64> = (1..=200).rev().map(f64::from).collect();
        assert_eq!(percentile(&xs, 99.0), 198.0, "of 200, the 198th: two above it");
        assert_eq!(percentile(&xs, 50.0), 100.0);
        assert_eq!(percentile(&xs, 0.0), 1.0, "the fastest");
        assert_eq!(percentile(&xs, 100.0), 200.0);
        assert!(percentile(&[], 99.0).is_nan());
    }
}
