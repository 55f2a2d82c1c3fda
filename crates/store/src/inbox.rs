//! Storage of the Inbox: its views of conversations (by state and assignee, most recent or
//! waiting longest, a page at a time), their counts, assignment, tags and read marks on
//! conversations, what contacts have seen, snoozed conversations waking up, saved replies, and
//! the API's conversation search.

use async_trait::async_trait;
use tidings_core::conversation::State;

use crate::messages::{Conversation, ConversationPart, ConversationSummary};
use crate::{Result, SortOrder, Tag};

/// Whose conversations a view shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// Everyone's and no one's.
    Anyone,
    /// Unassigned ones only.
    Nobody,
    /// One teammate's.
    Teammate(i64),
}

/// The order of a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum InboxSort {
    /// Latest activity first.
    #[default]
    Latest,
    /// Those whose contact has waited longest for the team first; those waiting for no one last.
    WaitingLongest,
}

/// Where a page of a view starts: after the conversation with this sort key and id (as the last
/// entry of the previous page gave them in [`InboxEntry::key`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    pub key: i64,
    pub id: i64,
}

/// One page of one view of the Inbox.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxQuery {
    /// `None`: every state.
    pub state: Option<State>,
    pub assignee: Assignee,
    pub sort: InboxSort,
    pub after: Option<InboxCursor>,
    pub limit: i64,
    /// Words that the contact's name or email, or any part of the conversation, contains
    /// (case-insensitively).
    pub text: Option<String>,
    /// Only this contact's conversations.
    pub contact_id: Option<i64>,
}

impl Default for InboxQuery {
    fn default() -> Self {
        InboxQuery {
            state: Some(State::Open),
            assignee: Assignee::Anyone,
            sort: InboxSort::Latest,
            after: None,
            limit: 25,
            text: None,
            contact_id: None,
        }
    }
}

/// A conversation as a view lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxEntry {
    pub conversation: Conversation,
    /// The latest part with words (a note included), for the entry's preview.
    pub last: Option<ConversationPart>,
    /// Its place in the view's order: give it back in [`InboxCursor`] for the next page.
    pub key: i64,
}

/// How many conversations are in one state with one assignee (`None`: unassigned), and how many
/// of them the team has not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxCount {
    pub state: State,
    pub assignee_id: Option<i64>,
    pub total: i64,
    pub unread: i64,
}

/// A reply the team saved to use again.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedReply {
    pub id: i64,
    pub name: String,
    /// Markdown, with `{{attribute}}` tags.
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What conversation search orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConversationOrder {
    Id,
    #[default]
    CreatedAt,
    UpdatedAt,
    /// Conversations nobody waits in come last, whichever the direction.
    WaitingSince,
    /// Conversations not snoozed come last, whichever the direction.
    SnoozedUntil,
}

/// One page of a conversation search.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversationSearch {
    /// `None`: every conversation.
    pub pred: Option<tidings_core::conversation_filter::Pred>,
    pub order_by: ConversationOrder,
    pub order: SortOrder,
    pub offset: i64,
    pub limit: i64,
}

#[async_trait]
pub trait InboxStore: Send + Sync {
    /// One page of a view, in its order.
    async fn inbox(&self, ws: i64, q: &InboxQuery) -> Result<Vec<InboxEntry>>;
    /// The workspace's open and snoozed conversations counted by state and assignee (closed ones
    /// are not counted: there is nothing left to do with them, and they only grow).
    async fn inbox_counts(&self, ws: i64) -> Result<Vec<InboxCount>>;
    /// Assigns a conversation to a teammate (`None`: unassigns it) and records `part` (an
    /// `assignment`), in one transaction. A closed or snoozed conversation is reopened by it and
    /// the part recorded as `assign_and_reopen`. `None` when the workspace has no such
    /// conversation.
    async fn assign_conversation(
        &self,
        ws: i64,
        conversation_id: i64,
        assignee: Option<i64>,
        part: ConversationPart,
    ) -> Result<Option<(Conversation, ConversationPart)>>;
    /// Marks a conversation read or unread by the team; false when there is no such conversation.
    async fn set_conversation_read(&self, ws: i64, conversation_id: i64, read: bool) -> Result<bool>;
    /// Replaces a conversation's attributes (a JSON object); false when there is no such conversation.
    async fn set_conversation_attributes(
        &self,
        ws: i64,
        conversation_id: i64,
        attributes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool>;
    /// Records that the contact has seen every part of their conversation written so far; true
    /// when there was something new to them.
    async fn contact_saw(&self, ws: i64, contact_id: i64, conversation_id: i64) -> Result<bool>;
    /// For each of the contact's conversations with parts from the team they have not seen:
    /// `(conversation, how many)`.
    async fn contact_unread(&self, ws: i64, contact_id: i64) -> Result<Vec<(i64, i64)>>;
    /// Wakes up to `limit` snoozed conversations whose time has come by `now`, across
    /// workspaces, each once whatever the number of nodes: reopens it and records an
    /// `unsnoozed` part (by the teammate who snoozed it). Returns them with that part.
    async fn wake_snoozed(&self, now: i64, limit: i64) -> Result<Vec<(Conversation, ConversationPart)>>;

    /// Tags a conversation (again is no change); false when the conversation or the tag is not
    /// the workspace's.
    async fn tag_conversation(
        &self,
        ws: i64,
        conversation_id: i64,
        tag_id: i64,
        by: Option<i64>,
        now: i64,
    ) -> Result<bool>;
    /// Removes a tag from a conversation; false when it was not there.
    async fn untag_conversation(&self, ws: i64, conversation_id: i64, tag_id: i64) -> Result<bool>;
    /// The tags of each of these conversations: `(conversation, tag)`, by tag name.
    async fn conversation_tags(&self, ws: i64, conversation_ids: &[i64]) -> Result<Vec<(i64, Tag)>>;

    async fn saved_replies(&self, ws: i64) -> Result<Vec<SavedReply>>;
    /// Saves a new reply; a name the workspace already uses is a conflict.
    async fn create_saved_reply(&self, ws: i64, name: &str, body: &str, now: i64) -> Result<SavedReply>;
    async fn update_saved_reply(&self, ws: i64, id: i64, name: &str, body: &str, now: i64) -> Result<bool>;
    async fn delete_saved_reply(&self, ws: i64, id: i64) -> Result<bool>;

    /// One page of the workspace's conversations that match a search, in its order (ties by
    /// id), and how many match in all.
    async fn search_conversations(&self, ws: i64, q: &ConversationSearch) -> Result<(Vec<ConversationSummary>, i64)>;
}
