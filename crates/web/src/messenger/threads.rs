//! The contact's side of their conversations, as the Messenger shows them: the home (the
//! workspace's name, greeting and colour, and its team), the list of their conversations with
//! what each holds unread, one conversation's thread, and marking a thread seen.
//!
//! A thread is a conversation, or a chat delivered to the contact that nobody has answered yet
//! (replying to it opens its conversation, `ReplyTo::Delivery`). What a thread holds unread is
//! the team's words the contact has not seen (the store's `contact_unread`), or one for a chat
//! the contact has not seen. An announcement is no thread: it is listed apart and opens as a card
//! of its own. Every route here reads and writes only the session's contact.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_core::message::Channel;
use tidings_engine::render::Composed;
use tidings_store::{Conversation, Delivery, Message};

use super::items::{self, Team};
use super::session::Visitor;
use crate::AppState;
use crate::error::{ApiError, ApiResult};

/// The delivered messages the Messenger lists, newest first (as `GET /messages`).
const RECENT: i64 = 100;
/// The teammates the home shows.
const TEAM_SHOWN: usize = 8;

/// What a contact has in their Messenger, before any part is read.
struct Holdings {
    delivered: Vec<(Delivery, Message)>,
    conversations: Vec<Conversation>,
    /// The team's words in each conversation that the contact has not seen.
    unseen: HashMap<i64, i64>,
}

impl Holdings {
    async fn of(state: &AppState, ws: i64, contact: i64) -> ApiResult<Holdings> {
        Ok(Holdings {
            delivered: state.store.delivered_in_app(ws, contact, RECENT).await?,
            conversations: state.store.conversations_of_contact(ws, contact).await?,
            unseen: state.store.contact_unread(ws, contact).await?.into_iter().collect(),
        })
    }

    /// The delivered chat a conversation is about.
    fn chat_of(&self, c: &Conversation) -> Option<&(Delivery, Message)> {
        let message = c.message_id?;
        self.delivered.iter().find(|(_, m)| m.id == message)
    }

    /// What a conversation holds unread: the team's words the contact has not seen, or one for
    /// the chat that opened it while that is not seen either. The chat is the first of those
    /// words once the team writes again, so the two are not added up.
    fn unread_in(&self, c: &Conversation) -> i64 {
        let words = self.unseen.get(&c.id).copied().unwrap_or(0);
        let chat = self.chat_of(c).is_some_and(|(d, _)| d.seen_at.is_none());
        words.max(i64::from(chat))
    }

    /// Chats delivered that no conversation answers yet.
    fn lone_chats(&self) -> impl Iterator<Item = &(Delivery, Message)> {
        self.delivered.iter().filter(|(_, m)| {
            m.channel == Channel::Chat && !self.conversations.iter().any(|c| c.message_id == Some(m.id))
        })
    }

    fn announcements(&self) -> impl Iterator<Item = &(Delivery, Message)> {
        self.delivered.iter().filter(|(_, m)| m.channel == Channel::Post)
    }

    fn unread(&self) -> i64 {
        let unseen = |(d, _): &&(Delivery, Message)| d.seen_at.is_none();
        self.conversations.iter().map(|c| self.unread_in(c)).sum::<i64>()
            + self.lone_chats().filter(unseen).count() as i64
            + self.announcements().filter(unseen).count() as i64
    }
}

/// Everything unread in a contact's Messenger: what threads and announcements hold, and the
/// messages due to them that their Messenger has not fetched yet (fetching delivers them).
///
/// # Errors
/// A database failure.
pub(crate) async fn unread_count(state: &AppState, ws: i64, contact: i64) -> ApiResult<i64> {
    let pending = state.store.pending_in_app(ws, contact, state.engine.now()).await?.len() as i64;
    Ok(pending + Holdings::of(state, ws, contact).await?.unread())
}

/// A conversation of this contact, or 404 (another contact's is as missing as none).
async fn own_conversation(state: &AppState, v: &Visitor, id: &str) -> ApiResult<Conversation> {
    let id = crate::input::path_id(id).ok_or_else(ApiError::not_found)?;
    state
        .store
        .conversation(v.workspace.id, id)
        .await?
        .filter(|c| c.contact_id == v.contact.id)
        .ok_or_else(|| ApiError::new(axum::http::StatusCode::NOT_FOUND, "not_found", "Resource Not Found"))
}

/// A conversation as the contact sees it: every part with words in it except the team's notes,
/// in order, each with its author's name and avatar; and the delivery of the chat that opened
/// it, if one did (a click on a link in that first part counts for it).
pub(crate) async fn conversation_json(state: &AppState, v: &Visitor, c: &Conversation) -> ApiResult<Json> {
    let ws = v.workspace.id;
    let team = Team::of(state.store.teammates(ws).await?);
    let parts: Vec<Json> = state
        .store
        .parts(ws, c.id)
        .await?
        .iter()
        .filter(|p| items::visible(p))
        .map(|p| items::part(p, team.author(p)))
        .collect();
    let delivery = match c.message_id {
        Some(m) => state
            .store
            .deliveries_of_contact(ws, v.contact.id)
            .await?
            .into_iter()
            .find(|d| d.message_id == m && d.sent_at.is_some())
            .map(|d| d.id.to_string()),
        None => None,
    };
    Ok(json!({
        "type": "messenger_conversation",
        "id": c.id.to_string(),
        "state": c.state.as_str(),
        "delivery_id": delivery,
        "parts": parts,
    }))
}

/// `GET /home`: how the Messenger presents the workspace, and who is on its team.
pub async fn home(State(state): State<AppState>, v: Visitor) -> ApiResult<JsonResponse<Json>> {
    let ws = &v.workspace;
    let teammates: Vec<Json> = state
        .store
        .teammates(ws.id)
        .await?
        .iter()
        .take(TEAM_SHOWN)
        .map(|t| json!({"id": t.id.to_string(), "name": t.name, "avatar": t.avatar_url}))
        .collect();
    let unread = unread_count(&state, ws.id, v.contact.id).await?;
    Ok(JsonResponse(json!({
        "type": "messenger_home",
        "name": ws.name,
        "greeting": ws.messenger_greeting,
        "color": ws.messenger_color,
        "teammates": teammates,
        "unread_count": unread,
    })))
}

/// One thread as the list shows it: where it stands, its newest words and who the contact talks
/// with there.
fn entry(
    id: Option<i64>,
    delivery: Option<&Delivery>,
    state: &str,
    last: Option<Json>,
    teammate: Json,
    unread: i64,
) -> Json {
    let updated_at = last.as_ref().and_then(|p| p["created_at"].as_i64()).or(delivery.and_then(|d| d.sent_at));
    json!({
        "id": id.map(|i| i.to_string()),
        "delivery_id": delivery.map(|d| d.id.to_string()),
        "state": state,
        "unread_count": unread,
        "updated_at": updated_at,
        "last_part": last,
        "teammate": teammate,
    })
}

/// A chat as the first words of its thread (a part with no id: no conversation holds it yet).
fn chat_part(d: &Delivery, contact: &Contact, composed: &Composed, sender: Json) -> Json {
    json!({
        "id": null,
        "author": "admin",
        "sender": sender,
        "html": composed.for_contact(contact).html,
        "created_at": d.sent_at,
    })
}

/// `GET /conversations`: delivers what is pending, then lists the contact's threads newest
/// first (their 100 most recently active conversations, and the chats among their 100 latest
/// messages that nobody answered yet), with what each holds unread, and their announcements
/// apart. The unread count covers every conversation.
pub async fn list(State(state): State<AppState>, v: Visitor) -> ApiResult<JsonResponse<Json>> {
    let ws = v.workspace.id;
    state.engine.deliver_pending(ws, v.contact.id).await?;
    let held = Holdings::of(&state, ws, v.contact.id).await?;
    let team = Team::of(state.store.teammates(ws).await?);
    let custom = state.store.custom_attributes(ws).await?;
    let mut threads = Vec::new();
    // The most recently active ones (the store lists them so): enough for any Messenger, and
    // each costs a read of its parts.
    for c in held.conversations.iter().take(RECENT as usize) {
        let parts = state.store.parts(ws, c.id).await?;
        let shown: Vec<_> = parts.iter().filter(|p| items::visible(p)).collect();
        let last = shown.last().map(|p| items::part(p, team.author(p)));
        // Who the contact talks with: the last teammate who wrote to them, else the one the
        // conversation is with.
        let with = shown
            .iter()
            .rev()
            .find(|p| !p.author_type.is_contact())
            .map(|p| p.author_id)
            .or(c.assignee_id)
            .or(c.teammate_id);
        let teammate = with.map_or(Json::Null, |t| team.teammate(t));
        let chat = held.chat_of(c).map(|(d, _)| d);
        threads.push(entry(Some(c.id), chat, c.state.as_str(), last, teammate, held.unread_in(c)));
    }
    let mut announcements = Vec::new();
    for (d, m) in held.lone_chats().chain(held.announcements()) {
        // A message that no longer renders (an attribute it used was removed) is left out, as
        // `GET /messages` does.
        let Ok(composed) = Composed::of(m, &custom) else { continue };
        let sender = team.teammate(m.sender_id);
        match m.channel {
            Channel::Post => {
                announcements.push(items::item(d.id, m, &v.contact, &composed, &sender, d.seen_at, d.sent_at))
            }
            _ => {
                let first = chat_part(d, &v.contact, &composed, sender.clone());
                threads.push(entry(None, Some(d), "open", Some(first), sender, i64::from(d.seen_at.is_none())));
            }
        }
    }
    threads.sort_by_key(|t| std::cmp::Reverse(t["updated_at"].as_i64().unwrap_or(0)));
    Ok(JsonResponse(json!({
        "type": "messenger_conversation_list",
        "conversations": threads,
        "announcements": announcements,
        "unread_count": held.unread(),
    })))
}

/// `GET /conversations/{id}`: one of the contact's conversations, every part they see.
pub async fn show(State(state): State<AppState>, v: Visitor, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let c = own_conversation(&state, &v, &id).await?;
    Ok(JsonResponse(conversation_json(&state, &v, &c).await?))
}

/// `POST /conversations/{id}/seen`: the contact opened the thread, so everything in it so far
/// is seen, the chat that opened it included; the team hears it.
pub async fn seen(State(state): State<AppState>, v: Visitor, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let c = own_conversation(&state, &v, &id).await?;
    let ws = v.workspace.id;
    let mut seen = state.engine.contact_saw(&v.workspace, v.contact.id, c.id).await?;
    if let Some(m) = c.message_id {
        let unseen: Vec<i64> = state
            .store
            .deliveries_of_contact(ws, v.contact.id)
            .await?
            .iter()
            .filter(|d| d.message_id == m && d.seen_at.is_none())
            .map(|d| d.id)
            .collect();
        seen |= state.engine.seen(ws, v.contact.id, &unseen).await? > 0;
    }
    let unread = unread_count(&state, ws, v.contact.id).await?;
    Ok(JsonResponse(json!({
        "type": "messenger_conversation_seen",
        "conversation_id": c.id.to_string(),
        "seen": seen,
        "unread_count": unread,
    })))
}
