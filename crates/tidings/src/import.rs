//! `tidings import contacts FILE`: reads CSV (header row) or JSON lines, upserts contacts in
//! batches, shows a progress bar with rate and ETA, and reports every bad line without stopping.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value as Json;
use tidings_core::attribute::CustomAttribute;
use tidings_core::contact::{ContactInput, INPUT_FIELDS};
use tidings_store::{Store, UpsertReport, Workspace};

use crate::Format;
use crate::import_columns as columns;

/// How to read a file.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Guessed from the file's extension when `None`.
    pub format: Option<Format>,
    pub unknown: Unknown,
    /// CSV columns read as another attribute (`column`, `attribute`).
    pub map: Vec<(String, String)>,
}

/// What to do with columns that name no attribute of the workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unknown {
    /// Stop before writing anything, listing them with their inferred types.
    #[default]
    Refuse,
    /// Create each as a custom attribute of its inferred type, then import.
    Create,
    /// Import without them.
    Skip,
}

/// Contacts per transaction.
pub(crate) const BATCH: usize = 5_000;

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
pub(crate) type Parsed = Result<ContactInput, String>;

pub(crate) fn parse_json_line(line: &str, custom: &[CustomAttribute]) -> Parsed {
    parse_json_line_skipping(line, custom, &HashSet::new())
}

/// A JSON line, leaving out the custom attributes in `skip` and reading `tags` (an array of
/// names, or comma-separated text).
fn parse_json_line_skipping(line: &str, custom: &[CustomAttribute], skip: &HashSet<String>) -> Parsed {
    let mut obj = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(obj)) => obj,
        Ok(_) => return Err("each line must be a JSON object".into()),
        Err(e) => return Err(format!("invalid JSON: {e}")),
    };
    let tags = obj.remove(columns::TAGS).map(|t| columns::tag_names(&t)).transpose()?;
    if let Some(Json::Object(attrs)) = obj.get_mut("custom_attributes") {
        attrs.retain(|name, _| !skip.contains(name));
        for (name, v) in attrs.iter_mut() {
            if let Some(a) = custom.iter().find(|a| &a.name == name) {
                *v = columns::normalise(a.data_type, v);
            }
        }
    }
    let mut input = ContactInput::parse(&obj, custom).map_err(|e| e.to_string())?;
    input.tags = tags.unwrap_or_default();
    Ok(input)
}

fn parse_csv_record(
    headers: &[String],
    record: &csv::StringRecord,
    custom: &[CustomAttribute],
    skip: &HashSet<String>,
) -> Parsed {
    let mut input = ContactInput::default();
    let mut errors = Vec::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        if value.trim().is_empty()
            || name == "id"
            || name == "created_at"
            || name == "updated_at"
            || skip.contains(name)
        {
            continue;
        }
        let value = Json::String(value.to_owned());
        if name == columns::TAGS {
            match columns::tag_names(&value) {
                Ok(tags) => input.tags = tags,
                Err(e) => errors.push(e),
            }
            continue;
        }
        let key = columns::attribute_name(name);
        // Spreadsheet spellings (`yes`, `2027-01-15`) for the built-in dates and booleans too.
        let data_type = if key == name && INPUT_FIELDS.contains(&key) {
            tidings_core::attribute::builtin(key).map(|b| b.data_type)
        } else {
            custom.iter().find(|a| a.name == key).map(|a| a.data_type)
        };
        let value = match data_type {
            Some(t) => columns::normalise(t, &value),
            None => value,
        };
        if let Err(e) = input.set(key, &value, custom) {
            errors.push(e.message);
        }
    }
    if errors.is_empty() { Ok(input) } else { Err(errors.join("; ")) }
}

/// What an import did.
pub(crate) struct Summary {
    /// Lines (records) read, good and bad.
    pub lines: u64,
    pub secs: f64,
    /// Created, updated and unchanged counts, and the inputs storage rejected.
    pub total: UpsertReport,
    /// Lines that could not be parsed.
    pub bad_lines: u64,
}

/// Runs the import and prints what it did.
///
/// # Errors
/// When the file cannot be read or storage fails; bad lines are reported, not errors.
pub async fn contacts(store: &Arc<dyn Store>, ws: &Workspace, file: &Path, options: &Options) -> Result<(), String> {
    let Summary { lines: seen, secs, total, bad_lines } = run(store, ws, file, options).await?;
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

/// The import itself, with its progress bar; `tidings bench import` times this.
///
/// # Errors
/// As [`contacts`].
pub(crate) async fn run(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    file: &Path,
    options: &Options,
) -> Result<Summary, String> {
    let format = options.format.unwrap_or_else(|| {
        if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) { Format::Csv } else { Format::Jsonl }
    });
    if format == Format::Jsonl && !options.map.is_empty() {
        return Err("--map renames CSV columns; a JSON lines file names its attributes itself".into());
    }
    let mut custom = store.custom_attributes(ws.id).await.map_err(|e| e.to_string())?;
    let new = columns::unknown_columns(file, format, &custom, &options.map)?;
    let mut skip = HashSet::new();
    if !new.is_empty() {
        match options.unknown {
            Unknown::Refuse => return Err(columns::refusal(&new)),
            Unknown::Skip => skip = new.into_iter().map(|(column, _)| column).collect(),
            Unknown::Create => {
                columns::create_attributes(store, ws, &new).await?;
                custom = store.custom_attributes(ws.id).await.map_err(|e| e.to_string())?;
            }
        }
    }
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
    let mut bad_lines = 0u64;
    let mut batch: Vec<ContactInput> = Vec::with_capacity(BATCH);
    let mut lines: Vec<u64> = Vec::with_capacity(BATCH);
    let mut seen = 0u64;

    let mut writer =
        Writer { store: store.clone(), ws: ws.id, bar: bar.clone(), pending: None, total: UpsertReport::default() };
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
                handle(
                    n as u64 + 1,
                    parse_json_line_skipping(&line, &custom, &skip),
                    &mut batch,
                    &mut lines,
                    &mut bad_lines,
                );
                if batch.len() >= BATCH {
                    writer.submit(&mut batch, &mut lines).await?;
                    report_rate(&bar, seen, started);
                }
            }
        }
        Format::Csv => {
            let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
            let headers = columns::headers(&mut csv, &options.map)?;
            for (n, record) in csv.records().enumerate() {
                seen += 1;
                // Line numbers count the header as line 1.
                let line_no = n as u64 + 2;
                let parsed =
                    record.map_err(|e| e.to_string()).and_then(|r| parse_csv_record(&headers, &r, &custom, &skip));
                handle(line_no, parsed, &mut batch, &mut lines, &mut bad_lines);
                if batch.len() >= BATCH {
                    writer.submit(&mut batch, &mut lines).await?;
                    report_rate(&bar, seen, started);
                }
            }
        }
    }
    writer.submit(&mut batch, &mut lines).await?;
    let total = writer.finish().await?;
    bar.finish_and_clear();
    Ok(Summary { lines: seen, secs: started.elapsed().as_secs_f64(), total, bad_lines })
}

/// A batch being written: its upsert, and the line number of each of its inputs.
type Pending = tokio::task::JoinHandle<Result<(UpsertReport, Vec<u64>), String>>;

/// Writes batches one after another, in order, while the caller parses the next one: parsing and
/// writing each take about half the time, so overlapping them nearly halves an import.
struct Writer {
    store: Arc<dyn Store>,
    ws: i64,
    bar: ProgressBar,
    pending: Option<Pending>,
    total: UpsertReport,
}

impl Writer {
    /// Waits for the batch being written, then starts writing this one (taking it).
    async fn submit(&mut self, batch: &mut Vec<ContactInput>, lines: &mut Vec<u64>) -> Result<(), String> {
        self.wait().await?;
        if batch.is_empty() {
            return Ok(());
        }
        let (store, ws) = (self.store.clone(), self.ws);
        let (batch, lines) = (std::mem::replace(batch, Vec::with_capacity(BATCH)), std::mem::take(lines));
        self.pending = Some(tokio::spawn(async move {
            let report =
                store.upsert_contacts(ws, &batch, tidings_web::auth::now()).await.map_err(|e| e.to_string())?;
            Ok((report, lines))
        }));
        Ok(())
    }

    async fn wait(&mut self) -> Result<(), String> {
        let Some(pending) = self.pending.take() else { return Ok(()) };
        let (report, lines) = pending.await.map_err(|e| format!("the import stopped: {e}"))??;
        for (i, reason) in &report.rejected {
            self.bar.suspend(|| eprintln!("line {}: {reason}", lines[*i]));
        }
        self.total.created += report.created;
        self.total.updated += report.updated;
        self.total.unchanged += report.unchanged;
        self.total.rejected.extend(report.rejected);
        Ok(())
    }

    /// Waits for the last batch; what the whole import did.
    async fn finish(mut self) -> Result<UpsertReport, String> {
        self.wait().await?;
        Ok(self.total)
    }
}

fn report_rate(bar: &ProgressBar, seen: u64, started: Instant) {
    let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
    bar.set_message(format!("{seen} contacts, {rate:.0}/s"));
}
