//! Importing contacts from a file a person wrote: CSV (header row) or JSON lines. Reads the file,
//! gives each column its meaning ([`columns`]), creates the custom attributes it is told to,
//! upserts contacts in batches (tags created as needed), and reports every bad line without
//! stopping. The CLI (`tidings import contacts`) and the admin app's background imports
//! ([`jobs`]) both call [`Engine::import_contacts`]; each shows progress its own way through
//! [`Progress`].

pub mod columns;
pub mod jobs;
pub mod preview;

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::{ContactInput, INPUT_FIELDS};
use tidings_store::{Loaded, Store, StoreError, UpsertReport, Workspace};
use tokio::sync::mpsc;

use crate::Engine;
use crate::attributes::NewAttribute;

/// The two formats a file may be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// `csv` for a `.csv` file, JSON lines otherwise.
    pub fn of_path(file: &Path) -> Format {
        if file.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) { Format::Csv } else { Format::Jsonl }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// How to read a file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Options {
    /// Guessed from the file's extension when `None`.
    pub format: Option<Format>,
    pub unknown: Unknown,
    /// CSV columns read as another attribute (`column`, `attribute`).
    #[serde(default)]
    pub map: Vec<(String, String)>,
    /// Columns (CSV headers, or keys of `custom_attributes` in JSON lines) left out, as the file
    /// names them.
    #[serde(default)]
    pub skip: Vec<String>,
    /// The type of a new custom attribute, by name, where the inferred one is not wanted.
    #[serde(default)]
    pub types: Vec<(String, DataType)>,
}

/// What to do with columns that name no attribute of the workspace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// Stop before writing anything ([`ImportError::UnknownColumns`]).
    #[default]
    Refuse,
    /// Create each as a custom attribute of its inferred type, then import.
    Create,
    /// Import without them.
    Skip,
}

/// Why an import stopped before or while writing. Bad lines are not errors: they are reported
/// through [`Progress::rejected`] and counted.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Columns that name no attribute, with their inferred types, and no decision about them.
    #[error("these columns name no attribute of this workspace")]
    UnknownColumns(Vec<(String, DataType)>),
    /// Columns that cannot become custom attributes: (column, why).
    #[error("these columns cannot be custom attributes")]
    BadAttributes(Vec<(String, String)>),
    /// A column to rename that the file does not have.
    #[error("the file has no column {0:?}")]
    NoSuchColumn(String),
    /// Columns are renamed in CSV only: a JSON lines file names its attributes itself.
    #[error("a JSON lines file names its attributes itself: its columns cannot be renamed")]
    MapInJsonLines,
    /// The file is neither CSV nor JSON lines, or its header row cannot be read.
    #[error("{0}")]
    Unreadable(String),
    /// The file holds no contact.
    #[error("the file is empty")]
    Empty,
    /// No column says who each contact is.
    #[error("the file has no email or external_id column, so no contact can be found or created")]
    NoIdentity,
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One problem of a rejected line: the field it is about, when known, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub field: Option<String>,
    pub reason: String,
}

/// A line that was not imported: its number in the file (the header is line 1), what is wrong,
/// and its values as the file wrote them (a CSV record's fields, or a JSON line's text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub line: u64,
    pub problems: Vec<Problem>,
    pub values: Vec<String>,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reasons: Vec<&str> = self.problems.iter().map(|p| p.reason.as_str()).collect();
        f.write_str(&reasons.join("; "))
    }
}

/// Where an import stands: lines read, and what became of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub lines: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

/// What an import tells its caller while it runs. Every method has a default that ignores it.
pub trait Progress: Send + Sync {
    /// `n` more bytes of the file were read.
    fn read(&self, _n: u64) {}
    /// A CSV file's header row, as written, before any line.
    fn header(&self, _columns: &[String]) {}
    /// A line was rejected (when it was read, or when its batch was written).
    fn rejected(&self, _rejection: &Rejection) {}
    /// A batch was written: where the import stands.
    fn written(&self, _counts: &Counts) {}
    /// A custom attribute was created for a column.
    fn attribute_created(&self, _name: &str, _data_type: DataType) {}
    /// Whether the import must stop before its next line (its run was taken over elsewhere).
    fn stopped(&self) -> bool {
        false
    }
}

/// A [`Progress`] that ignores everything.
pub struct Quiet;

impl Progress for Quiet {}

/// Contacts per transaction.
pub const BATCH: usize = 5_000;

/// Counts a reader's bytes for [`Progress::read`].
struct Counting<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.read(n as u64);
        Ok(n)
    }
}

/// One parsed line, or what is wrong with it.
pub type Parsed = Result<ContactInput, Vec<Problem>>;

fn problem(field: Option<&str>, reason: impl Into<String>) -> Vec<Problem> {
    vec![Problem { field: field.map(str::to_owned), reason: reason.into() }]
}

/// A JSON line as the import reads it, every custom attribute it names being declared.
///
/// # Errors
/// What is wrong with the line, joined.
pub fn parse_json_line(line: &str, custom: &[CustomAttribute]) -> Result<ContactInput, String> {
    parse_json_line_skipping(line, custom, &HashSet::new())
        .map_err(|p| p.iter().map(|p| p.reason.as_str()).collect::<Vec<_>>().join("; "))
}

/// A JSON line, leaving out the custom attributes in `skip` and reading `tags` (an array of
/// names, or comma-separated text).
fn parse_json_line_skipping(line: &str, custom: &[CustomAttribute], skip: &HashSet<String>) -> Parsed {
    let mut obj = match serde_json::from_str::<Json>(line) {
        Ok(Json::Object(obj)) => obj,
        Ok(_) => return Err(problem(None, "each line must be a JSON object")),
        Err(e) => return Err(problem(None, format!("invalid JSON: {e}"))),
    };
    let tags = obj
        .remove(columns::TAGS)
        .map(|t| columns::tag_names(&t))
        .transpose()
        .map_err(|e| problem(Some(columns::TAGS), e))?;
    if let Some(Json::Object(attrs)) = obj.get_mut("custom_attributes") {
        attrs.retain(|name, _| !skip.contains(name));
        for (name, v) in attrs.iter_mut() {
            if let Some(a) = custom.iter().find(|a| &a.name == name) {
                *v = columns::normalise(a.data_type, v);
            }
        }
    }
    let mut input = ContactInput::parse(&obj, custom).map_err(|e| {
        e.0.into_iter().map(|f| Problem { field: Some(f.field), reason: f.message }).collect::<Vec<_>>()
    })?;
    input.tags = tags.unwrap_or_default();
    Ok(input)
}

/// A CSV record; `headers` holds each column's name after renaming, `None` for a skipped one.
fn parse_csv_record(
    headers: &[Option<String>],
    record: &csv::StringRecord,
    custom: &[CustomAttribute],
    skip: &HashSet<String>,
) -> Parsed {
    let mut input = ContactInput::default();
    let mut errors = Vec::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        let Some(name) = name else { continue };
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
                Err(reason) => errors.push(Problem { field: Some(name.clone()), reason }),
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
            errors.push(Problem { field: Some(name.clone()), reason: e.message });
        }
    }
    if errors.is_empty() { Ok(input) } else { Err(errors) }
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Lines (records) read, good and bad.
    pub lines: u64,
    pub secs: f64,
    /// Created, updated and unchanged counts, and the inputs storage rejected.
    pub total: UpsertReport,
    /// Lines that could not be parsed.
    pub bad_lines: u64,
    /// Whether the contacts were loaded in bulk, with the contacts table's indexes built after
    /// them ([`Loaded::Bulk`]).
    pub bulk: bool,
}

impl Summary {
    /// Lines not imported, whether they could not be read or storage refused them.
    pub fn rejected(&self) -> u64 {
        self.bad_lines + self.total.rejected.len() as u64
    }
}

impl Engine {
    /// Imports the contacts of `file` into `ws`: creates the custom attributes `options` allows,
    /// then upserts every good line in batches of [`BATCH`], telling `progress` as it goes. A
    /// second import of the same file changes nothing. A large file into a workspace without
    /// contacts is loaded in bulk ([`Store::load_contacts`]): in one transaction, so an error
    /// midway keeps none of it, and every other write to contacts waits until it ends.
    ///
    /// # Errors
    /// [`ImportError`] when nothing can be imported (unknown columns without a decision, columns
    /// that cannot be attributes, a column to rename that is missing, a file that cannot be
    /// read), or storage fails midway; bad lines are reported, not errors.
    pub async fn import_contacts(
        &self,
        ws: &Workspace,
        file: &Path,
        options: &Options,
        progress: &dyn Progress,
    ) -> Result<Summary, ImportError> {
        let format = options.format.unwrap_or_else(|| Format::of_path(file));
        if format == Format::Jsonl && !options.map.is_empty() {
            return Err(ImportError::MapInJsonLines);
        }
        let store = self.store();
        let mut custom = store.custom_attributes(ws.id).await?;
        let new = columns::unknown_columns(file, format, &custom, &options.map, &options.skip)?;
        let mut skip: HashSet<String> = options.skip.iter().cloned().collect();
        if !new.is_empty() {
            match options.unknown {
                Unknown::Refuse => return Err(ImportError::UnknownColumns(new)),
                Unknown::Skip => skip.extend(new.into_iter().map(|(column, _)| column)),
                Unknown::Create => {
                    let new: Vec<(String, DataType)> = new
                        .into_iter()
                        .map(|(column, inferred)| {
                            let name = columns::attribute_name(&column);
                            let chosen = options.types.iter().find(|(n, _)| n == name).map(|(_, t)| *t);
                            (column, chosen.unwrap_or(inferred))
                        })
                        .collect();
                    self.create_import_attributes(ws, &new, progress).await?;
                    custom = store.custom_attributes(ws.id).await?;
                }
            }
        }
        let open =
            std::fs::File::open(file).map_err(|e| ImportError::Io(format!("cannot open {}: {e}", file.display())));
        let reader = BufReader::new(Counting { inner: open?, progress });
        let expected =
            count_lines(file).map_err(|e| ImportError::Io(format!("cannot read {}: {e}", file.display())))?;

        let started = Instant::now();
        let mut run = Run {
            batch: Vec::with_capacity(BATCH),
            lines: Vec::with_capacity(BATCH),
            values: Vec::with_capacity(BATCH),
            counts: Counts::default(),
            writer: Writer::start(store.clone(), ws.id, expected, self.now()),
            progress,
        };
        // Stopped midway (a file that cannot be read on, a storage error, a run taken over), the
        // load is stopped and waited for before the error is told: nothing is written after.
        let read = async {
            match format {
                Format::Jsonl => {
                    for (n, line) in reader.lines().enumerate() {
                        let line = line.map_err(|e| ImportError::Io(format!("cannot read {}: {e}", file.display())))?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        let parsed = parse_json_line_skipping(&line, &custom, &skip);
                        run.handle(n as u64 + 1, parsed, Original::Line(line)).await?;
                    }
                }
                Format::Csv => {
                    let mut csv = csv::ReaderBuilder::new().flexible(false).from_reader(reader);
                    let headers = columns::headers(&mut csv, &options.map, &options.skip)?;
                    progress.header(&columns::raw_headers(&mut csv)?);
                    for (n, record) in csv.records().enumerate() {
                        // Line numbers count the header as line 1.
                        let line_no = n as u64 + 2;
                        let (parsed, original) = match record {
                            Ok(r) => (parse_csv_record(&headers, &r, &custom, &skip), Original::Record(r)),
                            Err(e) => (Err(problem(None, e.to_string())), Original::Line(String::new())),
                        };
                        run.handle(line_no, parsed, original).await?;
                    }
                }
            }
            run.flush().await
        }
        .await;
        if let Err(e) = read {
            run.writer.abandon().await;
            return Err(e);
        }
        let Run { mut counts, writer, .. } = run;
        let (total, loaded) = writer.finish(&mut counts, progress).await?;
        let bad_lines = counts.rejected - total.rejected.len() as u64;
        let bulk = loaded == Loaded::Bulk;
        Ok(Summary { lines: counts.lines, secs: started.elapsed().as_secs_f64(), total, bad_lines, bulk })
    }

    /// Creates a file's new columns as custom attributes, as the data attributes API does: every
    /// name is checked before the first is created, so a bad one leaves the workspace as it was.
    async fn create_import_attributes(
        &self,
        ws: &Workspace,
        new: &[(String, DataType)],
        progress: &dyn Progress,
    ) -> Result<(), ImportError> {
        let bad = bad_attribute_names(new.iter().map(|(c, _)| c.as_str()));
        if !bad.is_empty() {
            return Err(ImportError::BadAttributes(bad));
        }
        // `plan` and `custom_attributes.plan` name one attribute: created once.
        let mut created: HashSet<&str> = HashSet::new();
        for (column, ty) in new {
            let name = columns::attribute_name(column);
            if !created.insert(name) {
                continue;
            }
            self.create_custom_attribute(ws, None, NewAttribute::named(name, *ty)).await.map_err(|e| match e {
                crate::EngineError::Store(e) => ImportError::from(e),
                refused => ImportError::BadAttributes(vec![(column.clone(), refused.to_string())]),
            })?;
            progress.attribute_created(name, *ty);
        }
        Ok(())
    }
}

/// The columns among `columns` whose name cannot be a custom attribute's, with the reason.
pub fn bad_attribute_names<'a>(columns: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    for column in columns {
        let name = columns::attribute_name(column);
        if let Err(e) = crate::attributes::check_attribute_name(name) {
            bad.push((column.to_owned(), e.message));
        }
    }
    bad
}

/// A line as the file wrote it, kept beside its input until the batch is written.
enum Original {
    Record(csv::StringRecord),
    Line(String),
}

impl Original {
    fn into_values(self) -> Vec<String> {
        match self {
            Original::Record(r) => r.iter().map(str::to_owned).collect(),
            Original::Line(l) if l.is_empty() => Vec::new(),
            Original::Line(l) => vec![l],
        }
    }
}

/// The lines being gathered into a batch, and the writer behind them.
struct Run<'a> {
    batch: Vec<ContactInput>,
    /// Each input's line number and values, for the rejections storage reports.
    lines: Vec<u64>,
    values: Vec<Original>,
    counts: Counts,
    writer: Writer,
    progress: &'a dyn Progress,
}

impl Run<'_> {
    async fn handle(&mut self, line: u64, parsed: Parsed, original: Original) -> Result<(), ImportError> {
        if self.progress.stopped() {
            return Err(ImportError::Io("Another server took this import over.".into()));
        }
        self.counts.lines += 1;
        match parsed {
            Ok(input) => {
                self.batch.push(input);
                self.lines.push(line);
                self.values.push(original);
            }
            Err(problems) => {
                self.counts.rejected += 1;
                self.progress.rejected(&Rejection { line, problems, values: original.into_values() });
            }
        }
        if self.batch.len() >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Starts writing the gathered batch (after the one before it is written).
    async fn flush(&mut self) -> Result<(), ImportError> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        let lines = std::mem::take(&mut self.lines);
        let values = std::mem::take(&mut self.values);
        self.writer.submit(batch, lines, values, &mut self.counts, self.progress).await
    }
}

/// Hands batches, in order, to the store's load of this import ([`Store::load_contacts`]) while
/// the caller parses the next: parsing and writing each take about half the time, so
/// overlapping them nearly halves an import.
struct Writer {
    batches: Option<mpsc::Sender<Vec<ContactInput>>>,
    reports: mpsc::Receiver<UpsertReport>,
    load: Option<tokio::task::JoinHandle<Result<Loaded, StoreError>>>,
    /// The line number and values of each input of every batch handed over and not reported
    /// yet, oldest first.
    waiting: VecDeque<(Vec<u64>, Vec<Original>)>,
    total: UpsertReport,
}

/// Batches handed to the load and not taken yet: one, written while the next is parsed.
const BATCHES_AHEAD: usize = 1;

impl Writer {
    /// Starts the load of `expected` contacts into `ws`.
    fn start(store: Arc<dyn Store>, ws: i64, expected: u64, now: i64) -> Writer {
        let (batches, batches_rx) = mpsc::channel(BATCHES_AHEAD);
        // Room for every report the load can send before the next `submit` takes them (a batch
        // in the channel, one being written), so the load never waits on the caller while the
        // caller waits on it.
        let (reports_tx, reports) = mpsc::channel(BATCHES_AHEAD + 4);
        let load = tokio::spawn(async move { store.load_contacts(ws, expected, now, batches_rx, reports_tx).await });
        Writer {
            batches: Some(batches),
            reports,
            load: Some(load),
            waiting: VecDeque::new(),
            total: UpsertReport::default(),
        }
    }

    /// Takes the reports of the batches written so far, then hands this one over.
    async fn submit(
        &mut self,
        batch: Vec<ContactInput>,
        lines: Vec<u64>,
        values: Vec<Original>,
        counts: &mut Counts,
        progress: &dyn Progress,
    ) -> Result<(), ImportError> {
        while let Ok(report) = self.reports.try_recv() {
            self.take(report, counts, progress);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.waiting.push_back((lines, values));
        let sent = match &self.batches {
            Some(batches) => batches.send(batch).await.is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(self.stopped().await) }
    }

    /// Why the load stopped taking batches.
    async fn stopped(&mut self) -> ImportError {
        match self.load.take() {
            Some(load) => match load.await {
                Ok(Err(e)) => e.into(),
                Ok(Ok(_)) => ImportError::Io("the import stopped".into()),
                Err(e) => ImportError::Io(format!("the import stopped: {e}")),
            },
            None => ImportError::Io("the import stopped".into()),
        }
    }

    /// Counts a written batch's report, and reports its rejected lines.
    fn take(&mut self, report: UpsertReport, counts: &mut Counts, progress: &dyn Progress) {
        let (lines, values) = self.waiting.pop_front().unwrap_or_default();
        let mut values: Vec<Option<Original>> = values.into_iter().map(Some).collect();
        for (i, reason) in &report.rejected {
            let values = values.get_mut(*i).and_then(Option::take).map(Original::into_values).unwrap_or_default();
            let line = lines.get(*i).copied().unwrap_or_default();
            progress.rejected(&Rejection { line, problems: problem(None, reason.clone()), values });
        }
        counts.created += report.created;
        counts.updated += report.updated;
        counts.unchanged += report.unchanged;
        counts.rejected += report.rejected.len() as u64;
        self.total.created += report.created;
        self.total.updated += report.updated;
        self.total.unchanged += report.unchanged;
        self.total.rejected.extend(report.rejected);
        progress.written(counts);
    }

    /// Stops the load after the batch it is writing (keeping those written), and waits for it.
    async fn abandon(mut self) {
        drop(self.batches.take());
        // The load stops once nobody listens to its reports.
        drop(self.reports);
        if let Some(load) = self.load.take() {
            let _ = load.await;
        }
    }

    /// Ends the load once every batch is written: what the whole import did, and how.
    async fn finish(
        mut self,
        counts: &mut Counts,
        progress: &dyn Progress,
    ) -> Result<(UpsertReport, Loaded), ImportError> {
        drop(self.batches.take());
        while let Some(report) = self.reports.recv().await {
            self.take(report, counts, progress);
        }
        let Some(load) = self.load.take() else { return Err(ImportError::Io("the import stopped".into())) };
        let loaded = load.await.map_err(|e| ImportError::Io(format!("the import stopped: {e}")))??;
        Ok((self.total, loaded))
    }
}

/// About how many contacts `file` holds: its lines. Tells the load how large it will be.
fn count_lines(file: &Path) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(file)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}
