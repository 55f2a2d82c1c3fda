//! Settings › Email as the page shows it: the workspace's sending settings (the SMTP password and
//! the DKIM key never shown back), how long a teammate's reply may stay unseen before it is
//! emailed, and whether email is ready to send.

use tidings_engine::email::compose::redact_smtp_url;
use tidings_store::StoreError;

use crate::AppState;

/// What Settings › Email shows.
pub struct EmailSection {
    pub from: String,
    pub reply_to: String,
    /// The workspace's SMTP URL with its password hidden (empty: the server's).
    pub smtp_url: String,
    pub has_smtp: bool,
    pub tracking: bool,
    pub rate_per_minute: String,
    /// Minutes a teammate's reply may stay unseen in the Messenger before it is emailed.
    pub reply_minutes: String,
    pub dkim_selector: String,
    pub dkim_domain: String,
    /// Whether a DKIM key is stored (it is never shown).
    pub has_dkim: bool,
    pub ready: bool,
    /// Where the SMTP server and the sender address come from, in words.
    pub smtp_source: &'static str,
    pub sender_source: &'static str,
    pub missing: Vec<String>,
    /// The field each error of the last save named, to mark it.
    pub bad_fields: Vec<String>,
}

impl EmailSection {
    /// # Errors
    /// When the workspace's reply email delay cannot be read.
    pub async fn of(state: &AppState, ws: &tidings_store::Workspace) -> Result<EmailSection, StoreError> {
        let reply_after = state.store.reply_email_after(ws.id).await?.unwrap_or(300);
        let r = state.engine.email_readiness(ws);
        let source = |s: &str| match s {
            "workspace" => "this workspace's",
            "server" => "the server's",
            _ => "none",
        };
        Ok(EmailSection {
            from: ws.email.from.clone().unwrap_or_default(),
            reply_to: ws.email.reply_to.clone().unwrap_or_default(),
            smtp_url: ws.email.smtp_url.as_deref().map(redact_smtp_url).unwrap_or_default(),
            has_smtp: ws.email.smtp_url.is_some(),
            tracking: ws.email.tracking,
            rate_per_minute: ws.email.rate_per_minute.map(|r| r.to_string()).unwrap_or_default(),
            reply_minutes: (reply_after / 60).max(1).to_string(),
            dkim_selector: ws.email.dkim.as_ref().map(|k| k.selector.clone()).unwrap_or_default(),
            dkim_domain: ws.email.dkim.as_ref().and_then(|k| k.domain.clone()).unwrap_or_default(),
            has_dkim: ws.email.dkim.is_some(),
            ready: r.ready,
            smtp_source: source(r.smtp_from),
            sender_source: source(r.sender_from),
            missing: r.missing,
            bad_fields: Vec::new(),
        })
    }

    pub fn bad(&self, field: &str) -> bool {
        self.bad_fields.iter().any(|f| f == field)
    }
}
