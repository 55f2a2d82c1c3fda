//! Tidings storage: the one API the rest of Tidings uses to read and write its data, and its
//! implementations for SQLite (the embedded default) and PostgreSQL.
//!
//! Both implementations are compiled from one source, `imp.rs` and the `imp_*.rs` files beside it
//! (the bulk upsert of contacts, and one per part of the API: accounts, labels, messages,
//! conversations, the Inbox, email, reply emails, webhooks, uploads, imports), included once per dialect with that
//! dialect's sqlx types; the bulk upsert's writes are each dialect's own (`sqlite_bulk.rs`,
//! `postgres_bulk.rs`: COPY). The few places where the dialects differ branch on a `DIALECT` constant, so a change to a query lands in both at once and the shared conformance suite
//! (`tests/`) checks both behave the same. Each method is one unit of work: when it needs a
//! transaction it opens and commits it inside, and no transaction crosses this crate's boundary.

mod accounts;
mod email;
mod imports;
mod inbox;
mod labels;
mod messages;
mod model;
mod postgres;
mod replies;
mod sqlite;
mod uploads;
mod webhooks;

use std::sync::Arc;

use async_trait::async_trait;
use tidings_core::attribute::CustomAttribute;
use tidings_core::contact::{Contact, ContactInput};
use tidings_core::filter::Pred;

pub use accounts::*;
pub use email::*;
pub use imports::*;
pub use inbox::*;
pub use labels::*;
pub use messages::*;
pub use model::*;
pub use replies::*;
pub use tidings_core::filter::sql::Dialect;
pub use uploads::*;
pub use webhooks::*;

/// What can go wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; carries the id of the existing row when it is known.
    #[error("{what} already exists")]
    Conflict { what: String, existing_id: Option<i64> },
    #[error("the database URL is not supported: {0} (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// A write that waited for an earlier one of the same load, which failed.
    #[error("stopped: an earlier batch of the same load failed")]
    Stopped,
}

/// The fewest contacts a load expects for `Store::load_contacts` to write it in bulk: below it,
/// rebuilding the indexes would cost more than keeping them up to date.
pub const BULK_LOAD_MIN: u64 = 50_000;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the database at `url` (`sqlite://path/to/file.db` or `postgres://…`) and brings its
/// schema up to date.
///
/// # Errors
/// When the URL is not supported, the database cannot be reached, or a migration fails.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::Store::open(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::Store::open(url, None).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// Opens a PostgreSQL database inside its own schema (created if missing): lets tests and
/// benchmarks share one server without seeing each other's data.
///
/// # Errors
/// As [`open`].
pub async fn open_postgres_schema(url: &str, schema: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(postgres::Store::open(url, Some(schema)).await?))
}

/// Drops a schema [`open_postgres_schema`] made, with everything in it. A search may have
/// started building an index there in the background: the build waits for the drop's snapshot
/// while the drop waits for the table, PostgreSQL cancels the drop as a deadlock, and it goes
/// again once the build is done.
///
/// # Errors
/// A storage failure, or a deadlock five times over.
pub async fn drop_postgres_schema(store: &dyn Store, schema: &str) -> Result<()> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match store.execute_raw(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await {
            Err(StoreError::Database(sqlx::Error::Database(e)))
                if e.code().as_deref() == Some("40P01") && attempt < 5 => {} // deadlock_detected
            done => return done.map(|_| ()),
        }
    }
}

/// The storage API. Every method that reads or writes workspace data takes the workspace id and
/// scopes its queries to it.
#[async_trait]
pub trait Store:
    AccountStore
    + LabelStore
    + MessageStore
    + ConversationStore
    + InboxStore
    + EmailStore
    + ReplyEmailStore
    + WebhookStore
    + UploadStore
    + ImportStore
    + Send
    + Sync
    + 'static
{
    fn dialect(&self) -> Dialect;

    // --- data attributes -----------------------------------------------------------------
    async fn custom_attributes(&self, ws: i64) -> Result<Vec<CustomAttribute>>;
    async fn create_custom_attribute(&self, ws: i64, attr: &CustomAttribute) -> Result<CustomAttribute>;
    async fn update_custom_attribute(&self, ws: i64, attr: &CustomAttribute) -> Result<bool>;

    // --- contacts --------------------------------------------------------------------------
    /// Inserts a contact and returns it with its id.
    async fn insert_contact(&self, contact: &Contact) -> Result<Contact>;
    /// Writes every field of an existing contact.
    async fn update_contact(&self, contact: &Contact) -> Result<bool>;
    async fn contact(&self, ws: i64, id: i64) -> Result<Option<Contact>>;
    /// The workspace's contacts among `ids` (any number, in one query; missing ids are skipped).
    async fn contacts_by_ids(&self, ws: i64, ids: &[i64]) -> Result<Vec<Contact>>;
    async fn contact_by_external_id(&self, ws: i64, external_id: &str) -> Result<Option<Contact>>;
    /// The user with this email, if any.
    async fn user_by_email(&self, ws: i64, email: &str) -> Result<Option<Contact>>;
    /// Records that these contacts of a workspace were seen at `now` (the Messenger's pings, in
    /// batches); archived contacts are left alone. Returns how many were updated.
    async fn touch_contacts(&self, ws: i64, ids: &[i64], now: i64) -> Result<u64>;
    /// Deletes a contact and everything attached to it.
    async fn delete_contact(&self, ws: i64, id: i64) -> Result<bool>;
    async fn set_contact_archived(&self, ws: i64, id: i64, archived: bool, now: i64) -> Result<bool>;
    /// One page of the contacts matching `query`, and how many match in all.
    async fn search_contacts(&self, ws: i64, query: &ContactQuery) -> Result<(Vec<Contact>, i64)>;
    async fn count_contacts(&self, ws: i64, pred: Option<&Pred>) -> Result<i64>;
    /// Builds, and waits for, the index of each custom attribute `pred` filters on that has
    /// none yet. A search starts these builds itself, in the background, and does not wait.
    async fn index_custom_attributes(&self, pred: &Pred) -> Result<()>;
    /// Creates or updates contacts matched by external_id, then by email, in one transaction.
    /// A row that would change nothing is not written. Inputs that cannot be placed are
    /// reported by their index and nothing of theirs is written.
    async fn upsert_contacts(&self, ws: i64, inputs: &[ContactInput], now: i64) -> Result<UpsertReport>;
    /// Contacts with an id greater than `after`, by id: the export walks the table with this.
    async fn contacts_after(&self, ws: i64, after: i64, limit: i64) -> Result<Vec<Contact>>;
    /// Upserts the batches received on `batches`, in order and with the same results as one
    /// `upsert_contacts` call each, sending each one's report on `reports` once it is written;
    /// returns when `batches` closes. `expected` is how many inputs the caller expects to send:
    /// from [`BULK_LOAD_MIN`] up (on SQLite, up to 1,200,000), into a workspace without
    /// contacts, and while the table holds fewer contacts than that, the whole load is one
    /// transaction that holds the contacts table alone and builds its indexes once the rows are
    /// in (see `imp_load.rs`); its reports then count what the commit at the end keeps, and an
    /// error keeps nothing.
    async fn load_contacts(
        &self,
        ws: i64,
        expected: u64,
        now: i64,
        batches: tokio::sync::mpsc::Receiver<Vec<ContactInput>>,
        reports: tokio::sync::mpsc::Sender<UpsertReport>,
    ) -> Result<Loaded>;

    // --- for tests and benchmarks -----------------------------------------------------------
    /// Runs a raw SQL statement (benchmarks compare against hand-written SQL with it).
    async fn execute_raw(&self, sql: &str) -> Result<u64>;
    /// Runs a raw SQL query that returns one integer (e.g. a hand-written `COUNT(*)`).
    async fn scalar_raw(&self, sql: &str) -> Result<i64>;
    /// Runs a raw SQL query and returns its first column, as text, row by row.
    async fn strings_raw(&self, sql: &str) -> Result<Vec<String>>;
}
