//! Workspaces and the people who work in them: teammates, their sessions and API tokens.

use async_trait::async_trait;

use crate::{
    ApiToken, EmailSettings, NewApiToken, NewTeammate, NewWorkspace, Result, Session, Teammate, TeammateRole, Workspace,
};

#[async_trait]
pub trait AccountStore: Send + Sync {
    // --- workspaces and teammates -------------------------------------------------------
    /// Creates a workspace with its owner and its built-in segments, in one transaction.
    async fn create_workspace(&self, ws: NewWorkspace, owner: NewTeammate) -> Result<(Workspace, Teammate)>;
    async fn workspace(&self, id: i64) -> Result<Option<Workspace>>;
    async fn workspace_by_app_id(&self, app_id: &str) -> Result<Option<Workspace>>;
    async fn workspace_count(&self) -> Result<i64>;
    async fn workspaces(&self) -> Result<Vec<Workspace>>;
    /// Saves the Messenger settings of a workspace.
    async fn update_messenger_settings(
        &self,
        id: i64,
        identity_required: bool,
        allowed_origins: &[String],
    ) -> Result<bool>;
    /// Saves how the Messenger presents a workspace: its name, colour and greeting. Returns the
    /// workspace as it now is, or `None` when there is no such workspace.
    async fn update_messenger_look(
        &self,
        id: i64,
        name: &str,
        color: &str,
        greeting: &str,
    ) -> Result<Option<Workspace>>;
    /// Saves how a teammate shows themselves (to the team and to contacts): their name and
    /// avatar. Returns the teammate as they now are, or `None` when the workspace has no such
    /// teammate.
    async fn update_teammate_profile(
        &self,
        ws: i64,
        id: i64,
        name: &str,
        avatar_url: Option<&str>,
    ) -> Result<Option<Teammate>>;
    /// Saves how a workspace sends email (its secret is kept).
    async fn update_email_settings(&self, id: i64, email: &EmailSettings) -> Result<bool>;
    /// Replaces a workspace's identity secret with `secret`, recording `now` as when; returns the
    /// workspace as it now is, or `None` when there is no such workspace.
    async fn rotate_identity_secret(&self, id: i64, secret: &str, now: i64) -> Result<Option<Workspace>>;
    async fn create_teammate(&self, ws: i64, teammate: NewTeammate) -> Result<Teammate>;
    /// Moves a teammate from role `from` to role `to`, only if they still hold `from` (so a
    /// decision taken on what the caller saw is not applied to a role changed since). The owner
    /// is never moved and nobody is made owner. Returns whether the teammate was changed.
    async fn set_teammate_role(&self, ws: i64, id: i64, from: TeammateRole, to: TeammateRole) -> Result<bool>;
    async fn teammate(&self, ws: i64, id: i64) -> Result<Option<Teammate>>;
    /// Teammate emails are unique across the server; login looks them up here.
    async fn teammate_by_email(&self, email: &str) -> Result<Option<Teammate>>;
    async fn teammates(&self, ws: i64) -> Result<Vec<Teammate>>;

    // --- sessions and API tokens ---------------------------------------------------------
    async fn create_session(&self, session: &Session) -> Result<()>;
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<Session>>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    async fn create_api_token(&self, ws: i64, token: NewApiToken) -> Result<ApiToken>;
    /// A live (not revoked) token by the hash of its secret.
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>>;
    async fn api_tokens(&self, ws: i64) -> Result<Vec<ApiToken>>;
    async fn revoke_api_token(&self, ws: i64, id: i64, now: i64) -> Result<bool>;
}
