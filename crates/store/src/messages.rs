//! Storage of manual messages, their deliveries, and conversations.
//!
//! The send is one unit of work: the message moves to `sent` and its audience snapshot (one
//! delivery per recipient) is written in the same transaction, so a crash leaves either no
//! snapshot or a whole one. The stop is one too: the message moves to `stopped` and every pending
//! delivery is cancelled together, and a delivery only ever reaches a contact through a
//! conditional update from `pending`, so nothing is delivered after a stop commits.

use async_trait::async_trait;
use serde_json::Value as Json;
use tidings_core::contact::Contact;
use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_core::filter::Pred;
use tidings_core::message::{Channel, DeliveryState, DeliveryWindow, EmailTemplate, MessageState};

use crate::Result;

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: i64,
    pub workspace_id: i64,
    /// The internal name teammates see in the message list.
    pub title: String,
    pub sender_id: i64,
    pub channel: Channel,
    pub subject: Option<String>,
    /// Markdown, with personalisation tags.
    pub body: String,
    /// How an email looks (in-app messages keep the default).
    pub template: EmailTemplate,
    /// Only send during these days and hours (`None`: any time).
    pub delivery_window: Option<DeliveryWindow>,
    /// Who it goes to, as the composer described it (see the web layer's audience parser).
    pub audience: Json,
    pub state: MessageState,
    pub scheduled_at: Option<i64>,
    pub sent_at: Option<i64>,
    pub stopped_at: Option<i64>,
    /// How many deliveries the snapshot made.
    pub targeted: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub title: String,
    pub sender_id: i64,
    pub channel: Channel,
    pub subject: Option<String>,
    pub body: String,
    pub template: EmailTemplate,
    pub delivery_window: Option<DeliveryWindow>,
    pub audience: Json,
    pub state: MessageState,
    pub scheduled_at: Option<i64>,
}

/// One message to one contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub message_id: i64,
    pub contact_id: i64,
    pub state: DeliveryState,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub seen_at: Option<i64>,
    pub clicked_at: Option<i64>,
    pub replied_at: Option<i64>,
    /// Attempts an email worker made.
    pub attempts: i64,
    /// Why it was skipped, failed or bounced, or the last temporary failure.
    pub reason: Option<String>,
}

/// The figures of a message. `pending` counts emails on their way to the mail server too;
/// `seen` is "opened" for an email.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageStats {
    pub targeted: i64,
    pub pending: i64,
    pub sent: i64,
    pub seen: i64,
    pub clicked: i64,
    pub replied: i64,
    pub cancelled: i64,
    pub failed: i64,
    pub bounced: i64,
    pub skipped: i64,
    pub unsubscribed: i64,
}

/// A message's deliveries, views and clicks over time: buckets of `width` seconds, each starting
/// at a multiple of it, from the first bucket with any of them to the last, none left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    pub width: i64,
    pub buckets: Vec<TimelineBucket>,
}

/// How many deliveries were made, seen and clicked in one bucket of a [`Timeline`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineBucket {
    pub start: i64,
    pub sent: i64,
    pub seen: i64,
    pub clicked: i64,
}

/// The widths a timeline's buckets may have: a minute, five, a quarter, an hour, three, six, a
/// day, a week, thirty days.
pub const TIMELINE_WIDTHS: [i64; 9] = [60, 300, 900, 3600, 10_800, 21_600, 86_400, 604_800, 2_592_000];

/// The narrowest width of [`TIMELINE_WIDTHS`] that covers `first..=last` in at most
/// `max_buckets` buckets (the widest when none does).
pub fn timeline_width(first: i64, last: i64, max_buckets: i64) -> i64 {
    let max = max_buckets.max(1);
    TIMELINE_WIDTHS
        .iter()
        .copied()
        .find(|w| last.div_euclid(*w) - first.div_euclid(*w) < max)
        .unwrap_or(TIMELINE_WIDTHS[TIMELINE_WIDTHS.len() - 1])
}

/// Which contacts behind a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatFilter {
    Targeted,
    Pending,
    Sent,
    Seen,
    Clicked,
    Replied,
    Cancelled,
    Failed,
    Bounced,
    Skipped,
    Unsubscribed,
}

impl StatFilter {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "targeted" => StatFilter::Targeted,
            "pending" => StatFilter::Pending,
            "sent" => StatFilter::Sent,
            "seen" => StatFilter::Seen,
            "clicked" => StatFilter::Clicked,
            "replied" => StatFilter::Replied,
            "cancelled" => StatFilter::Cancelled,
            "failed" => StatFilter::Failed,
            "bounced" => StatFilter::Bounced,
            "skipped" => StatFilter::Skipped,
            "unsubscribed" => StatFilter::Unsubscribed,
            _ => return None,
        })
    }

    /// The SQL condition on a delivery aliased `d`. Constant text only.
    pub(crate) fn condition(self) -> &'static str {
        match self {
            StatFilter::Targeted => "TRUE",
            StatFilter::Pending => "d.state IN ('pending', 'sending')",
            StatFilter::Sent => "d.state = 'sent'",
            StatFilter::Seen => "d.seen_at IS NOT NULL",
            StatFilter::Clicked => "d.clicked_at IS NOT NULL",
            StatFilter::Replied => "d.replied_at IS NOT NULL",
            StatFilter::Cancelled => "d.state = 'cancelled'",
            StatFilter::Failed => "d.state = 'failed'",
            StatFilter::Bounced => "d.state = 'bounced'",
            StatFilter::Skipped => "d.state = 'skipped'",
            StatFilter::Unsubscribed => "d.unsubscribed_at IS NOT NULL",
        }
    }
}

/// A page of the message list.
#[derive(Clone, Debug, Default)]
pub struct MessageListQuery {
    /// Only messages in these states; empty means all.
    pub states: Vec<MessageState>,
    /// Finds messages whose title or sender's name contains this text (case-insensitive).
    pub search: Option<String>,
    pub offset: i64,
    pub limit: i64,
}

/// A message in the list, with its sender's name.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRow {
    pub message: Message,
    pub sender_name: String,
}

/// Who a send goes to, resolved against the contacts table when the snapshot is written.
#[derive(Clone, Debug)]
pub struct Recipients<'a> {
    /// A filter every recipient must match (None: everyone).
    pub pred: Option<&'a Pred>,
    /// Only these contacts (None: no restriction).
    pub contact_ids: Option<&'a [i64]>,
    /// When the deliveries may go out, if not at once (the message's delivery window).
    pub due: Option<&'a DueAt>,
}

/// When each delivery of a send may go out: its message's delivery window, read in the time
/// zone of each contact (`by_zone`, by the contact's `timezone`) or in the workspace's
/// (`default`, for everyone else).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueAt {
    pub default: i64,
    pub by_zone: Vec<(String, i64)>,
}

/// Why a send or stop did nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    NotFound,
    /// The message was not in a state that allows it (already sent, or stopped).
    WrongState(MessageState),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Conversation {
    pub id: i64,
    pub workspace_id: i64,
    pub contact_id: i64,
    pub teammate_id: Option<i64>,
    pub message_id: Option<i64>,
    pub state: State,
    pub read: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// When a contact started waiting for the team; cleared by a teammate's reply.
    pub waiting_since: Option<i64>,
    /// Set while the conversation is `snoozed`.
    pub snoozed_until: Option<i64>,
    /// The teammate it is assigned to; `None` when unassigned.
    pub assignee_id: Option<i64>,
    /// The last part the contact has seen in their Messenger.
    pub contact_seen_part_id: i64,
    /// The team's latest words to the contact (a comment, or a close with words), 0 for none.
    pub team_part_id: i64,
    /// The latest of the team's words emailed to the contact, 0 for none.
    pub emailed_part_id: i64,
    /// Attributes set through the API, a JSON object.
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
}

/// A conversation with what its list entry shows without reading every part.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    /// The opening part.
    pub source: Option<ConversationPart>,
    /// When a contact first wrote in it.
    pub first_contact_reply_at: Option<i64>,
    pub part_count: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConversationPart {
    pub id: i64,
    pub conversation_id: i64,
    pub part_type: PartType,
    /// A teammate, or the contact (as a user or a lead).
    pub author_type: Author,
    pub author_id: i64,
    /// HTML.
    pub body: Option<String>,
    pub created_at: i64,
    /// For an assignment: the teammate it assigned the conversation to (0: nobody).
    pub assigned_to: Option<i64>,
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn create_message(&self, ws: i64, m: NewMessage, now: i64) -> Result<Message>;
    async fn message(&self, ws: i64, id: i64) -> Result<Option<Message>>;
    /// Saves a draft or scheduled message's fields; refuses once it is sent or stopped.
    async fn update_message(&self, ws: i64, m: &Message, now: i64) -> Result<bool>;
    async fn messages(&self, ws: i64, q: &MessageListQuery) -> Result<(Vec<MessageRow>, i64)>;
    /// Moves a draft or scheduled message to `sent` and writes one pending delivery per
    /// recipient, in one transaction. Returns the message and how many deliveries it made.
    async fn send_message(
        &self,
        ws: i64,
        id: i64,
        to: Recipients<'_>,
        now: i64,
    ) -> Result<std::result::Result<Message, Refused>>;
    /// Moves a scheduled or sending in-app or email message to `stopped` and cancels every
    /// pending delivery (one waiting for its window, its rate limit or a retry included), in one
    /// transaction. Returns the message and how many deliveries were cancelled.
    async fn stop_message(&self, ws: i64, id: i64, now: i64) -> Result<std::result::Result<(Message, u64), Refused>>;
    /// Scheduled messages whose time has come, across workspaces: `(workspace, message)`.
    async fn due_messages(&self, now: i64) -> Result<Vec<(i64, i64)>>;
    async fn message_stats(&self, ws: i64, id: i64) -> Result<MessageStats>;
    /// When a message's deliveries were made, seen and clicked, in at most `max_buckets` buckets
    /// (see [`timeline_width`]); empty when nothing was sent yet.
    async fn delivery_timeline(&self, ws: i64, id: i64, max_buckets: i64) -> Result<Timeline>;
    /// Why deliveries of a message were skipped, failed or bounced: `(state, reason, count)`.
    async fn delivery_reasons(&self, ws: i64, id: i64) -> Result<Vec<(DeliveryState, String, i64)>>;

    /// A delivery of the workspace by id.
    async fn delivery(&self, ws: i64, id: i64) -> Result<Option<Delivery>>;
    /// The contacts behind one figure of a message.
    async fn message_recipients(
        &self,
        ws: i64,
        id: i64,
        which: StatFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Contact>, i64)>;
    /// A contact's pending in-app deliveries due at `now` (not waiting for a delivery window),
    /// oldest first, with their messages.
    async fn pending_in_app(&self, ws: i64, contact_id: i64, now: i64) -> Result<Vec<(Delivery, Message)>>;
    /// Wakes up to `limit` in-app deliveries whose delivery window opened by `now`, across
    /// workspaces: each is taken once, by one caller, whatever the number of nodes. Returns
    /// `(workspace, message, deliveries)` for each message woken.
    async fn wake_in_app(&self, now: i64, limit: i64) -> Result<Vec<(i64, i64, u64)>>;
    /// The distinct time zones the workspace's contacts have set.
    async fn contact_timezones(&self, ws: i64) -> Result<Vec<String>>;
    /// Marks pending deliveries of one contact, due at `now`, as sent; returns the ids that were
    /// still pending (a cancelled delivery is never delivered, nor one waiting for its window).
    async fn deliver(&self, ws: i64, contact_id: i64, delivery_ids: &[i64], now: i64) -> Result<Vec<i64>>;
    /// Delivers one message to those of `contact_ids` whose delivery is still pending and due
    /// at `now` (the contacts whose Messenger is open); returns `(delivery, contact)` for each.
    async fn deliver_message_to(
        &self,
        ws: i64,
        message_id: i64,
        contact_ids: &[i64],
        now: i64,
    ) -> Result<Vec<(i64, i64)>>;
    /// A contact's delivered in-app messages, newest first.
    async fn delivered_in_app(&self, ws: i64, contact_id: i64, limit: i64) -> Result<Vec<(Delivery, Message)>>;
    /// Records that a sent delivery was seen, clicked or replied to (first time only).
    async fn mark_delivery(
        &self,
        ws: i64,
        contact_id: i64,
        delivery_id: i64,
        what: StatFilter,
        now: i64,
    ) -> Result<bool>;
    async fn deliveries_of_contact(&self, ws: i64, contact_id: i64) -> Result<Vec<Delivery>>;
}

/// Conversations: a contact's or a teammate's, with their parts.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// The conversation of a contact about a message, created with `first` as its opening part
    /// when it does not exist yet.
    async fn conversation_for(
        &self,
        ws: i64,
        contact_id: i64,
        message: &Message,
        first_body: &str,
        now: i64,
    ) -> Result<Conversation>;
    /// A new conversation started by the contact, with their first words.
    async fn start_conversation(
        &self,
        ws: i64,
        contact_id: i64,
        author_type: Author,
        body: &str,
        now: i64,
    ) -> Result<Conversation>;
    async fn conversation(&self, ws: i64, id: i64) -> Result<Option<Conversation>>;
    /// Adds a part and updates the conversation as the part implies: a contact's words reopen it
    /// (unsnoozing it) and start `waiting_since` if it was not already running; a teammate's
    /// `comment` clears `waiting_since` and marks it read; a `note` changes nothing else.
    async fn add_part(&self, ws: i64, conversation_id: i64, part: ConversationPart) -> Result<ConversationPart>;
    /// Moves a conversation to `to` and records `part` (the close, open or snooze) in one
    /// transaction. `None` when the workspace has no such conversation.
    async fn set_conversation_state(
        &self,
        ws: i64,
        conversation_id: i64,
        to: Change,
        part: ConversationPart,
    ) -> Result<Option<ConversationPart>>;
    async fn parts(&self, ws: i64, conversation_id: i64) -> Result<Vec<ConversationPart>>;
    /// One part of a conversation of the workspace.
    async fn conversation_part(&self, ws: i64, id: i64) -> Result<Option<ConversationPart>>;
    /// The `limit` most recent parts, oldest first.
    async fn recent_parts(&self, ws: i64, conversation_id: i64, limit: i64) -> Result<Vec<ConversationPart>>;
    /// One page of a workspace's conversations, most recently updated first, and how many there are.
    async fn conversations(&self, ws: i64, offset: i64, limit: i64) -> Result<(Vec<ConversationSummary>, i64)>;
    async fn conversation_summary(&self, ws: i64, id: i64) -> Result<Option<ConversationSummary>>;
    async fn conversations_of_contact(&self, ws: i64, contact_id: i64) -> Result<Vec<Conversation>>;
    async fn conversations_of_teammate(&self, ws: i64, teammate_id: i64) -> Result<Vec<Conversation>>;
    async fn conversations_of_message(&self, ws: i64, message_id: i64) -> Result<Vec<Conversation>>;
}
