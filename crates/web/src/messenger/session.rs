//! Who a Messenger request comes from: a contact proven by a session token that only this server
//! can sign, obtained at boot (with identity verification for users).
//!
//! Identity verification follows Intercom: `user_hash` is the lowercase hex HMAC-SHA256 of the
//! user's `user_id` (or, without one, their email) keyed with the workspace's identity secret.
//! Session tokens are `v2.<workspace>.<contact>.<expiry>.<kind>.<signature>`, signed with a key
//! derived from that secret, so rotating the secret ends every session.
//!
//! The session key must never be a value a customer's server hands out. Every `user_hash` is an
//! HMAC *keyed with* the identity secret, so the session key is an HMAC keyed with a fixed label
//! *over* the secret: no user id, whatever its text, makes a `user_hash` equal to it. (The first
//! token format keyed its key with the secret over a fixed text, which is exactly the
//! `user_hash` of a user whose id is that text; such tokens are refused.)

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::ORIGIN;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tidings_core::contact::{Contact, Role};
use tidings_store::{Store, Workspace};

use crate::AppState;
use crate::auth::{constant_time_eq, now};
use crate::error::ApiError;

pub const SESSION_HEADER: &str = "x-messenger-session";
/// A Messenger session lasts a week, like Intercom's cookie.
pub const SESSION_SECONDS: i64 = 7 * 86_400;

fn hmac_hex(key: &[u8], data: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The `user_hash` a customer's server computes for `identity` (user_id, or email).
pub fn user_hash(secret: &str, identity: &str) -> String {
    hmac_hex(secret.as_bytes(), identity)
}

/// Whether `hash` proves `identity` for this workspace.
pub fn verify_user_hash(ws: &Workspace, identity: &str, hash: &str) -> bool {
    constant_time_eq(user_hash(&ws.identity_secret, identity).as_bytes(), hash.trim().to_ascii_lowercase().as_bytes())
}

/// The label that keys the session key's derivation (see the module's header).
const SESSION_KEY_LABEL: &[u8] = b"tidings/messenger-session-key/v2";
const VERSION: &str = "v2";

fn session_key(ws: &Workspace) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SESSION_KEY_LABEL).expect("HMAC takes keys of any length");
    mac.update(ws.identity_secret.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Who a session was given to: a verified (or unverified) user, or an anonymous visitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    User,
    Lead,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::User => "u",
            SessionKind::Lead => "l",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "u" => Some(SessionKind::User),
            "l" => Some(SessionKind::Lead),
            _ => None,
        }
    }
}

/// What a verified session token says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionToken {
    pub contact: i64,
    pub kind: SessionKind,
}

/// Signs a session for a contact.
pub fn sign_session(ws: &Workspace, contact_id: i64, kind: SessionKind, expires_at: i64) -> String {
    let payload = format!("{VERSION}.{}.{contact_id}.{expires_at}.{}", ws.id, kind.as_str());
    let sig = hmac_hex(&session_key(ws), &payload);
    format!("{payload}.{sig}")
}

/// The workspace id a token claims, before it is verified.
pub fn claimed_workspace(token: &str) -> Option<i64> {
    let mut parts = token.split('.');
    (parts.next()? == VERSION).then_some(())?;
    parts.next()?.parse().ok()
}

/// Checks a session token against its workspace (signature, format, expiry).
pub fn verify_session(ws: &Workspace, token: &str, now: i64) -> Option<SessionToken> {
    let (payload, sig) = token.rsplit_once('.')?;
    let mut parts = payload.split('.');
    let (version, ws_id, contact, expires, kind) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || parts.next().is_some() || ws_id.parse::<i64>().ok()? != ws.id {
        return None;
    }
    if expires.parse::<i64>().ok()? <= now {
        return None;
    }
    let expected = hmac_hex(&session_key(ws), payload);
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return None;
    }
    Some(SessionToken { contact: contact.parse().ok()?, kind: SessionKind::parse(kind)? })
}

/// Whether a session still speaks for its contact. A visitor's session must not go on reading a
/// contact that has since become a known user (converted, or given an `external_id`) when the
/// workspace requires identity verification: that user proves who they are with a `user_hash`.
pub fn session_still_valid(ws: &Workspace, token: SessionToken, contact: &Contact) -> bool {
    let became_user = contact.role != Role::Lead || contact.external_id.is_some();
    !(token.kind == SessionKind::Lead && ws.identity_required && became_user)
}

/// Whether a browser origin may use this workspace's Messenger. No list means any origin.
pub fn origin_allowed(ws: &Workspace, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    ws.allowed_origins.is_empty() || ws.allowed_origins.iter().any(|o| o.trim_end_matches('/') == origin)
}

pub fn origin_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "origin_not_allowed",
        "This site is not among the workspace's allowed Messenger origins (Settings → Messenger)",
    )
}

/// A contact using the Messenger, proven by their session.
pub struct Visitor {
    pub workspace: Workspace,
    pub contact: Contact,
}

/// Reads the session token from the header, or from `?session=` (WebSockets cannot send headers).
pub fn token_of(parts: &Parts) -> Option<String> {
    if let Some(t) = parts.headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(t.to_owned());
    }
    parts.uri.query()?.split('&').find_map(|kv| kv.strip_prefix("session=")).map(str::to_owned)
}

fn refused() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Messenger session invalid or expired: boot again")
}

/// The request's session token and the workspace it names (not yet verified).
fn claimed(parts: &Parts) -> Result<(String, i64), ApiError> {
    let token = token_of(parts).ok_or_else(refused)?;
    let workspace = claimed_workspace(&token).ok_or_else(refused)?;
    Ok((token, workspace))
}

/// Verifies the session against its workspace (signature, expiry) and the request's origin.
fn verified(parts: &Parts, token: &str, workspace: &Workspace) -> Result<SessionToken, ApiError> {
    let session = verify_session(workspace, token, now()).ok_or_else(refused)?;
    if !origin_allowed(workspace, &parts.headers) {
        return Err(origin_refused());
    }
    Ok(session)
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, ws_id) = claimed(parts)?;
        let workspace = state.store.workspace(ws_id).await?.ok_or_else(refused)?;
        let session = verified(parts, &token, &workspace)?;
        let contact = state
            .store
            .contact(ws_id, session.contact)
            .await?
            .filter(|c| !c.archived && session_still_valid(&workspace, session, c))
            .ok_or_else(refused)?;
        Ok(Visitor { workspace, contact })
    }
}

/// Workspaces as the Messenger's hottest route checks sessions against them, read again from the
/// database after [`WorkspaceCache::TTL`], and at once on this server when its Messenger settings
/// change (other servers see a change within the TTL).
#[derive(Default)]
pub struct WorkspaceCache {
    entries: std::sync::Mutex<std::collections::HashMap<i64, (Arc<Workspace>, std::time::Instant)>>,
}

impl WorkspaceCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    /// The workspace, from the cache while fresh.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn get(&self, store: &Arc<dyn Store>, id: i64) -> Result<Option<Arc<Workspace>>, ApiError> {
        let fresh = |(ws, at): &(Arc<Workspace>, std::time::Instant)| (at.elapsed() < Self::TTL).then(|| ws.clone());
        if let Some(ws) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&id).and_then(fresh) {
            return Ok(Some(ws));
        }
        let Some(ws) = store.workspace(id).await?.map(Arc::new) else { return Ok(None) };
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).insert(id, (ws.clone(), std::time::Instant::now()));
        Ok(Some(ws))
    }

    pub fn forget(&self, id: i64) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }
}

/// A valid Messenger session, checked against its workspace (signature, expiry, origin) without
/// reading the contact: for the ping, whose only effect is on that contact's `last_seen_at` (an
/// archived or deleted contact's is never written). The workspace comes from a short-lived cache.
pub struct SessionClaim {
    pub workspace: i64,
    pub contact: i64,
}

impl FromRequestParts<AppState> for SessionClaim {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (token, ws_id) = claimed(parts)?;
        let workspace = state.workspaces.get(&state.store, ws_id).await?.ok_or_else(refused)?;
        let contact = verified(parts, &token, &workspace)?.contact;
        Ok(SessionClaim { workspace: ws_id, contact })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(secret: &str) -> Workspace {
        Workspace {
            id: 7,
            app_id: "abc".into(),
            name: "W".into(),
            timezone: "UTC".into(),
            identity_secret: secret.into(),
            identity_secret_rotated_at: None,
            identity_required: true,
            allowed_origins: vec![],
            created_at: 0,
            email: tidings_store::EmailSettings::default(),
            messenger_color: tidings_store::DEFAULT_MESSENGER_COLOR.into(),
            messenger_greeting: String::new(),
            reply_email_after: 300,
        }
    }

    #[test]
    fn user_hash_is_intercoms_hex_hmac() {
        // Known answer: HMAC-SHA256(key "secret", "9876"), as Intercom's Rails helper computes it.
        let h = user_hash("secret", "9876");
        assert_eq!(h.len(), 64);
        assert!(verify_user_hash(&ws("secret"), "9876", &h.to_ascii_uppercase()));
        assert!(!verify_user_hash(&ws("other"), "9876", &h));
        assert!(!verify_user_hash(&ws("secret"), "9877", &h));
    }

    #[test]
    fn sessions_are_bound_to_workspace_contact_expiry_and_secret() {
        let w = ws("secret");
        let t = sign_session(&w, 42, SessionKind::User, 1000);
        assert_eq!(verify_session(&w, &t, 999), Some(SessionToken { contact: 42, kind: SessionKind::User }));
        assert_eq!(verify_session(&w, &t, 1000), None, "expired");
        assert_eq!(verify_session(&ws("rotated"), &t, 1), None, "secret rotated");
        let forged = t.replace(".42.", ".43.");
        assert_eq!(verify_session(&w, &forged, 1), None, "contact changed");
        let promoted = t.replace(".u.", ".l.");
        assert_eq!(verify_session(&w, &promoted, 1), None, "kind changed");
        let mut other = ws("secret");
        other.id = 8;
        assert_eq!(verify_session(&other, &t, 1), None, "another workspace");
    }

    /// Signs a token the way the first format did: the key was the `user_hash` of the user
    /// whose id is "tidings messenger session key".
    fn forge_v1(ws: &Workspace, contact: i64, expires: i64) -> String {
        let key = user_hash(&ws.identity_secret, "tidings messenger session key");
        let payload = format!("v1.{}.{contact}.{expires}", ws.id);
        format!("{payload}.{}", hmac_hex(key.as_bytes(), &payload))
    }

    #[test]
    fn no_user_hash_signs_a_session() {
        let w = ws("secret");
        assert_eq!(verify_session(&w, &forge_v1(&w, 42, 1000), 1), None, "the first format is refused");
        // The same forgery in today's format, keyed with that user_hash (or any other), fails.
        for user_id in ["tidings messenger session key", "tidings/messenger-session-key/v2", ""] {
            let key = user_hash(&w.identity_secret, user_id);
            let payload = "v2.7.42.1000.u";
            let token = format!("{payload}.{}", hmac_hex(key.as_bytes(), payload));
            assert_eq!(verify_session(&w, &token, 1), None, "{user_id:?}");
        }
        assert_ne!(hex::encode(session_key(&w)), user_hash(&w.identity_secret, "tidings/messenger-session-key/v2"));
    }

    #[test]
    fn a_visitors_session_ends_when_its_contact_becomes_a_verified_user() {
        let w = ws("secret");
        let lead = SessionToken { contact: 1, kind: SessionKind::Lead };
        let mut c = Contact::new(7, Role::Lead, 0);
        assert!(session_still_valid(&w, lead, &c));
        c.external_id = Some("u-1".into());
        assert!(!session_still_valid(&w, lead, &c), "given an external_id");
        c.external_id = None;
        c.role = Role::User;
        assert!(!session_still_valid(&w, lead, &c), "converted to a user");
        assert!(session_still_valid(&w, SessionToken { kind: SessionKind::User, ..lead }, &c));
        let open = Workspace { identity_required: false, ..w };
        assert!(session_still_valid(&open, lead, &c), "without identity verification anyone may be that user");
    }
}
