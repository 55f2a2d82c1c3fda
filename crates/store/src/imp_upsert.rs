// Creating or updating contacts in bulk (`Store::upsert_contacts`, the import's and the bulk
// API's write path), shared by both dialects. Included after `imp.rs`, whose imports and helpers
// it uses: each batch is matched against the contacts it could update, checked for collisions
// inside itself, written and tagged in one transaction.
//
// What to write is decided here, in Rust, once for both databases; how it is written is each
// dialect's own (`sqlite_bulk.rs`: multi-row statements kept prepared; `postgres_bulk.rs`:
// COPY). New contacts get their ids before they are written, so tagging them needs no lookup.

/// A contact taking part in an upsert batch, and what it was before.
struct Slot {
    contact: Contact,
    was: Was,
}

enum Was {
    /// Created by this batch.
    New,
    /// Read, and not changed (yet): kept once, not copied for every contact a batch reads.
    Same,
    /// Read, then changed: what it was.
    Before(Box<Contact>),
}

impl Slot {
    fn is_new(&self) -> bool {
        matches!(self.was, Was::New)
    }

    /// What the contact was, when the batch changed it.
    fn changed_from(&self) -> Option<&Contact> {
        match &self.was {
            Was::Before(b) if **b != self.contact => Some(b),
            _ => None,
        }
    }

    /// Whether the contact came from the table with the external id and email it has now.
    fn kept_keys(&self) -> bool {
        match &self.was {
            Was::New => false,
            Was::Same => true,
            Was::Before(b) => b.external_id == self.contact.external_id && b.email == self.contact.email,
        }
    }
}

impl Store {
    /// `Store::upsert_contacts`: one batch in one transaction. On PostgreSQL another writer
    /// (a run of the same import that took this one over, an API call) can create a contact
    /// with one of the batch's keys after the batch read none: the batch then breaks a unique
    /// index, and is read and decided again, seeing that contact.
    async fn upsert_batch(&self, ws: i64, inputs: &[ContactInput], now: i64) -> Result<UpsertReport> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upsert_batch_once(ws, inputs, now).await {
                Err(e) if is_unique_violation(&e) && attempt < UPSERT_ATTEMPTS => {}
                done => return done,
            }
        }
    }

    async fn upsert_batch_once(&self, ws: i64, inputs: &[ContactInput], now: i64) -> Result<UpsertReport> {
        // SQLite: take the write lock first, so the ids reserved below are still free when the
        // rows are written (and no other process's commit can stale this transaction's reads).
        let mut tx = match DIALECT {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.writer.begin().await?,
        };

        let found = load_matches(&mut tx, ws, inputs).await?;
        let (report, _) = write_batch(&mut tx, ws, inputs, now, found).await?;
        tx.commit().await?;
        Ok(report)
    }
}

/// How many times an upsert's batch is tried while other writers keep taking its keys first.
const UPSERT_ATTEMPTS: u32 = 5;

/// Whether `e` is a unique index broken by a row another transaction committed.
fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Database(sqlx::Error::Database(db)) if db.is_unique_violation())
}

/// Writes one batch in `tx`, given `found`: the contacts of `ws` it could update or collide
/// with, each once, by id (`load_matches`; any more whose external id or email is among the
/// batch's change nothing). Returns what it did and the contacts it read or wrote, each beside
/// what it was.
async fn write_batch(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    inputs: &[ContactInput],
    now: i64,
    found: Vec<Contact>,
) -> Result<(UpsertReport, Vec<Slot>)> {
    let (report, slots, tagged) = write_contacts(tx, ws, inputs, now, found).await?;
    apply_tags(tx, ws, &slots, &tagged, now).await?;
    Ok((report, slots))
}

/// The slot of each accepted input that carries tags, beside them.
type Tagged<'a> = Vec<(usize, &'a [String])>;

/// `write_batch` but for the tags: writes the batch's contacts, and returns which to tag.
async fn write_contacts<'a>(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    inputs: &'a [ContactInput],
    now: i64,
    found: Vec<Contact>,
) -> Result<(UpsertReport, Vec<Slot>, Tagged<'a>)> {
    let mut report = UpsertReport::default();
    let mut slots: Vec<Slot> = found.into_iter().map(|c| Slot { contact: c, was: Was::Same }).collect();
    let mut by_ext: HashMap<String, usize> = HashMap::new();
    let mut by_email: HashMap<(Role, String), usize> = HashMap::new();
    let index = |slots: &[Slot],
                 i: usize,
                 by_ext: &mut HashMap<String, usize>,
                 by_email: &mut HashMap<(Role, String), usize>| {
        let c = &slots[i].contact;
        if let Some(e) = &c.external_id {
            by_ext.insert(e.clone(), i);
        }
        if let Some(m) = &c.email {
            by_email.insert((c.role, m.clone()), i);
        }
    };
    for i in 0..slots.len() {
        index(&slots, i, &mut by_ext, &mut by_email);
    }

    // Applied once their contacts are written.
    let mut tagged: Tagged = Vec::new();
    for (n, input) in inputs.iter().enumerate() {
        let role = input.role.unwrap_or(Role::User);
        let ext = input.external_id.clone().flatten();
        let email = input.email.clone().flatten();
        let found = ext
            .as_ref()
            .and_then(|e| by_ext.get(e))
            .or_else(|| email.as_ref().and_then(|m| by_email.get(&(role, m.clone()))))
            .copied();
        match found {
            Some(i) => {
                // Matched by email, but the input names another external id: a different person.
                if let (Some(want), Some(have)) = (&ext, &slots[i].contact.external_id)
                    && want != have
                {
                    report.rejected.push((n, format!("email already belongs to the contact with external_id {have}")));
                    continue;
                }
                let mut updated = slots[i].contact.clone();
                let changed = input.apply(&mut updated, now);
                if let Some(reason) = collision(&updated, i, &by_ext, &by_email) {
                    report.rejected.push((n, reason));
                    continue;
                }
                if !input.tags.is_empty() {
                    tagged.push((i, &input.tags));
                }
                if changed {
                    report.updated += 1;
                    let before = std::mem::replace(&mut slots[i].contact, updated);
                    if matches!(slots[i].was, Was::Same) {
                        slots[i].was = Was::Before(Box::new(before));
                    }
                    index(&slots, i, &mut by_ext, &mut by_email);
                } else {
                    report.unchanged += 1;
                }
            }
            None => {
                if !input.has_identity() {
                    report.rejected.push((n, "needs an external_id or an email to match or create a contact".into()));
                    continue;
                }
                let mut contact = Contact::new(ws, role, now);
                input.apply(&mut contact, now);
                if let Some(reason) = collision(&contact, usize::MAX, &by_ext, &by_email) {
                    report.rejected.push((n, reason));
                    continue;
                }
                report.created += 1;
                slots.push(Slot { contact, was: Was::New });
                index(&slots, slots.len() - 1, &mut by_ext, &mut by_email);
                if !input.tags.is_empty() {
                    tagged.push((slots.len() - 1, &input.tags));
                }
            }
        }
    }

    let fresh = slots.iter().filter(|s| s.is_new()).count();
    let ids = reserve_contact_ids(tx, fresh).await?;
    for (slot, id) in slots.iter_mut().filter(|s| s.is_new()).zip(ids) {
        slot.contact.id = id;
    }
    let new: Vec<&Contact> = slots.iter().filter(|s| s.is_new()).map(|s| &s.contact).collect();
    insert_new_contacts(tx, &new).await?;
    let changed: Vec<(&Contact, &Contact)> =
        slots.iter().filter_map(|s| s.changed_from().map(|b| (&s.contact, b))).collect();
    update_changed_contacts(tx, ws, &changed).await?;
    Ok((report, slots, tagged))
}

/// The contacts of the workspace the batch could update or collide with, each once, by id:
/// those whose external id is among the batch's, and those whose email is among the batch's
/// inputs not settled by their external id (see below).
async fn load_matches(tx: &mut sqlx::Transaction<'_, Db>, ws: i64, inputs: &[ContactInput]) -> Result<Vec<Contact>> {
    let mut ext_ids: Vec<&str> =
        inputs.iter().filter_map(|i| i.external_id.as_ref().and_then(|e| e.as_deref())).collect();
    ext_ids.sort_unstable();
    ext_ids.dedup();
    let mut found: Vec<Contact> = Vec::new();
    if !ext_ids.is_empty() {
        let sql = format!("SELECT {} FROM {}", *CONTACT_SELECT, contacts_by_key("external_id"));
        let q = bind_texts(sqlx::query(&sql).persistent(DIALECT == Dialect::Sqlite).bind(ws), &ext_ids);
        for row in q.fetch_all(&mut **tx).await? {
            found.push(contact_from_row(&row)?);
        }
    }
    // An input whose external id found a contact that already has the input's email and role
    // is matched by that id and keeps its keys: no other contact with that email can change
    // what it does (another user with it would break the unique index, and leads sharing it are
    // only matched by inputs without that id, whose emails are read). Most of a re-import.
    let by_ext: HashMap<&str, &Contact> =
        found.iter().filter_map(|c| c.external_id.as_deref().map(|e| (e, c))).collect();
    let settled = |i: &ContactInput| {
        let email = i.email.as_ref().and_then(|e| e.as_deref());
        let found = i.external_id.as_ref().and_then(|e| e.as_deref()).and_then(|e| by_ext.get(e));
        found.is_some_and(|c| c.email.as_deref() == email && i.role.is_none_or(|r| r == c.role))
    };
    let mut emails: Vec<&str> =
        inputs.iter().filter(|i| !settled(i)).filter_map(|i| i.email.as_ref().and_then(|e| e.as_deref())).collect();
    emails.sort_unstable();
    emails.dedup();
    if !emails.is_empty() {
        // Ids first: in a re-import most of these contacts were just read by their external id.
        let sql = format!("SELECT c.id FROM {}", contacts_by_email());
        let q = bind_emails(sqlx::query(&sql).persistent(DIALECT == Dialect::Sqlite).bind(ws), &emails);
        let loaded: std::collections::HashSet<i64> = found.iter().map(|c| c.id).collect();
        let mut more: Vec<i64> = Vec::new();
        for row in q.fetch_all(&mut **tx).await? {
            let id: i64 = row.try_get(0)?;
            if !loaded.contains(&id) {
                more.push(id);
            }
        }
        more.sort_unstable();
        more.dedup();
        if !more.is_empty() {
            let sql = format!("SELECT {} FROM {}", *CONTACT_SELECT, contacts_by_id());
            let q = bind_ids(sqlx::query(&sql).persistent(DIALECT == Dialect::Sqlite).bind(ws), &more);
            for row in q.fetch_all(&mut **tx).await? {
                found.push(contact_from_row(&row)?);
            }
        }
    }
    // By id, so that where leads share an email the newest is the one an input matches, on
    // either database.
    found.sort_unstable_by_key(|c| c.id);
    Ok(found)
}

/// Tags the contacts of an upsert's batch, in its transaction: creates the tags it names that
/// do not exist yet, and applies each one a contact lacks, so a batch run twice changes nothing.
async fn apply_tags(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    slots: &[Slot],
    tagged: &[(usize, &[String])],
    now: i64,
) -> Result<()> {
    let mut ids: HashMap<&str, i64> = HashMap::new();
    for (_, names) in tagged {
        for name in names.iter() {
            if ids.contains_key(name.as_str()) {
                continue;
            }
            sqlx::query(
                "INSERT INTO tags (workspace_id, name, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace_id, name) DO NOTHING",
            )
            .bind(ws)
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            let id: i64 = sqlx::query("SELECT id FROM tags WHERE workspace_id = $1 AND name = $2")
                .bind(ws)
                .bind(name)
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
            ids.insert(name, id);
        }
    }
    // Every contact has its id here: new ones got theirs before they were written.
    let pairs: Vec<(i64, i64)> = tagged
        .iter()
        .flat_map(|(slot, names)| names.iter().map(|n| (slots[*slot].contact.id, ids[n.as_str()])))
        .collect();
    for chunk in pairs.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| match DIALECT {
                // Anonymous `?`s: see `contact_placeholders`.
                Dialect::Sqlite => "(?, ?, ?, ?, NULL)".to_owned(),
                Dialect::Postgres => format!("(${}, ${}, ${}, ${}, NULL)", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4),
            })
            .collect();
        let sql = format!(
            "INSERT INTO contact_tags (contact_id, tag_id, workspace_id, applied_at, applied_by) VALUES {} \
             ON CONFLICT (contact_id, tag_id) DO NOTHING",
            rows.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (contact, tag) in chunk {
            q = q.bind(*contact).bind(*tag).bind(ws).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Whether `c` (at slot `me`) would break the uniqueness of external ids or user emails.
fn collision(
    c: &Contact,
    me: usize,
    by_ext: &HashMap<String, usize>,
    by_email: &HashMap<(Role, String), usize>,
) -> Option<String> {
    if let Some(e) = &c.external_id
        && by_ext.get(e).is_some_and(|i| *i != me)
    {
        return Some(format!("external_id {e} already belongs to another contact"));
    }
    if let (Some(m), Role::User) = (&c.email, c.role)
        && by_email.get(&(Role::User, m.clone())).is_some_and(|i| *i != me)
    {
        return Some(format!("email {m} already belongs to another user"));
    }
    None
}
