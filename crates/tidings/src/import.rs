//! `tidings import contacts FILE`: reads CSV (header row) or JSON lines, upserts contacts in
//! batches, shows a progress bar with rate and ETA, and reports every bad line without stopping.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value as Json;
use tidings_core::attribute::CustomAttribute;
use tidings_core::contact::ContactInput;
use tidings_store::{Store, UpsertReport, Workspace};

use crate::Format;

/// Contacts per transaction.
const BATCH: usize = 5_000;

/// Counts a reader's bytes, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

/// One parsed line, or why it could not be parsed.
type Parsed = Result<ContactInput, String>;

fn parse_json_line(line: &str, custom: &[CustomAttribute]) -> Parsed {
    match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(obj)) => ContactInput::parse(&obj, custom).map_err(|e| e.to_string()),
        Ok(_) => Err("each line must be a JSON object".into()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

fn parse_csv_record(headers: &[String], record: &csv::StringRecord, custom: &[CustomAttribute]) -> Parsed {
    let mut input = ContactInput::default();
    let mut errors = Vec::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        if value.trim().is_empty() || name == "id" || name == "created_at" || name == "updated_at" {
            continue;
        }
        let key = name.strip_prefix("custom_attributes.").unwrap_or(name);
        if let Err(e) = input.set(key, &Json::String(value.to_owned()), custom) {
            errors.push(e.message);
        }
    }
    if errors.is_empty() { Ok(input) } else { Err(errors.join("; ")) }
}

/// Runs the import.
///
/// # Errors
/// When the file cannot be read or storage fails; bad lines are reported, not errors.
pub async fn contacts(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    file: &Path,
    format: Option<Format>,
) -> Result<(), String> {
    let format = format.unwrap_or_else(|| {
        if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) { Format::Csv } else { Format::Jsonl }
    });
    let custom = store.custom_attributes(ws.id).await.map_err(|e| e.to_string())?;
    let size = std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?.len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent}% ETA {eta} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let reader = BufReader::new(Counting {
        inner: std::fs::File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?,
        bar: bar.clone(),
    });

    let started = Instant::now();
    let mut total = UpsertReport::default();
    let mut bad_lines = 0u64;
    let mut batch: Vec<ContactInput> = Vec::with_capacity(BATCH);
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH);
    let mut seen = 0u64;

    let flush =
        async |batch: &mut Vec<ContactInput>, lines: &mut Vec<u64>, total: &mut UpsertReport| -> Result<(), String> {
            if batch.is_empty() {
                return Ok(());
            }
            let report =
                store.upsert_contacts(ws.id, batch, tidings_web::auth::now()).await.map_err(|e| e.to_string())?;
            for (i, reason) in &report.rejected {
                bar.suspend(|| eprintln!("line {}: {reason}", lines[*i]));
            }
            total.created += report.created;
            total.updated += report.updated;
            total.unchanged += report.unchanged;
            total.rejected.extend(report.rejected);
            batch.clear();
            lines.clear();
            Ok(())
        };

    let handle =
        |line_no: u64, parsed: Parsed, batch: &mut Vec<ContactInput>, lines: &mut Vec<u64>, bad: &mut u64| match parsed
        {
            Ok(input) => {
                batch.push(input);
                lines.push(line_no);
            }
            Err(reason) => {
                *bad += 1;
                bar.suspend(|| eprintln!("line {line_no}: {reason}"));
            }
        };

    match format {
        Format::Jsonl => {
            for (n, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                seen += 1;
                handle(n as u64 + 1, parse_json_line(&line, &custom), &mut batch, &mut lines, &mut bad_lines);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut lines, &mut total).await?;
                    report_rate(&bar, seen, started);
                }
            }
        }
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
            let headers: Vec<String> = csv
                .headers()
                .map_err(|e| format!("cannot read the header row: {e}"))?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            for (n, record) in csv.records().enumerate() {
                seen += 1;
                // Line numbers count the header as line 1.
                let line_no = n as u64 + 2;
                let parsed = record.map_err(|e| e.to_string()).and_then(|r| parse_csv_record(&headers, &r, &custom));
                handle(line_no, parsed, &mut batch, &mut lines, &mut bad_lines);
                if batch.len() >= BATCH {
                    flush(&mut batch, &mut lines, &mut total).await?;
                    report_rate(&bar, seen, started);
                }
            }
        }
    }
    flush(&mut batch, &mut lines, &mut total).await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let rejected = bad_lines + total.rejected.len() as u64;
    println!(
        "Imported {seen} lines in {secs:.1}s ({:.0} contacts/s): {} created, {} updated, {} unchanged, {rejected} rejected.",
        seen as f64 / secs.max(1e-9),
        total.created,
        total.updated,
        total.unchanged,
    );
    if rejected > 0 {
        println!("The rejected lines are listed above with their line numbers; fix them and run the import again.");
    }
    Ok(())
}

fn report_rate(bar: &ProgressBar, seen: u64, started: Instant) {
    let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
    bar.set_message(format!("{seen} contacts, {rate:.0}/s"));
}
