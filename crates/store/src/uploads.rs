//! Files teammates upload for message bodies (images): the bytes live in the database, each
//! reached by a random token at a public address.

use async_trait::async_trait;

use crate::Result;

/// An uploaded file: what it is, and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub id: i64,
    pub workspace_id: i64,
    /// The unguessable name in its public address (`/files/{token}`).
    pub token: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    /// The teammate who uploaded it.
    pub uploaded_by: Option<i64>,
    pub created_at: i64,
}

#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Keeps a file of the workspace under `token` (made by the caller, random and unique).
    async fn create_upload(
        &self,
        ws: i64,
        token: &str,
        content_type: &str,
        bytes: &[u8],
        uploaded_by: Option<i64>,
        now: i64,
    ) -> Result<Upload>;
    /// The file at a public address, whatever its workspace: the token is what grants it.
    async fn upload_by_token(&self, token: &str) -> Result<Option<Upload>>;
    /// A workspace's file by id.
    async fn upload(&self, ws: i64, id: i64) -> Result<Option<Upload>>;
}
