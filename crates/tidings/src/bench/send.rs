//! `tidings bench send`: a manual message to an audience of N generated contacts chosen by a
//! filter. Times the send until its audience snapshot is durable (the transaction that writes one
//! delivery per recipient has committed), the way the API runs it — the engine's send, which
//! lowers the filter against the workspace's schema and writes the snapshot — beside the same `INSERT … SELECT` written by hand
//! on the same engine, alternating. Then the same send over HTTP through `tidings serve`, with the
//! server's memory.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value as Json, json};
use tidings_engine::Engine;
use tidings_engine::messages::{MessageInput, Then};
use tidings_store::Store;

use super::server::{self, Memory, Server};
use super::{Scratch, SendArgs, data, median, table, thousands};

/// The goals: snapshot durable within this many seconds per engine, at least this share of the
/// hand-written rate.
const GOAL_SQLITE_S: f64 = 3.0;
const GOAL_POSTGRES_S: f64 = 5.0;
const GOAL_RATIO: f64 = 0.5;

#[derive(Default)]
struct Timings {
    ours: Vec<f64>,
    hand: Vec<f64>,
    http: Vec<f64>,
}

struct Section {
    version: String,
    goal_s: f64,
    audience: i64,
    t: Timings,
    server: Option<(bool, Memory, Memory)>,
}

pub async fn run(args: SendArgs) -> Result<(), String> {
    let mut sections = Vec::new();
    for db in args.common.databases() {
        let scratch = Scratch::create(db, &args.common, "send").await?;
        let result = one(&args, &scratch).await;
        let removed = scratch.remove().await;
        sections.push(result?);
        removed?;
    }
    println!(
        "\n## Send: a manual message to {} contacts chosen by a filter\n\nMachine: {}\n",
        thousands(args.common.contacts),
        super::machine()
    );
    let rows: Vec<Vec<String>> = sections
        .iter()
        .map(|s| {
            let (ours, hand) = (median(&s.t.ours), median(&s.t.hand));
            let rate = |secs: f64| format!("{:.0}", s.audience as f64 / secs);
            vec![
                s.version.clone(),
                thousands(s.audience as u64),
                format!("{ours:.2}"),
                format!("{hand:.2}"),
                rate(ours),
                rate(hand),
                format!("{:.2}", hand / ours),
                if s.t.http.is_empty() { "–".into() } else { format!("{:.2}", median(&s.t.http)) },
                format!(
                    "≤ {:.0} s: {} / ≥ {GOAL_RATIO}×: {}",
                    s.goal_s,
                    if ours <= s.goal_s { "met" } else { "not met" },
                    if hand / ours >= GOAL_RATIO { "met" } else { "not met" }
                ),
            ]
        })
        .collect();
    println!(
        "{}",
        table(
            &[
                "database",
                "recipients",
                "snapshot durable, s",
                "hand-written INSERT … SELECT, s",
                "ours, rows/s",
                "hand, rows/s",
                "ours / hand rate",
                "HTTP send, s",
                "goals",
            ],
            &rows
        )
    );
    println!(
        "Medians of {} runs, alternating ours and hand-written, each on an empty deliveries table. \"Snapshot durable\" is the engine's send: the audience resolved against the workspace's schema and the snapshot written (one transaction: the message marked sent, one delivery per recipient, committed). \"HTTP send\" is `POST /manual_messages/{{id}}/send` to `tidings serve`, answer (with the message's figures) included.\n",
        args.runs
    );
    for s in &sections {
        if let Some((pinned, start, end)) = &s.server {
            println!(
                "{}: server{} RSS {:.1} MiB after start, {:.1} MiB after the sends, peak {:.1} MiB.",
                s.version,
                if *pinned { " (pinned to CPU 0)" } else { "" },
                start.rss_kib as f64 / 1024.0,
                end.rss_kib as f64 / 1024.0,
                end.hwm_kib as f64 / 1024.0
            );
        }
    }
    println!(
        "\nReproduce: cargo run --release -p tidings -- bench send {} --runs {}{}",
        args.common.flags(),
        args.runs,
        if args.no_server { " --no-server" } else { "" }
    );
    Ok(())
}

/// Everyone with an email: the whole generated audience, found through a filter.
fn audience_query() -> Json {
    json!({"field": "email", "operator": "!=", "value": null})
}

async fn one(args: &SendArgs, scratch: &Scratch) -> Result<Section, String> {
    let store = &scratch.store;
    let e = |e: tidings_store::StoreError| e.to_string();
    let dir = args.common.work_dir();
    eprintln!("{}: setting up (load average {})", scratch.db.name(), super::load_average());
    let (ws, token) = scratch.workspace(&dir).await?;
    let ws_id = ws.id;
    let sender = store.teammates(ws_id).await.map_err(e)?.first().map(|t| t.id).ok_or("no teammate")?;
    let now = tidings_web::auth::now();
    let custom = data::declare_attributes(store, ws_id, now).await?;
    let per_sec = data::generate(store, ws_id, args.common.contacts, now, &custom).await?;
    eprintln!("  {} contacts at {per_sec:.0}/s", thousands(args.common.contacts));
    if scratch.db == super::Db::Postgres {
        store.execute_raw("VACUUM ANALYZE contacts").await.map_err(e)?;
    }
    let hand_where = format!("workspace_id = {ws_id} AND archived = FALSE AND email IS NOT NULL");
    let engine = Engine::local(store.clone());
    let draft = || MessageInput {
        title: Some("bench".into()),
        body: Some("Hello".into()),
        audience: Some(json!({"query": audience_query()})),
        ..MessageInput::default()
    };

    let mut t = Timings::default();
    let mut audience = 0;
    for r in 0..args.runs.max(1) {
        for step in 0..2 {
            let m = engine.create_message(&ws, sender, draft(), Then::Keep).await.map_err(|e| e.to_string())?;
            let ours_turn = (step == 0) == (r % 2 == 0);
            let started = Instant::now();
            let (targeted, secs) = if ours_turn {
                // What every send does: the engine resolves the audience there and then and
                // writes the snapshot.
                let sent =
                    engine.send_message(&ws, m.clone()).await.map_err(|e| format!("the send was refused: {e}"))?;
                let secs = started.elapsed().as_secs_f64();
                t.ours.push(secs);
                (sent.targeted, secs)
            } else {
                let n = store
                    .execute_raw(&format!(
                        "INSERT INTO deliveries (workspace_id, message_id, contact_id, state, created_at) \
                         SELECT {ws_id}, {}, id, 'pending', {now} FROM contacts WHERE {hand_where}",
                        m.id
                    ))
                    .await
                    .map_err(e)? as i64;
                let secs = started.elapsed().as_secs_f64();
                t.hand.push(secs);
                (n, secs)
            };
            if audience != 0 && targeted != audience {
                return Err(format!("ours and hand-written disagree: {targeted} vs {audience} recipients"));
            }
            audience = targeted;
            eprintln!(
                "  run {}: {} {} deliveries in {secs:.2} s (load average {})",
                r + 1,
                if ours_turn { "ours" } else { "hand" },
                thousands(targeted as u64),
                super::load_average()
            );
            clear(store, scratch.db, m.id).await?;
        }
    }
    let server = if args.no_server { None } else { Some(over_http(args, scratch, &token, &mut t, audience).await?) };
    Ok(Section {
        version: scratch.version().await,
        goal_s: if scratch.db == super::Db::Sqlite { GOAL_SQLITE_S } else { GOAL_POSTGRES_S },
        audience,
        t,
        server,
    })
}

/// Empties the deliveries table again, so every run writes into the same conditions.
async fn clear(store: &Arc<dyn Store>, db: super::Db, message: i64) -> Result<(), String> {
    let e = |e: tidings_store::StoreError| e.to_string();
    store.execute_raw(&format!("DELETE FROM deliveries WHERE message_id = {message}")).await.map_err(e)?;
    if db == super::Db::Postgres {
        store.execute_raw("VACUUM deliveries").await.map_err(e)?;
    }
    Ok(())
}

async fn over_http(
    args: &SendArgs,
    scratch: &Scratch,
    token: &str,
    t: &mut Timings,
    audience: i64,
) -> Result<(bool, Memory, Memory), String> {
    let srv = Server::start(&scratch.url, &args.common.work_dir(), token).await?;
    let result = async {
        let start = srv.memory()?;
        let pinned = srv.pinned && server::pin_self("1");
        let client = reqwest::Client::new();
        for r in 0..args.runs.max(1) {
            let m = srv
                .post(
                    &client,
                    "/manual_messages",
                    json!({"title": "bench", "channel": "chat", "body": "Hello", "audience": {"query": audience_query()}}),
                )
                .await?;
            let id = m["id"].as_str().ok_or("the created message has no id")?.to_owned();
            let started = Instant::now();
            let sent = srv.post(&client, &format!("/manual_messages/{id}/send"), json!({})).await?;
            let secs = started.elapsed().as_secs_f64();
            if sent["stats"]["targeted"].as_i64() != Some(audience) {
                return Err(format!("the HTTP send targeted {} of {audience}", sent["stats"]["targeted"]));
            }
            t.http.push(secs);
            eprintln!(
                "  HTTP run {}: {secs:.2} s, server RSS {:.1} MiB",
                r + 1,
                srv.memory()?.rss_kib as f64 / 1024.0
            );
            clear(&scratch.store, scratch.db, id.parse().map_err(|_| "bad id")?).await?;
        }
        Ok((pinned, start, srv.memory()?))
    }
    .await;
    server::pin_self(&server::online_cpus());
    srv.stop().await;
    result
}
