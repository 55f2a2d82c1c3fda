//! The Inbox's operations: assigning a conversation, marking it read, tagging it, setting its
//! attributes, what the contact has seen, saved replies, the teammates' presence on a
//! conversation, and the background step that wakes snoozed conversations when their time comes.
//!
//! Each change is written first and then said on the bus, so every teammate's Inbox and every
//! open conversation, on any node, reads it again.

use serde_json::{Map, Value as Json};
use tidings_core::conversation::{Author, PartType, State};
use tidings_core::text::{self, BODY, SHORT};
use tidings_store::{Conversation, ConversationPart, SavedReply, StoreError, Teammate, Workspace};

use crate::Engine;
use crate::bus::Event;
use crate::error::{EngineError, Missing, Result};
use crate::render::teammate_words;

/// Snoozed conversations woken per step.
const WAKE_BATCH: i64 = 500;

impl Engine {
    async fn conversation_of(&self, ws: i64, id: i64) -> Result<Conversation> {
        self.store.conversation(ws, id).await?.ok_or_else(|| EngineError::not_found(Missing::Conversation))
    }

    fn conversation_changed(&self, ws: i64, c: &Conversation) {
        self.publish(Event::ConversationChanged {
            workspace: ws,
            conversation: c.id,
            contact: c.contact_id,
            state: c.state.into(),
        });
    }

    /// A teammate assigns a conversation to a teammate of the workspace, or unassigns it
    /// (`None`), with words for the team (Markdown) if they like. Assigning a closed or snoozed
    /// conversation reopens it, as Intercom's `assign_and_reopen` does.
    ///
    /// # Errors
    /// An assignee or a conversation not in the workspace, wrong words, or a database failure.
    pub async fn assign(
        &self,
        ws: &Workspace,
        by: &Teammate,
        conversation: i64,
        assignee: Option<i64>,
        words: Option<&str>,
    ) -> Result<ConversationPart> {
        let c = self.conversation_of(ws.id, conversation).await?;
        if let Some(id) = assignee
            && self.store.teammate(ws.id, id).await?.is_none()
        {
            return Err(EngineError::not_found_at(Missing::Teammate, "assignee_id"));
        }
        let body = match words.filter(|w| !w.trim().is_empty()) {
            Some(w) => {
                let contact =
                    self.store.contact(ws.id, c.contact_id).await?.ok_or(EngineError::not_found(Missing::Contact))?;
                let custom = self.store.custom_attributes(ws.id).await?;
                Some(teammate_words(w, &custom, &contact)?)
            }
            None => None,
        };
        let part = ConversationPart {
            id: 0,
            conversation_id: c.id,
            part_type: PartType::Assignment,
            author_type: Author::Admin,
            author_id: by.id,
            body,
            created_at: self.now(),
            assigned_to: None,
        };
        let (after, written) = self
            .store
            .assign_conversation(ws.id, c.id, assignee, part)
            .await?
            .ok_or_else(|| EngineError::not_found(Missing::Conversation))?;
        self.publish(Event::PartAdded {
            workspace: ws.id,
            conversation: c.id,
            contact: c.contact_id,
            part: written.id,
            visible: false,
        });
        self.conversation_changed(ws.id, &after);
        Ok(written)
    }

    /// Marks a conversation read (a teammate opened it) or unread for the team.
    ///
    /// # Errors
    /// A conversation not in the workspace, or a database failure.
    pub async fn mark_read(&self, ws: &Workspace, conversation: i64, read: bool) -> Result<()> {
        let c = self.conversation_of(ws.id, conversation).await?;
        if c.read != read {
            self.store.set_conversation_read(ws.id, c.id, read).await?;
            self.conversation_changed(ws.id, &c);
        }
        Ok(())
    }

    /// Replaces the attributes an integration keeps on a conversation (a JSON object of
    /// strings, numbers, booleans or nulls, names up to 255 characters).
    ///
    /// # Errors
    /// A value that is an object or a list, a name too long, a conversation not in the
    /// workspace, or a database failure.
    pub async fn set_conversation_attributes(
        &self,
        ws: &Workspace,
        conversation: i64,
        attributes: Map<String, Json>,
    ) -> Result<Conversation> {
        for (name, value) in &attributes {
            let field = format!("custom_attributes.{name}");
            if name.trim().is_empty() || name.chars().count() > SHORT {
                return Err(EngineError::invalid(&field, "An attribute's name is 1 to 255 characters"));
            }
            match value {
                Json::Array(_) | Json::Object(_) => {
                    return Err(EngineError::invalid(&field, "An attribute is a string, a number, a boolean or null"));
                }
                Json::String(s) => text::check(&field, s, text::VALUE)?,
                _ => {}
            }
        }
        let c = self.conversation_of(ws.id, conversation).await?;
        let mut merged = c.custom_attributes.clone();
        merged.extend(attributes);
        self.store.set_conversation_attributes(ws.id, c.id, &merged).await?;
        self.conversation_changed(ws.id, &c);
        self.conversation_of(ws.id, c.id).await
    }

    /// Tags a conversation (again is no change).
    ///
    /// # Errors
    /// A tag or a conversation not in the workspace, or a database failure.
    pub async fn tag_conversation(&self, ws: &Workspace, by: &Teammate, conversation: i64, tag: i64) -> Result<()> {
        let c = self.conversation_of(ws.id, conversation).await?;
        if !self.store.tag_conversation(ws.id, c.id, tag, Some(by.id), self.now()).await? {
            return Err(EngineError::not_found_at(Missing::Tag, "id"));
        }
        self.conversation_changed(ws.id, &c);
        Ok(())
    }

    /// Takes a tag off a conversation.
    ///
    /// # Errors
    /// A tag not on the conversation, a conversation not in the workspace, or a database failure.
    pub async fn untag_conversation(&self, ws: &Workspace, conversation: i64, tag: i64) -> Result<()> {
        let c = self.conversation_of(ws.id, conversation).await?;
        if !self.store.untag_conversation(ws.id, c.id, tag).await? {
            return Err(EngineError::not_found_at(Missing::Tag, "id"));
        }
        self.conversation_changed(ws.id, &c);
        Ok(())
    }

    /// The contact opened their conversation in the Messenger: everything in it so far is seen.
    ///
    /// # Errors
    /// A database failure (a conversation not the contact's changes nothing).
    pub async fn contact_saw(&self, ws: &Workspace, contact: i64, conversation: i64) -> Result<bool> {
        let moved = self.store.contact_saw(ws.id, contact, conversation).await?;
        if moved {
            self.publish(Event::ConversationSeen { workspace: ws.id, conversation, contact });
        }
        Ok(moved)
    }

    /// Says on the bus that a teammate has a conversation open, and whether they are typing.
    pub fn teammate_present(&self, ws: &Workspace, teammate: &Teammate, conversation: i64, typing: bool) {
        self.publish(Event::TeammatePresent { workspace: ws.id, conversation, teammate: teammate.id, typing });
    }

    /// Saves a reply for the team to use again.
    ///
    /// # Errors
    /// A name that is empty, too long or already used; a body empty or too long; a database
    /// failure.
    pub async fn create_saved_reply(&self, ws: &Workspace, name: &str, body: &str) -> Result<SavedReply> {
        let (name, body) = saved_reply_fields(name, body)?;
        self.store.create_saved_reply(ws.id, name, body, self.now()).await.map_err(name_taken)
    }

    /// Changes a saved reply.
    ///
    /// # Errors
    /// As [`Engine::create_saved_reply`], or no such saved reply.
    pub async fn update_saved_reply(&self, ws: &Workspace, id: i64, name: &str, body: &str) -> Result<()> {
        let (name, body) = saved_reply_fields(name, body)?;
        if !self.store.update_saved_reply(ws.id, id, name, body, self.now()).await.map_err(name_taken)? {
            return Err(EngineError::not_found(Missing::SavedReply));
        }
        Ok(())
    }

    /// Deletes a saved reply.
    ///
    /// # Errors
    /// No such saved reply, or a database failure.
    pub async fn delete_saved_reply(&self, ws: &Workspace, id: i64) -> Result<()> {
        if !self.store.delete_saved_reply(ws.id, id).await? {
            return Err(EngineError::not_found(Missing::SavedReply));
        }
        Ok(())
    }
}

fn saved_reply_fields<'a>(name: &'a str, body: &'a str) -> Result<(&'a str, &'a str)> {
    let name = name.trim();
    if name.is_empty() {
        return Err(EngineError::invalid("name", "Give the saved reply a name"));
    }
    text::check("name", name, SHORT)?;
    if body.trim().is_empty() {
        return Err(EngineError::invalid("body", "A saved reply needs words"));
    }
    text::check("body", body, BODY)?;
    Ok((name, body))
}

fn name_taken(e: StoreError) -> EngineError {
    match e {
        StoreError::Conflict { .. } => {
            EngineError::invalid("name", "Another saved reply has this name: choose another, or edit that one")
        }
        other => other.into(),
    }
}

/// Wakes the snoozed conversations whose time has come, on whichever node gets there first, and
/// says so on the bus. Returns how many it woke.
pub async fn step(engine: &Engine, now: i64) -> usize {
    let mut total = 0;
    loop {
        let woken = match engine.store.wake_snoozed(now, WAKE_BATCH).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "could not wake snoozed conversations; trying again next tick");
                return total;
            }
        };
        for (c, part) in &woken {
            engine.publish(Event::PartAdded {
                workspace: c.workspace_id,
                conversation: c.id,
                contact: c.contact_id,
                part: part.id,
                visible: false,
            });
            engine.publish(Event::ConversationChanged {
                workspace: c.workspace_id,
                conversation: c.id,
                contact: c.contact_id,
                state: State::Open.into(),
            });
        }
        total += woken.len();
        if (woken.len() as i64) < WAKE_BATCH {
            return total;
        }
    }
}
