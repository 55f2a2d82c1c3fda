// How PostgreSQL writes an upsert's batch (`imp_upsert.rs` decides what): new contacts stream
// into the table with one COPY; changed ones stream into a temporary table of this connection
// and are written by one `UPDATE … FROM` it. A COPY sends rows as text with no statement to
// parse or plan per row and no parameter limit. Included by `postgres.rs` after `imp.rs`.

/// Bytes of COPY data sent at a time: the server parses one while the next is encoded.
const COPY_CHUNK: usize = 1 << 18;

/// `ws`'s contacts whose `column` is among the texts bound at `$2` (one `text[]`).
///
/// Until the table has statistics (a first import), PostgreSQL takes a long list for "almost
/// every row" and scans the whole workspace, which makes an import quadratic. One index probe
/// per value is the plan that holds with or without statistics; OFFSET 0 keeps the subquery
/// from being flattened. Run unprepared (see `load_matches`), so each batch gets its own plan.
fn contacts_by_key(column: &str) -> String {
    format!(
        "unnest($2::text[]) AS k(v) CROSS JOIN LATERAL \
         (SELECT * FROM contacts WHERE workspace_id = $1 AND {column} = k.v OFFSET 0) c"
    )
}

/// `ws`'s contacts whose id is among those bound at `$2` (`bind_ids`), one probe each as above:
/// without statistics, `id = ANY($2)` can also be planned as a scan of the whole workspace.
fn contacts_by_id() -> String {
    "unnest($2::bigint[]) AS k(v) CROSS JOIN LATERAL \
     (SELECT * FROM contacts WHERE workspace_id = $1 AND id = k.v OFFSET 0) c"
        .to_owned()
}

fn bind_texts<'q>(q: Q<'q>, texts: &[&str]) -> Q<'q> {
    q.bind(texts.iter().map(|t| (*t).to_owned()).collect::<Vec<String>>())
}

/// `ws`'s contacts, archived or not, whose email is among those bound at `$3` with their
/// domains at `$2` (`bind_emails`): probes of `contacts_search_email` as above, the index that
/// holds emails, one for live contacts and one for archived. Each names every column of the
/// index: with `archived IN (…)` PostgreSQL planned a new workspace's probes as a walk of all
/// of the workspace's entries, testing the rest on each, which grows with every batch. An email
/// without a domain has none to probe: every email the importer takes has one
/// (`plausible_email`).
fn contacts_by_email() -> String {
    "unnest($2::text[], $3::text[]) AS k(d, v) CROSS JOIN (VALUES (FALSE), (TRUE)) AS a(archived) \
     CROSS JOIN LATERAL (SELECT * FROM contacts WHERE workspace_id = $1 AND archived = a.archived \
     AND (email_domain COLLATE \"C\") = k.d AND email = k.v OFFSET 0) c"
        .to_owned()
}

fn bind_emails<'q>(q: Q<'q>, emails: &[&str]) -> Q<'q> {
    let domains: Vec<Option<String>> = emails.iter().map(|e| tidings_core::contact::email_domain(e)).collect();
    q.bind(domains).bind(emails.iter().map(|t| (*t).to_owned()).collect::<Vec<String>>())
}

/// `n` ids from the table's own sequence, as the rows would have taken them.
async fn reserve_contact_ids(tx: &mut sqlx::Transaction<'_, Db>, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT nextval(pg_get_serial_sequence('contacts', 'id')) FROM generate_series(1, $1)")
        .bind(n as i64)
        .fetch_all(&mut **tx)
        .await?;
    let mut ids = rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<Vec<i64>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Appends a text field of COPY's text format: backslash, tab, newline and carriage return
/// escaped.
fn copy_text(buf: &mut String, v: &str) {
    for ch in v.chars() {
        match ch {
            '\\' => buf.push_str("\\\\"),
            '\t' => buf.push_str("\\t"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            _ => buf.push(ch),
        }
    }
}

/// One contact as a line of COPY text: its id, then `CONTACT_COLUMNS` in order.
fn copy_line(buf: &mut String, c: &Contact) {
    use std::fmt::Write as _;
    fn text(buf: &mut String, v: Option<&str>) {
        buf.push('\t');
        match v {
            Some(v) => copy_text(buf, v),
            None => buf.push_str("\\N"),
        }
    }
    fn int(buf: &mut String, v: Option<i64>) {
        buf.push('\t');
        match v {
            Some(v) => {
                let _ = write!(buf, "{v}");
            }
            None => buf.push_str("\\N"),
        }
    }
    fn boolean(buf: &mut String, v: bool) {
        buf.push_str(if v { "\tt" } else { "\tf" });
    }
    let _ = write!(buf, "{}", c.id);
    int(buf, Some(c.workspace_id));
    text(buf, Some(c.role.as_str()));
    text(buf, c.external_id.as_deref());
    text(buf, c.email.as_deref());
    text(buf, c.email_domain().as_deref());
    text(buf, c.phone.as_deref());
    text(buf, c.name.as_deref());
    text(buf, c.avatar.as_deref());
    int(buf, c.owner_id);
    boolean(buf, c.unsubscribed_from_emails);
    boolean(buf, c.marked_email_as_spam);
    boolean(buf, c.has_hard_bounced);
    int(buf, Some(c.created_at));
    int(buf, Some(c.updated_at));
    int(buf, c.signed_up_at);
    int(buf, c.last_seen_at);
    int(buf, c.last_replied_at);
    int(buf, c.last_contacted_at);
    int(buf, c.last_email_opened_at);
    int(buf, c.last_email_clicked_at);
    text(buf, c.language_override.as_deref());
    text(buf, c.browser.as_deref());
    text(buf, c.browser_version.as_deref());
    text(buf, c.browser_language.as_deref());
    text(buf, c.os.as_deref());
    text(buf, c.location_country.as_deref());
    text(buf, c.location_region.as_deref());
    text(buf, c.location_city.as_deref());
    text(buf, c.timezone.as_deref());
    text(buf, Some(&serde_json::to_string(&c.custom_attributes).unwrap_or_else(|_| "{}".to_owned())));
    boolean(buf, c.archived);
    buf.push('\n');
}

/// Streams `rows` into `table` (id, then `CONTACT_COLUMNS`) with one COPY.
async fn copy_contacts(tx: &mut sqlx::Transaction<'_, Db>, table: &str, rows: &[&Contact]) -> Result<()> {
    let mut copy = (**tx).copy_in_raw(&format!("COPY {table} (id, {}) FROM STDIN", CONTACT_COLUMNS.join(", "))).await?;
    let mut buf = String::with_capacity(COPY_CHUNK + 4096);
    let mut sent: std::result::Result<(), sqlx::Error> = Ok(());
    for c in rows {
        copy_line(&mut buf, c);
        if buf.len() >= COPY_CHUNK {
            sent = copy.send(buf.as_bytes()).await.map(|_| ());
            if sent.is_err() {
                break;
            }
            buf.clear();
        }
    }
    if sent.is_ok() && !buf.is_empty() {
        sent = copy.send(buf.as_bytes()).await.map(|_| ());
    }
    match sent {
        Ok(()) => {
            copy.finish().await?;
            Ok(())
        }
        Err(e) => {
            // Leaves the connection usable for the rollback that follows.
            let _ = copy.abort("the upsert stopped").await;
            Err(e.into())
        }
    }
}

async fn insert_new_contacts(tx: &mut sqlx::Transaction<'_, Db>, rows: &[&Contact]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    copy_contacts(tx, "contacts", rows).await
}

/// Writes every column of these contacts of `ws`, found by id (`changed` pairs each with what it
/// was, which only SQLite's writer reads).
async fn update_changed_contacts(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    changed: &[(&Contact, &Contact)],
) -> Result<()> {
    let rows: Vec<&Contact> = changed.iter().map(|(c, _)| *c).collect();
    if rows.is_empty() {
        return Ok(());
    }
    // The connection's own table, emptied at every commit; created once per connection.
    let exists: bool = sqlx::query("SELECT to_regclass('pg_temp.contacts_changed') IS NOT NULL")
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    if exists {
        // Empty after a commit, but a bulk load writes all its batches before its only one.
        sqlx::query("TRUNCATE contacts_changed").execute(&mut **tx).await?;
    } else {
        sqlx::query("CREATE TEMPORARY TABLE contacts_changed (LIKE contacts) ON COMMIT DELETE ROWS")
            .execute(&mut **tx)
            .await?;
    }
    copy_contacts(tx, "contacts_changed", &rows).await?;
    // A table filled by this import has no statistics yet: PostgreSQL then guesses that the
    // workspace holds a few hundred contacts, reads all of them (a million, in a re-import) and
    // hashes the join, once per batch. One primary-key probe per changed row is the plan that
    // holds; these settings last until the transaction ends.
    sqlx::query(
        "SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), \
         set_config('enable_bitmapscan', 'off', true), set_config('enable_material', 'off', true)",
    )
    .execute(&mut **tx)
    .await?;
    let sets: Vec<String> = CONTACT_COLUMNS.iter().map(|c| format!("s.{c}")).collect();
    let sql = format!(
        "UPDATE contacts c SET ({}) = ({}) FROM contacts_changed s WHERE c.workspace_id = $1 AND c.id = s.id",
        CONTACT_COLUMNS.join(", "),
        sets.join(", ")
    );
    sqlx::query(&sql).bind(ws).persistent(false).execute(&mut **tx).await?;
    Ok(())
}

/// Drops the contacts table's secondary indexes and foreign keys in `tx` (a bulk load's, which
/// holds the table alone), and returns the statements that build them back, as they were.
async fn drop_contact_indexes(tx: &mut sqlx::Transaction<'_, Db>) -> Result<Vec<String>> {
    // Indexes that back a constraint (the primary key) stay: every lookup by id reads it.
    let indexes = sqlx::query(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'contacts' \
         AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'contacts'::regclass)",
    )
    .fetch_all(&mut **tx)
    .await?;
    let keys = sqlx::query(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = 'contacts'::regclass AND contype = 'f'",
    )
    .fetch_all(&mut **tx)
    .await?;
    // Sorting in memory: building an index over a million rows in 64 MiB spills to disk.
    let mut rebuild = vec!["SET LOCAL maintenance_work_mem = '256MB'".to_owned()];
    for row in &indexes {
        let (name, def): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query(&format!("DROP INDEX \"{name}\"")).execute(&mut **tx).await?;
        rebuild.push(def);
    }
    for row in &keys {
        let (name, def): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query(&format!("ALTER TABLE contacts DROP CONSTRAINT \"{name}\"")).execute(&mut **tx).await?;
        rebuild.push(format!("ALTER TABLE contacts ADD CONSTRAINT \"{name}\" {def}"));
    }
    Ok(rebuild)
}
