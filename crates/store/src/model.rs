//! The records storage reads and writes besides contacts (which live in `tidings-core`).

use serde_json::Value as Json;
use tidings_core::filter::{Pred, Target};

/// One company's account: a tenant.
#[derive(Clone, PartialEq)]
pub struct Workspace {
    pub id: i64,
    /// The public id the Messenger snippet carries (`app_id`).
    pub app_id: String,
    pub name: String,
    /// IANA name; search dates and relative filters count days in it.
    pub timezone: String,
    /// Secret for identity verification (HMAC of user ids) in the Messenger.
    pub identity_secret: String,
    /// When the identity secret was last replaced; `None` if never.
    pub identity_secret_rotated_at: Option<i64>,
    pub identity_required: bool,
    pub allowed_origins: Vec<String>,
    pub created_at: i64,
    pub email: EmailSettings,
    /// The Messenger's colour (launcher, header, the contact's words), `#rrggbb`.
    pub messenger_color: String,
    /// What the Messenger's home says under the workspace's name; empty for nothing.
    pub messenger_greeting: String,
    /// How long (seconds) a teammate's reply may stay unseen in the Messenger before it is
    /// emailed to the contact.
    pub reply_email_after: i64,
}

/// The Messenger's colour of a new workspace (the column's default).
pub const DEFAULT_MESSENGER_COLOR: &str = "#1f5fd6";

/// How a workspace sends email.
#[derive(Clone, Default, PartialEq)]
pub struct EmailSettings {
    /// Signs the links in its emails (unsubscribe, open pixel, clicks).
    pub secret: String,
    /// The sender address (`None`: the server's `email_from`).
    pub from: Option<String>,
    /// Where replies go (`None`: the sender address).
    pub reply_to: Option<String>,
    /// The workspace's own SMTP server (`None`: the server's).
    pub smtp_url: Option<String>,
    /// Whether opens and clicks are tracked.
    pub tracking: bool,
    /// At most this many emails a minute (`None`: as fast as the server sends).
    pub rate_per_minute: Option<i64>,
    /// Signs its emails with DKIM when set (`None`: unsigned, or signed by a relay).
    pub dkim: Option<DkimKey>,
}

/// A workspace's DKIM signing key: the private half of the key published at
/// `{selector}._domainkey.{domain}`.
#[derive(Clone, PartialEq)]
pub struct DkimKey {
    /// The signing domain (`None`: the sender address's domain).
    pub domain: Option<String>,
    pub selector: String,
    /// PEM: an RSA key (`BEGIN RSA PRIVATE KEY` or `BEGIN PRIVATE KEY`).
    pub private_key: String,
}

/// Written without the private key.
impl std::fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

/// Written without the secret and the SMTP password.
impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("secret", &"[redacted]")
            .field("from", &self.from)
            .field("reply_to", &self.reply_to)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "[redacted]"))
            .field("tracking", &self.tracking)
            .field("rate_per_minute", &self.rate_per_minute)
            .field("dkim", &self.dkim)
            .finish()
    }
}

/// Written without the identity secret, so that no log line ever holds it.
impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("timezone", &self.timezone)
            .field("identity_secret", &"[redacted]")
            .field("identity_required", &self.identity_required)
            .field("email", &self.email)
            .field("messenger_color", &self.messenger_color)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct NewWorkspace {
    pub app_id: String,
    pub name: String,
    pub timezone: String,
    pub identity_secret: String,
    /// Whether Messenger boots for users must carry a valid `user_hash`.
    pub identity_required: bool,
    pub created_at: i64,
}

/// What a teammate may do in their workspace. Stored as text in `teammates.role`.
///
/// A workspace has exactly one owner, who created it. Admins manage the team, API tokens and
/// the Messenger's settings; members do the daily work. The web layer's `roles` module says
/// precisely who may do what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeammateRole {
    Owner,
    Admin,
    Member,
}

impl TeammateRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeammateRole::Owner => "owner",
            TeammateRole::Admin => "admin",
            TeammateRole::Member => "member",
        }
    }

    /// The role named `s` (as [`TeammateRole::as_str`] writes it), if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "owner" => Some(TeammateRole::Owner),
            "admin" => Some(TeammateRole::Admin),
            "member" => Some(TeammateRole::Member),
            _ => None,
        }
    }
}

/// A member of a workspace's team (an "admin" in Intercom's API).
#[derive(Clone, PartialEq)]
pub struct Teammate {
    pub id: i64,
    pub workspace_id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub role: TeammateRole,
    pub job_title: Option<String>,
    pub away_mode_enabled: bool,
    /// An http(s) address of their picture, shown to contacts in the Messenger.
    pub avatar_url: Option<String>,
    pub created_at: i64,
}

impl std::fmt::Debug for Teammate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Teammate")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
pub struct NewTeammate {
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub role: TeammateRole,
    pub created_at: i64,
}

/// A logged-in admin app session. Only the hash of the cookie's secret is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    pub token_hash: String,
    pub teammate_id: i64,
    pub workspace_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A REST API access token. Only the hash of its secret is stored; `prefix` is the first
/// characters of the secret, shown in settings so a teammate can tell tokens apart.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub workspace_id: i64,
    pub teammate_id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub teammate_id: i64,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

/// A tag as applied to one contact.
#[derive(Clone, Debug, PartialEq)]
pub struct AppliedTag {
    pub tag: Tag,
    pub applied_at: i64,
    pub applied_by: Option<i64>,
}

/// Who a segment is about, as the API names it: `user` or `contact` (leads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonType {
    User,
    Lead,
}

impl PersonType {
    pub fn as_api(self) -> &'static str {
        match self {
            PersonType::User => "user",
            PersonType::Lead => "contact",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(PersonType::User),
            "contact" | "lead" => Some(PersonType::Lead),
            _ => None,
        }
    }
}

/// A saved, named filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub id: i64,
    pub name: String,
    pub person_type: PersonType,
    pub query: Json,
    /// "All users" and "All leads": always there, never edited or deleted.
    pub builtin: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewSegment {
    pub name: String,
    pub person_type: PersonType,
    pub query: Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// A page of a contact search.
#[derive(Clone, Debug)]
pub struct ContactQuery {
    pub pred: Option<Pred>,
    /// A built-in column to sort by; `None` sorts by `created_at`.
    pub sort: Option<Target>,
    pub order: SortOrder,
    pub offset: i64,
    pub limit: i64,
}

/// What an upsert did, row by row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UpsertReport {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Inputs that could not be written, by index into the batch, with the reason.
    pub rejected: Vec<(usize, String)>,
}

/// How `Store::load_contacts` wrote a load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loaded {
    /// Batch by batch, each in its own transaction, as `Store::upsert_contacts` writes one.
    Batches,
    /// In one transaction that put the contacts table's indexes back after the rows were
    /// written: into a workspace without contacts, in a table with fewer than the load expected.
    Bulk,
}

/// A stored role. Text that names no role is refused rather than read as some role: guessing
/// could grant a teammate more than they were given.
pub(crate) fn parse_role(s: &str) -> crate::Result<TeammateRole> {
    TeammateRole::parse(s).ok_or_else(|| crate::StoreError::Corrupt(format!("unknown teammate role {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_is_logged_without_its_secrets() {
        let ws = Workspace {
            id: 1,
            app_id: "abc".into(),
            name: "Acme".into(),
            timezone: "UTC".into(),
            identity_secret: "s3cr3t-value".into(),
            identity_secret_rotated_at: None,
            identity_required: true,
            allowed_origins: vec![],
            created_at: 0,
            email: EmailSettings {
                secret: "mail-s3cret".into(),
                smtp_url: Some("smtps://u:hunter2@mail.test".into()),
                dkim: Some(DkimKey {
                    domain: None,
                    selector: "s1".into(),
                    private_key: "-----BEGIN PRIVATE KEY-----pr1vate".into(),
                }),
                ..EmailSettings::default()
            },
            messenger_color: DEFAULT_MESSENGER_COLOR.into(),
            messenger_greeting: String::new(),
            reply_email_after: 300,
        };
        let logged = format!("{ws:?}");
        assert!(logged.contains("abc") && !logged.contains("s3cr3t-value"), "{logged}");
        assert!(!logged.contains("mail-s3cret") && !logged.contains("hunter2"), "{logged}");
        assert!(logged.contains("s1") && !logged.contains("pr1vate"), "{logged}");
    }
}
