//! `tidings bench import`: writes N generated contacts as JSON lines and as CSV, imports the
//! JSON lines through `tidings import contacts`' own code path (parse, validate, upsert in
//! batches) into a fresh workspace, imports the same file again (every contact unchanged), then
//! a file in which every contact's `seats` changed (every contact updated); and the CSV into
//! another fresh workspace. The reference is the same rows written by a hand-built multi-row
//! INSERT, one import batch per transaction: what the database can take without parsing,
//! validating or matching anything.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value as Json};
use tidings_store::Store;

use super::{Db, ImportArgs, Scratch, data, median, table, thousands};
use crate::Format;

/// Rows per transaction in the hand-written reference (the import's batch).
const REF_BATCH: usize = tidings_engine::import::BATCH;
/// Rows per INSERT statement in the reference.
const REF_ROWS: usize = 500;

struct Run {
    first: f64,
    second: f64,
    changed: f64,
    csv: f64,
    reference: f64,
    /// The first import's two halves alone: reading and validating the file, and writing the
    /// parsed contacts through `upsert_contacts`.
    parse: f64,
    write: f64,
}

/// The generated files: the contacts as JSON lines and as CSV, and as JSON lines again with
/// every contact's `seats` changed.
struct Files {
    jsonl: PathBuf,
    csv: PathBuf,
    changed: PathBuf,
}

pub async fn run(args: ImportArgs) -> Result<(), String> {
    let n = args.common.contacts;
    let now = tidings_web::auth::now();
    let dir = args.common.work_dir();
    let name = |what: &str| dir.join(format!("tidings-bench_{}_{what}", std::process::id()));
    let files = Files { jsonl: name("contacts.jsonl"), csv: name("contacts.csv"), changed: name("changed.jsonl") };
    let written = write_files(&files, n, now);
    let result = match written {
        Ok(()) => {
            let size = std::fs::metadata(&files.jsonl).map(|m| m.len()).unwrap_or(0);
            println!(
                "Generated {} contacts in {} ({:.0} MiB) and as CSV.",
                thousands(n),
                files.jsonl.display(),
                size as f64 / 1048576.0
            );
            measure(&args, &files, now).await
        }
        Err(e) => Err(e),
    };
    for f in [&files.jsonl, &files.csv, &files.changed] {
        let _ = std::fs::remove_file(f);
    }
    let (runs, versions) = result?;

    println!("\n## Import: {} contacts from JSON lines and CSV\n", thousands(n));
    println!("Machine: {}", super::machine());
    println!("Databases: {}\n", versions.join(", "));
    let mut rows = Vec::new();
    for (db, runs) in &runs {
        let pick = |f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        let (first, second, reference) = (pick(|r| r.first), pick(|r| r.second), pick(|r| r.reference));
        let (changed, csv, parse, write) = (pick(|r| r.changed), pick(|r| r.csv), pick(|r| r.parse), pick(|r| r.write));
        let goal = match db {
            Db::Sqlite => 100_000.0,
            Db::Postgres => 50_000.0,
        };
        let met = |rate: f64, goal: f64| if rate >= goal { "met" } else { "not met" };
        rows.push(vec![
            db.name().to_owned(),
            format!("{first:.0}"),
            format!("{csv:.0}"),
            format!("{second:.0}"),
            format!("{changed:.0}"),
            format!("{reference:.0}"),
            format!("{:.2}", first / reference),
            format!("{parse:.0}"),
            format!("{write:.0}"),
            format!("≥ {} (re-import ≥ {})", thousands(goal as u64), thousands(goal as u64 / 2)),
            format!("{}; CSV {}; re-import {}", met(first, goal), met(csv, goal), met(second.min(changed), goal / 2.0)),
        ]);
    }
    println!(
        "{}",
        table(
            &[
                "database",
                "first import, contacts/s",
                "first import from CSV, /s",
                "re-import, unchanged, /s",
                "re-import, every contact changed, /s",
                "hand-written INSERT, rows/s",
                "first / hand-written",
                "parse alone, /s",
                "upsert alone, /s",
                "goal",
                "against the goal",
            ],
            &rows,
        )
    );
    println!(
        "Medians of {} runs, each on fresh databases, {} contacts per batch. \"parse alone\" reads and validates the JSON lines without a database; \"upsert alone\" times only the upsert_contacts calls of a first import. Per run (first / CSV / unchanged / changed / hand-written / parse / upsert, per second):",
        args.runs,
        thousands(tidings_engine::import::BATCH as u64)
    );
    for (db, runs) in &runs {
        let list: Vec<String> = runs
            .iter()
            .map(|r| {
                format!(
                    "{:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0} / {:.0}",
                    r.first, r.csv, r.second, r.changed, r.reference, r.parse, r.write
                )
            })
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

async fn measure(args: &ImportArgs, files: &Files, now: i64) -> Result<Measured, String> {
    let dbs = args.common.databases();
    let n = args.common.contacts;
    let mut out: Vec<(Db, Vec<Run>)> = dbs.iter().map(|d| (*d, Vec::new())).collect();
    let mut versions = Vec::new();
    for r in 0..args.runs.max(1) {
        for (i, db) in dbs.iter().enumerate() {
            eprintln!("run {}/{} on {} (load average {})", r + 1, args.runs, db.name(), super::load_average());
            // Alternate which goes first, so neither always runs on a warmer machine.
            let ours_first = (r + i) % 2 == 0;
            let mut run =
                Run { first: 0.0, second: 0.0, changed: 0.0, csv: 0.0, reference: 0.0, parse: 0.0, write: 0.0 };
            for step in 0..2 {
                if (step == 0) == ours_first {
                    let scratch = Scratch::create(*db, &args.common, &format!("import{r}")).await?;
                    if r == 0 {
                        versions.push(scratch.version().await);
                    }
                    let result = ours(&scratch.store, files, n).await;
                    scratch.remove().await?;
                    [run.first, run.second, run.changed] = result?;
                    let scratch = Scratch::create(*db, &args.common, &format!("csv{r}")).await?;
                    let result = import(&scratch.store, &files.csv, Format::Csv, n, [n, 0, 0]).await;
                    scratch.remove().await?;
                    run.csv = result?;
                    let scratch = Scratch::create(*db, &args.common, &format!("split{r}")).await?;
                    let result = halves(&scratch.store, &files.jsonl, now).await;
                    scratch.remove().await?;
                    (run.parse, run.write) = result?;
                } else {
                    let scratch = Scratch::create(*db, &args.common, &format!("ref{r}")).await?;
                    let result = hand_written(&scratch.store, *db, &files.jsonl).await;
                    scratch.remove().await?;
                    run.reference = result?;
                }
            }
            eprintln!(
                "  first {:.0}/s, CSV {:.0}/s, unchanged {:.0}/s, changed {:.0}/s, hand-written {:.0}/s; parse alone {:.0}/s, upsert alone {:.0}/s",
                run.first, run.csv, run.second, run.changed, run.reference, run.parse, run.write
            );
            out[i].1.push(run);
        }
    }
    Ok((out, versions))
}

/// Writes contacts `0..n` as JSON lines and as CSV, and the JSON lines with `seats` changed.
fn write_files(files: &Files, n: u64, now: i64) -> Result<(), String> {
    let create = |file: &Path| {
        std::fs::File::create(file)
            .map(|f| BufWriter::with_capacity(1 << 20, f))
            .map_err(|e| format!("cannot create {}: {e}", file.display()))
    };
    let (mut jsonl, mut changed) = (create(&files.jsonl)?, create(&files.changed)?);
    let mut csv = csv::Writer::from_writer(create(&files.csv)?);
    let builtins = [
        "external_id",
        "email",
        "role",
        "name",
        "phone",
        "signed_up_at",
        "last_seen_at",
        "unsubscribed_from_emails",
        "timezone",
    ];
    let header: Vec<String> = builtins
        .iter()
        .map(|b| (*b).to_owned())
        .chain(data::ATTRIBUTES.iter().map(|(a, _)| format!("custom_attributes.{a}")))
        .collect();
    let failed = |e: &dyn std::fmt::Display| format!("writing the generated files: {e}");
    csv.write_record(&header).map_err(|e| failed(&e))?;
    let bar = super::progress(n, "generating");
    for i in 0..n {
        let mut c = data::contact(i, now);
        writeln!(jsonl, "{}", Json::Object(c.clone())).map_err(|e| failed(&e))?;
        let cell = |v: Option<&Json>| match v {
            None | Some(Json::Null) => String::new(),
            Some(Json::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let custom = c.get("custom_attributes").and_then(Json::as_object).cloned().unwrap_or_default();
        let record: Vec<String> = builtins
            .iter()
            .map(|b| cell(c.get(*b)))
            .chain(data::ATTRIBUTES.iter().map(|(a, _)| cell(custom.get(*a))))
            .collect();
        csv.write_record(&record).map_err(|e| failed(&e))?;
        if let Some(Json::Object(custom)) = c.get_mut("custom_attributes") {
            let seats = custom.get("seats").and_then(Json::as_i64).unwrap_or(0);
            custom.insert("seats".into(), Json::from(seats + 1));
        }
        writeln!(changed, "{}", Json::Object(c)).map_err(|e| failed(&e))?;
        if i % 10_000 == 0 {
            bar.set_position(i);
        }
    }
    jsonl.flush().map_err(|e| failed(&e))?;
    changed.flush().map_err(|e| failed(&e))?;
    csv.flush().map_err(|e| failed(&e))?;
    bar.finish_and_clear();
    Ok(())
}

/// The JSON lines imported three times through the real import into one workspace: new, again
/// unchanged, then changed; contacts/s of each.
async fn ours(store: &Arc<dyn Store>, files: &Files, n: u64) -> Result<[f64; 3], String> {
    Ok([
        import(store, &files.jsonl, Format::Jsonl, n, [n, 0, 0]).await?,
        import(store, &files.jsonl, Format::Jsonl, n, [0, 0, n]).await?,
        import(store, &files.changed, Format::Jsonl, n, [0, n, 0]).await?,
    ])
}

/// One import of `file` into the store's bench workspace (made, with the benchmark's custom
/// attributes, by the first call); contacts/s. `want` is what it must report: created,
/// updated, unchanged, with nothing rejected.
async fn import(store: &Arc<dyn Store>, file: &Path, format: Format, n: u64, want: [u64; 3]) -> Result<f64, String> {
    let existing = store.workspaces().await.map_err(|e| e.to_string())?.into_iter().find(|w| w.name == "Bench");
    let ws = match existing {
        Some(ws) => ws,
        None => {
            let p = tidings_web::provision::workspace(store, "Bench", "bench@example.com", "bench-password", "UTC")
                .await
                .map_err(|e| format!("{e:?}"))?;
            data::declare_attributes(store, p.workspace.id, tidings_web::auth::now()).await?;
            p.workspace
        }
    };
    let s = crate::import::run(
        store,
        &ws,
        file,
        &crate::import::options(Some(format), crate::import::Unknown::Refuse, Vec::new()),
    )
    .await?;
    eprintln!(
        "  {}: {:.0}/s, {}",
        file.display(),
        s.lines as f64 / s.secs,
        if s.bulk { "loaded in bulk, indexes built after" } else { "batch by batch" }
    );
    let got = [s.total.created, s.total.updated, s.total.unchanged];
    if s.bad_lines > 0 || !s.total.rejected.is_empty() || got != want || s.lines != n {
        return Err(format!(
            "the import of {} did not do what was expected ({want:?} created, updated, unchanged): {} lines, {} bad, {got:?}, {} rejected (first: {:?})",
            file.display(),
            s.lines,
            s.bad_lines,
            s.total.rejected.len(),
            s.total.rejected.first()
        ));
    }
    Ok(s.lines as f64 / s.secs)
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
