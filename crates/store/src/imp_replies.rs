// Reply emails' outbox, the workspace's delay before them, and the emails contacts send back,
// shared by both dialects. Included after `imp_conversations.rs`, whose helpers it uses.

use crate::replies::{ReplyEmail, ReplyEmailState, ReplyEmailStore, ReplyOutcome};

fn reply_email_from_row(row: &DbRow) -> Result<ReplyEmail> {
    let state: String = row.try_get("state")?;
    Ok(ReplyEmail {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        conversation_id: row.try_get("conversation_id")?,
        contact_id: row.try_get("contact_id")?,
        after_part_id: row.try_get("after_part_id")?,
        part_id: row.try_get("part_id")?,
        state: ReplyEmailState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("reply email state {state}")))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        lease_until: row.try_get("lease_until")?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sent_at: row.try_get("sent_at")?,
    })
}

#[async_trait]
impl ReplyEmailStore for Store {
    async fn queue_reply_emails(&self, now: i64, limit: i64) -> Result<Vec<ReplyEmail>> {
        let mut tx = self.writer.begin().await?;
        // The first two conditions are the `conversations_unseen_replies` index's own.
        let due = sqlx::query(
            "SELECT c.id, c.workspace_id, c.contact_id, c.team_part_id, c.emailed_part_id, c.contact_seen_part_id \
             FROM conversations c JOIN workspaces w ON w.id = c.workspace_id \
             WHERE c.team_part_id > c.contact_seen_part_id AND c.team_part_id > c.emailed_part_id \
             AND c.team_part_at <= $1 - w.reply_email_after ORDER BY c.team_part_at, c.id LIMIT $2",
        )
        .bind(now)
        .bind(limit.clamp(0, 1000))
        .fetch_all(&mut *tx)
        .await?;
        let mut due = due
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<i64, _>(0)?,
                    r.try_get::<i64, _>(1)?,
                    r.try_get::<i64, _>(2)?,
                    r.try_get::<i64, _>(3)?,
                    r.try_get::<i64, _>(4)?,
                    r.try_get::<i64, _>(5)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        // Rows are locked in one order (by id) on every node, so two nodes queueing at once wait
        // for each other instead of deadlocking.
        due.sort_by_key(|d| d.0);
        let mut queued = Vec::new();
        for (id, ws, contact, team, emailed, seen) in due {
            // Only if nobody moved it since the read: another node that queued these words first
            // leaves nothing to do here (on PostgreSQL this waits for its commit, then re-reads).
            let moved = sqlx::query(
                "UPDATE conversations SET emailed_part_id = team_part_id WHERE id = $1 AND team_part_id = $2 \
                 AND emailed_part_id = $3 AND contact_seen_part_id < $2",
            )
            .bind(id)
            .bind(team)
            .bind(emailed)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if moved == 0 {
                continue;
            }
            let row = sqlx::query(
                "INSERT INTO reply_emails (workspace_id, conversation_id, contact_id, after_part_id, part_id, state, \
                 attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $6) \
                 ON CONFLICT (conversation_id, part_id) DO NOTHING RETURNING *",
            )
            .bind(ws)
            .bind(id)
            .bind(contact)
            .bind(emailed.max(seen))
            .bind(team)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                queued.push(reply_email_from_row(&row)?);
            }
        }
        tx.commit().await?;
        Ok(queued)
    }

    async fn claim_reply_emails(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<ReplyEmail>> {
        // `next_attempt_at` moves to the lease's end while claimed: one index finds both the
        // emails due and those a dead node's claim left behind.
        let sql = format!(
            "UPDATE reply_emails SET state = 'sending', attempts = attempts + 1, lease_until = $2, \
             next_attempt_at = $2, updated_at = $1 WHERE id IN \
             (SELECT id FROM reply_emails WHERE state IN ('pending', 'sending') AND next_attempt_at <= $1 \
              ORDER BY next_attempt_at, id LIMIT $3{SKIP_LOCKED}) RETURNING *"
        );
        let rows = sqlx::query(&sql).bind(now).bind(lease_until).bind(limit).fetch_all(&self.writer).await?;
        let mut claimed = rows.iter().map(reply_email_from_row).collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|r| r.id);
        Ok(claimed)
    }

    async fn record_reply_email(
        &self,
        ws: i64,
        id: i64,
        attempt: i64,
        outcome: &ReplyOutcome,
        now: i64,
    ) -> Result<bool> {
        let (state, error, at) = match outcome {
            ReplyOutcome::Sent => (ReplyEmailState::Sent, None, None),
            ReplyOutcome::Retry { at, reason } => (ReplyEmailState::Pending, Some(reason.as_str()), Some(*at)),
            ReplyOutcome::Failed(reason) => (ReplyEmailState::Failed, Some(reason.as_str()), None),
            ReplyOutcome::Skipped(reason) => (ReplyEmailState::Skipped, Some(reason.as_str()), None),
        };
        let mut tx = self.writer.begin().await?;
        // Only the claim that still holds it: one whose lease ran out and was claimed again
        // (a higher attempt) has nothing more to say.
        let row = sqlx::query(
            "UPDATE reply_emails SET state = $4, error = $5, next_attempt_at = COALESCE($6, next_attempt_at), \
             lease_until = NULL, updated_at = $7, sent_at = CASE WHEN $4 = 'sent' THEN $7 ELSE sent_at END \
             WHERE workspace_id = $1 AND id = $2 AND attempts = $3 AND state = 'sending' RETURNING contact_id",
        )
        .bind(ws)
        .bind(id)
        .bind(attempt)
        .bind(state.as_str())
        .bind(error)
        .bind(at)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Ok(false) };
        if *outcome == ReplyOutcome::Sent {
            let contact: i64 = row.try_get(0)?;
            sqlx::query("UPDATE contacts SET last_contacted_at = $3 WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(contact)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn reply_emails(&self, ws: i64, conversation_id: i64) -> Result<Vec<ReplyEmail>> {
        let rows =
            sqlx::query("SELECT * FROM reply_emails WHERE workspace_id = $1 AND conversation_id = $2 ORDER BY id")
                .bind(ws)
                .bind(conversation_id)
                .fetch_all(&self.reader)
                .await?;
        rows.iter().map(reply_email_from_row).collect()
    }

    async fn conversation_anywhere(&self, id: i64) -> Result<Option<Conversation>> {
        let row =
            sqlx::query("SELECT * FROM conversations WHERE id = $1").bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    async fn reply_email_after(&self, ws: i64) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT reply_email_after FROM workspaces WHERE id = $1")
            .bind(ws)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
    }

    async fn set_reply_email_after(&self, ws: i64, seconds: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE workspaces SET reply_email_after = $2 WHERE id = $1")
            .bind(ws)
            .bind(seconds)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_received_part(
        &self,
        ws: i64,
        conversation_id: i64,
        message_id: &str,
        part: ConversationPart,
    ) -> Result<Option<ConversationPart>> {
        let mut tx = self.writer.begin().await?;
        // The Message-ID first: a second copy of the email stops here (on PostgreSQL it waits
        // for the first copy's transaction and then finds its row).
        let new = sqlx::query(
            "INSERT INTO received_emails (workspace_id, message_id, conversation_id, part_id, received_at) \
             SELECT $1, $2, c.id, 0, $4 FROM conversations c WHERE c.workspace_id = $1 AND c.id = $3 \
             ON CONFLICT (workspace_id, message_id) DO NOTHING",
        )
        .bind(ws)
        .bind(message_id)
        .bind(conversation_id)
        .bind(part.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if new == 0 {
            // Already received, or no such conversation (then the part cannot be written either).
            let known = sqlx::query("SELECT 1 FROM received_emails WHERE workspace_id = $1 AND message_id = $2")
                .bind(ws)
                .bind(message_id)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_some() {
                return Ok(None);
            }
            return Err(sqlx::Error::RowNotFound.into());
        }
        let written = add_part_in(&mut tx, ws, conversation_id, &part).await?.ok_or(sqlx::Error::RowNotFound)?;
        sqlx::query("UPDATE received_emails SET part_id = $3 WHERE workspace_id = $1 AND message_id = $2")
            .bind(ws)
            .bind(message_id)
            .bind(written.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(written))
    }
}
