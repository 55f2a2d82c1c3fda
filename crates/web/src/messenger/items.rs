//! What the Messenger shows, as JSON: an in-app message, and a part of a conversation. Every
//! `html` is safe to insert (the engine's rendering escapes contacts' words and sanitises
//! teammates' Markdown).

use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_core::conversation::visible_to_contact;
use tidings_engine::render::Composed;
use tidings_store::{ConversationPart, Message};

/// One in-app message as a contact sees it.
pub(crate) fn item(
    delivery_id: i64,
    m: &Message,
    contact: &Contact,
    composed: &Composed,
    sender: &str,
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
        "sender": {"name": sender},
        "sent_at": sent_at,
        "seen_at": seen_at,
    })
}

/// Whether the contact sees a part.
pub(crate) fn visible(p: &ConversationPart) -> bool {
    visible_to_contact(p.part_type, p.body.is_some())
}

/// One part of a conversation as the Messenger shows it.
pub(crate) fn part(p: &ConversationPart, sender: &str) -> Json {
    json!({
        "id": p.id.to_string(),
        "author": p.author_type.as_str(),
        "sender": {"name": sender},
        "html": p.body,
        "created_at": p.created_at,
    })
}
