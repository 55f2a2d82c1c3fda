// Email's clicks per link and late reports, shared by both dialects. Included after
// `imp_messages.rs`, whose imports and helpers it uses.

use crate::email::{EmailStore, LinkClicks};

#[async_trait]
impl EmailStore for Store {
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
            .map(|r| Ok(LinkClicks { url: r.try_get("url")?, clicks: r.try_get("clicks")?, people: r.try_get("people")? }))
            .collect()
    }

    async fn delivery_anywhere(&self, id: i64) -> Result<Option<(i64, Delivery)>> {
        let sql = format!("SELECT d.workspace_id AS d_workspace_id, {DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1");
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
