//! The PostgreSQL store: for a company that has outgrown one machine.

use std::str::FromStr;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::Dialect;

type Db = sqlx::Postgres;
const DIALECT: Dialect = Dialect::Postgres;
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "foundation", include_str!("../migrations/postgres/0001_foundation.sql")),
    (2, "contact_email_lookup", include_str!("../migrations/postgres/0002_contact_email_lookup.sql")),
    (3, "messages", include_str!("../migrations/postgres/0003_messages.sql")),
    (
        4,
        "deliveries_without_foreign_keys",
        include_str!("../migrations/postgres/0004_deliveries_without_foreign_keys.sql"),
    ),
    (5, "identity_secret_rotation", include_str!("../migrations/postgres/0005_identity_secret_rotation.sql")),
    (6, "deliveries_contact_index", include_str!("../migrations/postgres/0006_deliveries_contact_index.sql")),
    (7, "email", include_str!("../migrations/postgres/0007_email.sql")),
    (8, "email_reports", include_str!("../migrations/postgres/0008_email_reports.sql")),
    (9, "delivery_windows", include_str!("../migrations/postgres/0009_delivery_windows.sql")),
    (10, "inbox", include_str!("../migrations/postgres/0010_inbox.sql")),
    (11, "webhooks", include_str!("../migrations/postgres/0011_webhooks.sql")),
    (12, "reply_emails", include_str!("../migrations/postgres/0012_reply_emails.sql")),
    (13, "conversation_search", include_str!("../migrations/postgres/0013_conversation_search.sql")),
    (14, "inbox_counts", include_str!("../migrations/postgres/0014_inbox_counts.sql")),
    (15, "uploads", include_str!("../migrations/postgres/0015_uploads.sql")),
    (16, "contact_search", include_str!("../migrations/postgres/0016_contact_search.sql")),
    (19, "imports", include_str!("../migrations/postgres/0019_imports.sql")),
    (21, "import_files", include_str!("../migrations/postgres/0021_import_files.sql")),
    (22, "import_runs", include_str!("../migrations/postgres/0022_import_runs.sql")),
    (23, "email_domain_in_byte_order", include_str!("../migrations/postgres/0023_email_domain_in_byte_order.sql")),
    (24, "email_lookup_by_domain", include_str!("../migrations/postgres/0024_email_lookup_by_domain.sql")),
];

/// `column` is one of a list of ids bound at `$n`, as one `bigint[]` parameter.
fn id_in(column: &str, n: usize) -> String {
    format!("{column} = ANY(${n})")
}

fn bind_ids<'q>(q: Q<'q>, ids: &[i64]) -> Q<'q> {
    q.bind(ids.to_vec())
}

/// Run first in a transaction whose statement takes a long id list: a plan made for the list
/// itself. A generic plan of a prepared statement (PostgreSQL's after five runs) cannot hash
/// the list and compares each row with every id, and a fresh message's rows are not yet in
/// the statistics, which can turn a join with the list into a loop over it for every row.
const FOR_LONG_LISTS: Option<&str> = Some("SET LOCAL plan_cache_mode = force_custom_plan");

/// How a claim skips rows another transaction holds (SQLite has one writer: nothing to skip).
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";

/// 256 random bits as hex, made by the database (for secrets of rows written in SQL).
const RANDOM_SECRET: &str = "replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', '')";

include!("imp.rs");
include!("imp_upsert.rs");
include!("imp_load.rs");
include!("postgres_bulk.rs");
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
    /// Connects and applies pending migrations. With `schema`, everything lives in that schema
    /// (created if missing), which keeps tests and benchmarks apart on one server.
    ///
    /// # Errors
    /// When the server cannot be reached or a migration fails.
    pub async fn open(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            let mut conn = PgConnection::connect_with(&options).await?;
            // A schema name is an identifier, not a value: allow only a safe alphabet.
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(StoreError::UnsupportedUrl(format!("schema name {schema}")));
            }
            sqlx::raw_sql(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).execute(&mut conn).await?;
            conn.close().await?;
            options = options.options([("search_path", schema)]);
        }
        // No JIT compilation: it is meant for long analytical queries, and PostgreSQL's cost
        // estimate starts it for a search over a million contacts, where compiling took ~150 ms,
        // more than running the query without it.
        options = options.options([("jit", "off")]);
        let pool = PgPoolOptions::new().max_connections(10).connect_with(options).await?;
        let store = Store { reader: pool.clone(), writer: pool, indexed: Default::default() };
        store.migrate().await?;
        Ok(store)
    }
}

/// Builds `index` unless it exists, without blocking writes: `CREATE INDEX CONCURRENTLY` lets
/// contacts be written while it reads them. One build per index across every node, under an
/// advisory lock: another waits for it, then finds it built. A concurrent build that failed
/// leaves an invalid index behind, which PostgreSQL keeps up to date but never reads; one found
/// under the lock is such a leftover, dropped and built again.
async fn build_custom_index(writer: &sqlx::Pool<Db>, index: &CustomIndex) -> Result<()> {
    let mut conn = writer.acquire().await?;
    // The lock is asked for, not waited on: a session waiting in a statement holds a snapshot,
    // and a concurrent build waits for every snapshot older than its own, so two builds would
    // wait for each other. Per schema, as the index is.
    let key = "hashtextextended(current_schema() || '.' || $1, 0)";
    loop {
        let locked: bool = sqlx::query_scalar(&format!("SELECT pg_try_advisory_lock({key})"))
            .bind(&index.name)
            .fetch_one(&mut *conn)
            .await?;
        if locked {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let built = build_locked(&mut conn, index).await;
    let unlocked =
        sqlx::query(&format!("SELECT pg_advisory_unlock({key})")).bind(&index.name).execute(&mut *conn).await;
    if unlocked.is_err() {
        // The lock is the session's: a connection that cannot say it is done goes with it.
        conn.detach();
    }
    built?;
    unlocked?;
    Ok(())
}

async fn build_locked(conn: &mut sqlx::pool::PoolConnection<Db>, index: &CustomIndex) -> Result<()> {
    for sql in custom_index_steps(conn, index).await? {
        // Each statement alone: a concurrent build cannot run inside a transaction.
        sqlx::query(&sql).persistent(false).execute(&mut **conn).await?;
    }
    Ok(())
}

/// What building `index` takes, found under the build's lock: nothing when it exists and is
/// valid.
async fn custom_index_steps(conn: &mut sqlx::pool::PoolConnection<Db>, index: &CustomIndex) -> Result<Vec<String>> {
    let valid: Option<bool> = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace",
    )
    .bind(&index.name)
    .fetch_optional(&mut **conn)
    .await?;
    let mut steps = Vec::new();
    match valid {
        Some(true) => return Ok(steps),
        Some(false) => steps.push(format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.name)),
        None => {}
    }
    steps.push(format!("CREATE INDEX CONCURRENTLY {} ON contacts ({})", index.name, index.columns));
    steps.push(format!("DROP INDEX CONCURRENTLY IF EXISTS {}", index.replaced));
    // PostgreSQL keeps statistics of an indexed expression only once it analyzes the table:
    // until then it guesses "plan = pro" is rare and reads a quarter of the contacts through
    // the index, one at a time.
    steps.push("ANALYZE contacts".to_owned());
    Ok(steps)
}
