// The Inbox, shared by both dialects. Included after `imp_conversations.rs`, whose row readers
// it uses.

use crate::inbox::{Assignee, InboxCount, InboxCursor, InboxEntry, InboxQuery, InboxSort, InboxStore, SavedReply};

/// The waiting-longest key of a conversation (aliased `c`): when its contact started waiting,
/// and after every waiting one, those waiting for no one. The same expression as the index
/// `conversations_inbox_waiting` so that the index serves the order.
const WAITING_KEY: &str = "COALESCE(c.waiting_since, 9223372036854775807)";

fn saved_reply_from_row(row: &DbRow) -> Result<SavedReply> {
    Ok(SavedReply {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `text` as a `LIKE … ESCAPE '\'` pattern that matches it anywhere, against a value whose ASCII
/// letters are lowered: ASCII letters match in any case, others as written ("ÉMILE" finds
/// "Émile", "émile" does not), as SQLite's `LOWER` has it, and PostgreSQL's over `COLLATE "C"`,
/// so both find the same conversations (as contact filters do).
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for ch in text.to_ascii_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

#[async_trait]
impl InboxStore for Store {
    async fn inbox(&self, ws: i64, q: &InboxQuery) -> Result<Vec<InboxEntry>> {
        let (key, direction, beyond) = match q.sort {
            InboxSort::Latest => ("c.updated_at", "DESC", "<"),
            InboxSort::WaitingLongest => (WAITING_KEY, "ASC", ">"),
        };
        let mut sql = format!("SELECT c.*, {key} AS sort_key FROM conversations c WHERE c.workspace_id = $1");
        let mut binds: Vec<Bind> = Vec::new();
        let mut next = 2;
        let mut param = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            next += 1;
            format!("${}", next - 1)
        };
        if let Some(state) = q.state {
            let p = param(&mut binds, Bind::Text(state.as_str().to_owned()));
            sql.push_str(&format!(" AND c.state = {p}"));
        }
        match q.assignee {
            Assignee::Anyone => {}
            Assignee::Nobody => sql.push_str(" AND c.assignee_id IS NULL"),
            Assignee::Teammate(id) => {
                let p = param(&mut binds, Bind::Int(id));
                sql.push_str(&format!(" AND c.assignee_id = {p}"));
            }
        }
        if let Some(contact) = q.contact_id {
            let p = param(&mut binds, Bind::Int(contact));
            sql.push_str(&format!(" AND c.contact_id = {p}"));
        }
        if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            let p = param(&mut binds, Bind::Text(contains_pattern(text)));
            let lower = |v: &str| match DIALECT {
                Dialect::Sqlite => format!("LOWER({v})"),
                Dialect::Postgres => format!("LOWER({v} COLLATE \"C\")"),
            };
            sql.push_str(&format!(
                " AND (c.contact_id IN (SELECT k.id FROM contacts k WHERE k.workspace_id = $1 AND \
                 ({} LIKE {p} ESCAPE '\\' OR {} LIKE {p} ESCAPE '\\')) \
                 OR EXISTS (SELECT 1 FROM conversation_parts p WHERE p.workspace_id = $1 AND p.conversation_id = c.id \
                 AND {} LIKE {p} ESCAPE '\\'))",
                lower("k.name"),
                lower("k.email"),
                lower("p.body")
            ));
        }
        if let Some(InboxCursor { key: k, id }) = q.after {
            let pk = param(&mut binds, Bind::Int(k));
            let pi = param(&mut binds, Bind::Int(id));
            sql.push_str(&format!(" AND ({key} {beyond} {pk} OR ({key} = {pk} AND c.id {beyond} {pi}))"));
        }
        sql.push_str(&format!(" ORDER BY {key} {direction}, c.id {direction} LIMIT {}", q.limit.clamp(0, 500)));
        let mut query = sqlx::query(&sql).bind(ws);
        for b in binds {
            query = match b {
                Bind::Int(i) => query.bind(i),
                Bind::Text(t) => query.bind(t),
            };
        }
        let rows = query.fetch_all(&self.reader).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            entries.push(InboxEntry {
                conversation: conversation_from_row(row)?,
                last: None,
                key: row.try_get("sort_key")?,
            });
        }
        let ids: Vec<i64> = entries.iter().map(|e| e.conversation.id).collect();
        let mut last: HashMap<i64, ConversationPart> = HashMap::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT p.* FROM conversation_parts p WHERE p.workspace_id = $1 AND p.id IN \
                 (SELECT MAX(id) FROM conversation_parts WHERE workspace_id = $1 AND conversation_id IN ({list}) \
                 AND body IS NOT NULL GROUP BY conversation_id)"
            );
            let mut q = sqlx::query(&sql).bind(ws);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                let p = part_from_row(&row)?;
                last.insert(p.conversation_id, p);
            }
        }
        for e in &mut entries {
            e.last = last.remove(&e.conversation.id);
        }
        Ok(entries)
    }

    async fn inbox_counts(&self, ws: i64) -> Result<Vec<InboxCount>> {
        let rows = sqlx::query(
            "SELECT state, assignee_id, COUNT(*) AS total, SUM(CASE WHEN read THEN 0 ELSE 1 END) AS unread \
             FROM conversations WHERE workspace_id = $1 AND state IN ('open', 'snoozed') GROUP BY state, assignee_id",
        )
        .bind(ws)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let s: String = row.try_get("state")?;
                Ok(InboxCount {
                    state: State::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("conversation state {s}")))?,
                    assignee_id: row.try_get("assignee_id")?,
                    total: row.try_get("total")?,
                    unread: row.try_get::<Option<i64>, _>("unread")?.unwrap_or(0),
                })
            })
            .collect()
    }

    async fn assign_conversation(
        &self,
        ws: i64,
        conversation_id: i64,
        assignee: Option<i64>,
        mut part: ConversationPart,
    ) -> Result<Option<(Conversation, ConversationPart)>> {
        let mut tx = self.writer.begin().await?;
        let Some(row) = sqlx::query("SELECT state FROM conversations WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(conversation_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let before: String = row.try_get("state")?;
        if before != State::Open.as_str() {
            part.part_type = PartType::AssignAndReopen;
        }
        part.assigned_to = Some(assignee.unwrap_or(0));
        let row = sqlx::query(
            "UPDATE conversations SET assignee_id = $3, state = 'open', snoozed_until = NULL, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 RETURNING *",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(assignee)
        .bind(part.created_at)
        .fetch_one(&mut *tx)
        .await?;
        let conversation = conversation_from_row(&row)?;
        let written = insert_part(&mut tx, ws, conversation_id, &part).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok(Some((conversation, written)))
    }

    async fn set_conversation_read(&self, ws: i64, conversation_id: i64, read: bool) -> Result<bool> {
        let found = sqlx::query("UPDATE conversations SET read = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(conversation_id)
            .bind(read)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(found > 0)
    }

    async fn set_conversation_attributes(
        &self,
        ws: i64,
        conversation_id: i64,
        attributes: &serde_json::Map<String, Json>,
    ) -> Result<bool> {
        let text = Json::Object(attributes.clone()).to_string();
        let found = sqlx::query("UPDATE conversations SET custom_attributes = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(conversation_id)
            .bind(text)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(found > 0)
    }

    async fn contact_saw(&self, ws: i64, contact_id: i64, conversation_id: i64) -> Result<bool> {
        let moved = sqlx::query(
            "UPDATE conversations SET contact_seen_part_id = \
             (SELECT COALESCE(MAX(p.id), 0) FROM conversation_parts p WHERE p.workspace_id = $1 AND p.conversation_id = $3) \
             WHERE workspace_id = $1 AND contact_id = $2 AND id = $3 AND contact_seen_part_id < \
             (SELECT COALESCE(MAX(p.id), 0) FROM conversation_parts p WHERE p.workspace_id = $1 AND p.conversation_id = $3)",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(conversation_id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(moved > 0)
    }

    async fn contact_unread(&self, ws: i64, contact_id: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT c.id, COUNT(p.id) AS unread FROM conversations c JOIN conversation_parts p \
             ON p.workspace_id = c.workspace_id AND p.conversation_id = c.id AND p.id > c.contact_seen_part_id \
             WHERE c.workspace_id = $1 AND c.contact_id = $2 AND c.team_part_id > c.contact_seen_part_id \
             AND p.author_type = 'admin' AND p.body IS NOT NULL \
             AND p.part_type NOT IN ('note', 'assignment', 'assign_and_reopen') GROUP BY c.id",
        )
        .bind(ws)
        .bind(contact_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("unread")?))).collect()
    }

    async fn wake_snoozed(&self, now: i64, limit: i64) -> Result<Vec<(Conversation, ConversationPart)>> {
        let due = sqlx::query(&format!(
            "SELECT id, workspace_id FROM conversations WHERE state = 'snoozed' AND snoozed_until <= $1 \
             ORDER BY snoozed_until LIMIT {}",
            limit.clamp(0, 1000)
        ))
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        let mut woken = Vec::new();
        for row in due {
            let (id, ws): (i64, i64) = (row.try_get("id")?, row.try_get("workspace_id")?);
            let mut tx = self.writer.begin().await?;
            // Conditional: another node that woke it first leaves nothing to do here.
            let moved = sqlx::query(
                "UPDATE conversations SET state = 'open', snoozed_until = NULL, updated_at = $2 \
                 WHERE id = $1 AND state = 'snoozed' AND snoozed_until <= $2 RETURNING *",
            )
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = moved else { continue };
            let conversation = conversation_from_row(&row)?;
            let snoozer: Option<i64> = sqlx::query(
                "SELECT author_id FROM conversation_parts WHERE conversation_id = $1 AND part_type = 'snoozed' \
                 AND author_type = 'admin' ORDER BY id DESC LIMIT 1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
            let part = ConversationPart {
                id: 0,
                conversation_id: id,
                part_type: PartType::Unsnoozed,
                author_type: Author::Admin,
                author_id: snoozer.or(conversation.assignee_id).unwrap_or(0),
                body: None,
                created_at: now,
                assigned_to: None,
            };
            let written = insert_part(&mut tx, ws, id, &part).await?.ok_or(sqlx::Error::RowNotFound)?;
            tx.commit().await?;
            woken.push((conversation, written));
        }
        Ok(woken)
    }

    async fn tag_conversation(
        &self,
        ws: i64,
        conversation_id: i64,
        tag_id: i64,
        by: Option<i64>,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let both = sqlx::query(
            "SELECT c.id FROM conversations c JOIN tags t ON t.workspace_id = c.workspace_id AND t.id = $3 \
             WHERE c.workspace_id = $1 AND c.id = $2",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(tag_id)
        .fetch_optional(&mut *tx)
        .await?;
        if both.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO conversation_tags (conversation_id, tag_id, workspace_id, applied_at, applied_by) \
             VALUES ($2, $3, $1, $4, $5) ON CONFLICT (conversation_id, tag_id) DO NOTHING",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(tag_id)
        .bind(now)
        .bind(by)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn untag_conversation(&self, ws: i64, conversation_id: i64, tag_id: i64) -> Result<bool> {
        let gone = sqlx::query(
            "DELETE FROM conversation_tags WHERE workspace_id = $1 AND conversation_id = $2 AND tag_id = $3",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(tag_id)
        .execute(&self.writer)
        .await?
        .rows_affected();
        Ok(gone > 0)
    }

    async fn conversation_tags(&self, ws: i64, conversation_ids: &[i64]) -> Result<Vec<(i64, Tag)>> {
        let mut out = Vec::new();
        for chunk in conversation_ids.chunks(IN_CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT ct.conversation_id, t.* FROM conversation_tags ct JOIN tags t ON t.id = ct.tag_id \
                 WHERE ct.workspace_id = $1 AND ct.conversation_id IN ({list}) ORDER BY t.name, t.id"
            );
            let mut q = sqlx::query(&sql).bind(ws);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                out.push((row.try_get("conversation_id")?, tag_from_row(&row)?));
            }
        }
        Ok(out)
    }

    async fn saved_replies(&self, ws: i64) -> Result<Vec<SavedReply>> {
        let rows = sqlx::query("SELECT * FROM saved_replies WHERE workspace_id = $1 ORDER BY name, id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(saved_reply_from_row).collect()
    }

    async fn create_saved_reply(&self, ws: i64, name: &str, body: &str, now: i64) -> Result<SavedReply> {
        let row = sqlx::query(
            "INSERT INTO saved_replies (workspace_id, name, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING *",
        )
        .bind(ws)
        .bind(name)
        .bind(body)
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict(e, "a saved reply with this name"))?;
        saved_reply_from_row(&row)
    }

    async fn update_saved_reply(&self, ws: i64, id: i64, name: &str, body: &str, now: i64) -> Result<bool> {
        let found = sqlx::query(
            "UPDATE saved_replies SET name = $3, body = $4, updated_at = $5 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(id)
        .bind(name)
        .bind(body)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(|e| conflict(e, "a saved reply with this name"))?
        .rows_affected();
        Ok(found > 0)
    }

    async fn delete_saved_reply(&self, ws: i64, id: i64) -> Result<bool> {
        let gone = sqlx::query("DELETE FROM saved_replies WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .execute(&self.writer)
            .await?
            .rows_affected();
        Ok(gone > 0)
    }

    async fn search_conversations(&self, ws: i64, q: &ConversationSearch) -> Result<(Vec<ConversationSummary>, i64)> {
        self.search_conversations_imp(ws, q).await
    }
}

/// A value bound into a query built piece by piece.
enum Bind {
    Int(i64),
    Text(String),
}
