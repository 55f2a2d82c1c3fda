// Webhook subscriptions and the outbox of their notifications, shared by both dialects. Included
// after `imp_messages.rs`, whose imports and helpers it uses.

use tidings_core::webhook::{Topic, topic_of};

use crate::webhooks::{
    ClaimedNotification, Enqueued, Notification, NotificationOutcome, NotificationState, Webhook, WebhookChange,
    WebhookStore,
};

/// Subscriptions read past their cursor in one transaction.
const ENQUEUE_SUBSCRIPTIONS: i64 = 100;

fn topics_json(topics: &[Topic]) -> String {
    Json::from(topics.iter().map(|t| t.as_str()).collect::<Vec<_>>()).to_string()
}

fn webhook_from_row(row: &DbRow) -> Result<Webhook> {
    let topics = topics_from_row(row)?;
    Ok(Webhook {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        url: row.try_get("url")?,
        topics,
        secret: row.try_get("secret")?,
        active: row.try_get("active")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn notification_from_row(row: &DbRow) -> Result<Notification> {
    let topic: String = row.try_get("topic")?;
    let state: String = row.try_get("state")?;
    Ok(Notification {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        webhook_id: row.try_get("webhook_id")?,
        notification_id: row.try_get("notification_id")?,
        topic: Topic::parse(&topic).ok_or_else(|| StoreError::Corrupt(format!("notification topic {topic}")))?,
        conversation_id: row.try_get("conversation_id")?,
        part_id: row.try_get("part_id")?,
        state: NotificationState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("notification state {state}")))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        locked_until: row.try_get("locked_until")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        first_sent_at: row.try_get("first_sent_at")?,
        delivered_at: row.try_get("delivered_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A fresh envelope id, `notif_` and 128 random bits in the UUID layout (as Intercom's look).
fn notification_id() -> String {
    let mut b = [0u8; 16];
    // Only uniqueness matters here, not secrecy: a clock-based fallback would do, but the
    // system's generator does not fail on the platforms Tidings runs on.
    getrandom::fill(&mut b).unwrap_or_default();
    let h = hex::encode(b);
    format!("notif_{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl Store {
    /// The newest part id such that every part with a lower or equal id has been committed or
    /// never will be: what a cursor may move up to.
    async fn settled_part_horizon(&self) -> Result<i64> {
        let mut tx = self.writer.begin().await?;
        if DIALECT == Dialect::Postgres {
            // PostgreSQL hands out ids before their transactions commit, and those commit in any
            // order: a part numbered below one already visible may still be on its way, and a
            // cursor moved past it would skip it forever. SHARE waits for every transaction
            // that wrote a part to end (and holds new writers back for the instant of one
            // index read), so every id up to the newest read under it is settled. SQLite has
            // one writer, whose transactions hand out ids and commit in the same order.
            // Writers queue behind a lock request that waits: a transaction slow to end must not
            // hold every conversation up for long, so the pass gives up and tries next time.
            sqlx::query("SET LOCAL lock_timeout = '5s'").execute(&mut *tx).await?;
            sqlx::query("LOCK TABLE conversation_parts IN SHARE MODE").execute(&mut *tx).await?;
        }
        let newest: i64 =
            sqlx::query("SELECT COALESCE(MAX(id), 0) FROM conversation_parts").fetch_one(&mut *tx).await?.try_get(0)?;
        tx.commit().await?;
        Ok(newest)
    }
}

#[async_trait]
impl WebhookStore for Store {
    async fn create_webhook(
        &self,
        ws: i64,
        url: &str,
        topics: &[Topic],
        active: bool,
        max: i64,
        now: i64,
    ) -> Result<Option<Webhook>> {
        // The cursor starts at the newest part: a subscription hears what happens from now on.
        let sql = format!(
            "INSERT INTO webhooks (workspace_id, url, topics, secret, active, part_cursor, created_at, updated_at) \
             SELECT $1, $2, $3, {RANDOM_SECRET}, $4, (SELECT COALESCE(MAX(id), 0) FROM conversation_parts), $5, $5 \
             WHERE (SELECT COUNT(*) FROM webhooks WHERE workspace_id = $1) < $6 RETURNING *"
        );
        let row = sqlx::query(&sql)
            .bind(ws)
            .bind(url)
            .bind(topics_json(topics))
            .bind(active)
            .bind(now)
            .bind(max)
            .fetch_optional(&self.writer)
            .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn webhooks(&self, ws: i64) -> Result<Vec<Webhook>> {
        let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn webhook(&self, ws: i64, id: i64) -> Result<Option<Webhook>> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn update_webhook(&self, ws: i64, id: i64, change: &WebhookChange, now: i64) -> Result<Option<Webhook>> {
        // Every right-hand side reads the row as it was, so `NOT active` means "was off".
        let row = sqlx::query(
            "UPDATE webhooks SET url = COALESCE($3, url), topics = COALESCE($4, topics), \
             part_cursor = CASE WHEN $5 AND NOT active THEN (SELECT COALESCE(MAX(id), 0) FROM conversation_parts) ELSE part_cursor END, \
             active = COALESCE($5, active), updated_at = $6 WHERE workspace_id = $1 AND id = $2 RETURNING *",
        )
        .bind(ws)
        .bind(id)
        .bind(change.url.as_deref())
        .bind(change.topics.as_deref().map(topics_json))
        .bind(change.active)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(webhook_from_row).transpose()
    }

    async fn delete_webhook(&self, ws: i64, id: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        // Its notifications go with it (the foreign key cascades too; said here for clarity and
        // for the order of locks: notifications, then the subscription).
        sqlx::query("DELETE FROM webhook_notifications WHERE workspace_id = $1 AND webhook_id = $2")
            .bind(ws)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let gone = sqlx::query("DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0;
        tx.commit().await?;
        Ok(gone)
    }

    async fn webhook_notifications(&self, ws: i64, webhook_id: i64, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT * FROM webhook_notifications WHERE workspace_id = $1 AND webhook_id = $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(ws)
        .bind(webhook_id)
        .bind(limit.clamp(0, 1_000))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(notification_from_row).collect()
    }

    async fn enqueue_notifications(&self, now: i64, limit: i64) -> Result<Enqueued> {
        // The common case, nothing new, costs two index reads and takes no lock.
        let lowest: Option<i64> = sqlx::query("SELECT MIN(part_cursor) FROM webhooks WHERE active")
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        let Some(lowest) = lowest else { return Ok(Enqueued::default()) };
        let newest: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM conversation_parts")
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        if newest <= lowest {
            return Ok(Enqueued::default());
        }
        let horizon = self.settled_part_horizon().await?;
        let limit = limit.clamp(1, 10_000);
        let mut done = Enqueued::default();
        let mut tx = self.writer.begin().await?;
        let sql = format!(
            "SELECT id, workspace_id, topics, part_cursor FROM webhooks WHERE active AND part_cursor < $1 \
             ORDER BY id LIMIT $2{SKIP_LOCKED}"
        );
        let subscriptions = sqlx::query(&sql).bind(horizon).bind(ENQUEUE_SUBSCRIPTIONS).fetch_all(&mut *tx).await?;
        for sub in &subscriptions {
            let (id, ws, cursor): (i64, i64, i64) =
                (sub.try_get("id")?, sub.try_get("workspace_id")?, sub.try_get("part_cursor")?);
            let wanted = topics_from_row(sub)?;
            // A part opens its conversation when no part of that conversation came before it.
            let parts = sqlx::query(
                "SELECT p.id, p.conversation_id, p.part_type, p.author_type, \
                 (p.id = (SELECT MIN(q.id) FROM conversation_parts q WHERE q.conversation_id = p.conversation_id)) AS opening \
                 FROM conversation_parts p WHERE p.workspace_id = $1 AND p.id > $2 AND p.id <= $3 ORDER BY p.id LIMIT $4",
            )
            .bind(ws)
            .bind(cursor)
            .bind(horizon)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut last = cursor;
            for p in &parts {
                last = p.try_get("id")?;
                let (part_type, author): (String, String) = (p.try_get("part_type")?, p.try_get("author_type")?);
                let part_type =
                    PartType::parse(&part_type).ok_or_else(|| StoreError::Corrupt(format!("part type {part_type}")))?;
                let author =
                    Author::parse(&author).ok_or_else(|| StoreError::Corrupt(format!("part author {author}")))?;
                let Some(topic) = topic_of(part_type, author, p.try_get("opening")?) else { continue };
                if !wanted.contains(&topic) {
                    continue;
                }
                let written = sqlx::query(
                    "INSERT INTO webhook_notifications (workspace_id, webhook_id, notification_id, topic, conversation_id, part_id, \
                     state, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $7) \
                     ON CONFLICT (webhook_id, part_id) DO NOTHING",
                )
                .bind(ws)
                .bind(id)
                .bind(notification_id())
                .bind(topic.as_str())
                .bind(p.try_get::<i64, _>("conversation_id")?)
                .bind(last)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                done.notifications += written.rows_affected();
            }
            // Fewer than asked for: every part of the workspace up to the horizon is read.
            let next = if (parts.len() as i64) < limit { horizon } else { last };
            // Conditional, though the row is held: a cursor that moved meanwhile undoes it all.
            let moved = sqlx::query("UPDATE webhooks SET part_cursor = $3 WHERE id = $1 AND part_cursor = $2")
                .bind(id)
                .bind(cursor)
                .bind(next)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved == 0 {
                return Err(StoreError::Conflict {
                    what: format!("the cursor of webhook {id}"),
                    existing_id: Some(id),
                });
            }
            done.subscriptions += 1;
            done.parts += parts.len() as u64;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn claim_notifications(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<ClaimedNotification>> {
        let mut tx = self.writer.begin().await?;
        // A notification left `sending` by a worker that died is due again when its claim ends.
        let sql = format!(
            "UPDATE webhook_notifications SET state = 'sending', attempts = attempts + 1, locked_until = $2, \
             first_sent_at = COALESCE(first_sent_at, $1), updated_at = $1 WHERE id IN \
             (SELECT id FROM webhook_notifications WHERE \
              ((state = 'pending' AND next_attempt_at <= $1) OR (state = 'sending' AND locked_until <= $1)) \
              AND webhook_id IN (SELECT id FROM webhooks WHERE active) ORDER BY id LIMIT $3{SKIP_LOCKED}) RETURNING id"
        );
        let ids: Vec<i64> = sqlx::query(&sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT n.*, w.url AS w_url, w.secret AS w_secret, s.app_id AS s_app_id FROM webhook_notifications n \
             JOIN webhooks w ON w.id = n.webhook_id JOIN workspaces s ON s.id = n.workspace_id WHERE {} ORDER BY n.id",
            id_in("n.id", 1)
        );
        let rows = bind_ids(sqlx::query(&sql), &ids).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(ClaimedNotification {
                    notification: notification_from_row(r)?,
                    url: r.try_get("w_url")?,
                    secret: r.try_get("w_secret")?,
                    app_id: r.try_get("s_app_id")?,
                })
            })
            .collect()
    }

    async fn record_notification(
        &self,
        id: i64,
        attempt: i64,
        outcome: &NotificationOutcome,
        now: i64,
    ) -> Result<bool> {
        let (state, next, delivered, status, error) = match outcome {
            NotificationOutcome::Delivered { status } => {
                (NotificationState::Delivered, None, Some(now), Some(*status), None)
            }
            NotificationOutcome::Retry { at, status, error } => {
                (NotificationState::Pending, Some(*at), None, *status, Some(error.as_str()))
            }
            NotificationOutcome::Failed { status, error } => {
                (NotificationState::Failed, None, None, *status, Some(error.as_str()))
            }
        };
        // Only the claim under way is recorded: once it ran out and another worker claimed the
        // notification again (one attempt more), this answer is left unwritten.
        let done = sqlx::query(
            "UPDATE webhook_notifications SET state = $3, next_attempt_at = $4, delivered_at = $5, last_status = $6, \
             last_error = $7, locked_until = NULL, updated_at = $8 WHERE id = $1 AND attempts = $2 AND state = 'sending'",
        )
        .bind(id)
        .bind(attempt)
        .bind(state.as_str())
        .bind(next)
        .bind(delivered)
        .bind(status)
        .bind(error)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn prune_notifications(&self, before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM webhook_notifications WHERE state IN ('delivered', 'failed') AND updated_at < $1")
                .bind(before)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected())
    }
}

/// The topics column of a row of `webhooks`.
fn topics_from_row(row: &DbRow) -> Result<Vec<Topic>> {
    let text: String = row.try_get("topics")?;
    let names: Vec<String> =
        serde_json::from_str(&text).map_err(|_| StoreError::Corrupt(format!("webhook topics {text}")))?;
    names.iter().map(|n| Topic::parse(n).ok_or_else(|| StoreError::Corrupt(format!("webhook topic {n}")))).collect()
}
