// Uploaded files, shared by both dialects. Included after `imp.rs`, whose imports and helpers it
// uses.

use crate::uploads::{Upload, UploadStore};

fn upload_from_row(row: &DbRow) -> Result<Upload> {
    Ok(Upload {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        token: row.try_get("token")?,
        content_type: row.try_get("content_type")?,
        bytes: row.try_get("bytes")?,
        uploaded_by: row.try_get("uploaded_by")?,
        created_at: row.try_get("created_at")?,
    })
}

const UPLOAD_COLUMNS: &str = "id, workspace_id, token, content_type, bytes, uploaded_by, created_at";

#[async_trait]
impl UploadStore for Store {
    async fn create_upload(
        &self,
        ws: i64,
        token: &str,
        content_type: &str,
        bytes: &[u8],
        uploaded_by: Option<i64>,
        now: i64,
    ) -> Result<Upload> {
        let row = sqlx::query(&format!(
            "INSERT INTO uploads (workspace_id, token, content_type, size, bytes, uploaded_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {UPLOAD_COLUMNS}"
        ))
        .bind(ws)
        .bind(token)
        .bind(content_type)
        .bind(bytes.len() as i64)
        .bind(bytes)
        .bind(uploaded_by)
        .bind(now)
        .fetch_one(&self.writer)
        .await?;
        upload_from_row(&row)
    }

    async fn upload_by_token(&self, token: &str) -> Result<Option<Upload>> {
        let row = sqlx::query(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE token = $1"))
            .bind(token)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(upload_from_row).transpose()
    }

    async fn upload(&self, ws: i64, id: i64) -> Result<Option<Upload>> {
        let row = sqlx::query(&format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE workspace_id = $1 AND id = $2"))
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(upload_from_row).transpose()
    }
}
