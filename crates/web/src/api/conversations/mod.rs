//! `/conversations`: Intercom's conversation endpoints. A conversation is between one contact and
//! the team; it is started by the contact (`POST /conversations`, the Messenger) or by a
//! teammate's message, and moves between `open`, `closed` and `snoozed`.

mod actions;
pub(crate) mod shape;

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
            "/conversations/{id}/reply",
            "Reply as a teammate (comment or note) or as the contact; `last` is the contact's latest conversation",
            Some("reply_conversation_request"),
            "conversation",
            actions::reply,
        ),
        route(
            Method::POST,
            "/conversations/{id}/parts",
            "Close, open or snooze a conversation",
            Some("manage_conversation_request"),
            "conversation",
            actions::manage,
        ),
    ]
}

/// The OpenAPI schemas of this module and of `POST /messages`.
pub(crate) fn schemas() -> Json {
    use super::openapi::kinds::{WS, id, non_blank, or_null, schema_ref, text, without_tags};
    use tidings_core::text::{BODY, SUBJECT};
    let contact_ref = |types: &[&str]| {
        json!({
            "type": "object", "required": ["type"],
            "properties": {"type": {"enum": types}, "id": or_null(id()), "user_id": or_null(json!({"type": ["string", "number"]}))},
            "anyOf": [
                {"required": ["id"], "properties": {"id": id()}},
                {"required": ["user_id"], "properties": {"user_id": {"type": ["string", "number"]}}},
            ],
            "description": "A contact by its Tidings id, or by your user_id (external id)",
        })
    };
    let markdown = || {
        without_tags(
            non_blank(BODY),
            "Markdown with {{attribute}} tags naming attributes that exist; raw HTML is shown as text",
        )
    };
    let plain = || non_blank(BODY);
    let someone = json!({"anyOf": [
        {"type": "string", "pattern": format!("[^{WS}]")},
        {"type": "number"},
    ]});
    json!({
        "create_message_request": {"type": "object", "required": ["message_type", "body", "from", "to"], "properties": {
            "message_type": {"enum": ["inapp", "in_app", "email"], "description": "email needs a subject, and the server or the workspace set up to send email (409 email_not_set_up otherwise)"},
            "template": or_null(json!({"enum": ["plain", "personal"], "description": "How an email looks (personal by default)"})),
            "subject": or_null(without_tags(text(SUBJECT), "Text with {{attribute}} tags naming attributes that exist")),
            "body": markdown(),
            "from": {"type": "object", "required": ["type", "id"], "properties": {"type": {"const": "admin"}, "id": id()}},
            "to": contact_ref(&["user", "lead"]),
            "create_conversation_without_contact_reply": or_null(json!({"type": "boolean"})),
        },
        "if": {"required": ["message_type"], "properties": {"message_type": {"const": "email"}}},
        "then": {"required": ["subject"], "properties": {"subject": {"type": "string", "pattern": "\\S"}}}},
        "message": {"type": "object", "properties": {
            "type": {"enum": ["admin_message", "user_message"]}, "id": {"type": "string"}, "created_at": {"type": "integer"},
            "subject": {"type": ["string", "null"]}, "body": {"type": "string"}, "message_type": {"enum": ["inapp", "email"]},
            "owner": schema_ref("admin"), "conversation_id": {"type": ["string", "null"]},
        }},
        "create_conversation_request": {"type": "object", "required": ["from", "body"], "properties": {
            "from": contact_ref(&["user", "lead", "contact"]), "body": plain(),
        }, "description": "body is plain text"},
        "conversation_part": {"type": "object", "properties": {
            "type": {"const": "conversation_part"}, "id": {"type": "string"},
            "part_type": {"enum": ["comment", "note", "open", "close", "snoozed", "unsnoozed", "assignment", "assign_and_reopen"]}, "body": {"type": ["string", "null"]},
            "created_at": {"type": "integer"}, "author": {"type": "object"},
        }},
        "conversation": {"type": "object", "properties": {
            "type": {"const": "conversation"}, "id": {"type": "string"}, "created_at": {"type": "integer"}, "updated_at": {"type": "integer"},
            "waiting_since": {"type": ["integer", "null"]}, "snoozed_until": {"type": ["integer", "null"]},
            "source": {"type": "object"}, "contacts": {"type": "object"}, "admin_assignee_id": {"type": ["integer", "null"]},
            "open": {"type": "boolean"}, "state": {"enum": ["open", "closed", "snoozed"]}, "read": {"type": "boolean"},
            "conversation_parts": {"type": "object", "properties": {
                "type": {"const": "conversation_part.list"}, "total_count": {"type": "integer"},
                "conversation_parts": {"type": "array", "items": schema_ref("conversation_part")},
            }},
        }},
        "conversation_list": {"type": "object", "properties": {
            "type": {"const": "conversation.list"}, "total_count": {"type": "integer"}, "pages": schema_ref("pages"),
            "conversations": {"type": "array", "items": schema_ref("conversation")},
        }},
        "reply_conversation_request": {"anyOf": [
            {"type": "object", "required": ["type", "message_type", "admin_id", "body"], "properties": {
                "type": {"const": "admin"}, "message_type": {"enum": ["comment", "note"]}, "admin_id": id(), "body": markdown(),
            }},
            {"type": "object", "required": ["type", "body"], "properties": {
                "type": {"enum": ["user", "lead", "contact"]}, "message_type": or_null(json!({"const": "comment"})), "body": plain(),
            }, "anyOf": [
                {"required": ["intercom_user_id"], "properties": {"intercom_user_id": someone}},
                {"required": ["email"], "properties": {"email": someone}},
                {"required": ["user_id"], "properties": {"user_id": someone}},
            ]},
        ], "description": "A teammate's comment or note (Markdown), or the contact's reply (plain text) naming the contact by intercom_user_id, email or user_id"},
        "manage_conversation_request": {"type": "object", "required": ["message_type", "admin_id"], "properties": {
            "message_type": {"enum": ["close", "open", "snoozed"]}, "admin_id": id(),
            "body": or_null(without_tags(text(BODY), "Words sent to the contact with a close (Markdown)")),
            "snoozed_until": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": i64::MAX}, {"type": "string", "maxLength": 18, "pattern": "^0*[1-9][0-9]*$"}]},
        }, "anyOf": [
            {"properties": {"message_type": {"enum": ["close", "open"]}}},
            {"required": ["snoozed_until"]},
        ], "description": "snoozed needs snoozed_until, in UNIX seconds"},
    })
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
