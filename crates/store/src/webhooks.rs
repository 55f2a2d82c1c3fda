//! What webhooks add to storage: a workspace's subscriptions, and the outbox of notifications
//! derived from the conversations' parts (written once per subscription and part, claimed with a
//! lease, recorded once per attempt).

use async_trait::async_trait;
use tidings_core::webhook::Topic;

use crate::Result;

/// A workspace's subscription: where to send, what about, and the key that signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub workspace_id: i64,
    pub url: String,
    pub topics: Vec<Topic>,
    /// Keys the `X-Hub-Signature` of every notification sent to it.
    pub secret: String,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A change to a subscription: what is `None` stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub topics: Option<Vec<Topic>>,
    /// Switching one on again starts it at the newest part: what happened while it was off is
    /// not sent.
    pub active: Option<bool>,
}

/// Where a notification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotificationState {
    /// Waiting for its (next) attempt at `next_attempt_at`.
    Pending,
    /// A worker is sending it; its claim holds until `locked_until`.
    Sending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up after the last attempt.
    Failed,
}

impl NotificationState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Pending => "pending",
            NotificationState::Sending => "sending",
            NotificationState::Delivered => "delivered",
            NotificationState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => NotificationState::Pending,
            "sending" => NotificationState::Sending,
            "delivered" => NotificationState::Delivered,
            "failed" => NotificationState::Failed,
            _ => return None,
        })
    }
}

/// One notification of one part to one subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub workspace_id: i64,
    pub webhook_id: i64,
    /// The envelope's `id` (`notif_…`), the same on every attempt.
    pub notification_id: String,
    pub topic: Topic,
    pub conversation_id: i64,
    pub part_id: i64,
    pub state: NotificationState,
    /// Attempts so far (the one under way included while `sending`).
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub locked_until: Option<i64>,
    /// The receiver's last HTTP status; `None` when it never answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub first_sent_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub updated_at: i64,
}

/// A notification a worker claimed, with what sending it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedNotification {
    pub notification: Notification,
    pub url: String,
    pub secret: String,
    /// The workspace's `app_id`, for the envelope.
    pub app_id: String,
}

/// What became of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The receiver answered 2xx with this status.
    Delivered { status: i64 },
    /// Try again at `at`.
    Retry { at: i64, status: Option<i64>, error: String },
    /// Given up: the attempts ran out, or it can never be sent (its conversation is gone).
    Failed { status: Option<i64>, error: String },
}

/// What one pass over the parts log wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// Subscriptions whose cursor moved.
    pub subscriptions: u64,
    /// Parts read past those cursors.
    pub parts: u64,
    /// Notifications written.
    pub notifications: u64,
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    // --- subscriptions -------------------------------------------------------------------
    /// Creates a subscription with a fresh secret, starting after the newest part so far.
    /// `None` when the workspace already has `max` subscriptions.
    async fn create_webhook(
        &self,
        ws: i64,
        url: &str,
        topics: &[Topic],
        active: bool,
        max: i64,
        now: i64,
    ) -> Result<Option<Webhook>>;
    /// The workspace's subscriptions, oldest first.
    async fn webhooks(&self, ws: i64) -> Result<Vec<Webhook>>;
    async fn webhook(&self, ws: i64, id: i64) -> Result<Option<Webhook>>;
    /// Changes a subscription; `None` when the workspace has no such subscription.
    async fn update_webhook(&self, ws: i64, id: i64, change: &WebhookChange, now: i64) -> Result<Option<Webhook>>;
    /// Deletes a subscription and its notifications, sent or not.
    async fn delete_webhook(&self, ws: i64, id: i64) -> Result<bool>;
    /// A subscription's most recent notifications, newest first.
    async fn webhook_notifications(&self, ws: i64, webhook_id: i64, limit: i64) -> Result<Vec<Notification>>;

    // --- the outbox ----------------------------------------------------------------------
    /// Reads the parts written after each active subscription's cursor (up to `limit` per
    /// subscription), across workspaces, and in one transaction writes a pending notification,
    /// due at `now`, for each part whose topic the subscription wants, and moves the cursor past
    /// the parts read. Only parts whose transactions have all ended are read, so a part that
    /// commits late is never skipped; on PostgreSQL a subscription another node is reading is
    /// skipped, not waited for, and either way each part is written once per subscription.
    async fn enqueue_notifications(&self, now: i64, limit: i64) -> Result<Enqueued>;
    /// Claims up to `limit` notifications due at `now` (or whose worker's claim ran out), of
    /// active subscriptions, oldest first: each moves to `sending` until `lease_until`, with one
    /// more attempt counted, and the claim commits before the caller sends anything.
    async fn claim_notifications(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<ClaimedNotification>>;
    /// Records what became of attempt number `attempt` of a claimed notification; `false` when
    /// that claim no longer holds (it ran out and another worker claimed it again).
    async fn record_notification(&self, id: i64, attempt: i64, outcome: &NotificationOutcome, now: i64)
    -> Result<bool>;
    /// Deletes delivered and failed notifications last changed before `before`; returns how many.
    async fn prune_notifications(&self, before: i64) -> Result<u64>;
}
