// Tags and segments, shared by both dialects. Included after `imp.rs`, whose imports and
// helpers it uses.

use crate::labels::LabelStore;

#[async_trait]
impl LabelStore for Store {
    async fn tags(&self, ws: i64) -> Result<Vec<Tag>> {
        let rows = sqlx::query("SELECT * FROM tags WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(tag_from_row).collect()
    }

    async fn tag(&self, ws: i64, id: i64) -> Result<Option<Tag>> {
        let row = sqlx::query("SELECT * FROM tags WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(tag_from_row).transpose()
    }

    async fn create_tag(&self, ws: i64, name: &str, now: i64) -> Result<Tag> {
        let mut tx = self.writer.begin().await?;
        let existing = sqlx::query("SELECT * FROM tags WHERE workspace_id = $1 AND name = $2")
            .bind(ws)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let tag = match existing {
            Some(row) => tag_from_row(&row)?,
            None => tag_from_row(
                &sqlx::query("INSERT INTO tags (workspace_id, name, created_at) VALUES ($1, $2, $3) RETURNING *")
                    .bind(ws)
                    .bind(name)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?,
            )?,
        };
        tx.commit().await?;
        Ok(tag)
    }

    async fn rename_tag(&self, ws: i64, id: i64, name: &str) -> Result<Option<Tag>> {
        let row = sqlx::query("UPDATE tags SET name = $3 WHERE workspace_id = $1 AND id = $2 RETURNING *")
            .bind(ws)
            .bind(id)
            .bind(name)
            .fetch_optional(&self.writer)
            .await
            .map_err(|e| conflict(e, "a tag with this name"))?;
        row.as_ref().map(tag_from_row).transpose()
    }

    async fn delete_tag(&self, ws: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM tags WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn tag_contact(&self, ws: i64, contact_id: i64, tag_id: i64, admin: Option<i64>, now: i64) -> Result<()> {
        // Both rows must belong to the workspace: the INSERT … SELECT finds nothing otherwise.
        sqlx::query(
            "INSERT INTO contact_tags (contact_id, tag_id, workspace_id, applied_at, applied_by) \
             SELECT c.id, t.id, c.workspace_id, $4, $5 FROM contacts c JOIN tags t ON t.workspace_id = c.workspace_id \
             WHERE c.workspace_id = $1 AND c.id = $2 AND t.id = $3 \
             ON CONFLICT (contact_id, tag_id) DO NOTHING",
        )
        .bind(ws)
        .bind(contact_id)
        .bind(tag_id)
        .bind(now)
        .bind(admin)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn untag_contact(&self, ws: i64, contact_id: i64, tag_id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM contact_tags WHERE workspace_id = $1 AND contact_id = $2 AND tag_id = $3")
            .bind(ws)
            .bind(contact_id)
            .bind(tag_id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn contact_tags(&self, ws: i64, contact_ids: &[i64]) -> Result<HashMap<i64, Vec<AppliedTag>>> {
        let mut out: HashMap<i64, Vec<AppliedTag>> = HashMap::new();
        for chunk in contact_ids.chunks(IN_CHUNK) {
            let sql = format!(
                "SELECT ct.contact_id, ct.applied_at, ct.applied_by, t.id, t.name, t.created_at FROM contact_tags ct \
                 JOIN tags t ON t.id = ct.tag_id WHERE ct.workspace_id = $1 AND ct.contact_id IN ({}) ORDER BY t.id",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(ws);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.reader).await? {
                out.entry(row.try_get("contact_id")?).or_default().push(AppliedTag {
                    tag: tag_from_row(&row)?,
                    applied_at: row.try_get("applied_at")?,
                    applied_by: row.try_get("applied_by")?,
                });
            }
        }
        Ok(out)
    }

    async fn segments(&self, ws: i64) -> Result<Vec<Segment>> {
        let rows = sqlx::query("SELECT * FROM segments WHERE workspace_id = $1 ORDER BY builtin DESC, id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(segment_from_row).collect()
    }

    async fn segment(&self, ws: i64, id: i64) -> Result<Option<Segment>> {
        let row = sqlx::query("SELECT * FROM segments WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(segment_from_row).transpose()
    }

    async fn create_segment(&self, ws: i64, s: NewSegment, now: i64) -> Result<Segment> {
        let row = sqlx::query(
            "INSERT INTO segments (workspace_id, name, person_type, query, builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING *",
        )
        .bind(ws)
        .bind(&s.name)
        .bind(s.person_type.as_api())
        .bind(s.query.to_string())
        .bind(now)
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict(e, "a segment with this name"))?;
        segment_from_row(&row)
    }

    async fn update_segment(&self, ws: i64, id: i64, s: NewSegment, now: i64) -> Result<Option<Segment>> {
        let row = sqlx::query(
            "UPDATE segments SET name = $3, person_type = $4, query = $5, updated_at = $6 WHERE workspace_id = $1 AND id = $2 AND builtin = FALSE RETURNING *",
        )
        .bind(ws)
        .bind(id)
        .bind(&s.name)
        .bind(s.person_type.as_api())
        .bind(s.query.to_string())
        .bind(now)
        .fetch_optional(&self.writer)
        .await
        .map_err(|e| conflict(e, "a segment with this name"))?;
        row.as_ref().map(segment_from_row).transpose()
    }

    async fn delete_segment(&self, ws: i64, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM segments WHERE workspace_id = $1 AND id = $2 AND builtin = FALSE")
            .bind(ws)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
