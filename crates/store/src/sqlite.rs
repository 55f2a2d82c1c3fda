//! The SQLite store: the embedded default, one file in the data directory.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::Dialect;

type Db = sqlx::Sqlite;
const DIALECT: Dialect = Dialect::Sqlite;
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/sqlite/0001_foundation.sql")),
    (2, "contact_email_lookup", include_str!("../migrations/sqlite/0002_contact_email_lookup.sql")),
    (3, "messages", include_str!("../migrations/sqlite/0003_messages.sql")),
    (
        4,
        "deliveries_without_foreign_keys",
        include_str!("../migrations/sqlite/0004_deliveries_without_foreign_keys.sql"),
    ),
    (5, "identity_secret_rotation", include_str!("../migrations/sqlite/0005_identity_secret_rotation.sql")),
    (6, "deliveries_contact_index", include_str!("../migrations/sqlite/0006_deliveries_contact_index.sql")),
    (7, "email", include_str!("../migrations/sqlite/0007_email.sql")),
    (8, "email_reports", include_str!("../migrations/sqlite/0008_email_reports.sql")),
    (9, "delivery_windows", include_str!("../migrations/sqlite/0009_delivery_windows.sql")),
    (10, "inbox", include_str!("../migrations/sqlite/0010_inbox.sql")),
    (11, "webhooks", include_str!("../migrations/sqlite/0011_webhooks.sql")),
    (12, "reply_emails", include_str!("../migrations/sqlite/0012_reply_emails.sql")),
    (13, "conversation_search", include_str!("../migrations/sqlite/0013_conversation_search.sql")),
    (14, "inbox_counts", include_str!("../migrations/sqlite/0014_inbox_counts.sql")),
    (15, "uploads", include_str!("../migrations/sqlite/0015_uploads.sql")),
    (16, "contact_search", include_str!("../migrations/sqlite/0016_contact_search.sql")),
    (19, "imports", include_str!("../migrations/sqlite/0019_imports.sql")),
    (20, "email_several_at", include_str!("../migrations/sqlite/0020_email_several_at.sql")),
    (21, "import_files", include_str!("../migrations/sqlite/0021_import_files.sql")),
    (22, "import_runs", include_str!("../migrations/sqlite/0022_import_runs.sql")),
    (24, "email_lookup_by_domain", include_str!("../migrations/sqlite/0024_email_lookup_by_domain.sql")),
];

/// `column` is one of a list of ids bound at `$n`, as one JSON array (SQLite reads it into an
/// index once per statement).
fn id_in(column: &str, n: usize) -> String {
    format!("{column} IN (SELECT value FROM json_each(${n}))")
}

fn bind_ids<'q>(q: Q<'q>, ids: &[i64]) -> Q<'q> {
    q.bind(serde_json::Value::from(ids).to_string())
}

/// SQLite plans every statement for its values.
const FOR_LONG_LISTS: Option<&str> = None;

/// How a claim skips rows another transaction holds (SQLite has one writer: nothing to skip).
const SKIP_LOCKED: &str = "";

/// 256 random bits as hex, made by the database (for secrets of rows written in SQL).
const RANDOM_SECRET: &str = "lower(hex(randomblob(32)))";

include!("imp.rs");
include!("imp_upsert.rs");
include!("imp_load.rs");
include!("sqlite_bulk.rs");
include!("imp_accounts.rs");
include!("imp_labels.rs");
include!("imp_messages.rs");
include!("imp_conversations.rs");
include!("imp_inbox.rs");
include!("imp_replies.rs");
include!("imp_conversation_search.rs");
include!("imp_email.rs");
include!("imp_webhooks.rs");
include!("imp_uploads.rs");
include!("imp_imports.rs");

impl Store {
    /// Opens (creating if needed) the database file and applies pending migrations.
    ///
    /// # Errors
    /// When the file cannot be opened or a migration fails.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            .row_buffer_size(4096)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Pages read through memory mapped from the file (up to SQLite's 2 GiB cap), shared
            // by every connection and by the OS's cache, instead of copied by a system call each:
            // a search that reads contacts one by one spent half its time copying.
            .pragma("mmap_size", "2147418112");
        if let Some(dir) = options.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        }
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        let store = Store { reader: writer.clone(), writer, indexed: Default::default() };
        store.migrate().await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(Store { reader, writer: store.writer, indexed: store.indexed })
    }
}

/// Builds `index` unless it exists. SQLite builds an index under the write lock, so every other
/// write waits for it (seconds for a million contacts).
async fn build_custom_index(writer: &sqlx::Pool<Db>, index: &CustomIndex) -> Result<()> {
    let sql = format!(
        "CREATE INDEX IF NOT EXISTS {} ON contacts ({}); DROP INDEX IF EXISTS {}",
        index.name, index.columns, index.replaced
    );
    sqlx::raw_sql(&sql).execute(writer).await?;
    Ok(())
}
