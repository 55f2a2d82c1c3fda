//! Email: the server's sending setup, the links in every email (unsubscribe, opens, clicks),
//! the outbox workers that send what a send queued, the reply emails that bring the team's
//! unseen words to a contact, and the contact's emails back.

pub mod compose;
pub mod inbound;
pub mod letter;
pub mod links;
pub mod outbox;
pub mod plain;
pub mod quotes;
pub mod replies;
pub mod reply_letter;
pub mod reports;

use std::collections::BTreeMap;

use tidings_core::contact::Contact;
use tidings_email::SmtpConfig;
use tidings_store::{StatFilter, Workspace};

use crate::Engine;
use crate::bus::Moved;
use crate::error::Result;
use links::{LinkKind, parse, verify};

/// How this server sends email: set once at start (`TIDINGS_SMTP_URL`, `TIDINGS_EMAIL_FROM`,
/// …); a workspace may name its own SMTP server and sender address in Settings.
#[derive(Clone, Debug)]
pub struct MailSetup {
    /// The server's SMTP server, if any.
    pub smtp: Option<SmtpConfig>,
    /// The server's default sender address.
    pub from: Option<String>,
    /// Where people reach this server, for the links in emails.
    pub public_url: String,
    /// SMTP connections (one per worker) this node holds.
    pub connections: usize,
    /// Seconds to wait before each further attempt after a temporary failure; when they run
    /// out the delivery fails.
    pub retry_after: Vec<i64>,
    /// How long a worker's claim on an email holds, in seconds, before another may take it.
    pub lease: i64,
    /// Where bounces go: with `bounces@mail.example.com`, each email's envelope sender is
    /// `bounces+<its reference>@mail.example.com` (VERP), so a bounce names its delivery. `None`:
    /// the sender address.
    pub bounces: Option<String>,
    /// Where contacts' replies to reply emails go: with `replies@mail.example.com`, each reply
    /// email's `Reply-To` is `replies+r<conversation>.<tag>@mail.example.com`, and the mail
    /// server there hands what arrives to `POST /email/inbound`. `None`: the sender address with
    /// the same suffix.
    pub replies: Option<String>,
}

impl MailSetup {
    /// Two hours and a half of retries: 1, 5, 15, 30 and 90 minutes.
    pub const RETRY_AFTER: [i64; 5] = [60, 300, 900, 1800, 5400];

    pub fn new(public_url: &str) -> MailSetup {
        MailSetup {
            smtp: None,
            from: None,
            public_url: public_url.trim_end_matches('/').to_owned(),
            connections: 10,
            retry_after: Self::RETRY_AFTER.to_vec(),
            lease: 300,
            bounces: None,
            replies: None,
        }
    }
}

/// What a link in an email leads to, once its signature is checked.
#[derive(Clone, Debug)]
pub struct LinkTarget {
    pub workspace: Workspace,
    pub contact: Contact,
    pub delivery: i64,
    pub message: i64,
}

impl Engine {
    /// Sets how this server sends email (once, at start).
    pub fn set_mail(&self, setup: MailSetup) {
        let _ = self.mail.set(std::sync::Arc::new(setup));
    }

    pub fn mail(&self) -> Option<&MailSetup> {
        self.mail.get().map(|m| &**m)
    }

    /// The sender address of a workspace's emails, and the SMTP server they go through; `Err`
    /// says what to set up.
    pub fn mail_route(&self, ws: &Workspace) -> std::result::Result<(String, SmtpConfig), String> {
        let setup = self.mail();
        let smtp = match &ws.email.smtp_url {
            Some(url) => SmtpConfig::parse(url).map_err(|e| format!("The workspace's SMTP server is wrong: {e}"))?,
            None => setup.and_then(|s| s.smtp.clone()).ok_or(
                "Email is not set up: set TIDINGS_SMTP_URL for the server, or an SMTP server in Settings › Email",
            )?,
        };
        let from = ws.email.from.clone().or_else(|| setup.and_then(|s| s.from.clone())).ok_or(
            "Email has no sender address: set TIDINGS_EMAIL_FROM for the server, or a sender address in Settings › Email",
        )?;
        Ok((from, smtp))
    }

    /// The workspace, contact and delivery of a signed link, or `None` when the link is not one
    /// of ours (a bad signature, a delivery that is gone).
    ///
    /// # Errors
    /// A database failure.
    pub async fn email_link(&self, token: &str, kind: LinkKind, url: Option<&str>) -> Result<Option<LinkTarget>> {
        let Some((ws_id, delivery_id, sig)) = parse(token) else { return Ok(None) };
        let Some(workspace) = self.store.workspace(ws_id).await? else { return Ok(None) };
        if !verify(&workspace.email.secret, kind, ws_id, delivery_id, url, sig) {
            return Ok(None);
        }
        let Some(delivery) = self.store.delivery(ws_id, delivery_id).await? else { return Ok(None) };
        let Some(contact) = self.store.contact(ws_id, delivery.contact_id).await? else { return Ok(None) };
        Ok(Some(LinkTarget { workspace, contact, delivery: delivery_id, message: delivery.message_id }))
    }

    /// Unsubscribes the contact of an email's unsubscribe link from every later email, the rest
    /// of a send under way included (workers check at each claim). Returns the link's target,
    /// or `None` when the link is not one of ours.
    ///
    /// # Errors
    /// A database failure.
    pub async fn unsubscribe_by_link(&self, token: &str) -> Result<Option<LinkTarget>> {
        let Some(mut target) = self.email_link(token, LinkKind::Unsubscribe, None).await? else { return Ok(None) };
        let ws = target.workspace.id;
        if self.store.unsubscribe(ws, target.contact.id, Some(target.delivery), self.now()).await? {
            tracing::info!(workspace = ws, contact = target.contact.id, "contact unsubscribed from emails");
            self.moved(ws, BTreeMap::from([(target.message, 1)]), Moved::Unsubscribed);
        }
        target.contact.unsubscribed_from_emails = true;
        Ok(Some(target))
    }

    /// Records that an email was opened (its pixel loaded). Returns whether the link was ours.
    ///
    /// # Errors
    /// A database failure.
    pub async fn email_opened(&self, token: &str) -> Result<bool> {
        let Some(t) = self.email_link(token, LinkKind::Open, None).await? else { return Ok(false) };
        let ws = t.workspace.id;
        if self.store.mark_delivery(ws, t.contact.id, t.delivery, StatFilter::Seen, self.now()).await? {
            self.moved(ws, BTreeMap::from([(t.message, 1)]), Moved::Seen);
        }
        Ok(true)
    }

    /// Records a click on a tracked link (counted per address, for the message's figures per
    /// link) and returns the address to send the reader on to, or
    /// `None` when the link (or the address) is not one this delivery's email carried.
    ///
    /// # Errors
    /// A database failure.
    pub async fn email_clicked(&self, token: &str, url: &str) -> Result<Option<String>> {
        let Some(t) = self.email_link(token, LinkKind::Click, Some(url)).await? else { return Ok(None) };
        self.store.record_click(t.workspace.id, t.message, t.delivery, url, self.now()).await?;
        self.clicked(t.workspace.id, t.contact.id, t.delivery).await?;
        Ok(Some(url.to_owned()))
    }
}
