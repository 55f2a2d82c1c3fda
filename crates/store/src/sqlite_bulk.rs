// How SQLite writes an upsert's batch (`imp_upsert.rs` decides what): multi-row statements of
// `BULK_ROWS` rows, each kept prepared by its text so a long import parses it once, and the rest
// of a batch in one shorter statement. Included by `sqlite.rs` after `imp.rs`.

/// Rows per bulk statement: 32 parameters each stays under SQLite's 32,766.
const BULK_ROWS: usize = 500;

/// `ws`'s contacts whose `column` is among the texts bound at `$2` (one JSON array).
fn contacts_by_key(column: &str) -> String {
    format!("contacts c WHERE c.workspace_id = $1 AND c.{column} IN (SELECT value FROM json_each($2))")
}

/// `ws`'s contacts whose id is among those bound at `$2` (`bind_ids`: one JSON array). CROSS
/// JOIN fixes the order, one rowid lookup per id: written as `id IN (…)`, SQLite walks the
/// workspace's creation-time index instead and checks every contact of the workspace.
fn contacts_by_id() -> String {
    "json_each($2) AS k CROSS JOIN contacts c WHERE c.id = k.value AND c.workspace_id = $1".to_owned()
}

fn bind_texts<'q>(q: Q<'q>, texts: &[&str]) -> Q<'q> {
    q.bind(serde_json::to_string(texts).unwrap_or_else(|_| "[]".to_owned()))
}

/// `ws`'s contacts, archived or not, whose email is among those bound at `$2` (`bind_emails`:
/// one JSON array of `[domain, email]`), one probe each of `contacts_search_email`, the index
/// that holds emails. `IS` matches a missing domain too (an email without one).
fn contacts_by_email() -> String {
    "json_each($2) AS k CROSS JOIN contacts c WHERE c.workspace_id = $1 AND c.archived IN (0, 1) \
     AND c.email_domain IS json_extract(k.value, '$[0]') AND c.email = json_extract(k.value, '$[1]')"
        .to_owned()
}

fn bind_emails<'q>(q: Q<'q>, emails: &[&str]) -> Q<'q> {
    let pairs: Vec<(Option<String>, &str)> =
        emails.iter().map(|e| (tidings_core::contact::email_domain(e), *e)).collect();
    q.bind(serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned()))
}

/// `n` ids no contact has had: the table counts with AUTOINCREMENT, so above both the largest
/// id and the largest ever given. The caller holds the write lock (`BEGIN IMMEDIATE`), so they
/// stay free until it writes them.
async fn reserve_contact_ids(tx: &mut sqlx::Transaction<'_, Db>, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let top: i64 = sqlx::query(
        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'contacts'), 0), \
         COALESCE((SELECT MAX(id) FROM contacts), 0))",
    )
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    Ok((top + 1..=top + n as i64).collect())
}

/// `(?, ?, …)` for a contact row with its id first.
fn id_and_contact_placeholders() -> String {
    format!("(?, {}", &contact_placeholders(0)[1..])
}

async fn insert_new_contacts(tx: &mut sqlx::Transaction<'_, Db>, rows: &[&Contact]) -> Result<()> {
    for chunk in rows.chunks(BULK_ROWS) {
        let sql = format!(
            "INSERT INTO contacts (id, {}) VALUES {}",
            CONTACT_COLUMNS.join(", "),
            vec![id_and_contact_placeholders(); chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = bind_contact(q.bind(c.id), c);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The columns of `contacts` that its indexes read (all but the custom attributes' indexes, on
/// expressions of `custom_attributes`): SQLite rewrites an index entry for every row an UPDATE
/// assigns one of them, even to the value it had.
const KEY_COLUMNS: &[&str] = &[
    "workspace_id",
    "role",
    "external_id",
    "email",
    "email_domain",
    "created_at",
    "signed_up_at",
    "last_seen_at",
    "archived",
];

/// Writes these contacts of `ws`, found by id: `changed` pairs each with what it was. Rows whose
/// indexed columns kept their values (most of a re-import) are written without those columns,
/// which leaves every index but the custom attributes' untouched; the others are written whole.
async fn update_changed_contacts(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    changed: &[(&Contact, &Contact)],
) -> Result<()> {
    // `email_domain` is written from `email`: the same email, the same domain.
    let same_keys = |(c, b): &&(&Contact, &Contact)| {
        c.workspace_id == b.workspace_id
            && c.role == b.role
            && c.external_id == b.external_id
            && c.email == b.email
            && c.created_at == b.created_at
            && c.signed_up_at == b.signed_up_at
            && c.last_seen_at == b.last_seen_at
            && c.archived == b.archived
    };
    let light: Vec<&Contact> = changed.iter().filter(same_keys).map(|(c, _)| *c).collect();
    let whole: Vec<&Contact> = changed.iter().filter(|p| !same_keys(p)).map(|(c, _)| *c).collect();
    update_columns(tx, ws, &light, |col| !KEY_COLUMNS.contains(&col)).await?;
    update_columns(tx, ws, &whole, |_| true).await
}

/// One multi-row `UPDATE … FROM (VALUES …)` per `BULK_ROWS` contacts, assigning the columns
/// `write` picks (every row carries all of them; `VALUES` names its columns column1 (the id),
/// column2, …).
async fn update_columns(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    rows: &[&Contact],
    write: impl Fn(&str) -> bool,
) -> Result<()> {
    let (names, values): (Vec<&str>, Vec<String>) = CONTACT_COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, c)| write(c))
        .map(|(i, c)| (*c, format!("v.column{}", i + 2)))
        .unzip();
    for chunk in rows.chunks(BULK_ROWS) {
        let sql = format!(
            "UPDATE contacts SET ({}) = ({}) FROM (VALUES {}) AS v \
             WHERE contacts.id = v.column1 AND contacts.workspace_id = ?",
            names.join(", "),
            values.join(", "),
            vec![id_and_contact_placeholders(); chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = bind_contact(q.bind(c.id), c);
        }
        q.bind(ws).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Drops the contacts table's indexes in `tx` (a bulk load's, which holds the write lock), and
/// returns the statements that build them back, as they were. Those of its UNIQUE and PRIMARY
/// KEY constraints have no statement and stay.
async fn drop_contact_indexes(tx: &mut sqlx::Transaction<'_, Db>) -> Result<Vec<String>> {
    let indexes = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' AND sql IS NOT NULL",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut rebuild = Vec::with_capacity(indexes.len());
    for row in &indexes {
        let (name, sql): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query(&format!("DROP INDEX \"{name}\"")).execute(&mut **tx).await?;
        rebuild.push(sql);
    }
    Ok(rebuild)
}
