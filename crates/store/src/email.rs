//! What email adds to storage beyond the outbox: clicks per link, and the reports that arrive
//! after an email was accepted (a late bounce, a spam complaint).

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

#[async_trait]
pub trait EmailStore: Send + Sync {
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
