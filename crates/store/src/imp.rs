// The store implementation shared by both dialects. Included by `sqlite.rs` and `postgres.rs`,
// each of which defines `Db` (the sqlx database type), `DIALECT`, `MIGRATIONS`, and the `Store`
// struct's `open`. Keep dialect branches to the few places that need them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use serde_json::Value as Json;
use sqlx::Row;
use tidings_core::attribute::{CustomAttribute, DataType};
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_core::filter::sql::{
    Sql, SqlParam, compile, count_parts, custom_index, custom_targets, lookup_index, replaced_custom_index,
};
use tidings_core::filter::{Pred, Target};

use crate::model::parse_role;
use crate::{
    ApiToken, AppliedTag, ContactQuery, DkimKey, EmailSettings, Loaded, NewApiToken, NewSegment, NewTeammate,
    NewWorkspace, PersonType, Result, Segment, Session, SortOrder, StoreError, Tag, Teammate, TeammateRole,
    UpsertReport, Workspace,
};

type DbRow = <Db as sqlx::Database>::Row;
type Q<'q> = sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>;

/// The store for this dialect. SQLite allows one writer at a time, so writes go through a pool
/// of one connection there (no "database is locked" under load); PostgreSQL uses one pool.
pub struct Store {
    reader: sqlx::Pool<Db>,
    writer: sqlx::Pool<Db>,
    /// Expression indexes on custom attributes known to exist or being built (see
    /// `index_custom_attributes_later`).
    indexed: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// Columns of `contacts` in the order `bind_contact` binds them (the id comes first in reads).
const CONTACT_COLUMNS: &[&str] = &[
    "workspace_id",
    "role",
    "external_id",
    "email",
    "email_domain",
    "phone",
    "name",
    "avatar",
    "owner_id",
    "unsubscribed_from_emails",
    "marked_email_as_spam",
    "has_hard_bounced",
    "created_at",
    "updated_at",
    "signed_up_at",
    "last_seen_at",
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "location_country",
    "location_region",
    "location_city",
    "timezone",
    "custom_attributes",
    "archived",
];

/// Sortable columns of `contacts` that are NOT NULL (see the migrations).
const NOT_NULL_SORTS: &[&str] =
    &["id", "role", "created_at", "updated_at", "unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced"];

/// `c.id, c.workspace_id, …` for reading contacts.
static CONTACT_SELECT: LazyLock<String> = LazyLock::new(|| {
    let cols: Vec<String> = std::iter::once("id")
        .chain(CONTACT_COLUMNS.iter().copied())
        .map(|c| match (c, DIALECT) {
            ("custom_attributes", Dialect::Postgres) => "c.custom_attributes::text AS custom_attributes".to_owned(),
            _ => format!("c.{c}"),
        })
        .collect();
    cols.join(", ")
});

/// The placeholder for a JSON value bound as text.
fn json_param(p: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => p.to_owned(),
        Dialect::Postgres => format!("{p}::jsonb"),
    }
}

/// `($2, $3, …)` for one contact row starting after `offset` parameters.
///
/// SQLite gets anonymous `?`s instead, numbered in order of appearance (the same numbers here,
/// as these statements hold nothing else): it finds the number of a `$N` by walking a list of
/// every parameter name, once per parameter per execution, so a 500-row INSERT (15,500
/// parameters) spent most of its time binding — about 1 s per 500 rows.
fn contact_placeholders(offset: usize) -> String {
    let ps: Vec<String> = CONTACT_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = match DIALECT {
                Dialect::Sqlite => "?".to_owned(),
                Dialect::Postgres => format!("${}", offset + i + 1),
            };
            if *c == "custom_attributes" { json_param(&p) } else { p }
        })
        .collect();
    format!("({})", ps.join(", "))
}

fn bind_contact<'q>(q: Q<'q>, c: &Contact) -> Q<'q> {
    q.bind(c.workspace_id)
        .bind(c.role.as_str())
        .bind(c.external_id.clone())
        .bind(c.email.clone())
        .bind(c.email_domain())
        .bind(c.phone.clone())
        .bind(c.name.clone())
        .bind(c.avatar.clone())
        .bind(c.owner_id)
        .bind(c.unsubscribed_from_emails)
        .bind(c.marked_email_as_spam)
        .bind(c.has_hard_bounced)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.signed_up_at)
        .bind(c.last_seen_at)
        .bind(c.last_replied_at)
        .bind(c.last_contacted_at)
        .bind(c.last_email_opened_at)
        .bind(c.last_email_clicked_at)
        .bind(c.language_override.clone())
        .bind(c.browser.clone())
        .bind(c.browser_version.clone())
        .bind(c.browser_language.clone())
        .bind(c.os.clone())
        .bind(c.location_country.clone())
        .bind(c.location_region.clone())
        .bind(c.location_city.clone())
        .bind(c.timezone.clone())
        // Serialised straight from the map: cloning it into a `Json` first cost a copy per row.
        .bind(serde_json::to_string(&c.custom_attributes).unwrap_or_else(|_| "{}".to_owned()))
        .bind(c.archived)
}

fn contact_from_row(row: &DbRow) -> Result<Contact> {
    let role: String = row.try_get("role")?;
    let custom: String = row.try_get("custom_attributes")?;
    let custom_attributes = match serde_json::from_str(&custom) {
        Ok(Json::Object(m)) => m,
        _ => return Err(StoreError::Corrupt(format!("custom_attributes of contact is not an object: {custom}"))),
    };
    Ok(Contact {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        external_id: row.try_get("external_id")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        name: row.try_get("name")?,
        avatar: row.try_get("avatar")?,
        owner_id: row.try_get("owner_id")?,
        unsubscribed_from_emails: row.try_get("unsubscribed_from_emails")?,
        marked_email_as_spam: row.try_get("marked_email_as_spam")?,
        has_hard_bounced: row.try_get("has_hard_bounced")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        signed_up_at: row.try_get("signed_up_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        last_replied_at: row.try_get("last_replied_at")?,
        last_contacted_at: row.try_get("last_contacted_at")?,
        last_email_opened_at: row.try_get("last_email_opened_at")?,
        last_email_clicked_at: row.try_get("last_email_clicked_at")?,
        language_override: row.try_get("language_override")?,
        browser: row.try_get("browser")?,
        browser_version: row.try_get("browser_version")?,
        browser_language: row.try_get("browser_language")?,
        os: row.try_get("os")?,
        location_country: row.try_get("location_country")?,
        location_region: row.try_get("location_region")?,
        location_city: row.try_get("location_city")?,
        timezone: row.try_get("timezone")?,
        custom_attributes,
        archived: row.try_get("archived")?,
    })
}

fn bind_param<'q>(q: Q<'q>, p: &SqlParam) -> Q<'q> {
    match p {
        SqlParam::Text(s) => q.bind(s.clone()),
        SqlParam::Int(i) => q.bind(*i),
        SqlParam::Float(f) => q.bind(*f),
        SqlParam::Bool(b) => q.bind(*b),
    }
}

fn conflict(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict { what: what.to_owned(), existing_id: None }
        }
        _ => StoreError::Database(e),
    }
}

fn workspace_from_row(row: &DbRow) -> Result<Workspace> {
    let origins: String = row.try_get("allowed_origins")?;
    Ok(Workspace {
        id: row.try_get("id")?,
        app_id: row.try_get("app_id")?,
        name: row.try_get("name")?,
        timezone: row.try_get("timezone")?,
        identity_secret: row.try_get("identity_secret")?,
        identity_secret_rotated_at: row.try_get("identity_secret_rotated_at")?,
        identity_required: row.try_get("identity_required")?,
        allowed_origins: serde_json::from_str(&origins).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        email: EmailSettings {
            secret: row.try_get::<Option<String>, _>("email_secret")?.unwrap_or_default(),
            from: row.try_get("email_from")?,
            reply_to: row.try_get("email_reply_to")?,
            smtp_url: row.try_get("smtp_url")?,
            tracking: row.try_get("email_tracking")?,
            rate_per_minute: row.try_get("email_rate_per_minute")?,
            dkim: match (row.try_get::<Option<String>, _>("dkim_selector")?, row.try_get("dkim_private_key")?) {
                (Some(selector), Some(private_key)) => {
                    Some(DkimKey { domain: row.try_get("dkim_domain")?, selector, private_key })
                }
                _ => None,
            },
        },
        messenger_color: row.try_get("messenger_color")?,
        messenger_greeting: row.try_get("messenger_greeting")?,
        reply_email_after: row.try_get("reply_email_after")?,
    })
}

fn teammate_from_row(row: &DbRow) -> Result<Teammate> {
    let role: String = row.try_get("role")?;
    Ok(Teammate {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        role: parse_role(&role)?,
        job_title: row.try_get("job_title")?,
        away_mode_enabled: row.try_get("away_mode_enabled")?,
        avatar_url: row.try_get("avatar_url")?,
        created_at: row.try_get("created_at")?,
    })
}

fn token_from_row(row: &DbRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        teammate_id: row.try_get("teammate_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn attribute_from_row(row: &DbRow) -> Result<CustomAttribute> {
    let data_type: String = row.try_get("data_type")?;
    let options: String = row.try_get("options")?;
    Ok(CustomAttribute {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        data_type: DataType::parse(&data_type)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown data type {data_type}")))?,
        label: row.try_get("label")?,
        description: row.try_get("description")?,
        options: serde_json::from_str(&options).unwrap_or_default(),
        messenger_writable: row.try_get("messenger_writable")?,
        archived: row.try_get("archived")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        admin_id: row.try_get("admin_id")?,
    })
}

fn tag_from_row(row: &DbRow) -> Result<Tag> {
    Ok(Tag { id: row.try_get("id")?, name: row.try_get("name")?, created_at: row.try_get("created_at")? })
}

fn segment_from_row(row: &DbRow) -> Result<Segment> {
    let person: String = row.try_get("person_type")?;
    let query: String = row.try_get("query")?;
    Ok(Segment {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        person_type: PersonType::parse(&person).unwrap_or(PersonType::User),
        query: serde_json::from_str(&query).map_err(|e| StoreError::Corrupt(format!("segment query: {e}")))?,
        builtin: row.try_get("builtin")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `$a, $b, …` for `n` parameters after `offset`.
fn placeholders(offset: usize, n: usize) -> String {
    (offset + 1..=offset + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Rows per multi-row INSERT: keeps a statement well under both dialects' parameter limits.
const INSERT_CHUNK: usize = 500;
/// Values per `IN (…)` list.
const IN_CHUNK: usize = 500;

impl Store {
    async fn migrate(&self) -> Result<()> {
        let mut conn = self.writer.acquire().await?;
        if DIALECT == Dialect::Postgres {
            // Two servers starting at once must not both apply a migration.
            sqlx::query("SELECT pg_advisory_lock(7242)").execute(&mut *conn).await?;
        }
        let result = self.migrate_locked(&mut conn).await;
        if DIALECT == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7242)").execute(&mut *conn).await?;
        }
        result
    }

    async fn migrate_locked(&self, conn: &mut sqlx::pool::PoolConnection<Db>) -> Result<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut **conn)
        .await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut **conn)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tracing::info!(version, name, "applying migration");
            let mut tx = sqlx::Connection::begin(&mut **conn).await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(*version)
                .bind(*name)
                .bind(jiff::Timestamp::now().as_second())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    async fn contacts_where(&self, ws: i64, clause: &str, params: &[SqlParam]) -> Result<Vec<Contact>> {
        let sql = format!("SELECT {} FROM contacts c WHERE c.workspace_id = $1 AND {clause}", *CONTACT_SELECT);
        let mut q = sqlx::query(&sql).bind(ws);
        for p in params {
            q = bind_param(q, p);
        }
        q.fetch_all(&self.reader).await?.iter().map(contact_from_row).collect()
    }

    async fn one_contact(&self, ws: i64, clause: &str, param: SqlParam) -> Result<Option<Contact>> {
        Ok(self.contacts_where(ws, clause, &[param]).await?.into_iter().next())
    }
}

#[async_trait]
impl crate::Store for Store {
    fn dialect(&self) -> Dialect {
        DIALECT
    }

    async fn custom_attributes(&self, ws: i64) -> Result<Vec<CustomAttribute>> {
        let rows = sqlx::query("SELECT * FROM data_attributes WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(attribute_from_row).collect()
    }

    async fn create_custom_attribute(&self, ws: i64, a: &CustomAttribute) -> Result<CustomAttribute> {
        let row = sqlx::query(
            "INSERT INTO data_attributes (workspace_id, name, label, description, data_type, options, messenger_writable, archived, admin_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
        )
        .bind(ws)
        .bind(&a.name)
        .bind(&a.label)
        .bind(&a.description)
        .bind(a.data_type.as_str())
        .bind(serde_json::to_string(&a.options).unwrap_or_else(|_| "[]".into()))
        .bind(a.messenger_writable)
        .bind(a.archived)
        .bind(a.admin_id)
        .bind(a.created_at)
        .bind(a.updated_at)
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict(e, "an attribute with this name"))?;
        attribute_from_row(&row)
    }

    async fn update_custom_attribute(&self, ws: i64, a: &CustomAttribute) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE data_attributes SET label = $3, description = $4, options = $5, messenger_writable = $6, archived = $7, updated_at = $8 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(a.id)
        .bind(&a.label)
        .bind(&a.description)
        .bind(serde_json::to_string(&a.options).unwrap_or_else(|_| "[]".into()))
        .bind(a.messenger_writable)
        .bind(a.archived)
        .bind(a.updated_at)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_contact(&self, contact: &Contact) -> Result<Contact> {
        let sql = format!(
            "INSERT INTO contacts ({}) VALUES {} RETURNING id",
            CONTACT_COLUMNS.join(", "),
            contact_placeholders(0)
        );
        let row = bind_contact(sqlx::query(&sql), contact).fetch_one(&self.writer).await;
        match row {
            Ok(row) => Ok(Contact { id: row.try_get(0)?, ..contact.clone() }),
            Err(e) => {
                let err = conflict(e, "A contact matching those details");
                if let StoreError::Conflict { what, .. } = err {
                    let existing = self.matching_contact(contact).await?.map(|c| c.id);
                    return Err(StoreError::Conflict { what, existing_id: existing });
                }
                Err(err)
            }
        }
    }

    async fn update_contact(&self, contact: &Contact) -> Result<bool> {
        let sets: Vec<String> = CONTACT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = format!("${}", i + 1);
                format!("{c} = {}", if *c == "custom_attributes" { json_param(&p) } else { p })
            })
            .collect();
        let n = CONTACT_COLUMNS.len();
        let sql =
            format!("UPDATE contacts SET {} WHERE workspace_id = ${} AND id = ${}", sets.join(", "), n + 1, n + 2);
        let done = bind_contact(sqlx::query(&sql), contact)
            .bind(contact.workspace_id)
            .bind(contact.id)
            .execute(&self.writer)
            .await;
        match done {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) => {
                let err = conflict(e, "A contact matching those details");
                if let StoreError::Conflict { what, .. } = err {
                    let existing = self.matching_contact(contact).await?.map(|c| c.id).filter(|id| *id != contact.id);
                    return Err(StoreError::Conflict { what, existing_id: existing });
                }
                Err(err)
            }
        }
    }

    async fn contact(&self, ws: i64, id: i64) -> Result<Option<Contact>> {
        self.one_contact(ws, "c.id = $2", SqlParam::Int(id)).await
    }

    async fn contacts_by_ids(&self, ws: i64, ids: &[i64]) -> Result<Vec<Contact>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        // One lookup by id each (`contacts_by_id`): a few contacts of a large workspace, as the
        // Inbox reads its page's, cost a few lookups rather than a walk of the whole workspace.
        let sql = format!("SELECT {} FROM {}", *CONTACT_SELECT, contacts_by_id());
        let rows = bind_ids(sqlx::query(&sql).bind(ws), &ids).fetch_all(&self.reader).await?;
        rows.iter().map(contact_from_row).collect()
    }

    async fn contact_by_external_id(&self, ws: i64, external_id: &str) -> Result<Option<Contact>> {
        self.one_contact(ws, "c.external_id = $2", SqlParam::Text(external_id.to_owned())).await
    }

    async fn user_by_email(&self, ws: i64, email: &str) -> Result<Option<Contact>> {
        self.one_contact(ws, "c.email = $2 AND c.role = 'user'", SqlParam::Text(email.to_owned())).await
    }

    async fn touch_contacts(&self, ws: i64, ids: &[i64], now: i64) -> Result<u64> {
        let mut done = 0;
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!(
                "UPDATE contacts SET last_seen_at = $2 WHERE workspace_id = $1 AND archived = FALSE AND id IN ({})",
                placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(ws).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            done += q.execute(&self.writer).await?.rows_affected();
        }
        Ok(done)
    }

    async fn delete_contact(&self, ws: i64, id: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        // Deliveries carry no foreign key (it slowed every send): they go with their contact here.
        sqlx::query("DELETE FROM deliveries WHERE workspace_id = $1 AND contact_id = $2")
            .bind(ws)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_contact_archived(&self, ws: i64, id: i64, archived: bool, now: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE contacts SET archived = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(id)
                .bind(archived)
                .bind(now)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn search_contacts(&self, ws: i64, query: &ContactQuery) -> Result<(Vec<Contact>, i64)> {
        self.index_custom_attributes_later(query.pred.as_ref());
        let mut filter = Sql::new(1);
        match &query.pred {
            Some(p) => compile(p, DIALECT, "c", &mut filter),
            None => filter.text.push_str("TRUE"),
        }
        let column = match &query.sort {
            Some(Target::Column(b)) => b.column,
            _ => "created_at",
        };
        let dir = match query.order {
            SortOrder::Ascending => "ASC",
            SortOrder::Descending => "DESC",
        };
        let where_ = format!("c.workspace_id = $1 AND c.archived = FALSE AND {}", filter.text);
        let total = self.count_contacts_matching(ws, query.pred.as_ref()).await?;
        if total == 0 || query.limit <= 0 || query.offset >= total {
            return Ok((Vec::new(), total));
        }
        // NULLS LAST only where there can be NULLs: on a NOT NULL column it changes nothing, but
        // it stops PostgreSQL from reading `created_at DESC` off the (workspace_id, created_at)
        // index (a backward scan gives NULLS FIRST), so every match was sorted to find 50.
        let nulls = if NOT_NULL_SORTS.contains(&column) { "" } else { " NULLS LAST" };
        let page_sql = format!(
            "SELECT {} FROM {} WHERE {where_} ORDER BY c.{column} {dir}{nulls}, c.id {dir} LIMIT {} OFFSET {}",
            *CONTACT_SELECT,
            contacts_read_by(query.pred.as_ref()),
            query.limit.clamp(0, 10_000),
            query.offset.max(0)
        );
        let mut q = sqlx::query(&page_sql).bind(ws);
        for p in &filter.params {
            q = bind_param(q, p);
        }
        let contacts = q.fetch_all(&self.reader).await?.iter().map(contact_from_row).collect::<Result<_>>()?;
        Ok((contacts, total))
    }

    async fn count_contacts(&self, ws: i64, pred: Option<&Pred>) -> Result<i64> {
        self.index_custom_attributes_later(pred);
        self.count_contacts_matching(ws, pred).await
    }

    async fn index_custom_attributes(&self, pred: &Pred) -> Result<()> {
        for (name, data_type) in custom_targets(pred) {
            let Some(index) = CustomIndex::new(&name, data_type) else { continue };
            build_custom_index(&self.writer, &index).await?;
            if let Ok(mut known) = self.indexed.lock() {
                known.insert(index.name);
            }
        }
        Ok(())
    }

    async fn upsert_contacts(&self, ws: i64, inputs: &[ContactInput], now: i64) -> Result<UpsertReport> {
        self.upsert_batch(ws, inputs, now).await
    }

    async fn load_contacts(
        &self,
        ws: i64,
        expected: u64,
        now: i64,
        batches: tokio::sync::mpsc::Receiver<Vec<ContactInput>>,
        reports: tokio::sync::mpsc::Sender<UpsertReport>,
    ) -> Result<Loaded> {
        self.load(ws, expected, now, batches, reports).await
    }

    async fn contacts_after(&self, ws: i64, after: i64, limit: i64) -> Result<Vec<Contact>> {
        let sql = format!(
            "SELECT {} FROM contacts c WHERE c.workspace_id = $1 AND c.id > $2 ORDER BY c.id LIMIT $3",
            *CONTACT_SELECT
        );
        let rows = sqlx::query(&sql).bind(ws).bind(after).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(contact_from_row).collect()
    }

    async fn execute_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::raw_sql(sql).execute(&self.writer).await?.rows_affected())
    }

    async fn scalar_raw(&self, sql: &str) -> Result<i64> {
        Ok(sqlx::query(sql).fetch_one(&self.reader).await?.try_get(0)?)
    }

    async fn strings_raw(&self, sql: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(sql).fetch_all(&self.reader).await?;
        rows.iter().map(|r| r.try_get::<String, _>(0).map_err(StoreError::from)).collect()
    }
}

/// The contacts table, aliased `c`, as a search for `pred` reads it: on SQLite, a lookup by key
/// through that key's index (`lookup_index`), and its few matches sorted for a page.
fn contacts_read_by(pred: Option<&Pred>) -> String {
    let hint = match DIALECT {
        Dialect::Sqlite => pred.and_then(lookup_index).unwrap_or(""),
        Dialect::Postgres => "",
    };
    format!("contacts c{hint}")
}

impl Store {
    /// How many of `ws`'s live contacts `pred` selects: one count, or the sum of the counts of
    /// disjoint parts where an OR's alternatives each have an index (`count_parts`) and its tags
    /// are small enough to read one contact at a time (`few_tagged`, on SQLite).
    async fn count_contacts_matching(&self, ws: i64, pred: Option<&Pred>) -> Result<i64> {
        const SCOPE: &str = "c.workspace_id = $1 AND c.archived = FALSE";
        let mut sql = Sql::new(1);
        let mut parts = pred.and_then(|p| count_parts(p, DIALECT, "c", "$1", &mut sql));
        if let Some(ps) = &parts {
            let tags: Vec<i64> = ps.iter().filter_map(|p| p.tag).collect();
            if !self.few_tagged(&tags).await? {
                (parts, sql) = (None, Sql::new(1));
            }
        }
        let text = match (pred, parts) {
            (_, Some(parts)) => {
                let counts: Vec<String> = parts.iter().map(|p| format!("({})", p.sql)).collect();
                format!("SELECT {}", counts.join(" + "))
            }
            (Some(p), None) => {
                compile(p, DIALECT, "c", &mut sql);
                format!("SELECT COUNT(*) FROM {} WHERE {SCOPE} AND {}", contacts_read_by(Some(p)), sql.text)
            }
            (None, None) => format!("SELECT COUNT(*) FROM contacts c WHERE {SCOPE}"),
        };
        let mut q = sqlx::query(&text).bind(ws);
        for p in &sql.params {
            q = bind_param(q, p);
        }
        Ok(q.fetch_one(&self.reader).await?.try_get(0)?)
    }

    /// Whether `tags` hold few enough contacts to read one by one rather than test every contact
    /// (`count_parts`, on SQLite): a lookup by id costs four to five times a contact's share of
    /// a scan (2.2 against 0.46 µs over a million contacts), so at most a fifth of the contacts
    /// there are (the highest id stands for their number), and always up to 20,000 (a few tens
    /// of milliseconds).
    async fn few_tagged(&self, tags: &[i64]) -> Result<bool> {
        if tags.is_empty() {
            return Ok(true);
        }
        let mut list = Sql::new(0);
        let marks: Vec<String> = tags.iter().map(|t| list.bind(SqlParam::Int(*t))).collect();
        let text = format!(
            "SELECT (SELECT COUNT(*) FROM contact_tags WHERE tag_id IN ({})), (SELECT COALESCE(MAX(id), 0) FROM contacts)",
            marks.join(", ")
        );
        let mut q = sqlx::query(&text);
        for p in &list.params {
            q = bind_param(q, p);
        }
        let row = q.fetch_one(&self.reader).await?;
        let (tagged, highest): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok(tagged <= (highest / 5).max(20_000))
    }

    /// Starts building, in the background, the expression index (`custom_index`) of each custom
    /// attribute `pred` filters on that has none yet; the search that asks goes on without it.
    /// An attribute that is never searched costs imports and updates nothing, and one that is, is
    /// read through its index from then on (the compiled filter reads the very expression
    /// indexed). An index is per attribute name, for every workspace, so building one reads every
    /// contact of the database (seconds for a million): a search that waited for it would take
    /// that long, and on SQLite every write would wait with it. If a build fails, the next search
    /// starts it again.
    fn index_custom_attributes_later(&self, pred: Option<&Pred>) {
        let Some(pred) = pred else { return };
        let wanted = claim_custom_indexes(&self.indexed, pred);
        if wanted.is_empty() {
            return;
        }
        let (writer, indexed) = (self.writer.clone(), self.indexed.clone());
        tokio::spawn(async move {
            for index in wanted {
                if let Err(e) = build_custom_index(&writer, &index).await {
                    tracing::warn!(attribute = %index.attribute, error = %e, "could not index a custom attribute");
                    if let Ok(mut known) = indexed.lock() {
                        known.remove(&index.name);
                    }
                }
            }
        });
    }

    /// The existing contact a new or changed one collides with, if any.
    async fn matching_contact(&self, c: &Contact) -> Result<Option<Contact>> {
        if let Some(e) = &c.external_id
            && let Some(found) =
                self.one_contact(c.workspace_id, "c.external_id = $2", SqlParam::Text(e.clone())).await?
        {
            return Ok(Some(found));
        }
        if let (Some(m), Role::User) = (&c.email, c.role) {
            return self
                .one_contact(c.workspace_id, "c.email = $2 AND c.role = 'user'", SqlParam::Text(m.clone()))
                .await;
        }
        Ok(None)
    }
}

/// The expression index that serves filters on one custom attribute (`custom_index`).
struct CustomIndex {
    attribute: String,
    name: String,
    columns: String,
    /// The index this one replaces, if an older Tidings built it: dropped once this exists.
    replaced: String,
}

impl CustomIndex {
    fn new(attribute: &str, data_type: DataType) -> Option<CustomIndex> {
        let (name, columns) = custom_index(attribute, data_type, DIALECT)?;
        Some(CustomIndex { attribute: attribute.to_owned(), name, columns, replaced: replaced_custom_index(attribute) })
    }
}

/// The indexes `pred`'s custom attributes call for that are neither known to exist nor being
/// built, now marked as being built in `indexed`.
fn claim_custom_indexes(
    indexed: &std::sync::Mutex<std::collections::HashSet<String>>,
    pred: &Pred,
) -> Vec<CustomIndex> {
    let Ok(mut known) = indexed.lock() else { return Vec::new() };
    custom_targets(pred)
        .into_iter()
        .filter_map(|(name, data_type)| CustomIndex::new(&name, data_type))
        .filter(|index| known.insert(index.name.clone()))
        .collect()
}
