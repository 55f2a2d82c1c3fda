//! The live part of `tidings bench inbox`: a contact's reply reaching teammates' open screens.
//!
//! N teammates' screens are N event streams (`GET /app/events`, as the Inbox and a conversation
//! page follow the workspace) with a logged-in session. A contact replies in a conversation
//! through the REST API, one reply at a time; each is timed from just before the request until
//! each screen has heard the reply's `part_added` notice. First on one `tidings serve` (the
//! in-process bus), then, on PostgreSQL, across several nodes joined by a `nats-server` of the
//! benchmark's own, with the screens spread over the nodes and the replies sent through the
//! first. The goal: p99 ≤ 200 ms on each. With two cores the nodes share one CPU, so this
//! measures that the fan-out is complete and its latency, not scale-out.

use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;

use super::nats::Nats;
use super::server::{Launch, Server, log_in};
use super::{Db, Scratch, median, percentile, table};

/// The goal for a reply to reach every screen, at the 99th percentile, in milliseconds.
const GOAL_MS: f64 = 200.0;
/// How long one reply may take to reach every screen before the run fails.
const REACH: Duration = Duration::from_secs(10);

/// What the live part does: its own knobs of `tidings bench inbox`.
pub struct Plan {
    pub screens: usize,
    pub replies: usize,
    /// Nodes joined by NATS for the second side (PostgreSQL only; fewer than 2 skips it).
    pub nodes: usize,
    pub work_dir: std::path::PathBuf,
}

pub struct Live {
    screens: usize,
    one_node: Vec<f64>,
    /// `(nodes, latencies)`, on PostgreSQL.
    nodes: Option<(usize, Vec<f64>)>,
}

/// What a screen heard.
enum Heard {
    Ready(usize),
    Part(usize, Instant),
}

pub async fn measure(
    args: &Plan,
    scratch: &Scratch,
    token: &str,
    (conversation, contact): (i64, i64),
) -> Result<Live, String> {
    let dir = &args.work_dir;
    eprintln!("  live: {} screens on one node", args.screens);
    let srv = Server::launch(&scratch.url, dir, token, Launch { unlimited: true, ..Launch::default() }).await?;
    let one = side(args, &[&srv], token, conversation, contact).await;
    srv.stop().await;
    let one_node = one?;
    let nodes = if scratch.db == Db::Postgres && args.nodes >= 2 {
        eprintln!("  live: {} screens across {} nodes", args.screens, args.nodes);
        let nats = Nats::start(true).await?;
        let mut servers = Vec::new();
        let mut started = Ok(());
        for _ in 0..args.nodes {
            match Server::launch(
                &scratch.url,
                dir,
                token,
                Launch { nats_url: Some(&nats.url), unlimited: true, ..Launch::default() },
            )
            .await
            {
                Ok(s) => servers.push(s),
                Err(e) => {
                    started = Err(e);
                    break;
                }
            }
        }
        let result = match started {
            Ok(()) => side(args, &servers.iter().collect::<Vec<_>>(), token, conversation, contact).await,
            Err(e) => Err(e),
        };
        for s in servers {
            s.stop().await;
        }
        nats.stop().await;
        Some((args.nodes, result?))
    } else {
        None
    };
    Ok(Live { screens: args.screens, one_node, nodes })
}

/// Opens the screens round robin over `servers`, then times the replies sent through the first.
async fn side(
    args: &Plan,
    servers: &[&Server],
    token: &str,
    conversation: i64,
    contact: i64,
) -> Result<Vec<f64>, String> {
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().map_err(|e| e.to_string())?;
    let cookie = log_in(&client, servers[0].base()).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut screens = Vec::new();
    for i in 0..args.screens {
        let base = servers[i % servers.len()].base().to_owned();
        screens.push(tokio::spawn(screen(client.clone(), base, cookie.clone(), i, conversation, tx.clone())));
    }
    drop(tx);
    let result = async {
        let mut ready = vec![false; args.screens];
        while ready.iter().any(|r| !r) {
            match tokio::time::timeout(REACH, rx.recv()).await {
                Ok(Some(Heard::Ready(i))) => ready[i] = true,
                Ok(Some(Heard::Part(..))) => {}
                _ => return Err("the screens' event streams did not open".to_owned()),
            }
        }
        let mut latencies = Vec::with_capacity(args.replies * args.screens);
        for r in 0..args.replies {
            let sent = Instant::now();
            let body = json!({"type": "user", "message_type": "comment", "intercom_user_id": contact.to_string(),
                              "body": format!("Reply {r}: is there any news?")});
            let answer = client
                .post(format!("{}/conversations/{conversation}/reply", servers[0].base()))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("reply: {e}"))?;
            if !answer.status().is_success() {
                return Err(format!("reply: {}", answer.status()));
            }
            let mut heard = vec![false; args.screens];
            while heard.iter().any(|h| !h) {
                match tokio::time::timeout(REACH, rx.recv()).await {
                    Ok(Some(Heard::Part(i, at))) if !heard[i] => {
                        heard[i] = true;
                        latencies.push(at.duration_since(sent).as_secs_f64() * 1000.0);
                    }
                    Ok(Some(_)) => {}
                    _ => return Err(format!("reply {r} did not reach every screen within {REACH:?}")),
                }
            }
        }
        Ok(latencies)
    }
    .await;
    for s in screens {
        s.abort();
    }
    result
}

/// One teammate's screen: follows the workspace's events and says when it is ready and when it
/// hears a part added to `conversation`. Reopens its stream when the server ends it.
async fn screen(
    client: reqwest::Client,
    base: String,
    cookie: String,
    i: usize,
    conversation: i64,
    tx: mpsc::UnboundedSender<Heard>,
) {
    let id = conversation.to_string();
    loop {
        let Ok(mut r) = client.get(format!("{base}/app/events")).header(reqwest::header::COOKIE, &cookie).send().await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = r.chunk().await {
            let at = Instant::now();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                for line in event.lines() {
                    let Some(data) = line.strip_prefix("data:") else { continue };
                    let Ok(v) = serde_json::from_str::<Json>(data.trim()) else { continue };
                    let heard = match v["type"].as_str() {
                        Some("ready") => Heard::Ready(i),
                        Some("part_added") if v["conversation_id"] == id.as_str() => Heard::Part(i, at),
                        _ => continue,
                    };
                    if tx.send(heard).is_err() {
                        return;
                    }
                }
            }
        }
    }
}

pub fn print(live: &Live) {
    let mut rows = vec![row("one node (in-process bus)", &live.one_node)];
    if let Some((n, l)) = &live.nodes {
        rows.push(row(&format!("{n} nodes joined by NATS, screens spread over them"), l));
    }
    println!(
        "A contact's reply reaching {} teammates' screens (from the API request to each screen's event):\n\n{}\n",
        live.screens,
        table(&["", "median ms", "p95 ms", "p99 ms", "max ms", "p99 ≤ 200 ms"], &rows)
    );
}

fn row(label: &str, l: &[f64]) -> Vec<String> {
    let p99 = percentile(l, 99.0);
    vec![
        label.to_owned(),
        format!("{:.1}", median(l)),
        format!("{:.1}", percentile(l, 95.0)),
        format!("{p99:.1}"),
        format!("{:.1}", l.iter().copied().fold(0.0, f64::max)),
        if p99 <= GOAL_MS { "met".into() } else { "**not met**".into() },
    ]
}
