//! `POST /messages`: Intercom's one-off message from a teammate to one contact.
//!
//! It is a manual in-app chat message whose audience is that one contact, sent through the same
//! path as any manual message, so it gets a delivery row, reaches an open Messenger in real time
//! and shows in the message list and its stats like the rest.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value as Json, json};
use tidings_core::markdown::Body as MessageBody;
use tidings_core::message::{Channel, MessageState};
use tidings_core::personalise::Template;
use tidings_store::NewMessage;

use super::conversations::contact_ref;
use super::manual_messages::send_message;
use super::{ApiRoute, Body, route, shapes};
use crate::AppState;
use crate::auth::{Caller, now};
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![route(
        Method::POST,
        "/messages",
        "Send an in-app message from a teammate to one contact (email is not available yet)",
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
    if let Some(s) = subject {
        tidings_core::text::check("subject", s, tidings_core::text::SUBJECT)?;
    }
    if email {
        if subject.is_none() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "parameter_not_found",
                "No subject supplied for email message",
            )
            .with_field("subject"));
        }
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported",
            "Email messages are not available yet; send an in-app message (message_type inapp)",
        )
        .with_field("message_type"));
    }
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
    let custom = state.store.custom_attributes(ws).await?;
    let compiled = MessageBody::compile(body, &custom, "body")?;
    if let Some(s) = subject {
        Template::parse(s, &custom, "subject")?;
    }

    let new = NewMessage {
        title: body.lines().next().unwrap_or("Message").chars().take(60).collect(),
        sender_id: sender.id,
        channel: Channel::Chat,
        subject: subject.map(str::to_owned),
        body: body.to_owned(),
        audience: json!({"contact_ids": [contact.id]}),
        state: MessageState::Draft,
        scheduled_at: None,
    };
    let draft = state.store.create_message(ws, new, now()).await?;
    let sent = send_message(&state, &caller, draft).await?;
    let opens = super::fields::boolean(
        &b,
        "create_conversation_without_contact_reply",
        "create_conversation_without_contact_reply",
    )?;
    let conversation_id = if opens == Some(true) {
        let first = compiled.html_for(&contact);
        Some(state.store.conversation_for(ws, contact.id, &sent, &first, now()).await?.id.to_string())
    } else {
        None
    };
    Ok(JsonResponse(json!({
        "type": "admin_message",
        "id": sent.id.to_string(),
        "created_at": sent.created_at,
        "subject": sent.subject,
        "body": sent.body,
        "message_type": "inapp",
        "owner": shapes::admin(&sender),
        "conversation_id": conversation_id,
    })))
}
