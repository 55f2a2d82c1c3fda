//! `POST /messages`: Intercom's one-off message from a teammate to one contact.
//!
//! It is a manual message (an in-app chat, or an email) whose audience is that one contact, sent
//! through the same path as any manual message, so it gets a delivery row, reaches an open Messenger in real time
//! and shows in the message list and its stats like the rest.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value as Json, json};
use tidings_core::message::EmailTemplate;

use super::conversations::contact_ref;
use super::{ApiRoute, Body, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![route(
        Method::POST,
        "/messages",
        "Send an in-app message or an email from a teammate to one contact",
        Some("create_message_request"),
        "message",
        create,
    )]
}

fn text<'a>(b: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    b.get(key).and_then(Json::as_str).map(str::trim).filter(|t| !t.is_empty())
}

async fn create(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let ws = caller.workspace.id;
    let email = match b.get("message_type").and_then(Json::as_str) {
        // The spec's enum says in_app; the SDKs and the examples send inapp.
        Some("inapp" | "in_app") => false,
        Some("email") => true,
        _ => return Err(ApiError::bad_request("message_type", "message_type must be inapp or email")),
    };
    let body = text(&b, "body").ok_or_else(|| ApiError::bad_request("body", "Body is required"))?;
    tidings_core::text::check(
        "body",
        b.get("body").and_then(Json::as_str).unwrap_or_default(),
        tidings_core::text::BODY,
    )?;
    let subject = super::fields::text(&b, "subject", "subject")?.map(str::trim).filter(|t| !t.is_empty());
    if email && subject.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter_not_found",
            "No subject supplied for email message",
        )
        .with_field("subject"));
    }
    let template = if email {
        Some(match super::fields::text(&b, "template", "template")? {
            None => EmailTemplate::Personal,
            Some(t) => EmailTemplate::parse(t.trim())
                .ok_or_else(|| ApiError::bad_request("template", "template must be plain or personal"))?,
        })
    } else {
        None
    };
    let from = match b.get("from") {
        Some(Json::Object(f)) if f.get("type").and_then(Json::as_str) == Some("admin") => f,
        _ => {
            return Err(ApiError::bad_request(
                "from",
                "from must be {\"type\": \"admin\", \"id\": …}; a contact starts a conversation with POST /conversations",
            ));
        }
    };
    let sender = match super::fields::id(from, "id", "from.id")? {
        Some(id) => state.store.teammate(ws, id).await?,
        None => None,
    }
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found").with_field("from.id"))?;
    let contact = contact_ref(&state, &caller, b.get("to"), "to", &["user", "lead"]).await?;
    let opens = super::fields::boolean(
        &b,
        "create_conversation_without_contact_reply",
        "create_conversation_without_contact_reply",
    )?;
    let (sent, conversation) = state
        .engine
        .message_contact(&caller.workspace, sender.id, &contact, body, subject, template, opens == Some(true))
        .await?;
    let conversation_id = conversation.map(|c| c.id.to_string());
    Ok(JsonResponse(json!({
        "type": "admin_message",
        "id": sent.id.to_string(),
        "created_at": sent.created_at,
        "subject": sent.subject,
        "body": sent.body,
        "message_type": if email { "email" } else { "inapp" },
        "owner": shapes::admin(&sender),
        "conversation_id": conversation_id,
    })))
}
