//! What the Messenger shows, as JSON: an in-app message, a part of a conversation, and who wrote
//! it (a teammate's name and avatar). Every `html` is safe to insert (the engine's rendering
//! escapes contacts' words and sanitises teammates' Markdown); every other text is plain text,
//! which the widget inserts as text.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_core::conversation::{Author, visible_to_contact};
use tidings_engine::render::Composed;
use tidings_store::{ConversationPart, Message, Teammate};

/// A teammate as contacts see them: their name and avatar (`null`: the widget shows initials).
pub(crate) fn sender(t: Option<&Teammate>) -> Json {
    json!({"name": t.map_or("", |t| t.name.as_str()), "avatar": t.and_then(|t| t.avatar_url.as_deref())})
}

/// The workspace's teammates by id, read once for everything one answer shows.
pub(crate) struct Team(HashMap<i64, Teammate>);

impl Team {
    pub(crate) fn of(teammates: Vec<Teammate>) -> Team {
        Team(teammates.into_iter().map(|t| (t.id, t)).collect())
    }

    /// Who wrote a part: a teammate as [`sender`] shows them; the contact's own words carry no
    /// name (the widget says "You").
    pub(crate) fn author(&self, p: &ConversationPart) -> Json {
        match p.author_type {
            Author::Admin => sender(self.0.get(&p.author_id)),
            Author::User | Author::Lead => sender(None),
        }
    }

    pub(crate) fn teammate(&self, id: i64) -> Json {
        sender(self.0.get(&id))
    }
}

/// One in-app message as a contact sees it.
pub(crate) fn item(
    delivery_id: i64,
    m: &Message,
    contact: &Contact,
    composed: &Composed,
    sender: &Json,
    seen_at: Option<i64>,
    sent_at: Option<i64>,
) -> Json {
    let rendered = composed.for_contact(contact);
    json!({
        "type": m.channel.as_str(),
        "delivery_id": delivery_id.to_string(),
        "message_id": m.id.to_string(),
        "title": rendered.subject,
        "html": rendered.html,
        "sender": sender,
        "sent_at": sent_at,
        "seen_at": seen_at,
    })
}

/// Whether the contact sees a part.
pub(crate) fn visible(p: &ConversationPart) -> bool {
    visible_to_contact(p.part_type, p.body.is_some())
}

/// One part of a conversation as the Messenger shows it; `sender` as [`Team::author`] gives it.
pub(crate) fn part(p: &ConversationPart, sender: Json) -> Json {
    json!({
        "id": p.id.to_string(),
        "author": p.author_type.as_str(),
        "sender": sender,
        "html": p.body,
        "created_at": p.created_at,
    })
}
