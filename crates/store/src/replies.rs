//! Reply emails: the outbox of the team's words a contact has not seen in the Messenger in time
//! (queued once per conversation and part whatever the number of nodes, claimed with a lease,
//! recorded only by the claim that holds it), the workspace's delay before they are emailed, and
//! the contact's emails back, added to their conversation once per Message-ID.

use async_trait::async_trait;

use crate::Result;
use crate::messages::{Conversation, ConversationPart};

/// Where a reply email is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyEmailState {
    /// Waiting for its time (`next_attempt_at`).
    Pending,
    /// Claimed by a worker until its lease ends.
    Sending,
    /// The mail server took it.
    Sent,
    /// Given up after temporary failures.
    Failed,
    /// Not sent, for the reason recorded (the contact has no address, saw the words, …).
    Skipped,
}

impl ReplyEmailState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyEmailState::Pending => "pending",
            ReplyEmailState::Sending => "sending",
            ReplyEmailState::Sent => "sent",
            ReplyEmailState::Failed => "failed",
            ReplyEmailState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ReplyEmailState::Pending,
            "sending" => ReplyEmailState::Sending,
            "sent" => ReplyEmailState::Sent,
            "failed" => ReplyEmailState::Failed,
            "skipped" => ReplyEmailState::Skipped,
            _ => return None,
        })
    }
}

/// One email of the team's words to a contact: the parts of its conversation after
/// `after_part_id`, up to and including `part_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyEmail {
    pub id: i64,
    pub workspace_id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub after_part_id: i64,
    pub part_id: i64,
    pub state: ReplyEmailState,
    /// Claims so far; a claim's number is what its outcome is recorded against.
    pub attempts: i64,
    pub next_attempt_at: i64,
    /// While `sending`: when the claim ends.
    pub lease_until: Option<i64>,
    /// Why it was skipped or failed, or the last temporary failure.
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub sent_at: Option<i64>,
}

/// What became of one claim of a reply email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// The mail server took it; the contact's `last_contacted_at` is set.
    Sent,
    /// Try again at `at` (a temporary failure).
    Retry { at: i64, reason: String },
    /// Given up.
    Failed(String),
    /// Not sent, and why.
    Skipped(String),
}

#[async_trait]
pub trait ReplyEmailStore: Send + Sync {
    /// Queues up to `limit` reply emails, across workspaces: one per conversation whose team's
    /// latest words the contact has not seen and that were not emailed yet, written at least the
    /// workspace's `reply_email_after` seconds before `now`. One transaction writes the rows and
    /// moves each conversation's `emailed_part_id` to those words, with a conditional update, so
    /// several nodes queue each once. Returns the rows queued.
    async fn queue_reply_emails(&self, now: i64, limit: i64) -> Result<Vec<ReplyEmail>>;
    /// Claims up to `limit` reply emails due at `now` (or whose claim's lease ran out), oldest
    /// first: each moves to `sending` with one more attempt and a lease until `lease_until`. The
    /// claim commits before the caller sends anything; on PostgreSQL rows another node is
    /// claiming are skipped, not waited for.
    async fn claim_reply_emails(&self, now: i64, lease_until: i64, limit: i64) -> Result<Vec<ReplyEmail>>;
    /// Records what became of the claim numbered `attempt` of a reply email; `false` when that
    /// claim no longer holds it (its lease ran out and another claim took it, or it was recorded).
    async fn record_reply_email(
        &self,
        ws: i64,
        id: i64,
        attempt: i64,
        outcome: &ReplyOutcome,
        now: i64,
    ) -> Result<bool>;
    /// The reply emails of a conversation, oldest first.
    async fn reply_emails(&self, ws: i64, conversation_id: i64) -> Result<Vec<ReplyEmail>>;
    /// A conversation by id alone: for a reply address or a Message-ID that names it, whose
    /// signature the caller checks with the conversation's workspace's secret.
    async fn conversation_anywhere(&self, id: i64) -> Result<Option<Conversation>>;
    /// How long the team's words may stay unseen before they are emailed, in seconds; `None`
    /// when there is no such workspace.
    async fn reply_email_after(&self, ws: i64) -> Result<Option<i64>>;
    /// Sets that delay; `false` when there is no such workspace.
    async fn set_reply_email_after(&self, ws: i64, seconds: i64) -> Result<bool>;
    /// Adds a contact's words received by email to their conversation, as
    /// [`crate::ConversationStore::add_part`] does, and remembers the email's `message_id`, in one
    /// transaction: `None` when an email with that Message-ID was already added (a mail server
    /// that handed it on twice), and nothing changes.
    async fn add_received_part(
        &self,
        ws: i64,
        conversation_id: i64,
        message_id: &str,
        part: ConversationPart,
    ) -> Result<Option<ConversationPart>>;
}
