//! Settings a teammate changes for the workspace: teammates' roles, API tokens revoked, the
//! Messenger's settings (identity verification and the origins allowed to embed it), and a new
//! identity secret.
//!
//! Who may change what is the caller's to check (`roles.rs` in the web crate holds that table);
//! what a change must be, and the change itself, are here.

use base64::Engine as _;
use tidings_core::text;
use tidings_store::{Teammate, TeammateRole, Workspace};

use crate::Engine;
use crate::error::{EngineError, Missing, Result};

/// `https://host[:port]` with nothing after it, as browsers send in `Origin`; a trailing `/` is
/// dropped. `None` when `line` is not one.
pub fn origin(line: &str) -> Option<String> {
    let line = line.trim().trim_end_matches('/');
    let (scheme, rest) = line.split_once("://")?;
    let ok = matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.contains(['/', ' ', '?', '#'])
        && line.len() <= text::URL;
    ok.then(|| line.to_owned())
}

/// A new identity secret: 32 random bytes as URL-safe base64.
///
/// # Errors
/// When the system's random number generator fails.
pub fn new_identity_secret() -> Result<String> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| EngineError::Unsupported {
        message: format!("The system's random number generator failed: {e}"),
        field: "identity_secret",
    })?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

impl Engine {
    /// Gives a workspace a new identity secret, rotated now; returns the workspace with it.
    /// Every `user_hash` computed with the old secret stops verifying at once, and so does every
    /// Messenger session, whose signing key derives from the secret. (Ending the sockets open on
    /// this node, and forgetting cached copies, is the caller's.)
    ///
    /// # Errors
    /// A workspace that does not exist, a random number generator that fails, or a database
    /// failure.
    pub async fn rotate_identity_secret(&self, ws: i64) -> Result<Workspace> {
        let secret = new_identity_secret()?;
        self.store
            .rotate_identity_secret(ws, &secret, self.now())
            .await?
            .ok_or_else(|| EngineError::invalid("workspace", "This workspace no longer exists"))
    }

    /// Moves a teammate (`target`, as the caller read it) to another role. The change is
    /// conditional on the role read, so two teammates changing it at once cannot both win.
    ///
    /// # Errors
    /// Making anyone owner or moving the owner (`role`: a workspace keeps the owner it was
    /// created with); `role_changed` when the teammate's role changed since it was read, or they
    /// left; a database failure.
    pub async fn set_teammate_role(&self, ws: &Workspace, target: &Teammate, to: TeammateRole) -> Result<Teammate> {
        if to == TeammateRole::Owner || target.role == TeammateRole::Owner {
            return Err(EngineError::invalid("role", "A workspace keeps its one owner: choose admin or member"));
        }
        if target.role == to {
            return Ok(target.clone());
        }
        if !self.store.set_teammate_role(ws.id, target.id, target.role, to).await? {
            return Err(EngineError::conflict(
                "role_changed",
                format!("{}'s role changed meanwhile: look again and retry.", target.name),
            ));
        }
        Ok(Teammate { role: to, ..target.clone() })
    }

    /// Revokes an API token of the workspace: calls with it fail from now on.
    ///
    /// # Errors
    /// A token not in the workspace or already revoked, or a database failure.
    pub async fn revoke_api_token(&self, ws: &Workspace, id: i64) -> Result<()> {
        if self.store.revoke_api_token(ws.id, id, self.now()).await? {
            Ok(())
        } else {
            Err(EngineError::not_found(Missing::ApiToken))
        }
    }

    /// Saves the Messenger's settings: whether users must prove who they are (`user_hash`), and
    /// the origins allowed to embed it, one a line (empty lines skipped); returns the workspace
    /// as it now is. A wrong origin saves nothing.
    ///
    /// # Errors
    /// A line that is not an origin (`allowed_origins`), a workspace gone, or a database
    /// failure.
    pub async fn update_messenger_settings(
        &self,
        ws: &Workspace,
        identity_required: bool,
        origin_lines: &str,
    ) -> Result<Workspace> {
        let mut origins = Vec::new();
        for line in origin_lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let o = origin(line).ok_or_else(|| {
                EngineError::invalid(
                    "allowed_origins",
                    format!("{line} is not an origin: write it as https://example.com (scheme and host, no path)."),
                )
            })?;
            origins.push(o);
        }
        if !self.store.update_messenger_settings(ws.id, identity_required, &origins).await? {
            return Err(EngineError::invalid("workspace", "This workspace no longer exists"));
        }
        Ok(Workspace { identity_required, allowed_origins: origins, ..ws.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::origin;

    #[test]
    fn origins_are_scheme_and_host_only() {
        assert_eq!(origin("https://app.example.com/").as_deref(), Some("https://app.example.com"));
        assert_eq!(origin("http://localhost:3000").as_deref(), Some("http://localhost:3000"));
        for bad in ["app.example.com", "ftp://x", "https://x/path", "https://", "https://a b"] {
            assert!(origin(bad).is_none(), "{bad}");
        }
        assert!(origin(&format!("https://{}", "a".repeat(text_url()))).is_none(), "too long");
    }

    fn text_url() -> usize {
        tidings_core::text::URL
    }
}
