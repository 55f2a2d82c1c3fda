//! Imports of contacts started from the admin app: one row per uploaded file, with the choices
//! made on its preview, where it stands (moved only forward, by conditional updates), and the
//! report of the lines it rejected.

use async_trait::async_trait;

use crate::Result;

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    /// Uploaded and checked; its preview waits for a teammate's choices.
    Uploaded,
    Running,
    Done,
    /// Stopped by an error (the file became unreadable, the database failed).
    Failed,
    /// Its server stopped before the end.
    Interrupted,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Uploaded => "uploaded",
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
            ImportStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "uploaded" => ImportStatus::Uploaded,
            "running" => ImportStatus::Running,
            "done" => ImportStatus::Done,
            "failed" => ImportStatus::Failed,
            "interrupted" => ImportStatus::Interrupted,
            _ => return None,
        })
    }

    /// Whether it will move no more.
    pub fn finished(self) -> bool {
        matches!(self, ImportStatus::Done | ImportStatus::Failed | ImportStatus::Interrupted)
    }
}

/// What an import has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportCounters {
    pub bytes_read: i64,
    pub lines: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// An import, without its report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub id: i64,
    pub workspace_id: i64,
    pub teammate_id: Option<i64>,
    pub file_name: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Where the node that received the file keeps it (every node reads it from the database:
    /// `ImportStore::import_file`).
    pub path: String,
    pub size: i64,
    pub status: ImportStatus,
    /// How many times it has been run: 1 once started, more when a node took over one whose
    /// server stopped (`ImportStore::take_over_imports`).
    pub runs: i64,
    /// The choices made on the preview (JSON), once started.
    pub options: Option<String>,
    pub counters: ImportCounters,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub heartbeat_at: i64,
}

/// How an import ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportEnd {
    pub status: ImportStatus,
    pub counters: ImportCounters,
    pub error: Option<String>,
    /// The rejected lines as CSV.
    pub report: Option<String>,
}

/// What [`ImportStore::take_over_imports`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TakenOver {
    /// Taken over, as they now stand: the caller runs them.
    pub resumed: Vec<Import>,
    /// Marked interrupted, as they now stand.
    pub interrupted: Vec<Import>,
}

/// An uploaded file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewImport {
    pub teammate_id: Option<i64>,
    pub file_name: String,
    pub format: String,
    pub path: String,
    pub size: i64,
    pub created_at: i64,
}

#[async_trait]
pub trait ImportStore {
    async fn create_import(&self, ws: i64, new: &NewImport) -> Result<Import>;
    async fn import(&self, ws: i64, id: i64) -> Result<Option<Import>>;
    /// The workspace's newest imports first.
    async fn imports(&self, ws: i64, limit: i64) -> Result<Vec<Import>>;
    /// Moves an uploaded import to running with these choices, as its run 1; `false` when it was
    /// not `uploaded` (started already, by another click or another node).
    async fn start_import(&self, ws: i64, id: i64, options: &str, now: i64) -> Result<bool>;
    /// Records the progress of a running import's run `run` (and that it is alive); `false` when
    /// the import is no longer running, or another run took over.
    async fn import_progress(&self, ws: i64, id: i64, run: i64, counters: &ImportCounters, now: i64) -> Result<bool>;
    /// Ends run `run` of a running import as `status` with its last counters, error and report;
    /// `false` when the import was not running (it was marked interrupted meanwhile) or another
    /// run took over.
    async fn finish_import(&self, ws: i64, id: i64, run: i64, end: &ImportEnd, now: i64) -> Result<bool>;
    /// The running imports (of workspace `ws`, or of all) whose heartbeat is older than
    /// `stale_before`, their server stopped: each one whose file is kept and which has run fewer
    /// than `max_runs` times is taken over as its next run (its counters start again from zero,
    /// and it is the caller's to run), the others are marked `interrupted`. A row is taken by one
    /// caller only. Those in `running_here` are left alone: the caller's own runs, alive however
    /// late their heartbeat, which a run taken over would duplicate until their next tick.
    async fn take_over_imports(
        &self,
        ws: Option<i64>,
        stale_before: i64,
        now: i64,
        max_runs: i64,
        running_here: &[i64],
    ) -> Result<TakenOver>;
    /// The report of a finished import's rejected lines (CSV), if it has one.
    async fn import_report(&self, ws: i64, id: i64) -> Result<Option<String>>;
    /// Keeps piece `seq` (from 0) of an uploaded import's file, so that any node can read it and
    /// a run can take over. An import's pieces go when it ends (`finish_import`,
    /// `take_over_imports`).
    async fn put_import_file(&self, ws: i64, id: i64, seq: i64, data: &[u8]) -> Result<()>;
    /// Piece `seq` of an import's file; `None` past the last one, or once they are gone.
    async fn import_file(&self, ws: i64, id: i64, seq: i64) -> Result<Option<Vec<u8>>>;
    /// Deletes an import that was never started, with its file; `false` when it had started.
    async fn delete_uploaded_import(&self, ws: i64, id: i64) -> Result<bool>;
    /// Drops the files of the imports (of every workspace) uploaded before `before` and never
    /// started; how many pieces.
    async fn prune_import_files(&self, before: i64) -> Result<u64>;
}
