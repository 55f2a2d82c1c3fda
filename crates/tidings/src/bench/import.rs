//! `tidings bench import`: writes N generated contacts as JSON lines, imports the file through
//! `tidings import contacts`' own code path (parse, validate, upsert in batches) into a fresh
//! workspace, then imports it again (every contact unchanged). The reference is the same rows
//! written by a hand-built multi-row INSERT, 5,000 rows per transaction like the import: what the
//! database can take without parsing, validating or matching anything.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value as Json};
use tidings_store::Store;

use super::{Db, ImportArgs, Scratch, data, median, table, thousands};
use crate::Format;

/// Rows per transaction in the hand-written reference (the import's batch).
const REF_BATCH: usize = 5_000;
/// Rows per INSERT statement in the reference.
const REF_ROWS: usize = 500;

struct Run {
    first: f64,
    second: f64,
    reference: f64,
    /// The first import's two halves alone: reading and validating the file, and writing the
    /// parsed contacts through `upsert_contacts`.
    parse: f64,
    write: f64,
}

pub async fn run(args: ImportArgs) -> Result<(), String> {
    let n = args.common.contacts;
    let now = tidings_web::auth::now();
    let file = args.common.work_dir().join(format!("tidings-bench_{}_contacts.jsonl", std::process::id()));
    write_file(&file, n, now)?;
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!("Generated {} contacts in {} ({:.0} MiB).", thousands(n), file.display(), size as f64 / 1048576.0);
    let result = measure(&args, &file, now).await;
    let _ = std::fs::remove_file(&file);
    let (runs, versions) = result?;

    println!("\n## Import: {} contacts from JSON lines\n", thousands(n));
    println!("Machine: {}", super::machine());
    println!("Databases: {}\n", versions.join(", "));
    let mut rows = Vec::new();
    for (db, runs) in &runs {
        let pick = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        let (first, second, reference) = (pick(|r| r.first), pick(|r| r.second), pick(|r| r.reference));
        let (parse, write) = (pick(|r| r.parse), pick(|r| r.write));
        let goal = match db {
            Db::Sqlite => 100_000.0,
            Db::Postgres => 50_000.0,
        };
        rows.push(vec![
            db.name().to_owned(),
            format!("{:.0}", first),
            format!("{:.0}", second),
            format!("{:.0}", reference),
            format!("{:.2}", first / reference),
            format!("{:.0}", parse),
            format!("{:.0}", write),
            format!("≥ {}", thousands(goal as u64)),
            if first >= goal { "met" } else { "not met" }.to_owned(),
        ]);
    }
    println!(
        "{}",
        table(
            &[
                "database",
                "first import, contacts/s",
                "second import (unchanged), contacts/s",
                "hand-written INSERT, rows/s",
                "first / hand-written",
                "parse alone, /s",
                "upsert alone, /s",
                "goal",
                "first import",
            ],
            &rows,
        )
    );
    println!(
        "Medians of {} runs, each on fresh databases. \"parse alone\" reads and validates the file without a database; \"upsert alone\" times only the upsert_contacts calls of a first import. Per run (first / second / hand-written / parse / upsert, per second):",
        args.runs
    );
    for (db, runs) in &runs {
        let list: Vec<String> = runs
            .iter()
            .map(|r| format!("{:.0} / {:.0} / {:.0} / {:.0} / {:.0}", r.first, r.second, r.reference, r.parse, r.write))
            .collect();
        println!("- {}: {}", db.name(), list.join("; "));
    }
    println!(
        "\nReproduce: cargo run --release -p tidings -- bench import {} --runs {}",
        args.common.flags(),
        args.runs
    );
    Ok(())
}

type Measured = (Vec<(Db, Vec<Run>)>, Vec<String>);

async fn measure(args: &ImportArgs, file: &Path, now: i64) -> Result<Measured, String> {
    let dbs = args.common.databases();
    let mut out: Vec<(Db, Vec<Run>)> = dbs.iter().map(|d| (*d, Vec::new())).collect();
    let mut versions = Vec::new();
    for r in 0..args.runs.max(1) {
        for (i, db) in dbs.iter().enumerate() {
            eprintln!("run {}/{} on {} (load average {})", r + 1, args.runs, db.name(), super::load_average());
            // Alternate which goes first, so neither always runs on a warmer machine.
            let ours_first = (r + i) % 2 == 0;
            let (mut first, mut second, mut reference, mut parse, mut write) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for step in 0..2 {
                if (step == 0) == ours_first {
                    let scratch = Scratch::create(*db, &args.common, &format!("import{r}")).await?;
                    if r == 0 {
                        versions.push(scratch.version().await);
                    }
                    let result = ours(&scratch.store, file, args.common.contacts, now).await;
                    scratch.remove().await?;
                    (first, second) = result?;
                    let scratch = Scratch::create(*db, &args.common, &format!("split{r}")).await?;
                    let result = halves(&scratch.store, file, now).await;
                    scratch.remove().await?;
                    (parse, write) = result?;
                } else {
                    let scratch = Scratch::create(*db, &args.common, &format!("ref{r}")).await?;
                    let result = hand_written(&scratch.store, *db, file).await;
                    scratch.remove().await?;
                    reference = result?;
                }
            }
            eprintln!(
                "  first {first:.0}/s, second {second:.0}/s, hand-written {reference:.0}/s; parse alone {parse:.0}/s, upsert alone {write:.0}/s"
            );
            out[i].1.push(Run { first, second, reference, parse, write });
        }
    }
    Ok((out, versions))
}

/// Writes contacts `0..n` as JSON lines.
fn write_file(file: &Path, n: u64, now: i64) -> Result<(), String> {
    let f = std::fs::File::create(file).map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let bar = super::progress(n, "generating");
    for i in 0..n {
        let line = Json::Object(data::contact(i, now)).to_string();
        writeln!(w, "{line}").map_err(|e| format!("writing {}: {e}", file.display()))?;
        if i % 10_000 == 0 {
            bar.set_position(i);
        }
    }
    w.flush().map_err(|e| format!("writing {}: {e}", file.display()))?;
    bar.finish_and_clear();
    Ok(())
}

/// Both imports of the file through the real import; contacts/s of each.
async fn ours(store: &Arc<dyn Store>, file: &Path, n: u64, now: i64) -> Result<(f64, f64), String> {
    let p = tidings_web::provision::workspace(store, "Bench", "bench@example.com", "bench-password", "UTC")
        .await
        .map_err(|e| format!("{e:?}"))?;
    data::declare_attributes(store, p.workspace.id, now).await?;
    let mut rates = [0.0; 2];
    for (pass, rate) in rates.iter_mut().enumerate() {
        let s = crate::import::run(
            store,
            &p.workspace,
            file,
            &crate::import::options(Some(Format::Jsonl), crate::import::Unknown::Refuse, Vec::new()),
        )
        .await?;
        let (want_created, want_unchanged) = if pass == 0 { (n, 0) } else { (0, n) };
        if s.bad_lines > 0
            || !s.total.rejected.is_empty()
            || s.total.created != want_created
            || s.total.unchanged != want_unchanged
        {
            return Err(format!(
                "import {} did not do what was expected: {} lines, {} bad, {} created, {} updated, {} unchanged, {} rejected (first: {:?})",
                pass + 1,
                s.lines,
                s.bad_lines,
                s.total.created,
                s.total.updated,
                s.total.unchanged,
                s.total.rejected.len(),
                s.total.rejected.first()
            ));
        }
        *rate = s.lines as f64 / s.secs;
    }
    Ok((rates[0], rates[1]))
}

/// Times the first import's two halves apart, on a fresh workspace: reading and validating every
/// line (no database), then writing the parsed batches through `upsert_contacts` (timing only
/// the writes). Contacts/s of each.
async fn halves(store: &Arc<dyn Store>, file: &Path, now: i64) -> Result<(f64, f64), String> {
    let p = tidings_web::provision::workspace(store, "Bench", "bench@example.com", "bench-password", "UTC")
        .await
        .map_err(|e| format!("{e:?}"))?;
    let custom = data::declare_attributes(store, p.workspace.id, now).await?;
    let read = || -> Result<_, String> {
        let f = std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
        Ok(std::io::BufReader::new(f).lines())
    };
    let started = Instant::now();
    let mut n = 0u64;
    for line in read()? {
        let line = line.map_err(|e| e.to_string())?;
        tidings_engine::import::parse_json_line(&line, &custom)?;
        n += 1;
    }
    let parse = n as f64 / started.elapsed().as_secs_f64();
    let mut busy = 0.0;
    let mut batch = Vec::with_capacity(tidings_engine::import::BATCH);
    let mut lines = read()?;
    loop {
        batch.clear();
        for line in lines.by_ref().take(tidings_engine::import::BATCH) {
            let line = line.map_err(|e| e.to_string())?;
            batch.push(tidings_engine::import::parse_json_line(&line, &custom)?);
        }
        if batch.is_empty() {
            break;
        }
        let started = Instant::now();
        store.upsert_contacts(p.workspace.id, &batch, now).await.map_err(|e| e.to_string())?;
        busy += started.elapsed().as_secs_f64();
    }
    Ok((parse, n as f64 / busy.max(1e-9)))
}

/// The same rows through hand-built multi-row INSERTs; rows/s counting only the statements.
async fn hand_written(store: &Arc<dyn Store>, db: Db, file: &Path) -> Result<f64, String> {
    let (ws, _) = store
        .create_workspace(
            tidings_store::NewWorkspace {
                app_id: "benchref".into(),
                name: "Reference".into(),
                timezone: "UTC".into(),
                identity_secret: "x".into(),
                identity_required: true,
                created_at: 0,
            },
            tidings_store::NewTeammate {
                email: "ref@example.com".into(),
                name: "ref".into(),
                password_hash: None,
                role: tidings_store::TeammateRole::Owner,
                created_at: 0,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    let now = tidings_web::auth::now();
    let reader =
        std::io::BufReader::new(std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?);
    let mut rows: Vec<String> = Vec::with_capacity(REF_BATCH);
    let mut busy = 0.0;
    let mut count = 0u64;
    let mut flush = async |rows: &mut Vec<String>| -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut sql = String::from("BEGIN;\n");
        for chunk in rows.chunks(REF_ROWS) {
            sql.push_str(
                "INSERT INTO contacts (workspace_id, role, external_id, email, email_domain, phone, name, \
                 unsubscribed_from_emails, created_at, updated_at, signed_up_at, last_seen_at, timezone, \
                 custom_attributes) VALUES ",
            );
            sql.push_str(&chunk.join(",\n"));
            sql.push_str(";\n");
        }
        sql.push_str("COMMIT;");
        let started = Instant::now();
        store.execute_raw(&sql).await.map_err(|e| e.to_string())?;
        busy += started.elapsed().as_secs_f64();
        count += rows.len() as u64;
        rows.clear();
        Ok(())
    };
    for line in reader.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let Ok(Json::Object(c)) = serde_json::from_str::<Json>(&line) else {
            return Err("the generated file holds a line that is not a JSON object".into());
        };
        rows.push(values(ws.id, &c, now, db));
        if rows.len() >= REF_BATCH {
            flush(&mut rows).await?;
        }
    }
    flush(&mut rows).await?;
    Ok(count as f64 / busy.max(1e-9))
}

/// One `( … )` row of literals for the reference INSERT.
fn values(ws: i64, c: &Map<String, Json>, now: i64, db: Db) -> String {
    let text = |k: &str| match c.get(k).and_then(Json::as_str) {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".into(),
    };
    let int = |k: &str| c.get(k).and_then(Json::as_i64).map_or("NULL".into(), |i| i.to_string());
    let domain = c
        .get("email")
        .and_then(Json::as_str)
        .and_then(|e| e.rsplit_once('@'))
        .map_or("NULL".into(), |(_, d)| format!("'{}'", d.to_ascii_lowercase()));
    let role = if c.get("role").and_then(Json::as_str) == Some("lead") { "'lead'" } else { "'user'" };
    let unsubscribed = c.get("unsubscribed_from_emails").and_then(Json::as_bool).unwrap_or(false);
    let custom = c.get("custom_attributes").map_or("{}".into(), Json::to_string).replace('\'', "''");
    let cast = if db == Db::Postgres { "::jsonb" } else { "" };
    format!(
        "({ws}, {role}, {}, {}, {domain}, {}, {}, {}, {now}, {now}, {}, {}, {}, '{custom}'{cast})",
        text("external_id"),
        text("email"),
        text("phone"),
        text("name"),
        if unsubscribed { "TRUE" } else { "FALSE" },
        int("signed_up_at"),
        int("last_seen_at"),
        text("timezone"),
    )
}
