// Workspaces, teammates, sessions and API tokens, shared by both dialects. Included after
// `imp.rs`, whose imports and helpers it uses.

use crate::accounts::AccountStore;

#[async_trait]
impl AccountStore for Store {
    async fn create_workspace(&self, ws: NewWorkspace, owner: NewTeammate) -> Result<(Workspace, Teammate)> {
        let mut tx = self.writer.begin().await?;
        let row = sqlx::query(
            &format!(
                "INSERT INTO workspaces (app_id, name, timezone, identity_secret, identity_required, created_at, email_secret) \
                 VALUES ($1, $2, $3, $4, $5, $6, {RANDOM_SECRET}) RETURNING *"
            ),
        )
        .bind(&ws.app_id)
        .bind(&ws.name)
        .bind(&ws.timezone)
        .bind(&ws.identity_secret)
        .bind(ws.identity_required)
        .bind(ws.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, "a workspace with this app_id"))?;
        let workspace = workspace_from_row(&row)?;
        let row = sqlx::query(
            "INSERT INTO teammates (workspace_id, email, name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(workspace.id)
        .bind(&owner.email)
        .bind(&owner.name)
        .bind(&owner.password_hash)
        .bind(owner.role.as_str())
        .bind(owner.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict(e, "a teammate with this email"))?;
        let teammate = teammate_from_row(&row)?;
        for (name, person, role) in [("All users", PersonType::User, "user"), ("All leads", PersonType::Lead, "lead")] {
            let query = serde_json::json!({"field": "role", "operator": "=", "value": role});
            sqlx::query(
                "INSERT INTO segments (workspace_id, name, person_type, query, builtin, created_at, updated_at) VALUES ($1, $2, $3, $4, TRUE, $5, $5)",
            )
            .bind(workspace.id)
            .bind(name)
            .bind(person.as_api())
            .bind(query.to_string())
            .bind(ws.created_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok((workspace, teammate))
    }

    async fn workspace(&self, id: i64) -> Result<Option<Workspace>> {
        let row = sqlx::query("SELECT * FROM workspaces WHERE id = $1").bind(id).fetch_optional(&self.reader).await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn workspace_by_app_id(&self, app_id: &str) -> Result<Option<Workspace>> {
        let row =
            sqlx::query("SELECT * FROM workspaces WHERE app_id = $1").bind(app_id).fetch_optional(&self.reader).await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn workspace_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM workspaces").fetch_one(&self.reader).await?.try_get(0)?)
    }

    async fn workspaces(&self) -> Result<Vec<Workspace>> {
        let rows = sqlx::query("SELECT * FROM workspaces ORDER BY id").fetch_all(&self.reader).await?;
        rows.iter().map(workspace_from_row).collect()
    }

    async fn update_messenger_settings(
        &self,
        id: i64,
        identity_required: bool,
        allowed_origins: &[String],
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE workspaces SET identity_required = $2, allowed_origins = $3 WHERE id = $1")
            .bind(id)
            .bind(identity_required)
            .bind(serde_json::to_string(allowed_origins).unwrap_or_else(|_| "[]".into()))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn update_messenger_look(
        &self,
        id: i64,
        name: &str,
        color: &str,
        greeting: &str,
    ) -> Result<Option<Workspace>> {
        let row = sqlx::query(
            "UPDATE workspaces SET name = $2, messenger_color = $3, messenger_greeting = $4 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(name)
        .bind(color)
        .bind(greeting)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn update_teammate_profile(
        &self,
        ws: i64,
        id: i64,
        name: &str,
        avatar_url: Option<&str>,
    ) -> Result<Option<Teammate>> {
        let row = sqlx::query(
            "UPDATE teammates SET name = $3, avatar_url = $4 WHERE workspace_id = $1 AND id = $2 RETURNING *",
        )
        .bind(ws)
        .bind(id)
        .bind(name)
        .bind(avatar_url)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(teammate_from_row).transpose()
    }

    async fn update_email_settings(&self, id: i64, email: &EmailSettings) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE workspaces SET email_from = $2, email_reply_to = $3, smtp_url = $4, email_tracking = $5, \
             email_rate_per_minute = $6, dkim_domain = $7, dkim_selector = $8, dkim_private_key = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(&email.from)
        .bind(&email.reply_to)
        .bind(&email.smtp_url)
        .bind(email.tracking)
        .bind(email.rate_per_minute)
        .bind(email.dkim.as_ref().and_then(|k| k.domain.clone()))
        .bind(email.dkim.as_ref().map(|k| k.selector.clone()))
        .bind(email.dkim.as_ref().map(|k| k.private_key.clone()))
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn rotate_identity_secret(&self, id: i64, secret: &str, now: i64) -> Result<Option<Workspace>> {
        let row = sqlx::query(
            "UPDATE workspaces SET identity_secret = $2, identity_secret_rotated_at = $3 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(secret)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(workspace_from_row).transpose()
    }

    async fn create_teammate(&self, ws: i64, t: NewTeammate) -> Result<Teammate> {
        let row = sqlx::query(
            "INSERT INTO teammates (workspace_id, email, name, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(ws)
        .bind(&t.email)
        .bind(&t.name)
        .bind(&t.password_hash)
        .bind(t.role.as_str())
        .bind(t.created_at)
        .fetch_one(&self.writer)
        .await
        .map_err(|e| conflict(e, "a teammate with this email"))?;
        teammate_from_row(&row)
    }

    async fn set_teammate_role(&self, ws: i64, id: i64, from: TeammateRole, to: TeammateRole) -> Result<bool> {
        // The owner's row is never moved, and nobody is made owner: a workspace keeps exactly the
        // one owner it was created with.
        if from == TeammateRole::Owner || to == TeammateRole::Owner {
            return Ok(false);
        }
        let done = sqlx::query("UPDATE teammates SET role = $4 WHERE workspace_id = $1 AND id = $2 AND role = $3")
            .bind(ws)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn teammate(&self, ws: i64, id: i64) -> Result<Option<Teammate>> {
        let row = sqlx::query("SELECT * FROM teammates WHERE workspace_id = $1 AND id = $2")
            .bind(ws)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(teammate_from_row).transpose()
    }

    async fn teammate_by_email(&self, email: &str) -> Result<Option<Teammate>> {
        let row = sqlx::query("SELECT * FROM teammates WHERE lower(email) = lower($1)")
            .bind(email)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(teammate_from_row).transpose()
    }

    async fn teammates(&self, ws: i64) -> Result<Vec<Teammate>> {
        let rows = sqlx::query("SELECT * FROM teammates WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(teammate_from_row).collect()
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, teammate_id, workspace_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.token_hash)
        .bind(s.teammate_id)
        .bind(s.workspace_id)
        .bind(&s.csrf_token)
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(Session {
            token_hash: row.try_get("token_hash")?,
            teammate_id: row.try_get("teammate_id")?,
            workspace_id: row.try_get("workspace_id")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
        }))
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&self.writer).await?;
        Ok(())
    }

    async fn create_api_token(&self, ws: i64, t: NewApiToken) -> Result<ApiToken> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (workspace_id, teammate_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(ws)
        .bind(t.teammate_id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.prefix)
        .bind(t.created_at)
        .fetch_one(&self.writer)
        .await?;
        token_from_row(&row)
    }

    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn api_tokens(&self, ws: i64) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query("SELECT * FROM api_tokens WHERE workspace_id = $1 ORDER BY id")
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_api_token(&self, ws: i64, id: i64, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(ws)
        .bind(id)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }
}
