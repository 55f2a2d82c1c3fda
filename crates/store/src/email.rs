//! What email adds to storage: the outbox (claims with a lease, what became of each attempt,
//! the rate limit, unsubscribes), clicks per link, and the reports that arrive after an email
//! was accepted (a late bounce, a spam complaint). The deliveries table is the outbox.

use async_trait::async_trait;

use crate::Result;
use crate::messages::Delivery;

/// How one address in a message's emails was clicked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkClicks {
    pub url: String,
    /// Every click, repeats included.
    pub clicks: i64,
    /// Recipients who clicked it at least once.
    pub people: i64,
}

/// An email a worker claimed: its lease runs until the `due_at` the claim wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claimed {
    pub delivery_id: i64,
    pub workspace_id: i64,
    pub message_id: i64,
    pub contact_id: i64,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
}

/// What became of one attempt to send an email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailOutcome {
    /// The mail server took it.
    Sent,
    /// Try again at `at` (a temporary failure, or the workspace's rate limit).
    Retry { at: i64, reason: String, counts: bool },
    /// Given up after temporary failures.
    Failed(String),
    /// The address was refused for good: the contact is marked `has_hard_bounced`.
    Bounced(String),
    /// The contact cannot receive it any more (unsubscribed, hard-bounced, no address).
    Skipped(String),
    /// Its message was stopped after the claim and before any network I/O: it never goes out.
    Cancelled,
}

#[async_trait]
pub trait EmailStore: Send + Sync {
    // --- the outbox --------------------------------------------------------------------
    /// Claims up to `limit` emails due at `now` (or whose worker's lease ran out), across
    /// workspaces, oldest first: each moves to `sending` with a lease until `lease_until`, and the
    /// claim commits before the caller does any network I/O. On PostgreSQL rows another node is
    /// claiming are skipped, not waited for.
    async fn claim_emails(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<Claimed>>;
    /// Records what became of a claimed email; `false` when it was no longer `sending` (a bounce
    /// or another worker recorded it first).
    async fn record_email(&self, ws: i64, delivery_id: i64, outcome: &EmailOutcome, now: i64) -> Result<bool>;
    /// Records several outcomes `(workspace, delivery, outcome)` in one transaction, as
    /// [`EmailStore::record_email`] each: whether each was still `sending`.
    async fn record_emails(&self, outcomes: &[(i64, i64, EmailOutcome)], now: i64) -> Result<Vec<bool>>;
    /// Takes up to `n` sends from the workspace's rate limit of one email per `interval_ms`,
    /// with up to `burst` sent at once (GCRA; the state is one column, changed only if nobody
    /// changed it meanwhile, so every node shares one limit). Returns how many were granted and,
    /// when fewer than `n`, the time in milliseconds at which the next one may go.
    async fn take_email_slots(&self, ws: i64, n: i64, interval_ms: i64, burst: i64, now_ms: i64) -> Result<(i64, i64)>;
    /// Unsubscribes a contact from emails, crediting the delivery whose link was used; returns
    /// whether the contact was subscribed until now.
    async fn unsubscribe(&self, ws: i64, contact_id: i64, delivery_id: Option<i64>, now: i64) -> Result<bool>;

    // --- what comes back -----------------------------------------------------------------------
    /// Counts a click on `url` in the email of a delivery.
    async fn record_click(&self, ws: i64, message_id: i64, delivery_id: i64, url: &str, now: i64) -> Result<()>;
    /// A message's clicked addresses, most clicked first.
    async fn link_clicks(&self, ws: i64, message_id: i64) -> Result<Vec<LinkClicks>>;
    /// A delivery by id alone, with its workspace: for reports that name a delivery by a signed
    /// Message-ID or return path, whose signature the caller checks with the workspace's secret.
    async fn delivery_anywhere(&self, id: i64) -> Result<Option<(i64, Delivery)>>;
    /// A bounce reported after the email was accepted (a DSN, a relay's report): the delivery
    /// becomes `bounced` with `reason` and its contact `has_hard_bounced`, in one transaction.
    /// `false` when it was not an email sent or on its way (already bounced, say).
    async fn report_bounce(&self, ws: i64, delivery_id: i64, reason: &str, now: i64) -> Result<bool>;
    /// A spam complaint about a delivery's email: its contact is `marked_email_as_spam` and gets
    /// no more emails. `false` when the contact was already marked (or is gone).
    async fn report_complaint(&self, ws: i64, delivery_id: i64, now: i64) -> Result<bool>;
}
