//! Imports the admin app runs in the background: an uploaded file is checked and recorded
//! (`imports` table, status `uploaded`, and the file itself in pieces, so that any node can read
//! it), previewed, then started with a teammate's choices as a task of its own that outlives the
//! page. The task writes its progress every second (which is also its heartbeat) and tells the
//! bus; at the end it records the counts and the report of the rejected lines. An import whose
//! heartbeat stopped (its server stopped) is run again from the top by a server that notices (at
//! start-up, and on PostgreSQL every 10 seconds), up to three runs in all, or marked
//! `interrupted`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tidings_store::{Dialect, Import, ImportCounters, ImportEnd, ImportStatus, NewImport, StoreError, Workspace};

use super::preview::{self, Preview};
use super::{Counts, Format, ImportError, Options, Progress, Rejection};
use crate::{Engine, Event};

/// The largest file the admin app takes.
pub const MAX_UPLOAD: u64 = 100 * 1024 * 1024;
/// The pieces an uploaded file is kept in, in the database.
const FILE_PIECE: usize = 1024 * 1024;
/// Rejected lines listed in a report; the rest are counted.
const REPORT_ROWS: usize = 10_000;
/// A running import whose heartbeat is older than this was interrupted.
const STALE_SECS: i64 = 30;
/// The most runs an import gets: the first, and two more after servers that stopped (a file that
/// stops its server every time is not run for ever).
const MAX_RUNS: i64 = 3;
const TICK: Duration = Duration::from_secs(1);

/// Where uploaded files are kept until their import ends.
pub fn upload_dir() -> PathBuf {
    std::env::temp_dir().join("tidings-imports")
}

impl ImportError {
    /// The error in words for a person choosing a file and its columns.
    pub fn explain(&self) -> String {
        match self {
            ImportError::UnknownColumns(new) => {
                let list: Vec<String> = new.iter().map(|(c, t)| format!("“{c}” ({})", t.as_str())).collect();
                format!("These columns name no attribute: {}. Create them or skip them.", list.join(", "))
            }
            ImportError::BadAttributes(bad) => {
                let list: Vec<String> = bad.iter().map(|(c, why)| format!("“{c}”: {why}")).collect();
                format!(
                    "These columns cannot be new custom attributes: {}. Choose an existing attribute for them, or skip them.",
                    list.join("; ")
                )
            }
            ImportError::NoSuchColumn(c) => format!("The file has no column “{c}”."),
            ImportError::MapInJsonLines => self.to_string(),
            ImportError::Unreadable(m) => m.clone(),
            ImportError::Empty => {
                "The file holds no contacts: it is empty, or has a header row and nothing else.".into()
            }
            ImportError::NoIdentity => "Tidings finds each contact by email or external_id, and no column is read as \
                either. Choose email or external_id for the column that holds it."
                .into(),
            ImportError::Io(m) => m.clone(),
            ImportError::Store(e @ StoreError::Conflict { .. }) => format!("{}.", capitalised(&e.to_string())),
            ImportError::Store(_) => "The database failed. Try again.".into(),
        }
    }
}

/// The imports running in this process, by id: what reading one tells while its progress
/// waits to be written.
pub(crate) type RunningImports = Mutex<std::collections::HashMap<i64, Arc<Tracker>>>;

/// The state of one running import, kept in memory by its task.
#[derive(Default)]
pub(crate) struct Tracker {
    /// Set when the run's progress can no longer be written: another run took over.
    stopped: std::sync::atomic::AtomicBool,
    bytes: AtomicU64,
    counts: Mutex<Counts>,
    header: Mutex<Vec<String>>,
    rejections: Mutex<Vec<Rejection>>,
    unlisted: AtomicU64,
}

impl Progress for Tracker {
    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn read(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    fn header(&self, columns: &[String]) {
        *self.header.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = columns.to_vec();
    }

    fn rejected(&self, r: &Rejection) {
        let mut list = self.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if list.len() < REPORT_ROWS {
            list.push(r.clone());
        } else {
            self.unlisted.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn written(&self, counts: &Counts) {
        *self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = *counts;
    }
}

impl Tracker {
    fn counters(&self) -> ImportCounters {
        let c = *self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ImportCounters {
            bytes_read: self.bytes.load(Ordering::Relaxed) as i64,
            lines: c.lines as i64,
            created: c.created as i64,
            updated: c.updated as i64,
            unchanged: c.unchanged as i64,
            rejected: c.rejected as i64,
        }
    }

    /// The rejected lines as CSV: line, field, reason, then the line's values (under the file's
    /// own column names for a CSV file), one row per problem, in the order of the file.
    fn report(&self, format: Format) -> Option<String> {
        let mut list = std::mem::take(&mut *self.rejections.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if list.is_empty() {
            return None;
        }
        list.sort_by_key(|r| r.line);
        let header = self.header.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
        let mut head = vec!["line".to_owned(), "field".to_owned(), "reason".to_owned()];
        match format {
            Format::Csv => head.extend(header),
            Format::Jsonl => head.push("original".into()),
        }
        let _ = w.write_record(&head);
        for r in &list {
            for p in &r.problems {
                let mut row = vec![r.line.to_string(), p.field.clone().unwrap_or_default(), p.reason.clone()];
                row.extend(r.values.iter().cloned());
                let _ = w.write_record(&row);
            }
        }
        let unlisted = self.unlisted.load(Ordering::Relaxed);
        if unlisted > 0 {
            let _ = w.write_record(["", "", &format!("{unlisted} more rejected lines are not listed")]);
        }
        w.into_inner().ok().and_then(|b| String::from_utf8(b).ok())
    }
}

impl Engine {
    /// Records a file uploaded to `path` (inside [`upload_dir`]) as an import waiting for its
    /// preview's choices, once it is known to be CSV or JSON lines with contacts in it. A refused
    /// file is deleted.
    ///
    /// # Errors
    /// [`ImportError::Empty`], [`ImportError::Unreadable`], or the database's error.
    pub async fn upload_import(
        &self,
        ws: &Workspace,
        teammate: i64,
        file_name: &str,
        path: &Path,
    ) -> Result<Import, ImportError> {
        prune_uploads(&upload_dir());
        let checked = preview::check(path).and_then(|format| {
            let size = std::fs::metadata(path).map_err(|e| ImportError::Io(e.to_string()))?.len();
            Ok((format, size))
        });
        let (format, size) = match checked {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        };
        let new = NewImport {
            teammate_id: Some(teammate),
            file_name: file_name.chars().take(200).collect(),
            format: format.as_str().into(),
            path: path.display().to_string(),
            size: size as i64,
            created_at: self.now(),
        };
        let import = self.store().create_import(ws.id, &new).await?;
        // Kept in the database too: the preview or the run may be served by another node.
        if let Err(e) = self.keep_import_file(ws.id, import.id, path).await {
            let _ = self.store().delete_uploaded_import(ws.id, import.id).await;
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        if let Err(e) = self.store().prune_import_files(self.now() - KEEP_UPLOADS.as_secs() as i64).await {
            tracing::warn!("dropping the files of imports never started failed: {e}");
        }
        self.publish(Event::ImportChanged { workspace: ws.id, import: import.id });
        Ok(import)
    }

    /// Writes the file at `path` to the database, a piece at a time.
    async fn keep_import_file(&self, ws: i64, id: i64, path: &Path) -> Result<(), ImportError> {
        use tokio::io::AsyncReadExt;
        let mut file = tokio::fs::File::open(path).await.map_err(|e| ImportError::Io(e.to_string()))?;
        let mut seq = 0;
        loop {
            let mut piece = Vec::with_capacity(FILE_PIECE);
            let read = (&mut file)
                .take(FILE_PIECE as u64)
                .read_to_end(&mut piece)
                .await
                .map_err(|e| ImportError::Io(e.to_string()))?;
            if read == 0 {
                return Ok(());
            }
            self.store().put_import_file(ws, id, seq, &piece).await?;
            seq += 1;
        }
    }

    /// The import's file on this node, and whether it is a copy made for this call (the caller
    /// deletes it): where it was received, or else a copy of the one the database keeps (another
    /// node received it, or this one restarted), under a name no other call or server shares.
    ///
    /// # Errors
    /// [`gone`] when neither holds the whole file any more (its import ended), or the disk's or
    /// the database's error.
    async fn local_import_file(&self, import: &Import) -> Result<(PathBuf, bool), ImportError> {
        let whole = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() == import.size as u64);
        let received = PathBuf::from(&import.path);
        if whole(&received) {
            return Ok((received, false));
        }
        let io = |e: std::io::Error| ImportError::Io(e.to_string());
        std::fs::create_dir_all(upload_dir()).map_err(io)?;
        static COPIES: AtomicU64 = AtomicU64::new(0);
        let n = COPIES.fetch_add(1, Ordering::Relaxed);
        // Named by this process and call: two servers on one machine, even on two databases
        // whose imports share ids, never write the same file.
        let copy =
            upload_dir().join(format!("{}-import-{}.{}-{n}", import.workspace_id, import.id, std::process::id()));
        let written = async {
            use tokio::io::AsyncWriteExt;
            let mut out = tokio::fs::File::create(&copy).await.map_err(io)?;
            let mut seq = 0;
            while let Some(piece) = self.store().import_file(import.workspace_id, import.id, seq).await? {
                out.write_all(&piece).await.map_err(io)?;
                seq += 1;
            }
            out.flush().await.map_err(io)?;
            Ok::<_, ImportError>(())
        }
        .await;
        if written.is_ok() && whole(&copy) {
            return Ok((copy, true));
        }
        let _ = std::fs::remove_file(&copy);
        written?;
        Err(gone())
    }

    /// An import of the workspace as it stands.
    ///
    /// # Errors
    /// The database's.
    pub async fn import(&self, ws: &Workspace, id: i64) -> crate::Result<Option<Import>> {
        let mut import = self.store().import(ws.id, id).await?;
        // Running here: its progress as it stands, not as last written.
        if let Some(import) = import.as_mut().filter(|i| i.status == ImportStatus::Running) {
            let running = self.running_imports.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(tracker) = running.get(&id) {
                import.counters = tracker.counters();
            }
        }
        Ok(import)
    }

    /// The preview of an uploaded import's file.
    ///
    /// # Errors
    /// When the file is gone (it was imported, or never started for a day) or unreadable.
    pub async fn import_preview(&self, ws: &Workspace, import: &Import) -> Result<Preview, ImportError> {
        let format = if import.format == "csv" { Format::Csv } else { Format::Jsonl };
        let custom = self.store().custom_attributes(ws.id).await?;
        let (path, copy) = self.local_import_file(import).await?;
        let read = path.clone();
        let preview = tokio::task::spawn_blocking(move || preview::preview(&read, format, &custom))
            .await
            .map_err(|e| ImportError::Io(e.to_string()));
        if copy {
            let _ = std::fs::remove_file(&path);
        }
        preview?
    }

    /// Starts an uploaded import with `options` in a task of its own, which writes its progress
    /// to the database and tells the bus.
    ///
    /// # Errors
    /// When the import is not waiting to start (started already, or finished), or its file is
    /// gone.
    pub async fn start_import(
        self: &Arc<Self>,
        ws: &Workspace,
        import: &Import,
        options: Options,
    ) -> Result<(), ImportError> {
        let text = serde_json::to_string(&options).map_err(|e| ImportError::Io(e.to_string()))?;
        let (path, copy) = self.local_import_file(import).await?;
        let started = self.store().start_import(ws.id, import.id, &text, self.now()).await;
        if !matches!(started, Ok(true)) {
            if copy {
                let _ = std::fs::remove_file(&path);
            }
            started?;
            return Err(ImportError::Unreadable("This import has already started.".into()));
        }
        self.publish(Event::ImportChanged { workspace: ws.id, import: import.id });
        let (engine, ws, id) = (self.clone(), ws.clone(), import.id);
        tokio::spawn(async move { engine.run_import(ws, id, 1, path, options).await });
        Ok(())
    }

    /// Runs again, from the top of its file, an import taken over as run `import.runs`: the
    /// contacts the runs before wrote are found unchanged. Ends it as failed when it cannot.
    async fn run_again(self: Arc<Self>, import: Import) {
        let (ws_id, id, run) = (import.workspace_id, import.id, import.runs);
        let ready = async {
            let ws = self.store().workspace(ws_id).await?.ok_or(ImportError::Unreadable("no workspace".into()))?;
            let options: Options = serde_json::from_str(import.options.as_deref().unwrap_or("{}"))
                .map_err(|e| ImportError::Io(format!("the import's choices: {e}")))?;
            let (path, _) = self.local_import_file(&import).await?;
            Ok::<_, ImportError>((ws, options, path))
        }
        .await;
        match ready {
            Ok((ws, options, path)) => {
                tracing::info!(import = id, run, "taking over an import whose server stopped");
                self.run_import(ws, id, run, path, options).await;
            }
            Err(e) => {
                tracing::warn!(import = id, run, "an import whose server stopped cannot run again: {e}");
                let end = ImportEnd {
                    status: ImportStatus::Failed,
                    counters: ImportCounters::default(),
                    error: Some(e.explain()),
                    report: None,
                };
                if let Err(e) = self.store().finish_import(ws_id, id, run, &end, self.now()).await {
                    tracing::error!(import = id, "recording the end of an import failed: {e}");
                }
                self.publish(Event::ImportChanged { workspace: ws_id, import: id });
            }
        }
    }

    async fn run_import(self: Arc<Self>, ws: Workspace, id: i64, run: i64, path: PathBuf, options: Options) {
        let tracker = Arc::new(Tracker::default());
        self.running_imports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, tracker.clone());
        let ticking = {
            let (engine, tracker, ws_id) = (self.clone(), tracker.clone(), ws.id);
            tokio::spawn(async move {
                // One write of the progress at a time: a bulk load on SQLite holds the only
                // write lock until it commits, and the ticks meanwhile are told from memory.
                let mut writing: Option<tokio::task::JoinHandle<tidings_store::Result<bool>>> = None;
                loop {
                    tokio::time::sleep(TICK).await;
                    if let Some(w) = writing.take_if(|w| w.is_finished()) {
                        match w.await {
                            Ok(Ok(true)) => {}
                            // Ended, or taken over by another run: this one writes no more.
                            Ok(Ok(false)) => {
                                tracker.stopped.store(true, Ordering::Relaxed);
                                break;
                            }
                            Ok(Err(e)) => tracing::warn!(import = id, "recording an import's progress failed: {e}"),
                            Err(e) => tracing::warn!(import = id, "recording an import's progress stopped: {e}"),
                        }
                    }
                    if writing.is_none() {
                        let (engine, counters) = (engine.clone(), tracker.counters());
                        writing = Some(tokio::spawn(async move {
                            engine.store().import_progress(ws_id, id, run, &counters, engine.now()).await
                        }));
                    }
                    engine.publish(Event::ImportChanged { workspace: ws_id, import: id });
                }
            })
        };
        // Reading and parsing the file is blocking work: on a thread of its own, so that a large
        // file does not hold up one of the threads serving requests.
        let result = {
            let (engine, ws, path, options, tracker) =
                (self.clone(), ws.clone(), path.clone(), options.clone(), tracker.clone());
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                runtime.block_on(engine.import_contacts(&ws, &path, &options, &*tracker))
            })
            .await
            .unwrap_or_else(|e| Err(ImportError::Io(format!("the import stopped: {e}"))))
        };
        ticking.abort();
        let mut counters = tracker.counters();
        let (status, error) = match &result {
            Ok(summary) => {
                counters.lines = summary.lines as i64;
                counters.created = summary.total.created as i64;
                counters.updated = summary.total.updated as i64;
                counters.unchanged = summary.total.unchanged as i64;
                counters.rejected = summary.rejected() as i64;
                (ImportStatus::Done, None)
            }
            Err(e) => {
                tracing::warn!(import = id, "an import failed: {e}");
                (ImportStatus::Failed, Some(e.explain()))
            }
        };
        let report = tracker.report(options.format.unwrap_or(Format::Csv));
        let end = ImportEnd { status, counters, error, report };
        // Gone before the end is recorded: until then the database keeps the file for a run
        // that takes over.
        let _ = std::fs::remove_file(&path);
        let finished = self.store().finish_import(ws.id, id, run, &end, self.now()).await;
        {
            let mut running = self.running_imports.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // This run's own only: a later run of the import starts here once this one's is gone
            // (`take_over_stopped_imports` leaves a run going here alone), never beside it.
            if running.get(&id).is_some_and(|t| Arc::ptr_eq(t, &tracker)) {
                running.remove(&id);
            }
        }
        match finished {
            Ok(_) => self.publish(Event::ImportChanged { workspace: ws.id, import: id }),
            Err(e) => tracing::error!(import = id, "recording the end of an import failed: {e}"),
        }
    }

    /// At start-up: takes over the imports a stopped server left running
    /// (`take_over_stopped_imports`). On SQLite that is every running one (one server); on
    /// PostgreSQL, those whose heartbeat stopped (other servers' imports keep theirs going). How
    /// many were taken over, and how many marked interrupted.
    ///
    /// # Errors
    /// The database's.
    pub async fn resume_stopped_imports(self: &Arc<Self>) -> crate::Result<(u64, u64)> {
        let stale_before = if self.store().dialect() == Dialect::Sqlite { i64::MAX } else { self.now() - STALE_SECS };
        self.take_over_stopped_imports(stale_before).await
    }

    /// Runs again here, from the top, each import whose heartbeat is older than `stale_before`
    /// (its server stopped), up to [`MAX_RUNS`] runs in all: a restart or a deploy in the middle
    /// of an import costs it time, not contacts. One whose file is no longer kept, or that ran
    /// that many times, is marked interrupted. Each page following one of them is told. How many
    /// of each.
    async fn take_over_stopped_imports(self: &Arc<Self>, stale_before: i64) -> crate::Result<(u64, u64)> {
        // This server's own runs are alive, however late their heartbeat (a write of it that
        // waited on the database): taken over, each would run twice until its next tick.
        let here: Vec<i64> =
            self.running_imports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).keys().copied().collect();
        let taken = self.store().take_over_imports(None, stale_before, self.now(), MAX_RUNS, &here).await?;
        for import in taken.resumed.iter().chain(&taken.interrupted) {
            self.publish(Event::ImportChanged { workspace: import.workspace_id, import: import.id });
        }
        for import in &taken.resumed {
            tokio::spawn(self.clone().run_again(import.clone()));
        }
        Ok((taken.resumed.len() as u64, taken.interrupted.len() as u64))
    }
}

/// The background step (`tasks.rs`): on PostgreSQL, takes over the imports of every workspace
/// whose server stopped, whether or not anyone has one's page open. On SQLite there is one
/// server, which took over its own at start-up, and whose bulk loads write no heartbeat.
pub(crate) async fn step(engine: &Arc<Engine>, now: i64) {
    if engine.store().dialect() != Dialect::Postgres {
        return;
    }
    if let Err(e) = engine.take_over_stopped_imports(now - STALE_SECS).await {
        tracing::warn!("looking for imports whose server stopped failed: {e}");
    }
}

/// Uploaded files older than a day are left over: never imported, or their import interrupted.
const KEEP_UPLOADS: Duration = Duration::from_secs(24 * 3600);

/// Deletes the left-over uploads in `dir` (only ever [`upload_dir`], which holds nothing else).
fn prune_uploads(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if old.is_some_and(|age| age > KEEP_UPLOADS) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn gone() -> ImportError {
    ImportError::Unreadable(
        "The uploaded file is no longer kept (it was imported, or never started for a day). Upload it again.".into(),
    )
}
