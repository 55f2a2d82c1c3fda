// Imports started from the admin app, shared by both dialects. Included after `imp.rs`, whose
// imports and helpers it uses.

use crate::imports::{Import, ImportCounters, ImportEnd, ImportStatus, ImportStore, NewImport, TakenOver};

/// Every column but the report, which only its download reads.
const IMPORT_COLUMNS: &str = "id, workspace_id, teammate_id, file_name, format, path, size, status, runs, options, \
     bytes_read, lines, created, updated, unchanged, rejected, error, created_at, started_at, finished_at, heartbeat_at";

fn import_from_row(row: &DbRow) -> Result<Import> {
    let status: String = row.try_get("status")?;
    Ok(Import {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        teammate_id: row.try_get("teammate_id")?,
        file_name: row.try_get("file_name")?,
        format: row.try_get("format")?,
        path: row.try_get("path")?,
        size: row.try_get("size")?,
        status: ImportStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("import status {status}")))?,
        runs: row.try_get::<i64, _>("runs")?,
        options: row.try_get("options")?,
        counters: ImportCounters {
            bytes_read: row.try_get("bytes_read")?,
            lines: row.try_get("lines")?,
            created: row.try_get("created")?,
            updated: row.try_get("updated")?,
            unchanged: row.try_get("unchanged")?,
            rejected: row.try_get("rejected")?,
        },
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        heartbeat_at: row.try_get("heartbeat_at")?,
    })
}

#[async_trait]
impl ImportStore for Store {
    async fn create_import(&self, ws: i64, new: &NewImport) -> Result<Import> {
        let sql = format!(
            "INSERT INTO imports (workspace_id, teammate_id, file_name, format, path, size, status, created_at, heartbeat_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'uploaded', $7, $7) RETURNING {IMPORT_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(ws)
            .bind(new.teammate_id)
            .bind(&new.file_name)
            .bind(&new.format)
            .bind(&new.path)
            .bind(new.size)
            .bind(new.created_at)
            .fetch_one(&self.writer)
            .await?;
        import_from_row(&row)
    }

    async fn import(&self, ws: i64, id: i64) -> Result<Option<Import>> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE workspace_id = $1 AND id = $2");
        let row = sqlx::query(&sql).bind(ws).bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(import_from_row).transpose()
    }

    async fn imports(&self, ws: i64, limit: i64) -> Result<Vec<Import>> {
        let sql = format!("SELECT {IMPORT_COLUMNS} FROM imports WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2");
        let rows = sqlx::query(&sql).bind(ws).bind(limit).fetch_all(&self.reader).await?;
        rows.iter().map(import_from_row).collect()
    }

    async fn start_import(&self, ws: i64, id: i64, options: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE imports SET status = 'running', runs = 1, options = $3, started_at = $4, heartbeat_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND status = 'uploaded'",
        )
        .bind(ws)
        .bind(id)
        .bind(options)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn import_progress(&self, ws: i64, id: i64, run: i64, c: &ImportCounters, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE imports SET bytes_read = $3, lines = $4, created = $5, updated = $6, unchanged = $7, \
             rejected = $8, heartbeat_at = $9 WHERE workspace_id = $1 AND id = $2 AND status = 'running' \
             AND runs = $10",
        )
        .bind(ws)
        .bind(id)
        .bind(c.bytes_read)
        .bind(c.lines)
        .bind(c.created)
        .bind(c.updated)
        .bind(c.unchanged)
        .bind(c.rejected)
        .bind(now)
        .bind(run)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_import(&self, ws: i64, id: i64, run: i64, end: &ImportEnd, now: i64) -> Result<bool> {
        let c = &end.counters;
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE imports SET status = $3, bytes_read = $4, lines = $5, created = $6, updated = $7, \
             unchanged = $8, rejected = $9, error = $10, report = $11, finished_at = $12, heartbeat_at = $12 \
             WHERE workspace_id = $1 AND id = $2 AND status = 'running' AND runs = $13",
        )
        .bind(ws)
        .bind(id)
        .bind(end.status.as_str())
        .bind(c.bytes_read)
        .bind(c.lines)
        .bind(c.created)
        .bind(c.updated)
        .bind(c.unchanged)
        .bind(c.rejected)
        .bind(end.error.as_deref())
        .bind(end.report.as_deref())
        .bind(now)
        .bind(run)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            drop_ended_files(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn import_report(&self, ws: i64, id: i64) -> Result<Option<String>> {
        let row = sqlx::query("SELECT report FROM imports WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(match row {
            Some(r) => r.try_get("report")?,
            None => None,
        })
    }

    async fn take_over_imports(
        &self,
        ws: Option<i64>,
        stale_before: i64,
        now: i64,
        max_runs: i64,
        running_here: &[i64],
    ) -> Result<TakenOver> {
        let mut tx = self.writer.begin().await?;
        // Those that cannot run again first, so that every stale one left can.
        let sql = format!(
            "UPDATE imports SET status = 'interrupted', finished_at = $3, \
             error = 'The server stopped before the import ended.' \
             WHERE status = 'running' AND heartbeat_at < $2 AND ($1 IS NULL OR workspace_id = $1) \
             AND NOT {} \
             AND (runs >= $4 OR NOT EXISTS (SELECT 1 FROM import_files f WHERE f.import_id = imports.id)) \
             RETURNING {IMPORT_COLUMNS}",
            id_in("id", 5)
        );
        let q = sqlx::query(&sql).bind(ws).bind(stale_before).bind(now).bind(max_runs);
        let rows = bind_ids(q, running_here).fetch_all(&mut *tx).await?;
        let interrupted = rows.iter().map(import_from_row).collect::<Result<Vec<_>>>()?;
        // A row another caller takes meanwhile has a fresh heartbeat by the time this update
        // gets to it (PostgreSQL checks the condition again once the other commits): taken once.
        let sql = format!(
            "UPDATE imports SET runs = runs + 1, heartbeat_at = $3, bytes_read = 0, lines = 0, created = 0, \
             updated = 0, unchanged = 0, rejected = 0 \
             WHERE status = 'running' AND heartbeat_at < $2 AND ($1 IS NULL OR workspace_id = $1) \
             AND NOT {} RETURNING {IMPORT_COLUMNS}",
            id_in("id", 4)
        );
        let rows =
            bind_ids(sqlx::query(&sql).bind(ws).bind(stale_before).bind(now), running_here).fetch_all(&mut *tx).await?;
        let resumed = rows.iter().map(import_from_row).collect::<Result<Vec<_>>>()?;
        if !interrupted.is_empty() {
            drop_ended_files(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(TakenOver { resumed, interrupted })
    }

    async fn put_import_file(&self, ws: i64, id: i64, seq: i64, data: &[u8]) -> Result<()> {
        sqlx::query(
            "INSERT INTO import_files (import_id, seq, workspace_id, data) \
             SELECT id, $3, workspace_id, $4 FROM imports WHERE workspace_id = $1 AND id = $2",
        )
        .bind(ws)
        .bind(id)
        .bind(seq)
        .bind(data)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn import_file(&self, ws: i64, id: i64, seq: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT data FROM import_files WHERE workspace_id = $1 AND import_id = $2 AND seq = $3")
            .bind(ws)
            .bind(id)
            .bind(seq)
            .fetch_optional(&self.reader)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("data")?),
            None => None,
        })
    }

    async fn delete_uploaded_import(&self, ws: i64, id: i64) -> Result<bool> {
        // Its file's pieces go with it (the foreign key's cascade).
        let done = sqlx::query("DELETE FROM imports WHERE workspace_id = $1 AND id = $2 AND status = 'uploaded'")
            .bind(ws)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn prune_import_files(&self, before: i64) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM import_files WHERE import_id IN \
             (SELECT id FROM imports WHERE status = 'uploaded' AND created_at < $1)",
        )
        .bind(before)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Drops the files of every import that has ended: none runs again.
async fn drop_ended_files(tx: &mut sqlx::Transaction<'_, Db>) -> Result<()> {
    sqlx::query(
        "DELETE FROM import_files WHERE import_id IN \
         (SELECT id FROM imports WHERE status NOT IN ('uploaded', 'running'))",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
