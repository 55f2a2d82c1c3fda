//! WebSocket clients for the real-time benchmarks (`bench messenger`, `bench nodes`): this very
//! binary again (`tidings bench ws-clients`, hidden), each process holding at most
//! [`PER_PROCESS`] sockets so that none reaches the machine's per-process file limit, pinned to
//! CPU 1 and driven over its standard input and output as JSON lines.
//!
//! The parent arms every client with how many messages it should have had by the end of a round,
//! then waits: each process answers how many of its clients got them all, and when the last one
//! did as wall-clock time, which every process on the machine reads from the same clock. A round
//! of a fan-out (one message timed to the last client, then several back to back) is written
//! once here for every benchmark and every server it measures.
//! Every process started here is stopped by its pid, failed or not.

use std::future::Future;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// Sockets per client process: well below the per-process file limit.
pub const PER_PROCESS: usize = 10_000;
/// Handshakes in flight per client process.
const CONCURRENCY: usize = 200;
/// How long one message may take to reach every client before the round notes who missed it.
const ONE_MESSAGE_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    /// Which server the URLs point at: Tidings sends a hello frame first, nchan does not.
    #[arg(long, value_enum)]
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Tidings,
    Nchan,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Tidings => "tidings",
            Kind::Nchan => "nchan",
        }
    }

    /// Whether a text frame is one of the messages being counted.
    fn counts(self, text: &str) -> bool {
        match self {
            Kind::Tidings => text.contains(r#""type":"message""#),
            Kind::Nchan => true,
        }
    }
}

// --- client processes, parent side ----------------------------------------------------------------------

/// One client process, driven by JSON lines.
struct ClientProc {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl ClientProc {
    async fn spawn(kind: Kind, pinned: bool) -> Result<ClientProc, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "1"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let mut child = cmd
            .args(["bench", "ws-clients", "--kind", kind.as_str()])
            .env("TIDINGS_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a client process: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err("a client process has no pipes".into());
        };
        Ok(ClientProc { child, stdin, lines: BufReader::new(stdout).lines() })
    }

    async fn send(&mut self, v: &Json) -> Result<(), String> {
        let mut line = v.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.map_err(|e| format!("a client process went away: {e}"))?;
        self.stdin.flush().await.map_err(|e| format!("a client process went away: {e}"))
    }

    async fn recv(&mut self, timeout: Duration) -> Result<Json, String> {
        let line = tokio::time::timeout(timeout, self.lines.next_line())
            .await
            .map_err(|_| "a client process did not answer in time".to_owned())?
            .map_err(|e| format!("reading a client process: {e}"))?
            .ok_or("a client process exited")?;
        serde_json::from_str(&line).map_err(|e| format!("a client process said {line:?}: {e}"))
    }

    /// Kills the process by its pid and reaps it.
    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// What the clients of a group saw in one round.
pub struct Outcome {
    /// Clients that had every message they were armed for.
    pub done: u64,
    /// When the last of them had it (ns since the epoch).
    pub last_ns: u64,
    /// Size of a counted frame.
    pub bytes: u64,
}

impl Outcome {
    pub fn ms_since(&self, t0: u64) -> f64 {
        self.last_ns.saturating_sub(t0) as f64 / 1e6
    }

    pub fn note_missed(&self, what: &str, of: usize, missed: &mut Vec<String>) {
        if self.done < of as u64 {
            missed.push(format!("{what}: {} of {of} clients got everything in time", self.done));
        }
    }
}

/// One side of a fan-out over its rounds (see [`Group::round`]).
#[derive(Default)]
pub struct Rounds {
    /// Send → last client has the message, ms.
    pub ms: Vec<f64>,
    /// Deliveries per second over the messages sent back to back.
    pub rate: Vec<f64>,
    /// Until the answer to the timed send came back, ms.
    pub request_ms: Vec<f64>,
}

/// Client processes sharing one kind of work, each with at most [`PER_PROCESS`] sockets.
pub struct Group {
    procs: Vec<ClientProc>,
    /// Messages each client should have had so far (targets are cumulative).
    target: u64,
}

impl Group {
    /// Starts enough client processes for `sockets` connections.
    ///
    /// # Errors
    /// When a process cannot start (those already started are stopped).
    pub async fn spawn(kind: Kind, sockets: usize, pinned: bool) -> Result<Group, String> {
        let mut procs = Vec::new();
        for _ in 0..sockets.div_ceil(PER_PROCESS).max(1) {
            match ClientProc::spawn(kind, pinned).await {
                Ok(p) => procs.push(p),
                Err(e) => {
                    for p in procs {
                        p.stop().await;
                    }
                    return Err(e);
                }
            }
        }
        Ok(Group { procs, target: 0 })
    }

    /// Opens one connection per URL, spread over the processes; returns (open, failed, first
    /// error).
    ///
    /// # Errors
    /// When a process goes away or does not answer.
    pub async fn connect(
        &mut self,
        urls: &[String],
        bar: &indicatif::ProgressBar,
    ) -> Result<(u64, u64, String), String> {
        let per = urls.len().div_ceil(self.procs.len());
        for (p, chunk) in self.procs.iter_mut().zip(urls.chunks(per.max(1))) {
            p.send(&json!({"connect": chunk, "concurrency": CONCURRENCY})).await?;
        }
        let results = futures_util::future::join_all(self.procs.iter_mut().map(|p| async move {
            let mut shown = 0;
            loop {
                let v = p.recv(Duration::from_secs(300)).await?;
                let n = v["connected"].as_u64().unwrap_or(0);
                bar.inc(n.saturating_sub(shown));
                shown = shown.max(n);
                if v.get("ready").is_some() {
                    return Ok::<Json, String>(v);
                }
            }
        }))
        .await;
        let (mut open, mut failed, mut first) = (0, 0, String::new());
        for r in results {
            let v = r?;
            open += v["ready"].as_u64().unwrap_or(0);
            failed += v["failed"].as_u64().unwrap_or(0);
            if first.is_empty() {
                first = v["error"].as_str().unwrap_or("").to_owned();
            }
        }
        Ok((open, failed, first))
    }

    /// Tells every client to expect `more` messages; returns once all processes are ready.
    ///
    /// # Errors
    /// When a process goes away or does not answer.
    pub async fn arm(&mut self, more: u64) -> Result<(), String> {
        self.target += more;
        for p in &mut self.procs {
            p.send(&json!({"expect": self.target})).await?;
        }
        for p in &mut self.procs {
            let v = p.recv(Duration::from_secs(30)).await?;
            if v.get("armed").is_none() {
                return Err(format!("a client process said {v}"));
            }
        }
        Ok(())
    }

    /// Waits until every client has its messages, or `timeout`.
    ///
    /// # Errors
    /// When a process goes away or does not answer.
    pub async fn wait(&mut self, timeout: Duration) -> Result<Outcome, String> {
        let ms = timeout.as_millis() as u64;
        for p in &mut self.procs {
            p.send(&json!({"wait_ms": ms})).await?;
        }
        let mut out = Outcome { done: 0, last_ns: 0, bytes: 0 };
        for p in &mut self.procs {
            let v = p.recv(timeout + Duration::from_secs(30)).await?;
            out.done += v["done"].as_u64().unwrap_or(0);
            out.last_ns = out.last_ns.max(v["last_ns"].as_u64().unwrap_or(0));
            out.bytes = out.bytes.max(v["bytes"].as_u64().unwrap_or(0));
        }
        Ok(out)
    }

    /// Sends one message that every one of the `clients` must get (a warm-up, not counted);
    /// returns the size of its frame.
    ///
    /// # Errors
    /// When the send fails, or a client did not get it in time.
    pub async fn warm_up(
        &mut self,
        clients: usize,
        what: &str,
        send: impl Future<Output = Result<(), String>>,
    ) -> Result<u64, String> {
        self.arm(1).await?;
        send.await?;
        let w = self.wait(ONE_MESSAGE_TIMEOUT).await?;
        if w.done < clients as u64 {
            return Err(format!("warm-up: only {} of {clients} {what} clients got the message", w.done));
        }
        Ok(w.bytes)
    }

    /// One round of a fan-out to the `clients`: one message, timed from just before `send` until
    /// the last client has it, then `messages` back to back for deliveries per second. Clients
    /// that did not get everything in time are noted in `missed`.
    ///
    /// # Errors
    /// When a send fails or a client process goes away.
    pub async fn round<F, Fut>(
        &mut self,
        clients: usize,
        messages: u64,
        what: &str,
        mut send: F,
        rounds: &mut Rounds,
        missed: &mut Vec<String>,
    ) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        self.arm(1).await?;
        let t0 = now_ns();
        let sent = Instant::now();
        send().await?;
        rounds.request_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        let w = self.wait(ONE_MESSAGE_TIMEOUT).await?;
        rounds.ms.push(w.ms_since(t0));
        w.note_missed(&format!("{what}, one message"), clients, missed);
        self.arm(messages).await?;
        let t0 = now_ns();
        for _ in 0..messages {
            send().await?;
        }
        let w = self.wait(ONE_MESSAGE_TIMEOUT + Duration::from_secs(10 * messages)).await?;
        rounds.rate.push((clients as u64 * messages) as f64 / (w.ms_since(t0) / 1000.0));
        w.note_missed(&format!("{what}, back to back"), clients, missed);
        Ok(())
    }

    /// Closes the connections, then stops the processes.
    pub async fn close(mut self) {
        for p in &mut self.procs {
            if p.send(&json!({"close": true})).await.is_ok() {
                let _ = p.recv(Duration::from_secs(30)).await;
            }
        }
        self.stop().await;
    }

    /// Stops the processes by their pids.
    pub async fn stop(self) {
        for p in self.procs {
            p.stop().await;
        }
    }
}

// --- client processes, their side ---------------------------------------------------------------------

#[derive(Default)]
struct Shared {
    /// Messages each connection should have by the end of this round.
    target: AtomicU64,
    /// Connections that have them.
    done: AtomicU64,
    /// When the last of them got its last one (ns since the epoch).
    last_ns: AtomicU64,
    /// Size of a counted frame.
    bytes: AtomicU64,
    notify: tokio::sync::Notify,
}

/// `tidings bench ws-clients`: reads commands as JSON lines on stdin, answers on stdout.
///
/// # Errors
/// When stdin or stdout fail.
pub async fn client(args: ClientArgs) -> Result<(), String> {
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

    let kind = args.kind;
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    let shared = Arc::new(Shared::default());
    let mut tasks = Vec::new();
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(4096);
    while let Some(line) = input.next_line().await.map_err(|e| e.to_string())? {
        let cmd: Json = serde_json::from_str(&line).map_err(|e| format!("bad command {line:?}: {e}"))?;
        let reply = if let Some(urls) = cmd["connect"].as_array() {
            let concurrency = cmd["concurrency"].as_u64().unwrap_or(100) as usize;
            let mut opens =
                futures_util::stream::iter(urls.iter().filter_map(Json::as_str).map(|url| open(url, kind, config)))
                    .buffer_unordered(concurrency.max(1));
            let (mut ready, mut failed, mut first_error) = (0u64, 0u64, String::new());
            while let Some(result) = opens.next().await {
                match result {
                    Ok(ws) => {
                        ready += 1;
                        tasks.push(tokio::spawn(listen(ws, kind, shared.clone())));
                    }
                    Err(e) => {
                        failed += 1;
                        if first_error.is_empty() {
                            first_error = e;
                        }
                    }
                }
                if (ready + failed) % 250 == 0 {
                    say(&mut out, &json!({"connected": ready + failed})).await?;
                }
            }
            json!({"connected": ready + failed, "ready": ready, "failed": failed, "error": first_error})
        } else if let Some(target) = cmd["expect"].as_u64() {
            shared.done.store(0, Ordering::SeqCst);
            shared.last_ns.store(0, Ordering::SeqCst);
            shared.target.store(target, Ordering::SeqCst);
            json!({"armed": true})
        } else if let Some(ms) = cmd["wait_ms"].as_u64() {
            let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
            let n = tasks.len() as u64;
            while shared.done.load(Ordering::SeqCst) < n {
                tokio::select! {
                    () = shared.notify.notified() => {}
                    () = tokio::time::sleep_until(deadline) => break,
                }
            }
            json!({
                "done": shared.done.load(Ordering::SeqCst),
                "last_ns": shared.last_ns.load(Ordering::SeqCst),
                "bytes": shared.bytes.load(Ordering::SeqCst),
            })
        } else if cmd.get("close").is_some() {
            for t in &tasks {
                t.abort();
            }
            say(&mut out, &json!({"closed": tasks.len()})).await?;
            return Ok(());
        } else {
            json!({"error": format!("unknown command {line}")})
        };
        say(&mut out, &reply).await?;
    }
    Ok(())
}

async fn say(out: &mut tokio::io::Stdout, v: &Json) -> Result<(), String> {
    let mut line = v.to_string();
    line.push('\n');
    out.write_all(line.as_bytes()).await.map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens one WebSocket; for Tidings, waits for its hello (the connection is authenticated).
async fn open(
    url: &str,
    kind: Kind,
    config: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
) -> Result<Socket, String> {
    use tokio_tungstenite::tungstenite::Message;
    let connect = tokio_tungstenite::connect_async_with_config(url, Some(config), true);
    let (mut ws, _) = tokio::time::timeout(Duration::from_secs(30), connect)
        .await
        .map_err(|_| "handshake timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    if kind == Kind::Tidings {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.contains("hello") => {}
            Ok(other) => return Err(format!("expected a hello, got {other:?}")),
            Err(_) => return Err("no hello within 30 s".into()),
        }
    }
    Ok(ws)
}

/// Reads one connection's frames; counts messages against the round's target.
async fn listen(mut ws: Socket, kind: Kind, shared: Arc<Shared>) {
    use tokio_tungstenite::tungstenite::Message;
    let mut count = 0u64;
    while let Some(frame) = ws.next().await {
        match frame {
            Ok(Message::Text(t)) if kind.counts(&t) => {
                count += 1;
                if count == shared.target.load(Ordering::SeqCst) {
                    let now = now_ns();
                    shared.last_ns.fetch_max(now, Ordering::SeqCst);
                    shared.bytes.store(t.len() as u64, Ordering::Relaxed);
                    shared.done.fetch_add(1, Ordering::SeqCst);
                    shared.notify.notify_one();
                }
            }
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// Wall-clock time in ns since the epoch: the clock every client process reads too.
pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// This process's open-file limit (soft, hard), after raising the soft limit to the hard one
/// with `prlimit` when they differ; child processes inherit it.
///
/// # Errors
/// When `/proc/self/limits` cannot be read.
pub fn raise_file_limit() -> Result<(u64, u64), String> {
    let read = || -> Option<(u64, u64)> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let mut nums = line.trim_start_matches("Max open files").split_whitespace();
        let parse = |s: &str| if s == "unlimited" { Some(u64::MAX) } else { s.parse().ok() };
        Some((parse(nums.next()?)?, parse(nums.next()?)?))
    };
    let (soft, hard) = read().ok_or("cannot read this process's open-file limit from /proc/self/limits")?;
    if soft < hard && hard != u64::MAX {
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &std::process::id().to_string(), &format!("--nofile={hard}:{hard}")])
            .status();
        return read().ok_or_else(|| "cannot read the open-file limit".into());
    }
    Ok((soft, hard))
}
