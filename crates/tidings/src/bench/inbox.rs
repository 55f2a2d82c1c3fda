//! `tidings bench inbox`: the Inbox on a workspace with many conversations.
//!
//! 1. Views: generates N conversations (three parts each, spread over states, assignees, read
//!    marks and waits) and one conversation of 500 parts, by hand-written multi-row INSERTs.
//!    Then times the first page of every view (your inbox, unassigned, all, a teammate's ×
//!    open, snoozed, closed × latest activity, waiting longest) through the store, beside the same
//!    page written by hand in SQL, and the counts of every view; then serves the database with
//!    `tidings serve` and times the Inbox pages and the 500-part conversation as a logged-in
//!    teammate's browser gets them (the page rendered, over HTTP). The goal: each ≤ 50 ms.
//! 2. Live (`inbox_live.rs`): a contact's reply reaching teammates' open screens.

use std::time::Instant;

use clap::Args;
use tidings_core::conversation::State;
use tidings_store::{Assignee, InboxQuery, InboxSort, NewTeammate, Store, TeammateRole};

use super::data::Rng;
use super::server::{Launch, Server};
use super::{Common, Db, Scratch, Which, median, percentile, table, thousands};

/// The goal for a view's first page and for the 500-part conversation, in milliseconds.
const GOAL_MS: f64 = 50.0;
/// Conversations per page, as the Inbox asks (one more, to know whether there is a next page).
const PAGE: i64 = 26;
/// Rows per generated INSERT.
const CHUNK: usize = 1_000;

#[derive(Args, Clone, Debug)]
pub struct InboxArgs {
    /// Conversations to generate (three parts each).
    #[arg(long, default_value_t = 100_000)]
    pub conversations: u64,
    /// Contacts they belong to.
    #[arg(long, default_value_t = 20_000)]
    pub contacts: u64,
    /// Parts of the one long conversation.
    #[arg(long, default_value_t = 500)]
    pub long: u64,
    /// Timed runs of each case (after one warm-up).
    #[arg(long, default_value_t = 15)]
    pub runs: usize,
    /// Teammates' screens a reply must reach, for the live part (0 skips it).
    #[arg(long, default_value_t = 50)]
    pub screens: usize,
    /// Contact replies timed on each side of the live part.
    #[arg(long, default_value_t = 60)]
    pub replies: usize,
    /// Nodes joined by NATS for the live part's second side (needs nats-server and PostgreSQL).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Which database to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub database: Which,
    /// PostgreSQL server to use; the benchmark works in a schema of its own and drops it.
    #[arg(long, env = "TIDINGS_BENCH_POSTGRES_URL", default_value = super::DEFAULT_POSTGRES)]
    pub postgres_url: String,
    /// Where scratch SQLite databases go (removed afterwards) [default: the system's temporary directory].
    #[arg(long)]
    pub work_dir: Option<std::path::PathBuf>,
}

impl InboxArgs {
    pub(super) fn common(&self) -> Common {
        Common {
            contacts: self.contacts,
            database: self.database,
            postgres_url: self.postgres_url.clone(),
            work_dir: self.work_dir.clone(),
        }
    }

    fn flags(&self) -> String {
        let c = self.common();
        format!(
            "--conversations {} --contacts {} --long {} --runs {} --screens {} --replies {} --nodes {} --database {}",
            self.conversations,
            self.contacts,
            self.long,
            self.runs,
            self.screens,
            self.replies,
            self.nodes,
            match c.database {
                Which::Sqlite => "sqlite",
                Which::Postgres => "postgres",
                Which::Both => "both",
            }
        )
    }
}

/// One timed case: what was asked, ours and by hand (in-process), and over HTTP.
struct Case {
    label: String,
    ours: Vec<f64>,
    hand: Vec<f64>,
    http: Vec<f64>,
}

struct Section {
    db: Db,
    version: String,
    generated_per_sec: f64,
    cases: Vec<Case>,
    counts: Vec<f64>,
    long_http: Vec<f64>,
    live: Option<super::inbox_live::Live>,
}

pub async fn run(args: InboxArgs) -> Result<(), String> {
    if args.conversations == 0 || args.contacts == 0 || args.runs == 0 || args.long == 0 {
        return Err("--conversations, --contacts, --long and --runs must be at least 1".into());
    }
    let mut sections = Vec::new();
    for db in args.common().databases() {
        let scratch = Scratch::create(db, &args.common(), "inbox").await?;
        let result = tokio::select! {
            r = one(&args, &scratch) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        };
        let removed = scratch.remove().await;
        sections.push(result?);
        removed?;
    }
    print(&args, &sections);
    Ok(())
}

async fn one(args: &InboxArgs, scratch: &Scratch) -> Result<Section, String> {
    let dir = args.common().work_dir();
    let store = &scratch.store;
    eprintln!("{}: generating {} conversations", scratch.version().await, thousands(args.conversations));
    let (ws, token) = scratch.workspace(&dir).await?;
    let started = Instant::now();
    let now = jiff::Timestamp::now().as_second();
    let custom = super::data::declare_attributes(store, ws.id, now).await?;
    super::data::generate(store, ws.id, args.contacts, now, &custom).await?;
    let contacts: Vec<i64> = store
        .strings_raw(&format!("SELECT CAST(id AS TEXT) FROM contacts WHERE workspace_id = {} ORDER BY id", ws.id))
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let owner = store.teammates(ws.id).await.map_err(|e| e.to_string())?[0].id;
    let mut team = vec![owner];
    for i in 0..4 {
        let t = store
            .create_teammate(
                ws.id,
                NewTeammate {
                    email: format!("teammate{i}-{}@example.com", ws.id),
                    name: format!("Teammate {i}"),
                    password_hash: None,
                    role: TeammateRole::Member,
                    created_at: now,
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        team.push(t.id);
    }
    let long = generate(store, ws.id, &contacts, &team, args, now).await?;
    let generated_per_sec = args.conversations as f64 / started.elapsed().as_secs_f64();
    store.execute_raw("ANALYZE").await.map_err(|e| e.to_string())?;

    // The views, through the store and by hand.
    let mut cases = Vec::new();
    let views = [
        ("your inbox", Assignee::Teammate(owner), "mine"),
        ("unassigned", Assignee::Nobody, "unassigned"),
        ("all", Assignee::Anyone, "all"),
        ("a teammate's", Assignee::Teammate(team[1]), &*format!("t{}", team[1])),
    ]
    .map(|(l, a, p)| (l, a, p.to_owned()));
    let mut paths = Vec::new();
    for (label, assignee, param) in &views {
        for state in [State::Open, State::Snoozed, State::Closed] {
            for sort in [InboxSort::Latest, InboxSort::WaitingLongest] {
                let q =
                    InboxQuery { state: Some(state), assignee: *assignee, sort, limit: PAGE, ..InboxQuery::default() };
                let hand = hand_sql(ws.id, &q);
                let mut case = Case {
                    label: format!(
                        "{label}, {}, {}",
                        state.as_str(),
                        if sort == InboxSort::Latest { "latest" } else { "waiting longest" }
                    ),
                    ours: Vec::new(),
                    hand: Vec::new(),
                    http: Vec::new(),
                };
                for r in 0..=args.runs {
                    let s = Instant::now();
                    let page = store.inbox(ws.id, &q).await.map_err(|e| e.to_string())?;
                    let ours = ms(s);
                    let s = Instant::now();
                    let ids = store.strings_raw(&hand).await.map_err(|e| e.to_string())?;
                    let by_hand = ms(s);
                    let same: Vec<String> = page.iter().map(|e| e.conversation.id.to_string()).collect();
                    if same != ids {
                        return Err(format!(
                            "{}: the store's page differs from the hand-written one: {same:?} and {ids:?}",
                            case.label
                        ));
                    }
                    if r > 0 {
                        case.ours.push(ours);
                        case.hand.push(by_hand);
                    }
                }
                paths.push(format!(
                    "/app/inbox?view={param}&state={}&sort={}",
                    state.as_str(),
                    if sort == InboxSort::Latest { "latest" } else { "waiting" }
                ));
                cases.push(case);
            }
        }
    }
    let mut counts = Vec::new();
    for r in 0..=args.runs {
        let s = Instant::now();
        store.inbox_counts(ws.id).await.map_err(|e| e.to_string())?;
        if r > 0 {
            counts.push(ms(s));
        }
    }

    // The pages as a teammate's browser gets them.
    let srv = Server::launch(&scratch.url, &dir, &token, Launch { unlimited: true, ..Launch::default() }).await?;
    let result = async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let cookie = super::server::log_in(&client, srv.base()).await?;
        for (case, path) in cases.iter_mut().zip(&paths) {
            for r in 0..=args.runs {
                let s = Instant::now();
                get_page(&client, srv.base(), path, &cookie).await?;
                if r > 0 {
                    case.http.push(ms(s));
                }
            }
        }
        let mut long_http = Vec::new();
        for r in 0..=args.runs {
            let s = Instant::now();
            let html = get_page(&client, srv.base(), &format!("/app/conversations/{long}"), &cookie).await?;
            if r > 0 {
                long_http.push(ms(s));
            }
            let shown = html.matches("data-part-id=").count() as u64;
            if shown != args.long {
                return Err(format!("the long conversation shows {shown} parts, not {}", args.long));
            }
        }
        Ok::<_, String>(long_http)
    }
    .await;
    srv.stop().await;
    let long_http = result?;
    let live = if args.screens > 0 {
        let plan = super::inbox_live::Plan {
            screens: args.screens,
            replies: args.replies,
            nodes: args.nodes,
            work_dir: args.common().work_dir(),
        };
        Some(super::inbox_live::measure(&plan, scratch, &token, cases_conversation(store, ws.id).await?).await?)
    } else {
        None
    };
    Ok(Section { db: scratch.db, version: scratch.version().await, generated_per_sec, cases, counts, long_http, live })
}

/// A conversation the live part's contact replies in: the first open one.
async fn cases_conversation(store: &std::sync::Arc<dyn Store>, ws: i64) -> Result<(i64, i64), String> {
    let row = store
        .strings_raw(&format!(
            "SELECT id || ',' || contact_id FROM conversations WHERE workspace_id = {ws} AND state = 'open' ORDER BY id LIMIT 1"
        ))
        .await
        .map_err(|e| e.to_string())?;
    let first = row.first().ok_or("no open conversation")?;
    let (c, k) = first.split_once(',').ok_or("bad row")?;
    Ok((c.parse().map_err(|_| "bad id")?, k.parse().map_err(|_| "bad id")?))
}

/// Writes the conversations and their parts; returns the id of the long one.
async fn generate(
    store: &std::sync::Arc<dyn Store>,
    ws: i64,
    contacts: &[i64],
    team: &[i64],
    args: &InboxArgs,
    now: i64,
) -> Result<i64, String> {
    let mut rng = Rng::new(9);
    let bar = super::progress(args.conversations, "conversations");
    let mut written = 0u64;
    while written < args.conversations {
        let n = (args.conversations - written).min(CHUNK as u64);
        let mut rows = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let contact = contacts[rng.below(contacts.len() as u64) as usize];
            let created = now - rng.between(3_600, 90 * 86_400);
            let updated = created + rng.between(60, 3_600);
            let state = match rng.below(10) {
                0..=5 => "closed",
                6..=8 => "open",
                _ => "snoozed",
            };
            let assignee = if rng.chance(0.3) {
                "NULL".to_owned()
            } else {
                team[rng.below(team.len() as u64) as usize].to_string()
            };
            let waiting = if state == "open" && rng.chance(0.5) { updated.to_string() } else { "NULL".into() };
            let snoozed =
                if state == "snoozed" { (now + rng.between(3_600, 86_400)).to_string() } else { "NULL".into() };
            let read = if state == "open" && rng.chance(0.4) { "FALSE" } else { "TRUE" };
            rows.push(format!(
                "({ws}, {contact}, '{state}', {read}, {created}, {updated}, {waiting}, {snoozed}, {assignee})"
            ));
        }
        store
            .execute_raw(&format!(
                "INSERT INTO conversations (workspace_id, contact_id, state, read, created_at, updated_at, waiting_since, \
                 snoozed_until, assignee_id) VALUES {}",
                rows.join(", ")
            ))
            .await
            .map_err(|e| e.to_string())?;
        written += n;
        bar.inc(n);
    }
    bar.finish_and_clear();
    // Three parts each: the contact asks, a teammate answers, the contact thanks them.
    for (author, who, body, after) in [
        ("user", "contact_id", "<p>Hello, my order has not arrived yet</p>", 0),
        ("admin", &*format!("COALESCE(assignee_id, {})", team[0]), "<p>Sorry about that: it ships today.</p>", 60),
        ("user", "contact_id", "<p>Thanks a lot!</p>", 120),
    ] {
        store
            .execute_raw(&format!(
                "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at) \
                 SELECT workspace_id, id, 'comment', '{author}', {who}, '{body}', created_at + {after} FROM conversations \
                 WHERE workspace_id = {ws} ORDER BY id"
            ))
            .await
            .map_err(|e| e.to_string())?;
    }
    // The long conversation.
    let contact = contacts[0];
    store
        .execute_raw(&format!(
            "INSERT INTO conversations (workspace_id, contact_id, state, read, created_at, updated_at, assignee_id) \
             VALUES ({ws}, {contact}, 'open', TRUE, {now}, {now}, {})",
            team[0]
        ))
        .await
        .map_err(|e| e.to_string())?;
    let long = store
        .strings_raw(&format!("SELECT CAST(MAX(id) AS TEXT) FROM conversations WHERE workspace_id = {ws}"))
        .await
        .map_err(|e| e.to_string())?
        .first()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or("the long conversation was not written")?;
    let mut parts = Vec::new();
    for i in 0..args.long {
        let (kind, author, id) = match i % 5 {
            4 => ("note", "admin", team[1]),
            1 | 3 => ("comment", "admin", team[0]),
            _ => ("comment", "user", contact),
        };
        parts.push(format!(
            "({ws}, {long}, '{kind}', '{author}', {id}, '<p>Part {i}: <strong>some words</strong> about the order, and a <a href=\"https://example.com/{i}\">link</a>.</p>', {})",
            now - 100_000 + i as i64
        ));
    }
    insert_parts(store, &parts).await?;
    Ok(long)
}

async fn insert_parts(store: &std::sync::Arc<dyn Store>, rows: &[String]) -> Result<(), String> {
    for chunk in rows.chunks(CHUNK) {
        store
            .execute_raw(&format!(
                "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at) VALUES {}",
                chunk.join(", ")
            ))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The first page of a view, written by hand: the ids in order.
fn hand_sql(ws: i64, q: &InboxQuery) -> String {
    let state = q.state.map(|s| format!(" AND state = '{}'", s.as_str())).unwrap_or_default();
    let assignee = match q.assignee {
        Assignee::Anyone => String::new(),
        Assignee::Nobody => " AND assignee_id IS NULL".into(),
        Assignee::Teammate(id) => format!(" AND assignee_id = {id}"),
    };
    let order = match q.sort {
        InboxSort::Latest => "updated_at DESC, id DESC",
        InboxSort::WaitingLongest => "COALESCE(waiting_since, 9223372036854775807), id",
    };
    format!(
        "SELECT CAST(id AS TEXT) AS shown FROM conversations WHERE workspace_id = {ws}{state}{assignee} ORDER BY {order} LIMIT {}",
        q.limit
    )
}

async fn get_page(client: &reqwest::Client, base: &str, path: &str, cookie: &str) -> Result<String, String> {
    let r = client
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .map_err(|e| format!("GET {path}: {e}"))?;
    if !r.status().is_success() {
        return Err(format!("GET {path}: {}", r.status()));
    }
    r.text().await.map_err(|e| format!("GET {path}: {e}"))
}

fn ms(s: Instant) -> f64 {
    s.elapsed().as_secs_f64() * 1000.0
}

fn met(x: f64) -> &'static str {
    if x <= GOAL_MS { "met" } else { "**not met**" }
}

fn print(args: &InboxArgs, sections: &[Section]) {
    println!("\n## Inbox: {} conversations\n\nMachine: {}\n", thousands(args.conversations), super::machine());
    for s in sections {
        println!(
            "### {} ({})\n\nGenerated {:.0} conversations/s (three parts each) and one of {} parts.\n",
            s.db.name(),
            s.version,
            s.generated_per_sec,
            args.long
        );
        let rows: Vec<Vec<String>> = s
            .cases
            .iter()
            .map(|c| {
                vec![
                    c.label.clone(),
                    format!("{:.1}", median(&c.ours)),
                    format!("{:.1}", median(&c.hand)),
                    format!("{:.1}", median(&c.http)),
                    format!("{:.1}", percentile(&c.http, 95.0)),
                    met(percentile(&c.http, 95.0)).into(),
                ]
            })
            .collect();
        println!(
            "{}",
            table(
                &[
                    "first page of the view",
                    "store ms",
                    "hand-written SQL ms",
                    "page over HTTP ms (median)",
                    "p95",
                    "≤ 50 ms"
                ],
                &rows
            )
        );
        let worst = s.cases.iter().map(|c| percentile(&c.http, 95.0)).fold(0.0, f64::max);
        println!(
            "\nEvery view's counts (one query): {:.1} ms. Slowest view page over HTTP (p95): {worst:.1} ms, {}.\n\
             The {}-part conversation page over HTTP: {:.1} ms median, {:.1} ms p95, {}.\n",
            median(&s.counts),
            met(worst),
            args.long,
            median(&s.long_http),
            percentile(&s.long_http, 95.0),
            met(percentile(&s.long_http, 95.0))
        );
        if let Some(live) = &s.live {
            super::inbox_live::print(live);
        }
    }
    println!(
        "Pages are timed from a client on the same machine, from the request to the last byte of the rendered page.\n\n\
         Reproduce: `cargo run --release -p tidings -- bench inbox {}`\n",
        args.flags()
    );
}
