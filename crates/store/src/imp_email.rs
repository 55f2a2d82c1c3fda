// Email's outbox, clicks per link and late reports, shared by both dialects. Included after
// `imp_messages.rs`, whose imports and helpers it uses.

use crate::email::{Claimed, EmailOutcome, EmailStore, LinkClicks};

#[async_trait]
impl EmailStore for Store {
    async fn claim_emails(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Claimed>> {
        let (to, _) = delivery_move(DeliveryEvent::Claim);
        // `state IN ('pending', 'sending')`, the outbox index's own condition: a row left
        // `sending` by a worker that died is due again when its lease (its `due_at`) ends.
        let from = state_in(&[moves_from(DeliveryEvent::Claim), marks_from(DeliveryEvent::Claim)].concat());
        let sql = format!(
            "UPDATE deliveries SET {to}, attempts = attempts + 1, due_at = $2 WHERE id IN \
             (SELECT id FROM deliveries WHERE channel = 'email' AND {from} AND due_at <= $1 \
              ORDER BY due_at, id LIMIT $3{SKIP_LOCKED}) \
             RETURNING id, workspace_id, message_id, contact_id, attempts"
        );
        let rows = sqlx::query(&sql).bind(now).bind(lease_until).bind(limit).fetch_all(&self.writer).await?;
        let mut claimed = rows
            .iter()
            .map(|r| {
                Ok(Claimed {
                    delivery_id: r.try_get(0)?,
                    workspace_id: r.try_get(1)?,
                    message_id: r.try_get(2)?,
                    contact_id: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|c| c.delivery_id);
        Ok(claimed)
    }

    async fn record_email(&self, ws: i64, delivery_id: i64, outcome: &EmailOutcome, now: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = record_in(&mut tx, ws, delivery_id, outcome, now).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn record_emails(&self, outcomes: &[(i64, i64, EmailOutcome)], now: i64) -> Result<Vec<bool>> {
        let mut tx = self.writer.begin().await?;
        let mut done = Vec::with_capacity(outcomes.len());
        for (ws, delivery_id, outcome) in outcomes {
            done.push(record_in(&mut tx, *ws, *delivery_id, outcome, now).await?);
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn take_email_slots(&self, ws: i64, n: i64, interval_ms: i64, burst: i64, now_ms: i64) -> Result<(i64, i64)> {
        let interval = interval_ms.max(1);
        loop {
            let Some(row) = sqlx::query("SELECT email_tat FROM workspaces WHERE id = $1")
                .bind(ws)
                .fetch_optional(&self.writer)
                .await?
            else {
                return Ok((0, now_ms));
            };
            let tat: i64 = row.try_get(0)?;
            // A send may go when the theoretical arrival time is at most `burst - 1` intervals
            // ahead of now.
            let start = tat.max(now_ms);
            let room = (now_ms + burst.max(1) * interval - start) / interval;
            let granted = room.clamp(0, n);
            let new_tat = start + granted * interval;
            let next = new_tat - (burst.max(1) - 1) * interval;
            if granted == 0 {
                return Ok((0, next.max(now_ms + 1)));
            }
            let done = sqlx::query("UPDATE workspaces SET email_tat = $3 WHERE id = $1 AND email_tat = $2")
                .bind(ws)
                .bind(tat)
                .bind(new_tat)
                .execute(&self.writer)
                .await?;
            if done.rows_affected() > 0 {
                return Ok((granted, next.max(now_ms + 1)));
            }
        }
    }

    async fn unsubscribe(&self, ws: i64, contact_id: i64, delivery_id: Option<i64>, now: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let changed = sqlx::query(
            "UPDATE contacts SET unsubscribed_from_emails = TRUE, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND unsubscribed_from_emails = FALSE",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if let Some(d) = delivery_id {
            sqlx::query(
                "UPDATE deliveries SET unsubscribed_at = $4 \
                 WHERE workspace_id = $1 AND contact_id = $2 AND id = $3 AND unsubscribed_at IS NULL",
            )
            .bind(ws)
            .bind(contact_id)
            .bind(d)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn record_click(&self, ws: i64, message_id: i64, delivery_id: i64, url: &str, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO email_clicks (workspace_id, message_id, delivery_id, url, clicks, first_at, last_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5) \
             ON CONFLICT (delivery_id, url) DO UPDATE SET clicks = email_clicks.clicks + 1, last_at = $5",
        )
        .bind(ws)
        .bind(message_id)
        .bind(delivery_id)
        .bind(url)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn link_clicks(&self, ws: i64, message_id: i64) -> Result<Vec<LinkClicks>> {
        let rows = sqlx::query(
            "SELECT url, CAST(SUM(clicks) AS BIGINT) AS clicks, COUNT(*) AS people FROM email_clicks \
             WHERE workspace_id = $1 AND message_id = $2 GROUP BY url ORDER BY clicks DESC, url",
        )
        .bind(ws)
        .bind(message_id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkClicks { url: r.try_get("url")?, clicks: r.try_get("clicks")?, people: r.try_get("people")? })
            })
            .collect()
    }

    async fn delivery_anywhere(&self, id: i64) -> Result<Option<(i64, Delivery)>> {
        let sql =
            format!("SELECT d.workspace_id AS d_workspace_id, {DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1");
        let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(&self.reader).await? else { return Ok(None) };
        Ok(Some((row.try_get("d_workspace_id")?, delivery_from_row(&row)?)))
    }

    async fn report_bounce(&self, ws: i64, delivery_id: i64, reason: &str, now: i64) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let (to, from) = delivery_move(DeliveryEvent::Bounce);
        let sql = format!(
            "UPDATE deliveries SET {to}, bounced_at = $3, reason = $4, due_at = NULL \
             WHERE workspace_id = $1 AND id = $2 AND channel = 'email' AND {from} RETURNING contact_id"
        );
        let row = sqlx::query(&sql).bind(ws).bind(delivery_id).bind(now).bind(reason).fetch_optional(&mut *tx).await?;
        let Some(row) = row else { return Ok(false) };
        let contact: i64 = row.try_get(0)?;
        sqlx::query("UPDATE contacts SET has_hard_bounced = TRUE, updated_at = $3 WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(contact)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn report_complaint(&self, ws: i64, delivery_id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE contacts SET marked_email_as_spam = TRUE, updated_at = $3 WHERE workspace_id = $1 \
             AND id = (SELECT contact_id FROM deliveries WHERE workspace_id = $1 AND id = $2) \
             AND NOT marked_email_as_spam",
        )
        .bind(ws)
        .bind(delivery_id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Records one claimed email's outcome inside `tx` (see `EmailStore::record_email`).
async fn record_in(
    tx: &mut sqlx::Transaction<'_, Db>,
    ws: i64,
    delivery_id: i64,
    outcome: &EmailOutcome,
    now: i64,
) -> Result<bool> {
    let (event, set) = match outcome {
        EmailOutcome::Sent => (DeliveryEvent::Deliver, "sent_at = $3, reason = NULL, due_at = NULL"),
        EmailOutcome::Retry { counts: true, .. } => (DeliveryEvent::Retry, "due_at = $5, reason = $4"),
        EmailOutcome::Retry { counts: false, .. } => (DeliveryEvent::Retry, "due_at = $5, attempts = attempts - 1"),
        EmailOutcome::Failed(_) => (DeliveryEvent::Fail, "failed_at = $3, reason = $4, due_at = NULL"),
        EmailOutcome::Bounced(_) => (DeliveryEvent::Bounce, "bounced_at = $3, reason = $4, due_at = NULL"),
        EmailOutcome::Skipped(_) => (DeliveryEvent::Skip, "reason = $4, due_at = NULL"),
        // Not the machine's `sending → cancelled` (a stop leaves an email on its way alone):
        // the worker's own claim, given up before anything was sent.
        EmailOutcome::Cancelled => (DeliveryEvent::Cancel, "cancelled_at = $3, due_at = NULL"),
    };
    let (to, _) = delivery_move(event);
    let reason = match outcome {
        EmailOutcome::Sent | EmailOutcome::Cancelled => None,
        EmailOutcome::Retry { reason, .. }
        | EmailOutcome::Failed(reason)
        | EmailOutcome::Bounced(reason)
        | EmailOutcome::Skipped(reason) => Some(reason.as_str()),
    };
    let at = match outcome {
        EmailOutcome::Retry { at, .. } => Some(*at),
        _ => None,
    };
    // Only the worker's own claim is recorded: a delivery that moved on meanwhile is left.
    let sql = format!(
        "UPDATE deliveries SET {to}, {set} WHERE workspace_id = $1 AND id = $2 AND state = 'sending' \
         RETURNING contact_id"
    );
    let row =
        sqlx::query(&sql).bind(ws).bind(delivery_id).bind(now).bind(reason).bind(at).fetch_optional(&mut **tx).await?;
    let Some(row) = row else { return Ok(false) };
    let contact: i64 = row.try_get(0)?;
    let contact_change = match outcome {
        EmailOutcome::Sent => Some("last_contacted_at = $3"),
        EmailOutcome::Bounced(_) => Some("has_hard_bounced = TRUE, updated_at = $3"),
        _ => None,
    };
    if let Some(change) = contact_change {
        sqlx::query(&format!("UPDATE contacts SET {change} WHERE workspace_id = $1 AND id = $2"))
            .bind(ws)
            .bind(contact)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}
