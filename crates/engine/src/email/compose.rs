//! What a teammate does with email around a send: see an email as one contact will read it (the
//! preview), send a test of it to their own address, and set up how the workspace sends.
//!
//! A preview and a test are rendered by the same letter code as the outbox's emails, so what the
//! teammate sees is what contacts get. Neither is a delivery: nothing is written, the links are
//! not tracked (a click on a test must not count), and a test's subject says it is one.

use tidings_core::contact::{Contact, Role};
use tidings_core::message::{Channel, EmailTemplate, MessageState};
use tidings_core::text;
use tidings_core::{FieldError, FieldErrors};
use tidings_email::{Connection, Dkim, Letter, Refusal, SmtpConfig};
use tidings_store::{DkimKey, EmailSettings, Message, Teammate, Workspace};

use super::letter::{Stationery, letter};
use crate::Engine;
use crate::error::{EngineError, Missing, Result};
use crate::render::Composed;

/// An email as the composer holds it, saved or not.
#[derive(Clone, Debug, Default)]
pub struct EmailDraft {
    /// Who it is from (`None`: the teammate asking).
    pub sender_id: Option<i64>,
    pub subject: String,
    pub body: String,
    pub template: EmailTemplate,
}

/// Shown where no sender address is set yet, so a preview still reads.
pub const NO_SENDER: &str = "sender-not-set@invalid";

/// A new SMTP server for the workspace's email settings.
#[derive(Clone, Debug)]
pub enum SmtpChange {
    /// Keep the one stored (its password is never shown, so an empty field means this).
    Keep,
    /// Use the server's (`TIDINGS_SMTP_URL`).
    Remove,
    Set(String),
}

/// The workspace's email settings as a teammate submits them; empty strings mean "none".
#[derive(Clone, Debug)]
pub struct EmailSettingsInput {
    pub from: String,
    pub reply_to: String,
    pub smtp: SmtpChange,
    pub tracking: bool,
    /// Emails a minute, as written (empty: no limit).
    pub rate_per_minute: String,
    /// DKIM: an empty selector turns signing off.
    pub dkim: DkimInput,
}

/// The DKIM fields as submitted. The private key is never shown back: an empty one keeps the
/// key stored.
#[derive(Clone, Default)]
pub struct DkimInput {
    pub selector: String,
    /// Empty: the sender address's domain.
    pub domain: String,
    pub private_key: String,
}

/// Written without the private key.
impl std::fmt::Debug for DkimInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimInput")
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .field("private_key", &if self.private_key.is_empty() { "" } else { "[redacted]" })
            .finish()
    }
}

/// Whether an email can go out, and what is missing when not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailReadiness {
    pub ready: bool,
    /// Where the SMTP server comes from: `workspace`, `server`, or `none`.
    pub smtp_from: &'static str,
    /// Where the sender address comes from: `workspace`, `server`, or `none`.
    pub sender_from: &'static str,
    /// What to set, in words, when not ready.
    pub missing: Vec<String>,
}

/// Whether `a` is an email address an SMTP server takes, by the same parser the letters use.
pub fn valid_address(a: &str) -> bool {
    let a = a.trim();
    if a.is_empty() || a.contains(['<', '>', ',', ' ']) {
        return false;
    }
    let probe = Letter {
        from_name: String::new(),
        from_address: a.to_owned(),
        reply_to: None,
        to_name: None,
        to_address: a.to_owned(),
        subject: String::new(),
        text: String::new(),
        html: String::new(),
        message_id: "probe@tidings.invalid".into(),
        references: Vec::new(),
        unsubscribe_url: None,
        return_path: None,
        feedback_id: None,
        dkim: None,
    };
    probe.to_mime().is_ok()
}

/// `smtp://user:***@host:port?…`: the URL with its password hidden, for pages and logs.
pub fn redact_smtp_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Engine {
    /// Whether this workspace can send email now, and what is missing when it cannot.
    pub fn email_readiness(&self, ws: &Workspace) -> EmailReadiness {
        let setup = self.mail();
        let smtp_from = if ws.email.smtp_url.is_some() {
            "workspace"
        } else if setup.is_some_and(|s| s.smtp.is_some()) {
            "server"
        } else {
            "none"
        };
        let sender_from = if ws.email.from.is_some() {
            "workspace"
        } else if setup.is_some_and(|s| s.from.is_some()) {
            "server"
        } else {
            "none"
        };
        let mut missing = Vec::new();
        if smtp_from == "none" {
            missing.push("an SMTP server (here, or TIDINGS_SMTP_URL for the whole server)".to_owned());
        }
        if sender_from == "none" {
            missing.push("a sender address (here, or TIDINGS_EMAIL_FROM for the whole server)".to_owned());
        }
        if let Err(why) = self.mail_route(ws)
            && missing.is_empty()
        {
            missing.push(why);
        }
        EmailReadiness { ready: missing.is_empty(), smtp_from, sender_from, missing }
    }

    /// The letter `draft` becomes for one contact (or, with `contact_id` `None`, for nobody in
    /// particular: the fallbacks show), exactly as the outbox would write it, links untracked.
    ///
    /// # Errors
    /// A body or subject that does not compile (naming the field), a sender or contact not in
    /// the workspace, or a database failure.
    pub async fn preview_email(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        draft: &EmailDraft,
        contact_id: Option<i64>,
    ) -> Result<Letter> {
        let contact = match contact_id {
            Some(id) => self
                .store
                .contact(ws.id, id)
                .await?
                .ok_or_else(|| EngineError::not_found_at(Missing::Contact, "contact_id"))?,
            None => Contact::new(ws.id, Role::User, 0),
        };
        self.letter_for(ws, teammate, draft, &contact).await
    }

    /// Sends `draft`, personalised as the contact `contact_id` names (or as the teammate, when
    /// `None`), to the teammate's own address through the workspace's SMTP setup, its subject
    /// marked `[Test]`. Nothing is recorded: it is no delivery of any message. Returns the
    /// address it went to.
    ///
    /// # Errors
    /// No subject or a wrong body (naming the field); `email_not_set_up` when there is no SMTP
    /// server or sender address; `email_test_failed` with the server's words when it did not
    /// take the email; a database failure.
    pub async fn send_test_email(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        draft: &EmailDraft,
        contact_id: Option<i64>,
    ) -> Result<String> {
        if draft.subject.trim().is_empty() {
            return Err(EngineError::invalid("subject", "An email needs a subject: write one first"));
        }
        let (_, smtp) = self.mail_route(ws).map_err(|why| EngineError::Conflict {
            code: "email_not_set_up",
            message: why,
            field: None,
        })?;
        let contact = match contact_id {
            Some(id) => self
                .store
                .contact(ws.id, id)
                .await?
                .ok_or_else(|| EngineError::not_found_at(Missing::Contact, "contact_id"))?,
            None => {
                let mut c = Contact::new(ws.id, Role::User, 0);
                c.name = Some(teammate.name.clone());
                c.email = Some(teammate.email.clone());
                c
            }
        };
        let mut l = self.letter_for(ws, teammate, draft, &contact).await?;
        l.subject = format!("[Test] {}", l.subject);
        // Signed as the workspace's emails are, so the test shows whether DKIM passes.
        if let Some(k) = &ws.email.dkim {
            let domain = k.domain.clone().or_else(|| l.from_address.rsplit_once('@').map(|(_, d)| d.to_owned()));
            l.dkim = domain.and_then(|d| Dkim::new(&d, &k.selector, &k.private_key).ok());
        }
        l.to_name = Some(teammate.name.clone());
        l.to_address = teammate.email.clone();
        l.message_id = format!("test.{}.{}", self.now(), l.message_id);
        let (envelope, bytes) = l.to_mime().map_err(|e| EngineError::Conflict {
            code: "email_test_failed",
            message: format!("The test email could not be written: {e}. Check the sender address in Settings › Email"),
            field: None,
        })?;
        let to = teammate.email.clone();
        send_once(smtp, &envelope, &bytes).await.map_err(|r| {
            let (what, next) = match &r {
                Refusal::Permanent(_) => (
                    "refused the test email",
                    "Check the sender address and your own address, and that the SMTP server lets this sender send",
                ),
                Refusal::Temporary(_) => (
                    "could not take the test email",
                    "Check that the SMTP server is running and its URL in Settings › Email (or TIDINGS_SMTP_URL) is right, then try again",
                ),
            };
            let why = match r {
                Refusal::Permanent(w) | Refusal::Temporary(w) => w,
            };
            tracing::info!(workspace = ws.id, teammate = teammate.id, reason = %why, "a test email was not sent");
            EngineError::Conflict {
                code: "email_test_failed",
                message: format!("The SMTP server {what} ({why}). {next}."),
                field: None,
            }
        })?;
        tracing::info!(workspace = ws.id, teammate = teammate.id, "test email sent");
        Ok(to)
    }

    async fn letter_for(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        draft: &EmailDraft,
        contact: &Contact,
    ) -> Result<Letter> {
        if draft.body.trim().is_empty() {
            return Err(EngineError::invalid("body", "Body is required"));
        }
        text::check("body", &draft.body, text::BODY)?;
        text::check("subject", &draft.subject, text::SUBJECT)?;
        let sender = match draft.sender_id {
            Some(id) if id != teammate.id => self
                .store
                .teammate(ws.id, id)
                .await?
                .ok_or_else(|| EngineError::not_found_at(Missing::Teammate, "sender_id"))?,
            _ => teammate.clone(),
        };
        let custom = self.store.custom_attributes(ws.id).await?;
        let subject = Some(draft.subject.as_str()).filter(|s| !s.trim().is_empty());
        let composed = Composed::new(&draft.body, subject, &custom)?;
        let message = Message {
            id: 0,
            workspace_id: ws.id,
            title: "(no subject)".into(),
            sender_id: sender.id,
            channel: Channel::Email,
            subject: subject.map(str::to_owned),
            body: draft.body.clone(),
            template: draft.template,
            delivery_window: None,
            audience: serde_json::Value::Null,
            state: MessageState::Draft,
            scheduled_at: None,
            sent_at: None,
            stopped_at: None,
            targeted: 0,
            created_at: 0,
            updated_at: 0,
        };
        // Not a delivery: its links go straight to where they point.
        let mut untracked = ws.clone();
        untracked.email.tracking = false;
        let setup = self.mail();
        let from = ws.email.from.clone().or_else(|| setup.and_then(|s| s.from.clone()));
        let public_url = setup.map_or("", |s| s.public_url.as_str());
        let st = Stationery {
            workspace: &untracked,
            message: &message,
            composed: &composed,
            sender: &sender,
            from_address: from.as_deref().unwrap_or(NO_SENDER),
            public_url,
            bounces: None,
            dkim: None,
        };
        Ok(letter(&st, contact, 0))
    }

    /// Saves how a workspace sends email, after checking every field (each error names its
    /// field, and nothing is saved). The link secret is kept; an SMTP URL left as it was keeps
    /// its password.
    ///
    /// # Errors
    /// A wrong field, or a database failure.
    pub async fn update_email_settings(&self, ws: &Workspace, input: EmailSettingsInput) -> Result<Workspace> {
        let mut errors = Vec::new();
        let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let from = optional(&input.from);
        if let Some(a) = &from
            && (!valid_address(a) || a.len() > text::NAME)
        {
            errors.push(FieldError::invalid(
                "from",
                format!("Sender address {a:?} is not an email address: write it as hello@example.com"),
            ));
        }
        let reply_to = optional(&input.reply_to);
        if let Some(a) = &reply_to
            && (!valid_address(a) || a.len() > text::NAME)
        {
            errors.push(FieldError::invalid(
                "reply_to",
                format!("Reply-to address {a:?} is not an email address: write it as support@example.com"),
            ));
        }
        let smtp_url = match input.smtp {
            SmtpChange::Keep => ws.email.smtp_url.clone(),
            SmtpChange::Remove => None,
            SmtpChange::Set(url) => {
                let url = url.trim().to_owned();
                if url.is_empty() {
                    None
                } else {
                    if let Err(e) = SmtpConfig::parse(&url) {
                        errors.push(FieldError::invalid(
                            "smtp_url",
                            format!("SMTP server URL: {e} (e.g. smtp://user:pass@mail.example.com:587?tls=starttls)"),
                        ));
                    } else if url.len() > text::URL {
                        errors.push(FieldError::invalid("smtp_url", "SMTP server URL is too long"));
                    }
                    Some(url)
                }
            }
        };
        let rate = input.rate_per_minute.trim();
        let rate_per_minute = if rate.is_empty() {
            None
        } else {
            match rate.parse::<i64>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => {
                    errors.push(FieldError::invalid(
                        "rate_per_minute",
                        format!("Rate limit {rate:?} must be a whole number of emails a minute from 1 to 1000000, or empty for none"),
                    ));
                    None
                }
            }
        };
        let sender = from.clone().or_else(|| self.mail().and_then(|m| m.from.clone()));
        let dkim = self.dkim_key(ws, &input.dkim, sender.as_deref(), &mut errors);
        if !errors.is_empty() {
            return Err(FieldErrors(errors).into());
        }
        let email = EmailSettings {
            secret: ws.email.secret.clone(),
            from,
            reply_to,
            smtp_url,
            tracking: input.tracking,
            rate_per_minute,
            dkim,
        };
        if !self.store.update_email_settings(ws.id, &email).await? {
            return Err(EngineError::conflict("workspace_gone", "The workspace no longer exists"));
        }
        tracing::info!(workspace = ws.id, settings = ?email, "email settings saved");
        let mut saved = ws.clone();
        saved.email = email;
        Ok(saved)
    }
}

impl Engine {
    /// The DKIM key the settings ask for, checked by signing with it; errors name their field.
    fn dkim_key(
        &self,
        ws: &Workspace,
        input: &DkimInput,
        sender: Option<&str>,
        errors: &mut Vec<FieldError>,
    ) -> Option<DkimKey> {
        let selector = input.selector.trim();
        let key = input.private_key.trim();
        if selector.is_empty() {
            if !key.is_empty() {
                errors.push(FieldError::invalid("dkim_selector", "Write the DKIM selector the key is published under"));
            }
            return None;
        }
        let domain = Some(input.domain.trim().to_ascii_lowercase()).filter(|d| !d.is_empty());
        let private_key = if key.is_empty() {
            match &ws.email.dkim {
                Some(k) => k.private_key.clone(),
                None => {
                    errors.push(FieldError::invalid(
                        "dkim_private_key",
                        "Paste the DKIM private key (openssl genrsa -traditional 2048 writes one)",
                    ));
                    return None;
                }
            }
        } else {
            key.to_owned()
        };
        let signing_domain =
            domain.clone().or_else(|| sender.and_then(|s| s.rsplit_once('@')).map(|(_, d)| d.to_owned()));
        let Some(signing_domain) = signing_domain else {
            errors.push(FieldError::invalid("dkim_domain", "Write the DKIM domain, or set a sender address first"));
            return None;
        };
        if private_key.len() > 16 * 1024 || selector.len() > 253 {
            errors.push(FieldError::invalid("dkim_private_key", "The DKIM key is too long"));
            return None;
        }
        match Dkim::new(&signing_domain, selector, &private_key) {
            Ok(_) => Some(DkimKey { domain, selector: selector.to_owned(), private_key }),
            Err(e) => {
                let field = if e.contains("selector") {
                    "dkim_selector"
                } else if e.contains("domain") {
                    "dkim_domain"
                } else {
                    "dkim_private_key"
                };
                errors.push(FieldError::invalid(field, format!("{}{}", e[..1].to_uppercase(), &e[1..])));
                None
            }
        }
    }
}

/// One email over a connection of its own, closed after.
async fn send_once(smtp: SmtpConfig, envelope: &tidings_email::Envelope, bytes: &[u8]) -> Result<(), Refusal> {
    let mut conn = Connection::new(smtp);
    let sent = conn.send(envelope, bytes).await;
    conn.close().await;
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_by_the_letters_parser() {
        assert!(valid_address("hello@acme.test"));
        assert!(!valid_address("hello"));
        assert!(!valid_address("a b@acme.test"));
        assert!(!valid_address("Ann <ann@acme.test>"));
        assert!(!valid_address(""));
    }

    #[test]
    fn smtp_passwords_never_show() {
        assert_eq!(
            redact_smtp_url("smtp://u:secret@mail.test:587?tls=starttls"),
            "smtp://u:***@mail.test:587?tls=starttls"
        );
        assert_eq!(redact_smtp_url("smtps://u@mail.test"), "smtps://u@mail.test");
        assert_eq!(redact_smtp_url("smtp://127.0.0.1:2525"), "smtp://127.0.0.1:2525");
    }
}
