//! Creating workspaces, teammates and API tokens (with the password rules and hashing that
//! logging in shares), and what replacing a workspace's identity secret (the engine's) means for
//! this node: shared by `tidings setup`, the first start of `tidings serve`, the settings pages
//! and the API.

use std::sync::Arc;

use tidings_store::{ApiToken, NewApiToken, NewTeammate, NewWorkspace, Store, Teammate, TeammateRole, Workspace};

use tidings_core::text;
use tidings_engine::EngineError;

use crate::AppState;
use crate::auth::{hash_password_async, hash_secret, now, random_secret};
use crate::error::{ApiError, ApiResult};

/// What provisioning a workspace produced. The token secret and the password are shown once.
#[derive(Debug)]
pub struct Provisioned {
    pub workspace: Workspace,
    pub owner: Teammate,
    pub token: ApiToken,
    pub token_secret: String,
}

/// The prefix of every API token secret, so leaked tokens are easy to recognise.
pub const TOKEN_PREFIX: &str = "tid_";

/// Creates a workspace with its owner and a first API token.
///
/// # Errors
/// When the email is taken, the inputs are invalid, or storage fails.
pub async fn workspace(
    store: &Arc<dyn Store>,
    name: &str,
    email: &str,
    password: &str,
    timezone: &str,
) -> ApiResult<Provisioned> {
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("workspace", "The workspace needs a name"));
    }
    text::check("workspace", name.trim(), text::NAME)?;
    check_email(email)?;
    check_password(password, email, name)?;
    if jiff::tz::TimeZone::get(timezone).is_err() {
        return Err(ApiError::bad_request("timezone", format!("{timezone} is not a known time zone")));
    }
    let password_hash = hash_password_async(password.to_owned()).await?;
    let created_at = now();
    let (workspace, owner) = store
        .create_workspace(
            NewWorkspace {
                app_id: app_id(),
                name: name.trim().to_owned(),
                timezone: timezone.to_owned(),
                identity_secret: tidings_engine::settings::new_identity_secret()?,
                // Secure by default: users must prove who they are to read their messages.
                identity_required: true,
                created_at,
            },
            NewTeammate {
                email: email.trim().to_owned(),
                name: email.split('@').next().unwrap_or("Owner").to_owned(),
                password_hash: Some(password_hash),
                role: TeammateRole::Owner,
                created_at,
            },
        )
        .await?;
    let (token, token_secret) = api_token(store, &workspace, &owner, "First token").await?;
    Ok(Provisioned { workspace, owner, token, token_secret })
}

/// Gives a workspace a new identity secret and returns the workspace with it.
///
/// Every `user_hash` computed with the old secret stops verifying at once, and so does every
/// Messenger session: their signing key derives from the secret, and each Messenger request reads
/// the workspace from the database. This server also drops its cached copy of the workspace
/// (other servers' copies, which only the ping reads, expire within `WorkspaceCache::TTL`) and
/// closes the workspace's open Messenger sockets, which reconnect, get 401 and boot again.
///
/// # Errors
/// When the workspace does not exist, or storage fails.
pub async fn rotate_identity_secret(state: &AppState, workspace: i64) -> ApiResult<Workspace> {
    let ws = state.engine.rotate_identity_secret(workspace).await.map_err(|e| match e {
        EngineError::Invalid(_) => ApiError::not_found(),
        other => other.into(),
    })?;
    state.workspaces.forget(workspace);
    let closed = state.hub.end_workspace(workspace);
    tracing::info!(workspace, closed, "identity secret rotated");
    Ok(ws)
}

/// Creates an API token acting as `teammate`; returns it and its secret (shown once).
///
/// # Errors
/// When storage fails.
pub async fn api_token(
    store: &Arc<dyn Store>,
    workspace: &Workspace,
    teammate: &Teammate,
    name: &str,
) -> ApiResult<(ApiToken, String)> {
    text::check("name", name, text::NAME)?;
    let secret = format!("{TOKEN_PREFIX}{}", random_secret(32));
    let token = store
        .create_api_token(
            workspace.id,
            NewApiToken {
                teammate_id: teammate.id,
                name: name.to_owned(),
                token_hash: hash_secret(&secret),
                prefix: secret.chars().take(TOKEN_PREFIX.len() + 6).collect(),
                created_at: now(),
            },
        )
        .await?;
    Ok((token, secret))
}

/// Adds a teammate to a workspace, as an admin or a member (whoever asks must be allowed to give
/// that role: see `roles::assignable`).
///
/// # Errors
/// When the email is taken or invalid, the password too short or too easy to guess, the role is
/// owner (a workspace has the one it was created with), or storage fails.
pub async fn teammate(
    store: &Arc<dyn Store>,
    workspace: &Workspace,
    name: &str,
    email: &str,
    password: &str,
    role: TeammateRole,
) -> ApiResult<Teammate> {
    if role == TeammateRole::Owner {
        return Err(ApiError::bad_request("role", "A workspace has one owner: add teammates as admins or members"));
    }
    check_email(email)?;
    check_password(password, email, &workspace.name)?;
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("name", "The teammate needs a name"));
    }
    text::check("name", name.trim(), text::NAME)?;
    let password_hash = hash_password_async(password.to_owned()).await?;
    Ok(store
        .create_teammate(
            workspace.id,
            NewTeammate {
                email: email.trim().to_owned(),
                name: name.trim().to_owned(),
                password_hash: Some(password_hash),
                role,
                created_at: now(),
            },
        )
        .await?)
}

fn check_email(email: &str) -> ApiResult<()> {
    let e = email.trim();
    if e.len() < 3 || !e.contains('@') || e.contains(char::is_whitespace) {
        return Err(ApiError::bad_request("email", format!("{e} is not a valid email address")));
    }
    Ok(text::check("email", e, text::EMAIL)?)
}

/// The most common passwords of 8 characters or more, in lowercase, one a line: taken from
/// public lists of leaked passwords (the top of the "10k most common" list and recent yearly
/// lists), leaving out the offensive ones. Attackers try these first, on every account.
const COMMON_PASSWORDS: &str = include_str!("common_passwords.txt");

/// Whether `password`, in any case, is one of [`COMMON_PASSWORDS`].
fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    COMMON_PASSWORDS.lines().any(|common| common == lower)
}

/// A password people may set: long enough, not one attackers try first, and not the email or
/// the workspace's name, which they know.
fn check_password(password: &str, email: &str, workspace: &str) -> ApiResult<()> {
    if password.chars().count() < 8 {
        return Err(ApiError::bad_request("password", "Passwords need at least 8 characters"));
    }
    text::check("password", password, text::PASSWORD)?;
    let choose = "choose another one, e.g. a few unrelated words";
    if is_common(password) {
        return Err(ApiError::bad_request(
            "password",
            format!("This password is one of the most common ones, which attackers try first: {choose}"),
        ));
    }
    let lower = password.to_lowercase();
    if lower == email.trim().to_lowercase() {
        return Err(ApiError::bad_request("password", format!("The password cannot be the email address: {choose}")));
    }
    if lower == workspace.trim().to_lowercase() {
        return Err(ApiError::bad_request(
            "password",
            format!("The password cannot be the workspace's name: {choose}"),
        ));
    }
    Ok(())
}

/// A short public workspace code, like Intercom's `app_id` (8 lowercase letters and digits).
fn app_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(password: &str) -> Option<String> {
        let e = check_password(password, "Ada.Lovelace@acme.test", "Acme Analytics").err()?;
        assert_eq!(e.errors[0].field.as_deref(), Some("password"), "{e:?}");
        Some(e.errors[0].message.clone())
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        for p in ["password", "Password1", "12345678", "123456789", "QWERTY123", "iloveyou", "P@ssw0rd", "trustno1"] {
            let message = refusal(p).unwrap_or_else(|| panic!("{p} was accepted"));
            assert!(message.contains("most common"), "{p}: {message}");
        }
    }

    #[test]
    fn the_list_holds_lowercase_passwords_of_eight_characters_or_more_once_each() {
        let all: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(all.len() >= 500, "{} passwords", all.len());
        assert!(all.iter().all(|p| p.chars().count() >= 8 && *p == p.to_lowercase()));
        assert_eq!(all.iter().collect::<std::collections::HashSet<_>>().len(), all.len(), "duplicates");
    }

    #[test]
    fn the_email_and_the_workspace_name_are_refused() {
        assert!(refusal("ada.lovelace@ACME.test").is_some_and(|m| m.contains("email")));
        assert!(refusal("acme analytics").is_some_and(|m| m.contains("workspace")));
    }

    #[test]
    fn other_passwords_pass() {
        for p in ["a-long-password", "correct horse battery staple", "Acme Analytics 2024", "password-for-ada"] {
            assert_eq!(refusal(p), None, "{p}");
        }
        assert!(refusal("short").is_some_and(|m| m.contains("at least 8")));
    }
}
