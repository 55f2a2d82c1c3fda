//! `/conversations`: Intercom's conversation endpoints. A conversation is between one contact and
//! the team; it is started by the contact (`POST /conversations`, the Messenger) or by a
//! teammate's message, and moves between `open`, `closed` and `snoozed`.

mod actions;
mod schemas;
mod search;
pub(crate) mod shape;
mod update;

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_store::Conversation;

use super::{ApiRoute, Body, list_page, pages, parse_id, path_id, route};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub(crate) use schemas::schemas;

/// A retrieved conversation carries at most this many parts, the most recent ones (as Intercom's).
const MAX_PARTS: i64 = 500;

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(
            Method::GET,
            "/conversations",
            "List conversations, most recently updated first (without their parts)",
            None,
            "conversation_list",
            list,
        ),
        route(
            Method::POST,
            "/conversations",
            "Start a conversation on behalf of a contact (in-app)",
            Some("create_conversation_request"),
            "message",
            create,
        ),
        route(
            Method::GET,
            "/conversations/{id}",
            "Get a conversation with its 500 most recent parts",
            None,
            "conversation",
            get,
        ),
        route(
            Method::POST,
            "/conversations/search",
            "Search conversations with the query language (as contacts' search), newest first unless sorted",
            Some("conversation_search_request"),
            "conversation_list",
            search::search,
        ),
        route(
            Method::PUT,
            "/conversations/{id}",
            "Mark a conversation read or unread, and set its custom attributes",
            Some("update_conversation_request"),
            "conversation",
            update::update,
        ),
        route(
            Method::POST,
            "/conversations/{id}/reply",
            "Reply as a teammate (comment or note) or as the contact; `last` is the contact's latest conversation",
            Some("reply_conversation_request"),
            "conversation",
            actions::reply,
        ),
        route(
            Method::POST,
            "/conversations/{id}/parts",
            "Close, open, snooze or assign a conversation (to a teammate, or 0 to unassign)",
            Some("manage_conversation_request"),
            "conversation",
            actions::manage,
        ),
        route(
            Method::POST,
            "/conversations/{id}/tags",
            "Tag a conversation",
            Some("conversation_tag_request"),
            "tag",
            update::tag,
        ),
        route(
            Method::DELETE,
            "/conversations/{id}/tags/{tag_id}",
            "Take a tag off a conversation",
            Some("conversation_untag_request"),
            "tag",
            update::untag,
        ),
    ]
}

/// A contact named by `{type, id}` or `{type, user_id}` (the external id), in the caller's
/// workspace. Archived contacts cannot take part in conversations.
pub(crate) async fn contact_ref(
    state: &AppState,
    caller: &Caller,
    value: Option<&Json>,
    field: &str,
    types: &[&str],
) -> ApiResult<Contact> {
    let Some(Json::Object(o)) = value else {
        return Err(ApiError::bad_request(
            field,
            format!("{field} must be an object such as {{\"type\": \"user\", \"id\": \"42\"}}"),
        ));
    };
    let ty = o.get("type").and_then(Json::as_str).unwrap_or_default();
    if !types.contains(&ty) {
        return Err(ApiError::bad_request(
            &format!("{field}.type"),
            format!("{field}.type must be {}", types.join(" or ")),
        ));
    }
    let ws = caller.workspace.id;
    let found = match (o.get("id").filter(|v| !v.is_null()), o.get("user_id").filter(|v| !v.is_null())) {
        (Some(id), _) => match parse_id(id) {
            Some(id) => state.store.contact(ws, id).await?,
            None => None,
        },
        (None, Some(Json::String(ext))) => state.store.contact_by_external_id(ws, ext).await?,
        (None, Some(Json::Number(ext))) => state.store.contact_by_external_id(ws, &ext.to_string()).await?,
        _ => return Err(ApiError::bad_request(&format!("{field}.id"), format!("{field}.id is required"))),
    };
    found.filter(|c| !c.archived).ok_or_else(ApiError::user_not_found)
}

async fn find(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Conversation> {
    let id = path_id(raw).ok_or_else(ApiError::not_found)?;
    state.store.conversation(caller.workspace.id, id).await?.ok_or_else(ApiError::not_found)
}

/// The whole conversation object, with its most recent parts.
async fn respond(state: &AppState, caller: &Caller, id: i64) -> ApiResult<JsonResponse<Json>> {
    let ws = caller.workspace.id;
    let summary = state.store.conversation_summary(ws, id).await?.ok_or_else(ApiError::not_found)?;
    let parts = state.store.recent_parts(ws, id, MAX_PARTS).await?;
    let refs = shape::Refs::load(state, ws, std::slice::from_ref(&summary), &parts).await?;
    Ok(JsonResponse(shape::conversation(&summary, &refs, Some(&parts))))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let (offset, per_page) = list_page(&q, 20)?;
    let ws = caller.workspace.id;
    let (page, total) = state.store.conversations(ws, offset, per_page).await?;
    let refs = shape::Refs::load(&state, ws, &page, &[]).await?;
    let items: Vec<Json> = page.iter().map(|s| shape::conversation(s, &refs, None)).collect();
    Ok(JsonResponse(json!({
        "type": "conversation.list",
        "pages": pages(offset, per_page, total),
        "total_count": total,
        "conversations": items,
    })))
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let c = find(&state, &caller, &id).await?;
    respond(&state, &caller, c.id).await
}

/// A conversation started by a contact. Answers with Intercom's `user_message`, not the conversation.
async fn create(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let contact = contact_ref(&state, &caller, b.get("from"), "from", &["user", "lead", "contact"]).await?;
    let words = b.get("body").and_then(Json::as_str).unwrap_or_default();
    let c = state.engine.contact_starts(&caller.workspace, &contact, words).await?;
    let ws = caller.workspace.id;
    let source = state.store.parts(ws, c.id).await?.into_iter().next();
    Ok(JsonResponse(json!({
        "type": "user_message",
        "id": source.map_or_else(|| c.id.to_string(), |p| p.id.to_string()),
        "created_at": c.created_at,
        "body": b.get("body"),
        "message_type": "inapp",
        "conversation_id": c.id.to_string(),
    })))
}
