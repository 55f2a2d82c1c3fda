//! Conversations: a contact starts one or replies (from the Messenger or through the API, the
//! same operation), and a teammate replies, writes a note, closes, reopens or snoozes one.

use tidings_core::contact::Contact;
use tidings_core::conversation::{Author, Change, PartType, State, visible_to_contact};
use tidings_core::message::Channel;
use tidings_store::{Conversation, ConversationPart, Message, StatFilter, Teammate, Workspace};

use crate::Engine;
use crate::bus::Event;
use crate::error::{EngineError, Missing, Result};
use crate::render::{Composed, contact_words, teammate_words};

/// What a contact replies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    /// One of their conversations.
    Conversation(i64),
    /// Their most recent conversation.
    Latest,
    /// A chat delivered to them: its conversation, opened with the message when it is the first
    /// reply.
    Delivery(i64),
}

/// What a teammate writes in a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    /// To the contact.
    Reply,
    /// For the team only.
    Note,
}

fn part(part_type: PartType, author_type: Author, author_id: i64, body: Option<String>, now: i64) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type,
        author_type,
        author_id,
        body,
        created_at: now,
        assigned_to: None,
    }
}

impl Engine {
    async fn find_conversation(&self, ws: i64, id: i64) -> Result<Conversation> {
        self.store.conversation(ws, id).await?.ok_or_else(|| EngineError::not_found(Missing::Conversation))
    }

    fn part_added(&self, ws: i64, c: &Conversation, p: &ConversationPart) {
        self.publish(Event::PartAdded {
            workspace: ws,
            conversation: c.id,
            contact: c.contact_id,
            part: p.id,
            visible: visible_to_contact(p.part_type, p.body.is_some()),
        });
    }

    fn changed(&self, ws: i64, c: &Conversation, state: State) {
        self.publish(Event::ConversationChanged {
            workspace: ws,
            conversation: c.id,
            contact: c.contact_id,
            state: state.into(),
        });
    }

    /// The conversation of a contact about a message, opened with the message (as the contact
    /// reads it) when it does not exist yet.
    pub(crate) async fn conversation_for_message(
        &self,
        ws: &Workspace,
        contact: &Contact,
        message: &Message,
    ) -> Result<Conversation> {
        let custom = self.store.custom_attributes(ws.id).await?;
        let first = Composed::of(message, &custom).map(|c| c.html_for(contact)).unwrap_or_default();
        Ok(self.store.conversation_for(ws.id, contact.id, message, &first, self.now()).await?)
    }

    /// A contact starts a new conversation with their first words (plain text).
    ///
    /// # Errors
    /// No words or too many, or a database failure.
    pub async fn contact_starts(&self, ws: &Workspace, contact: &Contact, words: &str) -> Result<Conversation> {
        let html = contact_words(words)?;
        let c =
            self.store.start_conversation(ws.id, contact.id, Author::contact(contact.role), &html, self.now()).await?;
        if let Some(first) = self.store.recent_parts(ws.id, c.id, 1).await?.first() {
            self.part_added(ws.id, &c, first);
        }
        self.changed(ws.id, &c, State::Open);
        Ok(c)
    }

    /// A contact replies (plain text). The reply reopens a closed or snoozed conversation (a
    /// closed one records the reopening as an `open` part, as Intercom does), makes the team owe
    /// a reply, and marks the delivery of the message that started it replied and seen.
    ///
    /// # Errors
    /// No words or too many; a conversation that is not the contact's, a delivery that is not a
    /// chat delivered to them; or a database failure.
    pub async fn contact_replies(
        &self,
        ws: &Workspace,
        contact: &Contact,
        to: ReplyTo,
        words: &str,
    ) -> Result<Conversation> {
        let (c, _) = self
            .contact_replies_once(ws, contact, to, words, None)
            .await?
            .expect("without an email's Message-ID the words are always added");
        Ok(c)
    }

    /// [`Engine::contact_replies`], once per received email when `email` (its Message-ID) is
    /// given: `None` when that email's words were already added. Returns the conversation and
    /// the part written.
    pub(crate) async fn contact_replies_once(
        &self,
        ws: &Workspace,
        contact: &Contact,
        to: ReplyTo,
        words: &str,
        email: Option<&str>,
    ) -> Result<Option<(Conversation, ConversationPart)>> {
        let html = contact_words(words)?;
        let c = match to {
            ReplyTo::Conversation(id) => self
                .store
                .conversation(ws.id, id)
                .await?
                .filter(|c| c.contact_id == contact.id)
                .ok_or_else(|| EngineError::not_found(Missing::Conversation))?,
            ReplyTo::Latest => self
                .store
                .conversations_of_contact(ws.id, contact.id)
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| EngineError::not_found(Missing::Conversation))?,
            ReplyTo::Delivery(id) => {
                let (_, m) = self
                    .store
                    .delivered_in_app(ws.id, contact.id, 500)
                    .await?
                    .into_iter()
                    .find(|(d, _)| d.id == id)
                    .ok_or_else(|| EngineError::not_found(Missing::Delivery))?;
                if m.channel != Channel::Chat {
                    return Err(EngineError::invalid(
                        "id",
                        "Announcements cannot be replied to; start a conversation instead",
                    ));
                }
                self.conversation_for_message(ws, contact, &m).await?
            }
        };
        let part_type = if c.state == State::Closed { PartType::Open } else { PartType::Comment };
        let now = self.now();
        let reply = part(part_type, Author::contact(contact.role), contact.id, Some(html), now);
        let written = match email {
            None => self.store.add_part(ws.id, c.id, reply).await?,
            Some(message_id) => match self.store.add_received_part(ws.id, c.id, message_id, reply).await? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        if let Some(message_id) = c.message_id {
            let delivery = self
                .store
                .deliveries_of_contact(ws.id, contact.id)
                .await?
                .into_iter()
                .find(|d| d.message_id == message_id);
            if let Some(d) = delivery {
                // A reply is the strongest sign the message was read.
                let replied = self.store.mark_delivery(ws.id, contact.id, d.id, StatFilter::Replied, now).await?;
                let seen = self.store.mark_delivery(ws.id, contact.id, d.id, StatFilter::Seen, now).await?;
                for (done, what) in [(replied, crate::bus::Moved::Replied), (seen, crate::bus::Moved::Seen)] {
                    if done {
                        self.publish(Event::DeliveriesMoved { workspace: ws.id, message: message_id, what, count: 1 });
                    }
                }
            }
        }
        self.part_added(ws.id, &c, &written);
        if c.state != State::Open {
            self.changed(ws.id, &c, State::Open);
        }
        Ok(Some((self.find_conversation(ws.id, c.id).await?, written)))
    }

    /// A teammate replies to the contact, or writes a note for the team (Markdown, personalised
    /// for the contact).
    ///
    /// # Errors
    /// No words or too many, a tag naming no attribute, a conversation not in the workspace, or
    /// a database failure.
    pub async fn teammate_writes(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        conversation: i64,
        words: Words,
        markdown: &str,
    ) -> Result<ConversationPart> {
        let c = self.find_conversation(ws.id, conversation).await?;
        let contact = self.contact_of(ws.id, &c).await?;
        let custom = self.store.custom_attributes(ws.id).await?;
        let html = teammate_words(markdown, &custom, &contact)?;
        let part_type = match words {
            Words::Reply => PartType::Comment,
            Words::Note => PartType::Note,
        };
        let written = self
            .store
            .add_part(ws.id, c.id, part(part_type, Author::Admin, teammate.id, Some(html), self.now()))
            .await?;
        self.part_added(ws.id, &c, &written);
        Ok(written)
    }

    /// A teammate closes, reopens or snoozes a conversation; a close may carry words to the
    /// contact (Markdown).
    ///
    /// # Errors
    /// Wrong words, a conversation not in the workspace, or a database failure.
    pub async fn teammate_changes(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        conversation: i64,
        change: Change,
        words: Option<&str>,
    ) -> Result<ConversationPart> {
        let c = self.find_conversation(ws.id, conversation).await?;
        let html = match words.filter(|w| !w.trim().is_empty()) {
            Some(w) if change == Change::Close => {
                let contact = self.contact_of(ws.id, &c).await?;
                let custom = self.store.custom_attributes(ws.id).await?;
                Some(teammate_words(w, &custom, &contact)?)
            }
            _ => None,
        };
        let written = self
            .store
            .set_conversation_state(
                ws.id,
                c.id,
                change,
                part(change.part_type(), Author::Admin, teammate.id, html, self.now()),
            )
            .await?
            .ok_or_else(|| EngineError::not_found(Missing::Conversation))?;
        self.part_added(ws.id, &c, &written);
        self.changed(ws.id, &c, change.state());
        Ok(written)
    }

    async fn contact_of(&self, ws: i64, c: &Conversation) -> Result<Contact> {
        self.store.contact(ws, c.contact_id).await?.ok_or_else(|| EngineError::not_found(Missing::Contact))
    }
}
