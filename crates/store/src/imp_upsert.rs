// Creating or updating contacts in bulk (`Store::upsert_contacts`, the import's and the bulk
// API's write path), shared by both dialects. Included after `imp.rs`, whose imports and helpers
// it uses: each batch is matched against the contacts it could update, checked for collisions
// inside itself, written and tagged in one transaction.

/// A contact taking part in an upsert batch, with what it was before (None: new).
struct Slot {
    contact: Contact,
    before: Option<Contact>,
}

impl Store {
    /// `Store::upsert_contacts`: one batch in one transaction.
    async fn upsert_batch(&self, ws: i64, inputs: &[ContactInput], now: i64) -> Result<UpsertReport> {
        let mut report = UpsertReport::default();
        let mut tx = self.writer.begin().await?;

        // Load every existing contact the batch could match, in a few IN (…) queries.
        let ext_ids: Vec<String> =
            inputs.iter().filter_map(|i| i.external_id.clone().flatten()).collect();
        let emails: Vec<String> = inputs.iter().filter_map(|i| i.email.clone().flatten()).collect();
        let mut slots: Vec<Slot> = Vec::new();
        let mut seen_ids = std::collections::HashSet::new();
        for (column, values) in [("external_id", &ext_ids), ("email", &emails)] {
            for chunk in values.chunks(IN_CHUNK) {
                let sql = match DIALECT {
                    Dialect::Sqlite => format!(
                        "SELECT {} FROM contacts c WHERE c.workspace_id = $1 AND c.{column} IN ({})",
                        *CONTACT_SELECT,
                        placeholders(1, chunk.len())
                    ),
                    // Until the table has statistics (a first import), PostgreSQL takes 500 values
                    // for "almost every row" and scans the whole workspace for each chunk, which
                    // makes an import quadratic. One index probe per value is the plan that holds
                    // with or without statistics; OFFSET 0 keeps the subquery from being flattened.
                    // Not kept prepared (below): a plan cached while the table was empty picks any
                    // index on workspace_id and keeps scanning the workspace however big it grows.
                    Dialect::Postgres => format!(
                        "SELECT {} FROM unnest(ARRAY[{}]::text[]) AS k(v) CROSS JOIN LATERAL \
                         (SELECT * FROM contacts WHERE workspace_id = $1 AND {column} = k.v OFFSET 0) c",
                        *CONTACT_SELECT,
                        placeholders(1, chunk.len())
                    ),
                };
                // SQLite re-parsing 500 `$N`s each time would cost more than it saves.
                let mut q = sqlx::query(&sql).persistent(DIALECT == Dialect::Sqlite).bind(ws);
                for v in chunk {
                    q = q.bind(v.clone());
                }
                for row in q.fetch_all(&mut *tx).await? {
                    let c = contact_from_row(&row)?;
                    if seen_ids.insert(c.id) {
                        slots.push(Slot { before: Some(c.clone()), contact: c });
                    }
                }
            }
        }
        let mut by_ext: HashMap<String, usize> = HashMap::new();
        let mut by_email: HashMap<(Role, String), usize> = HashMap::new();
        let index = |slots: &[Slot], i: usize, by_ext: &mut HashMap<String, usize>, by_email: &mut HashMap<(Role, String), usize>| {
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

        // The slot of each accepted input that carries tags, applied once its contact is written.
        let mut tagged: Vec<(usize, &[String])> = Vec::new();
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
                        && want != have {
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
                        slots[i].contact = updated;
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
                    slots.push(Slot { contact, before: None });
                    index(&slots, slots.len() - 1, &mut by_ext, &mut by_email);
                    if !input.tags.is_empty() {
                        tagged.push((slots.len() - 1, &input.tags));
                    }
                }
            }
        }

        let new: Vec<&Contact> = slots.iter().filter(|s| s.before.is_none()).map(|s| &s.contact).collect();
        for chunk in new.chunks(INSERT_CHUNK) {
            let rows: Vec<String> =
                (0..chunk.len()).map(|i| contact_placeholders(i * CONTACT_COLUMNS.len())).collect();
            let sql = format!("INSERT INTO contacts ({}) VALUES {}", CONTACT_COLUMNS.join(", "), rows.join(", "));
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = bind_contact(q, c);
            }
            q.execute(&mut *tx).await?;
        }
        let n = CONTACT_COLUMNS.len();
        let sets: Vec<String> = CONTACT_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = format!("${}", i + 1);
                format!("{c} = {}", if *c == "custom_attributes" { json_param(&p) } else { p })
            })
            .collect();
        let update_sql =
            format!("UPDATE contacts SET {} WHERE workspace_id = ${} AND id = ${}", sets.join(", "), n + 1, n + 2);
        for slot in &slots {
            if let Some(before) = &slot.before
                && *before != slot.contact {
                    bind_contact(sqlx::query(&update_sql), &slot.contact)
                        .bind(ws)
                        .bind(slot.contact.id)
                        .execute(&mut *tx)
                        .await?;
                }
        }
        apply_tags(&mut tx, ws, &slots, &tagged, now).await?;
        tx.commit().await?;
        Ok(report)
    }
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
    for (slot, names) in tagged {
        let c = &slots[*slot].contact;
        // A contact created by this batch has no id here (the insert returns none); its external
        // id or email, unique in the workspace after the batch, finds it.
        let id: Option<i64> = if slots[*slot].before.is_some() {
            Some(c.id)
        } else if let Some(e) = &c.external_id {
            sqlx::query("SELECT id FROM contacts WHERE workspace_id = $1 AND external_id = $2")
                .bind(ws)
                .bind(e.clone())
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
        } else if let Some(m) = &c.email {
            sqlx::query("SELECT MAX(id) FROM contacts WHERE workspace_id = $1 AND email = $2 AND role = $3")
                .bind(ws)
                .bind(m.clone())
                .bind(c.role.as_str())
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?
        } else {
            None
        };
        let Some(id) = id else { continue };
        for name in names.iter() {
            sqlx::query(
                "INSERT INTO contact_tags (contact_id, tag_id, workspace_id, applied_at, applied_by) \
                 VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (contact_id, tag_id) DO NOTHING",
            )
            .bind(id)
            .bind(ids[name.as_str()])
            .bind(ws)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
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
        && by_ext.get(e).is_some_and(|i| *i != me) {
            return Some(format!("external_id {e} already belongs to another contact"));
        }
    if let (Some(m), Role::User) = (&c.email, c.role)
        && by_email.get(&(Role::User, m.clone())).is_some_and(|i| *i != me) {
            return Some(format!("email {m} already belongs to another user"));
        }
    None
}
