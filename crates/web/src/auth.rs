//! Who is calling: extractors that prove it before a handler runs.
//!
//! [`Caller`] is a teammate acting through an API token (`Authorization: Bearer …`) or through an
//! admin app session cookie. Every handler reaches workspace data only through the workspace it
//! carries, so a handler cannot read another workspace's data by mistake. Session callers must
//! also present the session's CSRF token on every state-changing request. A handler that needs
//! more than the daily work says so with [`Caller::require`], which reads the one permission
//! table in [`crate::roles`].

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use tidings_store::{Session, Store, Teammate, Workspace};

use crate::AppState;
use crate::error::ApiError;
use crate::roles::{self, Permission};

pub const SESSION_COOKIE: &str = "tidings_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Admin sessions last two weeks.
pub const SESSION_SECONDS: i64 = 14 * 86_400;

/// Random URL-safe text with `bytes` bytes of entropy.
pub fn random_secret(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// The stored form of a secret (token or session id): its SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Hashes a password with Argon2id. Slow on purpose: call from a blocking thread.
///
/// # Errors
/// When hashing fails (never for valid input).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(random_secret(16).as_bytes()).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// The hash of a password nobody has, made with the same parameters as teammates' hashes. Made
/// once, on the first login that needs it.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_secret(32)).expect("hashing a random password"))
}

/// What one login attempt is checked against: the teammate's own hash, or, when the email is
/// unknown or its teammate has no password, a dummy one. Either way the attempt costs one Argon2
/// verification, so how long the answer takes does not tell who has an account.
pub struct PasswordCheck {
    teammate: Option<Teammate>,
    hash: String,
}

impl PasswordCheck {
    /// Decides what to verify against for `teammate`, the one the email named, if any.
    pub fn for_teammate(teammate: Option<Teammate>) -> Self {
        match teammate.and_then(|t| Some((t.password_hash.clone()?, t))) {
            Some((hash, t)) => PasswordCheck { teammate: Some(t), hash },
            None => PasswordCheck { teammate: None, hash: dummy_hash().to_owned() },
        }
    }

    /// Looks the email up and decides what to verify against.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn for_email(store: &dyn Store, email: &str) -> Result<Self, ApiError> {
        Ok(Self::for_teammate(store.teammate_by_email(email).await?))
    }

    /// The Argon2 hash the password will be verified against.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Whether no teammate can pass this check (the hash is the dummy one).
    pub fn is_dummy(&self) -> bool {
        self.teammate.is_none()
    }

    /// Verifies `password` (slow on purpose: call from a blocking thread); the teammate it logs
    /// in, if it matches.
    pub fn verify(self, password: &str) -> Option<Teammate> {
        let matches = verify_password(password, &self.hash);
        self.teammate.filter(|_| matches)
    }
}

/// Runs the password hash on a blocking thread.
///
/// # Errors
/// When hashing fails.
pub async fn hash_password_async(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// How a caller proved who they are.
#[derive(Clone, Debug)]
pub enum Via {
    Token(i64),
    Session(Session),
    /// Tidings itself, acting for the teammate who scheduled a message.
    Scheduler,
}

/// A teammate calling the API or the admin app, with their workspace.
#[derive(Clone, Debug)]
pub struct Caller {
    pub workspace: Workspace,
    pub teammate: Teammate,
    pub via: Via,
}

impl Caller {
    /// Refuses the request unless the calling teammate (the token's, or the session's) holds
    /// `permission`.
    ///
    /// # Errors
    /// 403 `action_forbidden`, saying who may.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        Ok(roles::check(&self.teammate, permission)?)
    }
}

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The live session named by the request's cookie, if any.
///
/// # Errors
/// A storage failure.
pub async fn session_of(parts: &Parts, state: &AppState) -> Result<Option<Session>, ApiError> {
    let Some(secret) = cookie(parts, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.store.session(&hash_secret(secret), now()).await?)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let (workspace_id, teammate_id, via) = if let Some(secret) = bearer {
            let token =
                state.store.api_token_by_hash(&hash_secret(secret)).await?.ok_or_else(ApiError::unauthorized)?;
            (token.workspace_id, token.teammate_id, Via::Token(token.id))
        } else if let Some(session) = session_of(parts, state).await? {
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if !safe && sent.is_none_or(|s| !constant_time_eq(s.as_bytes(), session.csrf_token.as_bytes())) {
                return Err(ApiError::forbidden("Missing or wrong CSRF token: reload the page and try again"));
            }
            (session.workspace_id, session.teammate_id, Via::Session(session))
        } else {
            return Err(ApiError::unauthorized());
        };
        let workspace = state.store.workspace(workspace_id).await?.ok_or_else(ApiError::unauthorized)?;
        let teammate = state.store.teammate(workspace_id, teammate_id).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Caller { workspace, teammate, via })
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
    }

    /// The parameters part of a PHC string (`$argon2id$v=19$m=…,t=…,p=…`), without salt and hash.
    fn parameters(hash: &str) -> String {
        hash.split('$').take(4).collect::<Vec<_>>().join("$")
    }

    #[test]
    fn without_a_teammate_the_password_is_verified_against_a_dummy_hash_made_like_real_ones() {
        let real = hash_password("correct horse").unwrap();
        let check = PasswordCheck::for_teammate(None);
        assert!(check.is_dummy());
        assert!(PasswordHash::new(check.hash()).is_ok(), "{}", check.hash());
        assert_eq!(parameters(check.hash()), parameters(&real), "the same Argon2 work as a real hash");
        assert_eq!(check.hash(), dummy_hash(), "made once");
        assert!(check.verify("correct horse").is_none());
    }
}
