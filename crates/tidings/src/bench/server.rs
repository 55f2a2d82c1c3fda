//! The server under test: `tidings setup --json` and `tidings serve` as child processes of this
//! very binary on the scratch database, the server pinned to CPU 0 when `taskset` is there.
//! Memory is read from `/proc/<pid>/status`; the child is killed by its pid when done.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tokio::process::{Child, Command};

/// Resident memory of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Now (VmRSS).
    pub rss_kib: u64,
    /// Peak since start (VmHWM).
    pub hwm_kib: u64,
    /// Of `rss_kib`, the process's own memory (RssAnon): the rest is files mapped into it, such
    /// as a SQLite database read through `mmap`, which the OS shares with its page cache.
    pub anon_kib: u64,
}

fn exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))
}

/// Creates the benchmark workspace with `tidings setup --json`; returns its id and API token.
///
/// # Errors
/// When setup fails or prints something unexpected.
pub async fn setup(url: &str, dir: &Path) -> Result<(i64, String), String> {
    let out = Command::new(exe()?)
        .args(["--database-url", url, "setup", "--workspace", "Bench"])
        .args(["--email", "bench@example.com", "--json"])
        .env("TIDINGS_SETUP_PASSWORD", "bench-password")
        .env("TIDINGS_LOG", "warn")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run tidings setup: {e}"))?;
    if !out.status.success() {
        return Err(format!("tidings setup failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let v: Json = serde_json::from_slice(&out.stdout).map_err(|e| format!("tidings setup printed no JSON ({e})"))?;
    match (v["workspace_id"].as_i64(), v["token"].as_str()) {
        (Some(id), Some(token)) => Ok((id, token.to_owned())),
        _ => Err(format!("tidings setup printed {v}")),
    }
}

/// How a `tidings serve` is started beyond its database.
#[derive(Clone, Copy, Debug, Default)]
pub struct Launch<'a> {
    /// `--nats-url`: a node joined to others by NATS. Without it, the in-process bus (one node),
    /// whatever `TIDINGS_NATS_URL` says in the benchmark's own environment.
    pub nats_url: Option<&'a str>,
    /// Turns the API's rate limit off (`TIDINGS_RATE_LIMIT_PER_MINUTE=0`), for a benchmark that
    /// sends more requests with one token than a minute allows.
    pub unlimited: bool,
    /// More environment for the server (e.g. its SMTP settings).
    pub env: &'a [(&'a str, &'a str)],
    /// Leaves the server free on every CPU, for a benchmark whose counterpart is not pinned
    /// either.
    pub unpinned: bool,
}

/// A running `tidings serve`.
pub struct Server {
    child: Child,
    pub pid: u32,
    /// Whether it runs under `taskset -c 0`.
    pub pinned: bool,
    base: String,
    token: String,
    /// Its standard error (warnings and errors), kept until it stops, so that a failed request
    /// can say why.
    log: std::path::PathBuf,
}

impl Server {
    /// Starts the server (in-process bus, default settings) on a free loopback port and waits
    /// until it answers.
    ///
    /// # Errors
    /// When it cannot start or does not answer within a minute.
    pub async fn start(url: &str, dir: &Path, token: &str) -> Result<Server, String> {
        Self::launch(url, dir, token, Launch::default()).await
    }

    /// Starts the server as `how` says on a free loopback port and waits until it answers.
    ///
    /// # Errors
    /// When it cannot start or does not answer within a minute.
    pub async fn launch(url: &str, dir: &Path, token: &str, how: Launch<'_>) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let listen = format!("127.0.0.1:{port}");
        let exe = exe()?;
        let pinned = !how.unpinned
            && cpu_count() >= 2
            && std::process::Command::new("taskset")
                .arg("-V")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let log = dir.join(format!("tidings-bench_{}_serve_{port}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        cmd.args(["--database-url", url, "--listen", &listen]).env_remove("TIDINGS_NATS_URL");
        if let Some(nats) = how.nats_url {
            cmd.args(["--nats-url", nats]);
        }
        if how.unlimited {
            cmd.env("TIDINGS_RATE_LIMIT_PER_MINUTE", "0");
        }
        for (k, v) in how.env {
            cmd.env(k, v);
        }
        // taskset execs the server, so the child's pid is the server's.
        let child = cmd
            .arg("serve")
            .env("TIDINGS_LOG", "warn")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start tidings serve: {e}"))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let mut srv =
            Server { child, pid, pinned, base: format!("http://{listen}"), token: token.to_owned(), log: log.clone() };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.get(format!("{}/openapi.json", srv.base)).send().await.is_ok() {
                return Ok(srv);
            }
            let exited = srv.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                let why = std::fs::read_to_string(&log).unwrap_or_default();
                srv.stop().await;
                return Err(format!("tidings serve did not come up: {why}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's resident memory now and at its peak.
    ///
    /// # Errors
    /// When `/proc/<pid>/status` cannot be read.
    pub fn memory(&self) -> Result<Memory, String> {
        memory_of(self.pid).map_err(|e| format!("cannot read the server's memory: {e}"))
    }

    /// Where it listens, e.g. `http://127.0.0.1:41234`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The Messenger's WebSocket for a contact's session.
    pub fn messenger_ws(&self, session: &str) -> String {
        format!("{}/messenger/v1/ws?session={session}", self.base.replacen("http://", "ws://", 1))
    }

    /// `POST /contacts/search`; returns `total_count` after checking the page came back.
    ///
    /// # Errors
    /// A failed request or an unexpected answer.
    pub async fn search(&self, client: &reqwest::Client, query: &Json, per_page: i64) -> Result<i64, String> {
        let resp = client
            .post(format!("{}/contacts/search", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "pagination": {"per_page": per_page}}))
            .send()
            .await
            .map_err(|e| format!("POST /contacts/search: {e}"))?;
        let status = resp.status();
        let body: Json = resp.json().await.map_err(|e| format!("POST /contacts/search: {e}"))?;
        let total = body["total_count"].as_i64();
        let page = body["data"].as_array().map_or(0, Vec::len) as i64;
        match total {
            Some(t) if status.is_success() && page == t.min(per_page) => Ok(t),
            _ => Err(format!("POST /contacts/search answered {status}: {body}")),
        }
    }

    /// A `POST` with the API token; the answer's JSON when it succeeded.
    ///
    /// # Errors
    /// A failed request or an error answer.
    pub async fn post(&self, client: &reqwest::Client, path: &str, body: Json) -> Result<Json, String> {
        let resp = client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status();
        let answer: Json = resp.json().await.map_err(|e| format!("POST {path}: {e}"))?;
        if status.is_success() {
            Ok(answer)
        } else if status.is_server_error() {
            Err(format!("POST {path} answered {status}: {answer}; the server's log ends with:\n{}", self.log_tail()))
        } else {
            Err(format!("POST {path} answered {status}: {answer}"))
        }
    }

    /// The last few lines the server wrote on its standard error.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    /// Kills the server (by its pid), reaps it and removes its log.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Resident memory of any process, from `/proc/<pid>/status`.
///
/// # Errors
/// When the file cannot be read (the process is gone, or not ours to read).
pub fn memory_of(pid: u32) -> Result<Memory, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(Memory { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:"), anon_kib: field("RssAnon:") })
}

/// Pins every thread of this process to `cpus` (a `taskset` list); false when that failed.
pub fn pin_self(cpus: &str) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-cp", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The machine's online CPUs as a `taskset` list (e.g. `0-1`), whatever this process is pinned to.
pub fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online").map_or_else(|_| "0".into(), |s| s.trim().to_owned())
}

/// How many CPUs the machine has online (not how many this process may use).
pub fn cpu_count() -> usize {
    online_cpus()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0) + 1 - a.parse::<usize>().unwrap_or(0),
            None => 1,
        })
        .sum()
}

/// Logs in as the benchmark's owner; returns the session cookie.
pub async fn log_in(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let r = client
        .post(format!("{base}/app/login"))
        .form(&[("email", "bench@example.com"), ("password", "bench-password")])
        .send()
        .await
        .map_err(|e| format!("log in: {e}"))?;
    let cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains('=') && !v.starts_with("=;"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| format!("logging in gave no session ({})", r.status()))?;
    Ok(cookie)
}
