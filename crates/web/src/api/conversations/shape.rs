//! The conversation object and its parts, shaped exactly as Intercom's v2.11 `conversation`:
//! every field present, `null` where Tidings has no value, ids as strings except
//! `admin_assignee_id`, timestamps in UNIX seconds.

use std::collections::HashMap;

use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_core::conversation::{Author, State};
use tidings_store::{ConversationPart, ConversationSummary, Teammate};

use crate::AppState;
use crate::error::ApiResult;

/// The people and messages a page of conversations refers to, loaded once for the page.
#[derive(Default)]
pub(crate) struct Refs {
    teammates: HashMap<i64, Teammate>,
    contacts: HashMap<i64, Contact>,
    subjects: HashMap<i64, Option<String>>,
    tags: HashMap<i64, Vec<tidings_store::Tag>>,
}

impl Refs {
    pub async fn load(
        state: &AppState,
        ws: i64,
        conversations: &[ConversationSummary],
        parts: &[ConversationPart],
    ) -> ApiResult<Refs> {
        let mut refs = Refs {
            teammates: state.store.teammates(ws).await?.into_iter().map(|t| (t.id, t)).collect(),
            ..Refs::default()
        };
        let sources = conversations.iter().filter_map(|s| s.source.as_ref());
        let contact_ids = conversations
            .iter()
            .map(|s| s.conversation.contact_id)
            .chain(sources.chain(parts).filter(|p| p.author_type != Author::Admin).map(|p| p.author_id));
        for id in contact_ids {
            if refs.contacts.contains_key(&id) {
                continue;
            }
            if let Some(c) = state.store.contact(ws, id).await? {
                refs.contacts.insert(id, c);
            }
        }
        let ids: Vec<i64> = conversations.iter().map(|s| s.conversation.id).collect();
        for (id, tag) in state.store.conversation_tags(ws, &ids).await? {
            refs.tags.entry(id).or_default().push(tag);
        }
        for id in conversations.iter().filter_map(|s| s.conversation.message_id) {
            if let std::collections::hash_map::Entry::Vacant(slot) = refs.subjects.entry(id) {
                slot.insert(state.store.message(ws, id).await?.and_then(|m| m.subject));
            }
        }
        Ok(refs)
    }

    fn author(&self, p: &ConversationPart) -> Json {
        if p.author_type == Author::Admin {
            let t = self.teammates.get(&p.author_id);
            json!({"type": "admin", "id": p.author_id.to_string(), "name": t.map(|t| &t.name), "email": t.map(|t| &t.email)})
        } else {
            let c = self.contacts.get(&p.author_id);
            json!({"type": p.author_type.as_str(), "id": p.author_id.to_string(), "name": c.and_then(|c| c.name.clone()), "email": c.and_then(|c| c.email.clone())})
        }
    }
}

pub(crate) fn part(p: &ConversationPart, refs: &Refs) -> Json {
    json!({
        "type": "conversation_part",
        "id": p.id.to_string(),
        "part_type": p.part_type.as_str(),
        "body": p.body,
        "created_at": p.created_at,
        "updated_at": p.created_at,
        "notified_at": p.created_at,
        "assigned_to": p.assigned_to.map(|id| json!({"type": if id == 0 { "nobody_admin" } else { "admin" }, "id": id.to_string()})),
        "author": refs.author(p),
        "attachments": [],
        "external_id": null,
        "redacted": false,
    })
}

/// The conversation object; `parts` only when retrieving one conversation (lists leave them out).
pub(crate) fn conversation(s: &ConversationSummary, refs: &Refs, parts: Option<&[ConversationPart]>) -> Json {
    let c = &s.conversation;
    // Started by a teammate (a message, or an admin's first part) or by the contact.
    let admin_initiated = c.message_id.is_some() || s.source.as_ref().is_some_and(|p| p.author_type == Author::Admin);
    let subject = c.message_id.and_then(|m| refs.subjects.get(&m).cloned().flatten()).unwrap_or_default();
    let source = s.source.as_ref().map(|p| {
        json!({
            "type": "conversation",
            "id": p.id.to_string(),
            "delivered_as": if admin_initiated { "admin_initiated" } else { "customer_initiated" },
            "subject": subject,
            "body": p.body,
            "author": refs.author(p),
            "attachments": [],
            "url": null,
            "redacted": false,
        })
    });
    let contact = refs.contacts.get(&c.contact_id);
    let mut v = json!({
        "type": "conversation",
        "id": c.id.to_string(),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "waiting_since": c.waiting_since,
        "snoozed_until": c.snoozed_until,
        "source": source,
        "contacts": {"type": "contact.list", "contacts": [
            {"type": "contact", "id": c.contact_id.to_string(), "external_id": contact.and_then(|c| c.external_id.clone())},
        ]},
        "first_contact_reply": s.first_contact_reply_at.map(|at| json!({"created_at": at, "type": "conversation", "url": null})),
        "admin_assignee_id": c.assignee_id,
        "team_assignee_id": null,
        "open": c.state != State::Closed,
        "state": c.state.as_str(),
        "read": c.read,
        "tags": {"type": "tag.list", "tags": refs.tags.get(&c.id).map_or_else(Vec::new, |tags| tags.iter().map(|t| {
            json!({"type": "tag", "id": t.id.to_string(), "name": t.name, "applied_at": null, "applied_by": null})
        }).collect())},
        "priority": "not_priority",
        "sla_applied": null,
        "statistics": null,
        "conversation_rating": null,
        "teammates": null,
        "title": null,
        "custom_attributes": c.custom_attributes,
        "topics": {},
        "ticket": null,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": false},
        "ai_agent": null,
        "ai_agent_participated": false,
    });
    if let Some(parts) = parts {
        v["conversation_parts"] = json!({
            "type": "conversation_part.list",
            "total_count": s.part_count,
            "conversation_parts": parts.iter().map(|p| part(p, refs)).collect::<Vec<_>>(),
        });
    }
    v
}
