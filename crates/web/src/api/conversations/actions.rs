//! What teammates and contacts do to a conversation: reply (`POST /conversations/{id}/reply`)
//! and close, open or snooze it (`POST /conversations/{id}/parts`). Each answers with the whole
//! conversation, as Intercom's do.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Map, Value as Json};
use tidings_core::contact::Contact;
use tidings_core::markdown::Body as MessageBody;
use tidings_store::{Conversation, ConversationPart, ConversationState, StatFilter, Teammate};

use super::{find, respond};
use crate::AppState;
use crate::api::{Body, parse_id};
use crate::auth::{Caller, now};
use crate::error::{ApiError, ApiResult};

pub(super) async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    match b.get("type").and_then(Json::as_str) {
        Some("admin") => admin_reply(state, caller, id, b).await,
        Some("user" | "lead" | "contact") => contact_reply(state, caller, id, b).await,
        _ => Err(ApiError::bad_request("type", "type must be admin (a teammate's reply) or user (the contact's)")),
    }
}

/// The teammate named by `admin_id` (a JSON number or string), in the caller's workspace.
/// The teammate an action is done as. An API token may act for any teammate of its workspace
/// (integrations do); a logged-in teammate acts only as themself.
async fn admin(state: &AppState, caller: &Caller, b: &Map<String, Json>) -> ApiResult<Teammate> {
    let id = match b.get("admin_id") {
        None | Some(Json::Null) => return Err(ApiError::bad_request("admin_id", "admin_id is required")),
        Some(v) => parse_id(v),
    };
    if matches!(caller.via, crate::auth::Via::Session(_)) && id != Some(caller.teammate.id) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "action_forbidden", "A teammate can only act as themself")
            .with_field("admin_id"));
    }
    let found = match id {
        Some(id) => state.store.teammate(caller.workspace.id, id).await?,
        None => None,
    };
    found.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found").with_field("admin_id")
    })
}

/// The body's text, trimmed, if there is any; its limit holds for the text as sent.
fn body_text(b: &Map<String, Json>) -> ApiResult<Option<&str>> {
    let raw = b.get("body").and_then(Json::as_str).unwrap_or_default();
    tidings_core::text::check("body", raw, tidings_core::text::BODY)?;
    Ok(Some(raw.trim()).filter(|t| !t.is_empty()))
}

/// A teammate's words as the contact will see them: Markdown, personalised for the contact, with
/// any raw HTML escaped.
async fn admin_html(state: &AppState, caller: &Caller, text: &str, contact: &Contact) -> ApiResult<String> {
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    Ok(MessageBody::compile(text, &custom, "body")?.html_for(contact))
}

async fn contact_of(state: &AppState, caller: &Caller, c: &Conversation) -> ApiResult<Contact> {
    state.store.contact(caller.workspace.id, c.contact_id).await?.ok_or_else(ApiError::not_found)
}

fn admin_part(part_type: &str, teammate: &Teammate, body: Option<String>) -> ConversationPart {
    ConversationPart {
        id: 0,
        conversation_id: 0,
        part_type: part_type.into(),
        author_type: "admin".into(),
        author_id: teammate.id,
        body,
        created_at: now(),
    }
}

async fn admin_reply(
    state: AppState,
    caller: Caller,
    id: String,
    b: Map<String, Json>,
) -> ApiResult<JsonResponse<Json>> {
    let message_type = b.get("message_type").and_then(Json::as_str).unwrap_or_default();
    if !["comment", "note"].contains(&message_type) {
        return Err(ApiError::bad_request("message_type", "message_type must be comment or note"));
    }
    let teammate = admin(&state, &caller, &b).await?;
    let text = body_text(&b)?.ok_or_else(|| ApiError::bad_request("body", "Body is required"))?;
    if id == "last" {
        return Err(ApiError::bad_request(
            "id",
            "A teammate's reply needs a conversation id; `last` is for a contact's reply",
        ));
    }
    let c = find(&state, &caller, &id).await?;
    let contact = contact_of(&state, &caller, &c).await?;
    let html = admin_html(&state, &caller, text, &contact).await?;
    let part = state.store.add_part(caller.workspace.id, c.id, admin_part(message_type, &teammate, Some(html))).await?;
    // A note is for the team only; a comment goes to the contact's open Messenger at once.
    if message_type == "comment" {
        crate::messenger::push_part(&state, caller.workspace.id, c.contact_id, &part, &teammate.name);
    }
    respond(&state, &caller, c.id).await
}

/// The contact a reply names: exactly one of `intercom_user_id`, `email` or `user_id`.
async fn replying_contact(
    state: &AppState,
    caller: &Caller,
    b: &Map<String, Json>,
) -> ApiResult<(Contact, &'static str)> {
    let ws = caller.workspace.id;
    let text = |k: &str| match b.get(k) {
        Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (found, field) = if let Some(id) = text("intercom_user_id") {
        let found = match id.parse::<i64>() {
            Ok(id) => state.store.contact(ws, id).await?,
            Err(_) => None,
        };
        (found, "intercom_user_id")
    } else if let Some(email) = text("email") {
        (state.store.user_by_email(ws, &email).await?, "email")
    } else if let Some(ext) = text("user_id") {
        (state.store.contact_by_external_id(ws, &ext).await?, "user_id")
    } else {
        return Err(ApiError::bad_request(
            "intercom_user_id",
            "Name the contact who replies: intercom_user_id, email or user_id",
        ));
    };
    let contact = found.filter(|c| !c.archived).ok_or_else(|| ApiError::user_not_found().with_field(field))?;
    Ok((contact, field))
}

async fn contact_reply(
    state: AppState,
    caller: Caller,
    id: String,
    b: Map<String, Json>,
) -> ApiResult<JsonResponse<Json>> {
    let ws = caller.workspace.id;
    if crate::api::fields::text(&b, "message_type", "message_type")?.is_some_and(|t| t != "comment") {
        return Err(ApiError::bad_request("message_type", "A contact's reply has message_type comment"));
    }
    let html = crate::messenger::contact_html(&b)?;
    let (contact, field) = replying_contact(&state, &caller, &b).await?;
    let c = if id == "last" {
        state
            .store
            .conversations_of_contact(ws, contact.id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(ApiError::not_found)?
    } else {
        find(&state, &caller, &id).await?
    };
    if c.contact_id != contact.id {
        return Err(ApiError::bad_request(field, "This contact is not part of the conversation"));
    }
    // Intercom records a reply that reopens a closed conversation as an `open` part.
    let part_type = if c.state == "closed" { "open" } else { "comment" };
    let part = ConversationPart {
        id: 0,
        conversation_id: c.id,
        part_type: part_type.into(),
        author_type: contact.role.as_str().into(),
        author_id: contact.id,
        body: Some(html),
        created_at: now(),
    };
    state.store.add_part(ws, c.id, part).await?;
    if let Some(message_id) = c.message_id {
        let delivery =
            state.store.deliveries_of_contact(ws, contact.id).await?.into_iter().find(|d| d.message_id == message_id);
        if let Some(d) = delivery {
            state.store.mark_delivery(ws, contact.id, d.id, StatFilter::Replied, now()).await?;
        }
    }
    respond(&state, &caller, c.id).await
}

pub(super) async fn manage(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let message_type = b.get("message_type").and_then(Json::as_str).unwrap_or_default();
    if !["close", "open", "snoozed"].contains(&message_type) {
        let hint = if message_type == "assignment" { "; assignment is not available yet" } else { "" };
        return Err(ApiError::bad_request(
            "message_type",
            format!("message_type must be close, open or snoozed{hint}"),
        ));
    }
    let to = match message_type {
        "close" => ConversationState::Closed,
        "open" => ConversationState::Open,
        _ => {
            let until = b.get("snoozed_until").and_then(parse_id).filter(|t| *t > 0).ok_or_else(|| {
                ApiError::bad_request(
                    "snoozed_until",
                    "snoozed_until is required: the time to wake up, in UNIX seconds",
                )
            })?;
            ConversationState::Snoozed { until }
        }
    };
    let teammate = admin(&state, &caller, &b).await?;
    let c = find(&state, &caller, &id).await?;
    // Only a close carries words, and they go to the contact like a reply.
    let html = match body_text(&b)? {
        Some(text) if to == ConversationState::Closed => {
            Some(admin_html(&state, &caller, text, &contact_of(&state, &caller, &c).await?).await?)
        }
        _ => None,
    };
    let part = state
        .store
        .set_conversation_state(caller.workspace.id, c.id, to, admin_part(message_type, &teammate, html))
        .await?
        .ok_or_else(ApiError::not_found)?;
    if part.body.is_some() {
        crate::messenger::push_part(&state, caller.workspace.id, c.contact_id, &part, &teammate.name);
    }
    respond(&state, &caller, c.id).await
}
