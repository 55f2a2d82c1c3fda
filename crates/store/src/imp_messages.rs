// Messages, deliveries and conversations, shared by both dialects. Included after `imp.rs`,
// whose imports and helpers it uses.

use std::collections::BTreeMap;

use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_core::message::{
    Channel, DeliveryEvent, DeliveryState, DeliveryWindow, EmailTemplate, MessageState, delivery_transition,
    marks_from, moves_from,
};

use crate::messages::{
    Conversation, ConversationPart, ConversationSummary, Delivery, Message, MessageListQuery, MessageRow, MessageStats,
    MessageStore, NewMessage, Recipients, Refused, StatFilter, Timeline, TimelineBucket, timeline_width,
};

/// `state = '<to>'` and `state IN ('<from>', …)` for moving a delivery by `event`, as core's
/// delivery machine says: storage's conditional updates follow it and nothing else.
fn delivery_move(event: DeliveryEvent) -> (String, String) {
    let from = moves_from(event);
    let to = from.first().and_then(|s| delivery_transition(*s, event)).expect("an event that moves a delivery");
    (format!("state = '{}'", to.as_str()), state_in(&from))
}

/// `state IN ('<state>', …)` for constant states.
fn state_in(states: &[DeliveryState]) -> String {
    let list: Vec<String> = states.iter().map(|s| format!("'{}'", s.as_str())).collect();
    format!("state IN ({})", list.join(", "))
}

/// A delivery (unaliased or `d`) due at `$3`: not waiting for its message's delivery window.
const DUE: &str = "(due_at IS NULL OR due_at <= $3)";

/// A contact (aliased `c`) an email cannot reach, and why: the reasons the stats show.
const EMAIL_UNREACHABLE: &str = "(c.email IS NULL OR c.email = '' OR c.unsubscribed_from_emails OR c.has_hard_bounced \
     OR c.marked_email_as_spam)";
const EMAIL_SKIP_REASON: &str = "CASE WHEN c.email IS NULL OR c.email = '' THEN 'no_email' \
     WHEN c.unsubscribed_from_emails THEN 'unsubscribed' WHEN c.has_hard_bounced THEN 'hard_bounced' \
     WHEN c.marked_email_as_spam THEN 'marked_as_spam' END";

fn message_from_row(row: &DbRow) -> Result<Message> {
    let channel: String = row.try_get("channel")?;
    let state: String = row.try_get("state")?;
    let audience: String = row.try_get("audience")?;
    Ok(Message {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        title: row.try_get("title")?,
        sender_id: row.try_get("sender_id")?,
        channel: Channel::parse(&channel).ok_or_else(|| StoreError::Corrupt(format!("channel {channel}")))?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        template: row
            .try_get::<Option<String>, _>("template")?
            .and_then(|t| EmailTemplate::parse(&t))
            .unwrap_or_default(),
        delivery_window: match row.try_get::<Option<String>, _>("delivery_window")? {
            Some(text) => {
                let json: serde_json::Value =
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("delivery_window: {e}")))?;
                Some(DeliveryWindow::parse(&json).map_err(|e| StoreError::Corrupt(format!("delivery_window: {e}")))?)
            }
            None => None,
        },
        audience: serde_json::from_str(&audience).map_err(|e| StoreError::Corrupt(format!("audience: {e}")))?,
        state: MessageState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("message state {state}")))?,
        scheduled_at: row.try_get("scheduled_at")?,
        sent_at: row.try_get("sent_at")?,
        stopped_at: row.try_get("stopped_at")?,
        targeted: row.try_get("targeted")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Reads a delivery from columns aliased `d_*` (so it can share a row with its message).
fn delivery_from_row(row: &DbRow) -> Result<Delivery> {
    let state: String = row.try_get("d_state")?;
    Ok(Delivery {
        id: row.try_get("d_id")?,
        message_id: row.try_get("d_message_id")?,
        contact_id: row.try_get("d_contact_id")?,
        state: DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("delivery state {state}")))?,
        created_at: row.try_get("d_created_at")?,
        sent_at: row.try_get("d_sent_at")?,
        seen_at: row.try_get("d_seen_at")?,
        clicked_at: row.try_get("d_clicked_at")?,
        replied_at: row.try_get("d_replied_at")?,
        attempts: row.try_get("d_attempts")?,
        reason: row.try_get("d_reason")?,
    })
}

const DELIVERY_COLUMNS: &str = "d.id AS d_id, d.message_id AS d_message_id, d.contact_id AS d_contact_id, \
     d.state AS d_state, d.created_at AS d_created_at, d.sent_at AS d_sent_at, d.seen_at AS d_seen_at, \
     d.clicked_at AS d_clicked_at, d.replied_at AS d_replied_at, d.attempts AS d_attempts, d.reason AS d_reason";

/// `instr(lower(x), $n) > 0` in the dialect at hand: ASCII-case-insensitive "contains".
fn contains_ci(column: &str, placeholder: &str) -> String {
    match DIALECT {
        Dialect::Sqlite => format!("instr(lower({column}), {placeholder}) > 0"),
        Dialect::Postgres => format!("strpos(lower({column} COLLATE \"C\"), {placeholder}) > 0"),
    }
}

impl Store {
    async fn message_state(&self, ws: i64, id: i64) -> Result<Refused> {
        Ok(match MessageStore::message(self, ws, id).await? {
            Some(m) => Refused::WrongState(m.state),
            None => Refused::NotFound,
        })
    }
}

#[async_trait]
impl MessageStore for Store {
    async fn create_message(&self, ws: i64, m: NewMessage, now: i64) -> Result<Message> {
        let row = sqlx::query(
            "INSERT INTO messages (workspace_id, title, sender_id, channel, subject, body, audience, state, scheduled_at, created_at, updated_at, template, delivery_window) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12) RETURNING *",
        )
        .bind(ws)
        .bind(&m.title)
        .bind(m.sender_id)
        .bind(m.channel.as_str())
        .bind(&m.subject)
        .bind(&m.body)
        .bind(m.audience.to_string())
        .bind(m.state.as_str())
        .bind(m.scheduled_at)
        .bind(now)
        .bind(m.template.as_str())
        .bind(m.delivery_window.map(|w| w.to_json().to_string()))
        .fetch_one(&self.writer)
        .await?;
        message_from_row(&row)
    }

    async fn message(&self, ws: i64, id: i64) -> Result<Option<Message>> {
        let row = sqlx::query("SELECT * FROM messages WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(message_from_row).transpose()
    }

    async fn update_message(&self, ws: i64, m: &Message, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE messages SET title = $3, channel = $4, subject = $5, body = $6, audience = $7, state = $8, \
             scheduled_at = $9, sender_id = $10, updated_at = $11, template = $12, delivery_window = $13 \
             WHERE workspace_id = $1 AND id = $2 AND state IN ('draft', 'scheduled')",
        )
        .bind(ws)
        .bind(m.id)
        .bind(&m.title)
        .bind(m.channel.as_str())
        .bind(&m.subject)
        .bind(&m.body)
        .bind(m.audience.to_string())
        .bind(m.state.as_str())
        .bind(m.scheduled_at)
        .bind(m.sender_id)
        .bind(now)
        .bind(m.template.as_str())
        .bind(m.delivery_window.map(|w| w.to_json().to_string()))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn messages(&self, ws: i64, q: &MessageListQuery) -> Result<(Vec<MessageRow>, i64)> {
        let mut params: Vec<SqlParam> = Vec::new();
        let mut clause = String::from("m.workspace_id = $1");
        if !q.states.is_empty() {
            let ps: Vec<String> = q
                .states
                .iter()
                .map(|s| {
                    params.push(SqlParam::Text(s.as_str().to_owned()));
                    format!("${}", params.len() + 1)
                })
                .collect();
            clause.push_str(&format!(" AND m.state IN ({})", ps.join(", ")));
        }
        if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            params.push(SqlParam::Text(search.to_ascii_lowercase()));
            let p = format!("${}", params.len() + 1);
            clause.push_str(&format!(" AND ({} OR {})", contains_ci("m.title", &p), contains_ci("t.name", &p)));
        }
        let from = format!("FROM messages m JOIN teammates t ON t.id = m.sender_id WHERE {clause}");
        let count_sql = format!("SELECT COUNT(*) {from}");
        let mut count = sqlx::query(&count_sql).bind(ws);
        for p in &params {
            count = bind_param(count, p);
        }
        let total: i64 = count.fetch_one(&self.reader).await?.try_get(0)?;
        let page_sql = format!(
            "SELECT m.*, t.name AS sender_name {from} ORDER BY COALESCE(m.sent_at, m.scheduled_at, m.updated_at) DESC, m.id DESC LIMIT {} OFFSET {}",
            q.limit.clamp(0, 500),
            q.offset.max(0)
        );
        let mut page = sqlx::query(&page_sql).bind(ws);
        for p in &params {
            page = bind_param(page, p);
        }
        let rows = page.fetch_all(&self.reader).await?;
        let list = rows
            .iter()
            .map(|r| Ok(MessageRow { message: message_from_row(r)?, sender_name: r.try_get("sender_name")? }))
            .collect::<Result<Vec<_>>>()?;
        Ok((list, total))
    }

    async fn send_message(
        &self,
        ws: i64,
        id: i64,
        to: Recipients<'_>,
        now: i64,
    ) -> Result<std::result::Result<Message, Refused>> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE messages SET state = 'sent', sent_at = $3, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND state IN ('draft', 'scheduled') RETURNING *",
        )
        .bind(ws)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return Ok(Err(self.message_state(ws, id).await?));
        };
        let mut message = message_from_row(&row)?;
        // The snapshot: everyone who matches now, written in the same transaction.
        let mut filter = Sql::new(3);
        match to.pred {
            Some(p) => compile(p, DIALECT, "c", &mut filter),
            None => filter.text.push_str("TRUE"),
        }
        if let Some(ids) = to.contact_ids {
            let start = 3 + filter.params.len();
            for cid in ids {
                filter.params.push(SqlParam::Int(*cid));
            }
            let list = if ids.is_empty() { "NULL".to_owned() } else { placeholders(start, ids.len()) };
            filter.text = format!("({}) AND c.id IN ({list})", filter.text);
        }
        // No ON CONFLICT: the conditional move to `sent` above admits one snapshot per message,
        // and should a delivery exist anyway, the unique key fails the whole transaction rather
        // than writing part of it. (Speculative inserts cost PostgreSQL ~50% more per row.)
        // An email is queued for the outbox (due at once), or skipped there and then, with the
        // reason, for a contact who cannot receive it; it is counted either way.
        // With a delivery window, each delivery is due when the window opens for its contact
        // (their time zone, else the workspace's); an in-app delivery due at once has no `due_at`,
        // as nothing needs to wake it.
        let due = match to.due {
            Some(d) if d.by_zone.is_empty() => {
                filter.params.push(SqlParam::Int(d.default));
                format!("${}", 3 + filter.params.len())
            }
            Some(d) => {
                let mut case = String::from("CASE c.timezone");
                // The filter's parameters follow the three fixed ones.
                let next = |params: &Vec<SqlParam>| 3 + params.len() + 1;
                for (zone, at) in &d.by_zone {
                    case.push_str(&format!(" WHEN ${} THEN ${}", next(&filter.params), next(&filter.params) + 1));
                    filter.params.push(SqlParam::Text(zone.clone()));
                    filter.params.push(SqlParam::Int(*at));
                }
                case.push_str(&format!(" ELSE ${} END", next(&filter.params)));
                filter.params.push(SqlParam::Int(d.default));
                case
            }
            None if message.channel == Channel::Email => "$3".to_owned(),
            None => "NULL".to_owned(),
        };
        let (state, reason) = if message.channel == Channel::Email {
            (format!("CASE WHEN {EMAIL_UNREACHABLE} THEN 'skipped' ELSE 'pending' END"), EMAIL_SKIP_REASON)
        } else {
            ("'pending'".to_owned(), "NULL")
        };
        let sql = format!(
            "INSERT INTO deliveries (workspace_id, message_id, contact_id, state, created_at, channel, due_at, reason) \
             SELECT $1, $2, c.id, {state}, $3, '{}', {due}, {reason} FROM contacts c \
             WHERE c.workspace_id = $1 AND c.archived = FALSE AND {}",
            message.channel.as_str(),
            filter.text
        );
        let mut q = sqlx::query(&sql).bind(ws).bind(id).bind(now);
        for p in &filter.params {
            q = bind_param(q, p);
        }
        let targeted = q.execute(&mut *tx).await?.rows_affected() as i64;
        sqlx::query("UPDATE messages SET targeted = $2 WHERE id = $1")
            .bind(id)
            .bind(targeted)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        message.targeted = targeted;
        Ok(Ok(message))
    }

    async fn stop_message(&self, ws: i64, id: i64, now: i64) -> Result<std::result::Result<(Message, u64), Refused>> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE messages SET state = 'stopped', stopped_at = $3, updated_at = $3 \
             WHERE workspace_id = $1 AND id = $2 AND state IN ('scheduled', 'sent') AND channel IN ('chat', 'post', 'email') RETURNING *",
        )
        .bind(ws)
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            drop(tx);
            return Ok(Err(self.message_state(ws, id).await?));
        };
        let (to, from) = delivery_move(DeliveryEvent::Cancel);
        let cancel = format!(
            "UPDATE deliveries SET {to}, cancelled_at = $3 WHERE workspace_id = $1 AND message_id = $2 AND {from}"
        );
        let cancelled = sqlx::query(&cancel).bind(ws).bind(id).bind(now).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(Ok((message_from_row(&row)?, cancelled)))
    }

    async fn due_messages(&self, now: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT workspace_id, id FROM messages WHERE state = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at, id",
        )
        .bind(now)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn message_stats(&self, ws: i64, id: i64) -> Result<MessageStats> {
        let row = sqlx::query(
            "SELECT COUNT(*), \
             COALESCE(SUM(CASE WHEN state IN ('pending', 'sending') THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'sent' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN seen_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN clicked_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN replied_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'cancelled' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'bounced' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN state = 'skipped' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM deliveries WHERE workspace_id = $1 AND message_id = $2",
        )
        .bind(ws)
        .bind(id)
        .fetch_one(&self.reader)
        .await?;
        Ok(MessageStats {
            targeted: row.try_get(0)?,
            pending: row.try_get(1)?,
            sent: row.try_get(2)?,
            seen: row.try_get(3)?,
            clicked: row.try_get(4)?,
            replied: row.try_get(5)?,
            cancelled: row.try_get(6)?,
            failed: row.try_get(7)?,
            bounced: row.try_get(8)?,
            skipped: row.try_get(9)?,
            unsubscribed: row.try_get(10)?,
        })
    }

    async fn delivery_timeline(&self, ws: i64, id: i64, max_buckets: i64) -> Result<Timeline> {
        // Each moment of a delivery as a row of its own: when it was sent, seen, clicked.
        const MOMENTS: &str = "SELECT sent_at AS t, 1 AS sent, 0 AS seen, 0 AS clicked FROM deliveries \
             WHERE workspace_id = $1 AND message_id = $2 AND sent_at IS NOT NULL \
             UNION ALL SELECT seen_at, 0, 1, 0 FROM deliveries \
             WHERE workspace_id = $1 AND message_id = $2 AND seen_at IS NOT NULL \
             UNION ALL SELECT clicked_at, 0, 0, 1 FROM deliveries \
             WHERE workspace_id = $1 AND message_id = $2 AND clicked_at IS NOT NULL";
        let span = sqlx::query(&format!("SELECT MIN(t), MAX(t) FROM ({MOMENTS}) m"))
            .bind(ws)
            .bind(id)
            .fetch_one(&self.reader)
            .await?;
        let (Some(first), Some(last)) = (span.try_get::<Option<i64>, _>(0)?, span.try_get::<Option<i64>, _>(1)?) else {
            return Ok(Timeline::default());
        };
        let width = timeline_width(first, last, max_buckets);
        let rows = sqlx::query(&format!(
            "SELECT (t / $3) * $3 AS b, SUM(sent), SUM(seen), SUM(clicked) FROM ({MOMENTS}) m GROUP BY (t / $3) * $3 ORDER BY b"
        ))
        .bind(ws)
        .bind(id)
        .bind(width)
        .fetch_all(&self.reader)
        .await?;
        let mut counted = HashMap::new();
        for row in rows {
            let start: i64 = row.try_get(0)?;
            counted.insert(start, (row.try_get::<i64, _>(1)?, row.try_get::<i64, _>(2)?, row.try_get::<i64, _>(3)?));
        }
        let buckets = (first.div_euclid(width)..=last.div_euclid(width))
            .map(|n| {
                let start = n * width;
                let (sent, seen, clicked) = counted.get(&start).copied().unwrap_or_default();
                TimelineBucket { start, sent, seen, clicked }
            })
            .collect();
        Ok(Timeline { width, buckets })
    }

    async fn delivery_reasons(&self, ws: i64, id: i64) -> Result<Vec<(DeliveryState, String, i64)>> {
        let rows = sqlx::query(
            "SELECT state, reason, COUNT(*) FROM deliveries WHERE workspace_id = $1 AND message_id = $2 \
             AND state IN ('skipped', 'failed', 'bounced') AND reason IS NOT NULL GROUP BY state, reason ORDER BY 3 DESC, 2",
        )
        .bind(ws)
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(0)?;
                let state = DeliveryState::parse(&state)
                    .ok_or_else(|| StoreError::Corrupt(format!("delivery state {state}")))?;
                Ok((state, r.try_get(1)?, r.try_get(2)?))
            })
            .collect()
    }

    async fn delivery(&self, ws: i64, id: i64) -> Result<Option<Delivery>> {
        let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.workspace_id = $1 AND d.id = $2");
        let row = sqlx::query(&sql).bind(ws).bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(delivery_from_row).transpose()
    }

    async fn message_recipients(
        &self,
        ws: i64,
        id: i64,
        which: StatFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Contact>, i64)> {
        let from = format!(
            "FROM deliveries d JOIN contacts c ON c.id = d.contact_id WHERE d.workspace_id = $1 AND d.message_id = $2 AND {}",
            which.condition()
        );
        let total: i64 = sqlx::query(&format!("SELECT COUNT(*) {from}"))
            .bind(ws)
            .bind(id)
            .fetch_one(&self.reader)
            .await?
            .try_get(0)?;
        let sql = format!(
            "SELECT {} {from} ORDER BY d.id LIMIT {} OFFSET {}",
            *CONTACT_SELECT,
            limit.clamp(0, 1000),
            offset.max(0)
        );
        let rows = sqlx::query(&sql).bind(ws).bind(id).fetch_all(&self.reader).await?;
        Ok((rows.iter().map(contact_from_row).collect::<Result<_>>()?, total))
    }

    async fn pending_in_app(&self, ws: i64, contact_id: i64, now: i64) -> Result<Vec<(Delivery, Message)>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, m.* FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE d.workspace_id = $1 AND d.contact_id = $2 AND d.state = 'pending' AND {DUE} \
             AND m.state = 'sent' AND m.channel IN ('chat', 'post') ORDER BY d.id"
        );
        let rows = sqlx::query(&sql).bind(ws).bind(contact_id).bind(now).fetch_all(&self.reader).await?;
        rows.iter().map(|r| Ok((delivery_from_row(r)?, message_from_row(r)?))).collect()
    }

    async fn deliver(&self, ws: i64, contact_id: i64, delivery_ids: &[i64], now: i64) -> Result<Vec<i64>> {
        if delivery_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.writer.begin().await?;
        let mut delivered = Vec::new();
        for chunk in delivery_ids.chunks(IN_CHUNK) {
            let (to, from) = delivery_move(DeliveryEvent::Deliver);
            let sql = format!(
                "UPDATE deliveries SET {to}, sent_at = $3, due_at = NULL \
                 WHERE workspace_id = $1 AND contact_id = $2 AND {from} AND {DUE} AND id IN ({}) RETURNING id",
                placeholders(3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(ws).bind(contact_id).bind(now);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&mut *tx).await? {
                delivered.push(row.try_get(0)?);
            }
        }
        if !delivered.is_empty() {
            sqlx::query("UPDATE contacts SET last_contacted_at = $3 WHERE workspace_id = $1 AND id = $2")
                .bind(ws)
                .bind(contact_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(delivered)
    }

    async fn deliver_message_to(
        &self,
        ws: i64,
        message_id: i64,
        contact_ids: &[i64],
        now: i64,
    ) -> Result<Vec<(i64, i64)>> {
        if contact_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One statement whatever the number of contacts: the ids travel as one parameter.
        let (to, from) = delivery_move(DeliveryEvent::Deliver);
        let sql = format!(
            "UPDATE deliveries SET {to}, sent_at = $3, due_at = NULL \
             WHERE workspace_id = $1 AND message_id = $2 AND {from} AND {DUE} AND {} RETURNING id, contact_id",
            id_in("contact_id", 4)
        );
        let mut tx = self.writer.begin().await?;
        if let Some(set) = FOR_LONG_LISTS {
            sqlx::query(set).execute(&mut *tx).await?;
        }
        let q = bind_ids(sqlx::query(&sql).bind(ws).bind(message_id).bind(now), contact_ids);
        let rows = q.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    async fn wake_in_app(&self, now: i64, limit: i64) -> Result<Vec<(i64, i64, u64)>> {
        // The outer `due_at IS NOT NULL` makes the wake a claim: on PostgreSQL a row another
        // node woke meanwhile fails it when re-checked, so each delivery is woken once.
        let sql = format!(
            "UPDATE deliveries SET due_at = NULL WHERE id IN \
             (SELECT id FROM deliveries WHERE channel IN ('chat', 'post') AND state = 'pending' \
              AND due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2{SKIP_LOCKED}) \
             AND due_at IS NOT NULL RETURNING workspace_id, message_id"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&self.writer).await?;
        let mut woken: BTreeMap<(i64, i64), u64> = BTreeMap::new();
        for r in &rows {
            *woken.entry((r.try_get(0)?, r.try_get(1)?)).or_insert(0) += 1;
        }
        Ok(woken.into_iter().map(|((ws, m), n)| (ws, m, n)).collect())
    }

    async fn contact_timezones(&self, ws: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT timezone FROM contacts WHERE workspace_id = $1 AND timezone IS NOT NULL AND timezone <> ''",
        )
        .bind(ws)
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    async fn delivered_in_app(&self, ws: i64, contact_id: i64, limit: i64) -> Result<Vec<(Delivery, Message)>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS}, m.* FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE d.workspace_id = $1 AND d.contact_id = $2 AND d.state = 'sent' AND m.channel IN ('chat', 'post') \
             ORDER BY d.sent_at DESC, d.id DESC LIMIT {}",
            limit.clamp(0, 500)
        );
        let rows = sqlx::query(&sql).bind(ws).bind(contact_id).fetch_all(&self.reader).await?;
        rows.iter().map(|r| Ok((delivery_from_row(r)?, message_from_row(r)?))).collect()
    }

    async fn mark_delivery(
        &self,
        ws: i64,
        contact_id: i64,
        delivery_id: i64,
        what: StatFilter,
        now: i64,
    ) -> Result<bool> {
        let (column, event) = match what {
            StatFilter::Seen => ("seen_at", DeliveryEvent::Seen),
            StatFilter::Clicked => ("clicked_at", DeliveryEvent::Click),
            StatFilter::Replied => ("replied_at", DeliveryEvent::Reply),
            _ => return Ok(false),
        };
        let sql = format!(
            "UPDATE deliveries SET {column} = $4 WHERE workspace_id = $1 AND contact_id = $2 AND id = $3 \
             AND {} AND {column} IS NULL",
            state_in(&marks_from(event))
        );
        let done =
            sqlx::query(&sql).bind(ws).bind(contact_id).bind(delivery_id).bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn deliveries_of_contact(&self, ws: i64, contact_id: i64) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.workspace_id = $1 AND d.contact_id = $2 ORDER BY d.id"
        );
        let rows = sqlx::query(&sql).bind(ws).bind(contact_id).fetch_all(&self.reader).await?;
        rows.iter().map(delivery_from_row).collect()
    }
}
