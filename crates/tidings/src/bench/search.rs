//! `tidings bench search`: generates N contacts (through `upsert_contacts`, the import's write
//! path), tags some of them, then times three audience searches and one lookup of a contact by
//! email (count, and count + first page of 50 newest) the way the API runs them — filter JSON lowered against the workspace's schema,
//! compiled to SQL, run by the store — alternating with the same predicate written by hand in
//! plain SQL on the same data and indexes. Then it serves the database with `tidings serve`
//! and issues the same searches over HTTP, reading the server's memory from `/proc`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value as Json, json};
use tidings_core::dates::{Clock, Day};
use tidings_core::filter::{Pred, Schema, compile};
use tidings_store::{ContactQuery, SortOrder, Store, Workspace};

use super::server::{self, Memory, Server};
use super::{Db, Scratch, SearchArgs, data, median, table, thousands};

const PER_PAGE: i64 = 50;
/// The goals: each search within this many milliseconds, and within this factor of hand-written.
const GOAL_MS: f64 = 150.0;
const GOAL_RATIO: f64 = 1.5;

struct Case {
    name: &'static str,
    label: &'static str,
    query: Json,
    /// The same predicate written by hand, as a `WHERE` clause.
    hand: String,
}

#[derive(Default)]
struct Timings {
    ours_count: Vec<f64>,
    hand_count: Vec<f64>,
    ours_search: Vec<f64>,
    hand_search: Vec<f64>,
    http: Vec<f64>,
}

struct CaseResult {
    name: &'static str,
    label: &'static str,
    matches: i64,
    t: Timings,
}

struct Section {
    version: String,
    generated_per_sec: f64,
    size: Option<u64>,
    cases: Vec<CaseResult>,
    server: Option<ServerFigures>,
}

struct ServerFigures {
    pinned: bool,
    start: Memory,
    end: Memory,
}

pub async fn run(args: SearchArgs) -> Result<(), String> {
    let mut sections = Vec::new();
    for db in args.common.databases() {
        let scratch = Scratch::create(db, &args.common, "search").await?;
        let result = one(&args, &scratch).await;
        let removed = if args.keep {
            eprintln!("kept {}: {}", db.name(), scratch.url);
            Ok(())
        } else {
            scratch.remove().await
        };
        sections.push(result?);
        removed?;
    }
    println!("\n## Search: {} contacts\n\nMachine: {}\n", thousands(args.common.contacts), super::machine());
    for s in &sections {
        print_section(&args, s);
    }
    println!(
        "Reproduce: cargo run --release -p tidings -- bench search {} --runs {}{}",
        args.common.flags(),
        args.runs,
        if args.no_server { " --no-server" } else { "" }
    );
    Ok(())
}

fn print_section(args: &SearchArgs, s: &Section) {
    println!(
        "### {}, {} contacts ({}generated at {:.0} contacts/s through upsert_contacts)\n",
        s.version,
        thousands(args.common.contacts),
        s.size.map(|b| format!("{:.0} MiB, ", b as f64 / 1048576.0)).unwrap_or_default(),
        s.generated_per_sec
    );
    let ms = |v: &[f64]| format!("{:.1}", median(v));
    let mut rows = Vec::new();
    for c in &s.cases {
        let (oc, hc) = (median(&c.t.ours_count), median(&c.t.hand_count));
        let (os, hs) = (median(&c.t.ours_search), median(&c.t.hand_search));
        let within = os <= GOAL_MS;
        let ratio_ok = os / hs <= GOAL_RATIO;
        rows.push(vec![
            format!("({}) {}", c.name, c.label),
            thousands(c.matches as u64),
            ms(&c.t.ours_count),
            ms(&c.t.hand_count),
            format!("{:.2}", oc / hc),
            ms(&c.t.ours_search),
            ms(&c.t.hand_search),
            format!("{:.2}", os / hs),
            if c.t.http.is_empty() { "–".into() } else { ms(&c.t.http) },
            format!("{} / {}", if within { "met" } else { "not met" }, if ratio_ok { "met" } else { "not met" }),
        ]);
    }
    println!(
        "{}",
        table(
            &[
                "query",
                "matches",
                "count ms",
                "hand count ms",
                "ratio",
                "count + page ms",
                "hand count + page ms",
                "ratio",
                "HTTP ms",
                "≤ 150 ms / ≤ 1.5×",
            ],
            &rows,
        )
    );
    println!(
        "Medians of {} runs. \"count + page\" is one search: the total and the first {PER_PAGE} contacts, newest first. Ours includes loading the workspace's schema and compiling the filter, as the API does.",
        args.runs
    );
    if let Some(f) = &s.server {
        println!(
            "Server (`tidings serve`{}): RSS {:.1} MiB after start, {:.1} MiB after the searches ({:.1} MiB its own, the rest mapped files: the program, and on SQLite the database), peak {:.1} MiB.\n",
            if f.pinned { ", pinned to CPU 0, client on CPU 1" } else { ", not pinned" },
            f.start.rss_kib as f64 / 1024.0,
            f.end.rss_kib as f64 / 1024.0,
            f.end.anon_kib as f64 / 1024.0,
            f.end.hwm_kib as f64 / 1024.0,
        );
    } else {
        println!();
    }
}

async fn one(args: &SearchArgs, scratch: &Scratch) -> Result<Section, String> {
    let store = &scratch.store;
    let n = args.common.contacts;
    let dir = args.common.work_dir();
    eprintln!("{}: setting up (load average {})", scratch.db.name(), super::load_average());
    let (ws, token) = scratch.workspace(&dir).await?;
    let now = tidings_web::auth::now();
    let custom = data::declare_attributes(store, ws.id, now).await?;

    let generated_per_sec = data::generate(store, ws.id, n, now, &custom).await?;
    let tags = data::tag_contacts(store, ws.id, now).await?;
    let vip = tags[0].1;
    eprintln!(
        "  {} contacts at {generated_per_sec:.0}/s; tags: {}",
        thousands(n),
        tags.iter().map(|(name, _, k)| format!("{name} {}", thousands(*k))).collect::<Vec<_>>().join(", ")
    );
    if scratch.db == Db::Postgres {
        // What autovacuum does shortly after a bulk load; done now so every run sees it.
        for t in ["contacts", "contact_tags"] {
            store.execute_raw(&format!("VACUUM ANALYZE {t}")).await.map_err(|e| e.to_string())?;
        }
    }

    let clock = Clock::new(now, Clock::zone(&ws.timezone));
    // The lookup's contact: one in the middle of the generated ones.
    let email = data::contact(n / 2, now).get("email").and_then(Json::as_str).unwrap_or_default().to_owned();
    let cases = cases(scratch.db, ws.id, vip, &email, &clock);
    let mut results = Vec::new();
    for case in &cases {
        eprintln!("  ({}) {} (load average {})", case.name, case.label, super::load_average());
        let pred = lower(store, &ws, &case.query, &clock).await?;
        // The index of a filtered custom attribute, which the first search starts building in
        // the background, built now so every run reads it.
        store.index_custom_attributes(&pred).await.map_err(|e| e.to_string())?;
        // Warm up, and check both give the same answer.
        let (page, total) = ours_search(store, ws.id, &pred).await?;
        let (hand_total, hand_page) = hand_search(store, &case.hand).await?;
        let ours_ids: Vec<String> = page.iter().map(|c| c.id.to_string()).collect();
        if total != hand_total || ours_ids != hand_page {
            return Err(format!(
                "({}) ours and hand-written disagree: {total} vs {hand_total} matches, first page {:?} vs {:?}",
                case.name,
                &ours_ids[..ours_ids.len().min(5)],
                &hand_page[..hand_page.len().min(5)]
            ));
        }
        let mut t = Timings::default();
        for r in 0..args.runs.max(1) {
            for step in 0..2 {
                if (step == 0) == (r % 2 == 0) {
                    let s = Instant::now();
                    let pred = lower(store, &ws, &case.query, &clock).await?;
                    let count = store.count_contacts(ws.id, Some(&pred)).await.map_err(|e| e.to_string())?;
                    t.ours_count.push(ms(s));
                    let s = Instant::now();
                    let pred = lower(store, &ws, &case.query, &clock).await?;
                    let (_, total) = ours_search(store, ws.id, &pred).await?;
                    t.ours_search.push(ms(s));
                    check(case, count, hand_total)?;
                    check(case, total, hand_total)?;
                } else {
                    let s = Instant::now();
                    let count = store
                        .scalar_raw(&format!("SELECT COUNT(*) FROM contacts WHERE {}", case.hand))
                        .await
                        .map_err(|e| e.to_string())?;
                    t.hand_count.push(ms(s));
                    let s = Instant::now();
                    let (total, _) = hand_search(store, &case.hand).await?;
                    t.hand_search.push(ms(s));
                    check(case, count, hand_total)?;
                    check(case, total, hand_total)?;
                }
            }
        }
        eprintln!(
            "    {} matches; count {:.1} vs {:.1} ms; search {:.1} vs {:.1} ms",
            thousands(total as u64),
            median(&t.ours_count),
            median(&t.hand_count),
            median(&t.ours_search),
            median(&t.hand_search)
        );
        let list = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
        eprintln!(
            "      runs (ms): count {} | hand {}; search {} | hand {}",
            list(&t.ours_count),
            list(&t.hand_count),
            list(&t.ours_search),
            list(&t.hand_search)
        );
        results.push(CaseResult { name: case.name, label: case.label, matches: total, t });
    }

    let server =
        if args.no_server { None } else { Some(over_http(args, scratch, &token, &cases, &mut results).await?) };
    Ok(Section {
        version: scratch.version().await,
        generated_per_sec,
        size: scratch.size().await,
        cases: results,
        server,
    })
}

/// Serves the database with `tidings serve` and runs the searches over HTTP.
async fn over_http(
    args: &SearchArgs,
    scratch: &Scratch,
    token: &str,
    cases: &[Case],
    results: &mut [CaseResult],
) -> Result<ServerFigures, String> {
    let srv = Server::start(&scratch.url, &args.common.work_dir(), token).await?;
    let result = async {
        let start = srv.memory()?;
        let pinned = srv.pinned && server::pin_self("1");
        eprintln!(
            "  HTTP: server pid {} ({}), RSS {:.1} MiB",
            srv.pid,
            if pinned { "CPU 0, client on CPU 1" } else { "not pinned" },
            start.rss_kib as f64 / 1024.0
        );
        let client = reqwest::Client::new();
        for (case, result) in cases.iter().zip(results.iter_mut()) {
            for r in 0..=args.runs.max(1) {
                let s = Instant::now();
                let total = srv.search(&client, &case.query, PER_PAGE).await?;
                // The first request warms up, as in-process.
                if r > 0 {
                    result.t.http.push(ms(s));
                }
                check(case, total, result.matches)?;
            }
            eprintln!(
                "    ({}) HTTP {:.1} ms, server RSS {:.1} MiB",
                case.name,
                median(&result.t.http),
                srv.memory()?.rss_kib as f64 / 1024.0
            );
        }
        let end = srv.memory()?;
        Ok(ServerFigures { pinned, start, end })
    }
    .await;
    server::pin_self(&server::online_cpus());
    srv.stop().await;
    result
}

/// The three searches, and each written by hand for this dialect.
fn cases(db: Db, ws: i64, vip: i64, email: &str, clock: &Clock) -> Vec<Case> {
    // The same day boundaries the filter language computes, as literals.
    let signed_before = Day::days_ago(30, clock).start;
    let seen_since = Day::days_ago(7, clock).end;
    let scope = format!("workspace_id = {ws} AND archived = FALSE");
    let a = json!({"field": "signed_up_at", "operator": "more_than_days_ago", "value": 30});
    // The plan is read by the expression its index holds (an expert uses the index too).
    let (plan, gmail) = match db {
        Db::Sqlite => ("json_extract(custom_attributes, '$.\"plan\"') = 'pro'", "email LIKE '%@gmail%'"),
        Db::Postgres => ("custom_attributes->>'plan' = 'pro'", "email ILIKE '%@gmail%'"),
    };
    // What an expert writes on each engine: SQLite reads an uncorrelated IN list once; on
    // PostgreSQL that IN becomes a subplan re-scanned per contact once the list outgrows
    // work_mem (minutes at ten million contacts), where EXISTS is a semi-join.
    let tagged = match db {
        Db::Sqlite => format!("id IN (SELECT contact_id FROM contact_tags WHERE tag_id = {vip})"),
        Db::Postgres => {
            format!("EXISTS (SELECT 1 FROM contact_tags ct WHERE ct.contact_id = contacts.id AND ct.tag_id = {vip})")
        }
    };
    vec![
        Case {
            name: "a",
            label: "signed up more than 30 days ago",
            query: a.clone(),
            hand: format!("{scope} AND signed_up_at < {signed_before}"),
        },
        Case {
            name: "b",
            label: "(a) AND plan = pro AND last seen less than 7 days ago",
            query: json!({"operator": "AND", "value": [
                a,
                {"field": "custom_attributes.plan", "operator": "=", "value": "pro"},
                {"field": "last_seen_at", "operator": "less_than_days_ago", "value": 7}
            ]}),
            hand: format!("{scope} AND signed_up_at < {signed_before} AND {plan} AND last_seen_at >= {seen_since}"),
        },
        Case {
            name: "c",
            label: "email contains @gmail OR tagged vip",
            query: json!({"operator": "OR", "value": [
                {"field": "email", "operator": "~", "value": "@gmail"},
                {"field": "tag_id", "operator": "=", "value": vip.to_string()}
            ]}),
            hand: format!("{scope} AND ({gmail} OR {tagged})"),
        },
        Case {
            name: "d",
            label: "email is one address (an integration's lookup)",
            query: json!({"field": "email", "operator": "=", "value": email}),
            hand: format!("{scope} AND email = '{}'", email.replace('\'', "''")),
        },
    ]
}

/// What the API does with a query: load the workspace's schema, check and lower the filter.
async fn lower(store: &Arc<dyn Store>, ws: &Workspace, query: &Json, clock: &Clock) -> Result<Pred, String> {
    let e = |e: tidings_store::StoreError| e.to_string();
    let custom = store.custom_attributes(ws.id).await.map_err(e)?;
    let tag_ids: Vec<i64> = store.tags(ws.id).await.map_err(e)?.into_iter().map(|t| t.id).collect();
    let segments: Vec<(i64, Json)> =
        store.segments(ws.id).await.map_err(e)?.into_iter().map(|s| (s.id, s.query)).collect();
    let schema = Schema { custom: &custom, tag_ids: &tag_ids, segments: &segments, message_ids: &[] };
    compile(query, &schema, clock, "query").map_err(|e| e.message)
}

async fn ours_search(
    store: &Arc<dyn Store>,
    ws: i64,
    pred: &Pred,
) -> Result<(Vec<tidings_core::contact::Contact>, i64), String> {
    store
        .search_contacts(
            ws,
            &ContactQuery {
                pred: Some(pred.clone()),
                sort: None,
                order: SortOrder::Descending,
                offset: 0,
                limit: PER_PAGE,
            },
        )
        .await
        .map_err(|e| e.to_string())
}

/// The hand-written search: the count, then the ids of the first page.
async fn hand_search(store: &Arc<dyn Store>, hand: &str) -> Result<(i64, Vec<String>), String> {
    let total =
        store.scalar_raw(&format!("SELECT COUNT(*) FROM contacts WHERE {hand}")).await.map_err(|e| e.to_string())?;
    let page = store
        .strings_raw(&format!(
            "SELECT CAST(id AS TEXT) AS hit FROM contacts WHERE {hand} ORDER BY created_at DESC, id DESC LIMIT {PER_PAGE}"
        ))
        .await
        .map_err(|e| e.to_string())?;
    Ok((total, page))
}

fn check(case: &Case, got: i64, want: i64) -> Result<(), String> {
    if got == want { Ok(()) } else { Err(format!("({}) counted {got} matches, expected {want}", case.name)) }
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
