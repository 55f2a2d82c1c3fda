// Conversations and their parts, shared by both dialects. Included after `imp_messages.rs`,
// whose imports and helpers it uses.

use crate::messages::ConversationStore;

fn conversation_from_row(row: &DbRow) -> Result<Conversation> {
    Ok(Conversation {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        contact_id: row.try_get("contact_id")?,
        teammate_id: row.try_get("teammate_id")?,
        message_id: row.try_get("message_id")?,
        state: {
            let s: String = row.try_get("state")?;
            State::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("conversation state {s}")))?
        },
        read: row.try_get("read")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        waiting_since: row.try_get("waiting_since")?,
        snoozed_until: row.try_get("snoozed_until")?,
        assignee_id: row.try_get("assignee_id")?,
        contact_seen_part_id: row.try_get("contact_seen_part_id")?,
        team_part_id: row.try_get("team_part_id")?,
        emailed_part_id: row.try_get("emailed_part_id")?,
        custom_attributes: {
            let text: String = row.try_get("custom_attributes")?;
            match serde_json::from_str(&text) {
                Ok(Json::Object(map)) => map,
                _ => return Err(StoreError::Corrupt(format!("conversation attributes {text}"))),
            }
        },
    })
}

fn part_from_row(row: &DbRow) -> Result<ConversationPart> {
    Ok(ConversationPart {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        part_type: {
            let s: String = row.try_get("part_type")?;
            PartType::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("part type {s}")))?
        },
        author_type: {
            let s: String = row.try_get("author_type")?;
            Author::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("part author {s}")))?
        },
        author_id: row.try_get("author_id")?,
        body: row.try_get("body")?,
        created_at: row.try_get("created_at")?,
        assigned_to: row.try_get("assigned_to")?,
    })
}

/// Writes a part into a conversation of the workspace; `None` when there is no such conversation.
async fn insert_part(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    conversation_id: i64,
    part: &ConversationPart,
) -> Result<Option<ConversationPart>> {
    let row = sqlx::query(
        "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at, assigned_to) \
         SELECT $1, c.id, $3, $4, $5, $6, $7, $8 FROM conversations c WHERE c.workspace_id = $1 AND c.id = $2 RETURNING *",
    )
    .bind(ws)
    .bind(conversation_id)
    .bind(part.part_type.as_str())
    .bind(part.author_type.as_str())
    .bind(part.author_id)
    .bind(&part.body)
    .bind(part.created_at)
    .bind(part.assigned_to)
    .fetch_optional(&mut **tx)
    .await?;
    let written = row.as_ref().map(part_from_row).transpose()?;
    // The team's words to the contact: what a reply email is about if the contact does not see
    // them in time.
    if let Some(p) = &written
        && p.author_type == Author::Admin
        && tidings_core::conversation::visible_to_contact(p.part_type, p.body.is_some())
    {
        sqlx::query(
            "UPDATE conversations SET team_part_id = $3, team_part_at = $4 WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(p.id)
        .bind(p.created_at)
        .execute(&mut **tx)
        .await?;
    }
    if let Some(p) = &written {
        touch_contact(tx, ws, conversation_id, p).await?;
    }
    Ok(written)
}

/// Keeps the contact's "Last contacted" and "Last replied" true in the transaction that writes
/// the part: a teammate's words the contact sees contact them, the contact's own words are a
/// reply. Never moves either date back, so a part written late (an email read hours after it
/// came) cannot hide a newer one.
async fn touch_contact(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    conversation_id: i64,
    p: &ConversationPart,
) -> Result<()> {
    let column = if p.author_type.is_contact() {
        // Their words, whether a comment or the reply that reopened a closed conversation.
        if p.body.is_none() {
            return Ok(());
        }
        "last_replied_at"
    } else if p.author_type == Author::Admin
        && tidings_core::conversation::visible_to_contact(p.part_type, p.body.is_some())
    {
        "last_contacted_at"
    } else {
        return Ok(());
    };
    let sql = format!(
        "UPDATE contacts SET {column} = $3 WHERE workspace_id = $1 AND ({column} IS NULL OR {column} < $3) \
         AND id = (SELECT contact_id FROM conversations WHERE workspace_id = $1 AND id = $2)"
    );
    sqlx::query(&sql).bind(ws).bind(conversation_id).bind(p.created_at).execute(&mut **tx).await?;
    Ok(())
}

/// Adds a part inside `tx` and updates the conversation as the part implies (see
/// `ConversationStore::add_part`); `None` when the workspace has no such conversation.
async fn add_part_in(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    conversation_id: i64,
    part: &ConversationPart,
) -> Result<Option<ConversationPart>> {
    let Some(written) = insert_part(tx, ws, conversation_id, part).await? else { return Ok(None) };
    // A contact's words reopen the conversation and make the team owe a reply; a teammate's
    // comment pays that debt. A note is internal and changes neither.
    let from_contact = part.author_type.is_contact();
    let admin_comment = !from_contact && part.part_type == PartType::Comment;
    sqlx::query(
        "UPDATE conversations SET updated_at = $3, \
         state = CASE WHEN $4 THEN 'open' ELSE state END, \
         snoozed_until = CASE WHEN $4 THEN NULL ELSE snoozed_until END, \
         read = CASE WHEN $4 THEN FALSE WHEN $5 THEN TRUE ELSE read END, \
         waiting_since = CASE WHEN $4 THEN COALESCE(waiting_since, $3) WHEN $5 THEN NULL ELSE waiting_since END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(conversation_id)
    .bind(part.created_at)
    .bind(from_contact)
    .bind(admin_comment)
    .execute(&mut **tx)
    .await?;
    Ok(Some(written))
}

impl Store {
    /// Conversations of a workspace whose `column` (a constant of this file) equals `id`.
    async fn conversations_where(&self, ws: i64, column: &str, id: i64) -> Result<Vec<Conversation>> {
        let sql = format!(
            "SELECT * FROM conversations WHERE workspace_id = $1 AND {column} = $2 ORDER BY updated_at DESC, id DESC"
        );
        let rows = sqlx::query(&sql).bind(ws).bind(id).fetch_all(&self.reader).await?;
        rows.iter().map(conversation_from_row).collect()
    }

    /// Adds to each conversation its opening part, first contact reply and part count: two
    /// queries for the whole page rather than two per conversation.
    async fn summarise(&self, ws: i64, conversations: Vec<Conversation>) -> Result<Vec<ConversationSummary>> {
        let mut sources: HashMap<i64, ConversationPart> = HashMap::new();
        let mut figures: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
        for chunk in conversations.chunks(IN_CHUNK) {
            let list = placeholders(1, chunk.len());
            let sql = format!(
                "SELECT p.* FROM conversation_parts p WHERE p.workspace_id = $1 AND p.id IN \
                 (SELECT MIN(id) FROM conversation_parts WHERE workspace_id = $1 AND conversation_id IN ({list}) GROUP BY conversation_id)"
            );
            let mut q = sqlx::query(&sql).bind(ws);
            for c in chunk {
                q = q.bind(c.id);
            }
            for row in q.fetch_all(&self.reader).await? {
                let part = part_from_row(&row)?;
                sources.insert(part.conversation_id, part);
            }
            let sql = format!(
                "SELECT conversation_id, COUNT(*) AS n, MIN(CASE WHEN author_type <> 'admin' THEN created_at END) AS first_reply \
                 FROM conversation_parts WHERE workspace_id = $1 AND conversation_id IN ({list}) GROUP BY conversation_id"
            );
            let mut q = sqlx::query(&sql).bind(ws);
            for c in chunk {
                q = q.bind(c.id);
            }
            for row in q.fetch_all(&self.reader).await? {
                figures.insert(row.try_get("conversation_id")?, (row.try_get("n")?, row.try_get("first_reply")?));
            }
        }
        Ok(conversations
            .into_iter()
            .map(|c| {
                let (part_count, first_contact_reply_at) = figures.get(&c.id).copied().unwrap_or((0, None));
                ConversationSummary {
                    source: sources.remove(&c.id),
                    first_contact_reply_at,
                    part_count,
                    conversation: c,
                }
            })
            .collect())
    }
}

#[async_trait]
impl ConversationStore for Store {
    async fn conversation_for(
        &self,
        ws: i64,
        contact_id: i64,
        message: &Message,
        first_body: &str,
        now: i64,
    ) -> Result<Conversation> {
        let mut tx = self.writer.begin().await?;
        let created = sqlx::query(
            "INSERT INTO conversations (workspace_id, contact_id, teammate_id, assignee_id, message_id, state, read, created_at, updated_at) \
             SELECT $1, c.id, $3, $3, $4, 'open', TRUE, $5, $5 FROM contacts c WHERE c.workspace_id = $1 AND c.id = $2 \
             ON CONFLICT (message_id, contact_id) DO NOTHING RETURNING *",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(message.sender_id)
        .bind(message.id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let conversation = match created {
            Some(row) => {
                let c = conversation_from_row(&row)?;
                sqlx::query(
                    "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at) \
                     VALUES ($1, $2, 'comment', 'admin', $3, $4, $5)",
                )
                .bind(ws)
                .bind(c.id)
                .bind(message.sender_id)
                .bind(first_body)
                .bind(message.sent_at.unwrap_or(now))
                .execute(&mut *tx)
                .await?;
                c
            }
            None => {
                let row = sqlx::query(
                    "SELECT * FROM conversations WHERE workspace_id = $1 AND message_id = $2 AND contact_id = $3",
                )
                .bind(ws)
                .bind(message.id)
                .bind(contact_id)
                .fetch_one(&mut *tx)
                .await?;
                conversation_from_row(&row)?
            }
        };
        tx.commit().await?;
        Ok(conversation)
    }

    async fn start_conversation(
        &self,
        ws: i64,
        contact_id: i64,
        author_type: Author,
        body: &str,
        now: i64,
    ) -> Result<Conversation> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "INSERT INTO conversations (workspace_id, contact_id, state, read, created_at, updated_at, waiting_since) \
             SELECT $1, c.id, 'open', FALSE, $3, $3, $3 FROM contacts c WHERE c.workspace_id = $1 AND c.id = $2 RETURNING *",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let c = conversation_from_row(&row)?;
        sqlx::query(
            "INSERT INTO conversation_parts (workspace_id, conversation_id, part_type, author_type, author_id, body, created_at) \
             VALUES ($1, $2, 'comment', $3, $4, $5, $6)",
        )
        .bind(ws)
        .bind(c.id)
        .bind(author_type.as_str())
        .bind(contact_id)
        .bind(body)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        // The contact's first words are a reply like any later ones.
        sqlx::query(
            "UPDATE contacts SET last_replied_at = $3 WHERE workspace_id = $1 AND id = $2 \
             AND (last_replied_at IS NULL OR last_replied_at < $3)",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(c)
    }

    async fn conversation(&self, ws: i64, id: i64) -> Result<Option<Conversation>> {
        let row = sqlx::query("SELECT * FROM conversations WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn add_part(&self, ws: i64, conversation_id: i64, part: ConversationPart) -> Result<ConversationPart> {
        let mut tx = self.writer.begin().await?;
        let written = add_part_in(&mut tx, ws, conversation_id, &part).await?.ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok(written)
    }

    async fn set_conversation_state(
        &self,
        ws: i64,
        conversation_id: i64,
        to: Change,
        part: ConversationPart,
    ) -> Result<Option<ConversationPart>> {
        let snoozed_until = match to {
            Change::Snooze { until } => Some(until),
            _ => None,
        };
        let mut tx = self.writer.begin().await?;
        // Once closed, no one is waiting any more.
        let moved = sqlx::query(
            "UPDATE conversations SET state = $3, snoozed_until = $4, updated_at = $5, \
             waiting_since = CASE WHEN $6 THEN NULL ELSE waiting_since END WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(conversation_id)
        .bind(to.state().as_str())
        .bind(snoozed_until)
        .bind(part.created_at)
        .bind(to == Change::Close)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(None);
        }
        let written = insert_part(&mut tx, ws, conversation_id, &part).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn recent_parts(&self, ws: i64, conversation_id: i64, limit: i64) -> Result<Vec<ConversationPart>> {
        let sql = format!(
            "SELECT * FROM (SELECT * FROM conversation_parts WHERE workspace_id = $1 AND conversation_id = $2 \
             ORDER BY id DESC LIMIT {}) recent ORDER BY id",
            limit.clamp(0, 10_000)
        );
        let rows = sqlx::query(&sql).bind(ws).bind(conversation_id).fetch_all(&self.reader).await?;
        rows.iter().map(part_from_row).collect()
    }

    async fn conversations(&self, ws: i64, offset: i64, limit: i64) -> Result<(Vec<ConversationSummary>, i64)> {
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM conversations WHERE workspace_id = $1")
            .bind(ws)
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        let sql = format!(
            "SELECT * FROM conversations WHERE workspace_id = $1 ORDER BY updated_at DESC, id DESC LIMIT {} OFFSET {}",
            limit.clamp(0, 500),
            offset.max(0)
        );
        let rows = sqlx::query(&sql).bind(ws).fetch_all(&self.reader).await?;
        let page = rows.iter().map(conversation_from_row).collect::<Result<Vec<_>>>()?;
        Ok((self.summarise(ws, page).await?, total))
    }

    async fn conversation_summary(&self, ws: i64, id: i64) -> Result<Option<ConversationSummary>> {
        match ConversationStore::conversation(self, ws, id).await? {
            Some(c) => Ok(self.summarise(ws, vec![c]).await?.pop()),
            None => Ok(None),
        }
    }

    async fn parts(&self, ws: i64, conversation_id: i64) -> Result<Vec<ConversationPart>> {
        let rows = sqlx::query(
            "SELECT * FROM conversation_parts WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id",
        )
        .bind(ws)
        .bind(conversation_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(part_from_row).collect()
    }

    async fn conversation_part(&self, ws: i64, id: i64) -> Result<Option<ConversationPart>> {
        let row = sqlx::query("SELECT * FROM conversation_parts WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(part_from_row).transpose()
    }

    async fn conversations_of_contact(&self, ws: i64, contact_id: i64) -> Result<Vec<Conversation>> {
        self.conversations_where(ws, "contact_id", contact_id).await
    }

    async fn conversations_of_teammate(&self, ws: i64, teammate_id: i64) -> Result<Vec<Conversation>> {
        self.conversations_where(ws, "teammate_id", teammate_id).await
    }

    async fn conversations_of_message(&self, ws: i64, message_id: i64) -> Result<Vec<Conversation>> {
        self.conversations_where(ws, "message_id", message_id).await
    }
}
