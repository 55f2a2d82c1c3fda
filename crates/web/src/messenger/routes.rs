//! The Messenger's HTTP handlers.

use axum::Json as JsonResponse;
use axum::extract::{Path, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};
use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_engine::contacts::Visitor as BootVisitor;
use tidings_engine::conversations::ReplyTo;
use tidings_engine::render::Composed;
use tidings_store::{Conversation, Workspace};

use super::hub;
use super::items::{self, Team};
use super::session::{
    SessionKind, Visitor, origin_allowed, origin_refused, sign_session, verify_session, verify_user_hash,
};
use super::threads::{conversation_json, unread_count};
use crate::AppState;
use crate::auth::now;
use crate::error::{ApiError, ApiResult};
use crate::input::{Body, parse_id};

/// Boot settings that are not contact attributes.
const SETTINGS: &[&str] = &[
    "app_id",
    "user_hash",
    "session",
    "api_base",
    "custom_launcher_selector",
    "alignment",
    "vertical_padding",
    "horizontal_padding",
    "z_index",
    "hide_default_launcher",
    "hide_notifications",
    "session_duration",
    "action_color",
    "background_color",
    "link_color",
    "installation_type",
    "intercom_user_jwt",
    "widget_url",
    "page_title",
    "last_request_at",
    "user_id",
    "created_at",
    "company",
    "companies",
    "avatar",
    "utm_campaign",
    "utm_content",
    "utm_medium",
    "utm_source",
    "utm_term",
];

/// Turns boot or update settings into a contact change: `user_id` is the external id,
/// `created_at` the sign-up time; other unknown keys are custom attributes, kept only when the
/// workspace declared them writable from the Messenger.
fn input_from(
    settings: &Map<String, Json>,
    custom: &[tidings_core::attribute::CustomAttribute],
) -> ApiResult<ContactInput> {
    let mut body = Map::new();
    let mut attrs = Map::new();
    for (k, v) in settings {
        match k.as_str() {
            "user_id" => {
                body.insert("external_id".into(), v.clone());
            }
            "created_at" => {
                body.insert("signed_up_at".into(), v.clone());
            }
            "email" | "name" | "phone" | "language_override" | "unsubscribed_from_emails" | "timezone" => {
                body.insert(k.clone(), v.clone());
            }
            key if SETTINGS.contains(&key) => {}
            key => {
                if custom.iter().any(|a| a.name == key && a.messenger_writable && !a.archived) {
                    attrs.insert(key.to_owned(), v.clone());
                }
            }
        }
    }
    if !attrs.is_empty() {
        body.insert("custom_attributes".into(), Json::Object(attrs));
    }
    Ok(ContactInput::parse(&body, custom)?)
}

fn identity(settings: &Map<String, Json>) -> Option<String> {
    let text = |k: &str| match settings.get(k) {
        Some(Json::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    text("user_id").or_else(|| text("email"))
}

fn session_json(ws: &Workspace, c: &Contact, unread: i64) -> Json {
    let kind = if c.role == Role::Lead { SessionKind::Lead } else { SessionKind::User };
    json!({
        "type": "messenger_session",
        "session": sign_session(ws, c.id, kind, now() + super::session::SESSION_SECONDS),
        "app": {"id": ws.app_id, "name": ws.name, "color": ws.messenger_color},
        "contact": {"id": c.id.to_string(), "role": c.role.as_str(), "name": c.name, "email": c.email, "user_id": c.external_id},
        "unread_count": unread,
    })
}

pub async fn boot(State(state): State<AppState>, headers: HeaderMap, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let app_id =
        b.get("app_id").and_then(Json::as_str).ok_or_else(|| ApiError::bad_request("app_id", "app_id is required"))?;
    let ws = state.store.workspace_by_app_id(app_id).await?.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "No workspace has this app_id").with_field("app_id")
    })?;
    if !origin_allowed(&ws, &headers) {
        return Err(origin_refused());
    }
    let custom = state.store.custom_attributes(ws.id).await?;
    let input = input_from(&b, &custom)?;
    let visitor = match identity(&b) {
        Some(id) => {
            let hash = b.get("user_hash").and_then(Json::as_str);
            match hash {
                Some(h) if !verify_user_hash(&ws, &id, h) => {
                    return Err(ApiError::new(StatusCode::UNAUTHORIZED, "identity_verification_failed", "user_hash does not match: compute it on your server as the hex HMAC-SHA256 of the user_id (or email) with the workspace's identity secret").with_field("user_hash"));
                }
                None if ws.identity_required => {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "identity_verification_required",
                        "This workspace requires identity verification: send user_hash with user_id or email",
                    )
                    .with_field("user_hash"));
                }
                _ => {}
            }
            BootVisitor::Identified
        }
        // A returning visitor presents their earlier session; anyone else becomes a new lead.
        None => BootVisitor::Anonymous {
            earlier: b
                .get("session")
                .and_then(Json::as_str)
                .and_then(|t| verify_session(&ws, t, now()))
                .filter(|s| s.kind == SessionKind::Lead)
                .map(|s| s.contact),
        },
    };
    let contact = state.engine.messenger_boot(&ws, visitor, &input).await?;
    let unread = unread_count(&state, ws.id, contact.id).await?;
    Ok(JsonResponse(session_json(&ws, &contact, unread)))
}

pub async fn update(State(state): State<AppState>, v: Visitor, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let custom = state.store.custom_attributes(v.workspace.id).await?;
    let input = input_from(&b, &custom)?;
    let c = state.engine.messenger_update(&v.workspace, &v.contact, input).await?;
    let unread = unread_count(&state, v.workspace.id, c.id).await?;
    Ok(JsonResponse(json!({"type": "messenger_update", "unread_count": unread})))
}

/// Delivers what is pending and returns the contact's in-app messages and conversations.
pub async fn messages(State(state): State<AppState>, v: Visitor) -> ApiResult<JsonResponse<Json>> {
    let ws = v.workspace.id;
    state.engine.deliver_pending(ws, v.contact.id).await?;
    let delivered = state.store.delivered_in_app(ws, v.contact.id, 100).await?;
    let custom = state.store.custom_attributes(ws).await?;
    let team = Team::of(state.store.teammates(ws).await?);
    let mut items = Vec::new();
    let conversations = state.store.conversations_of_contact(ws, v.contact.id).await?;
    for (d, m) in &delivered {
        let Ok(composed) = Composed::of(m, &custom) else { continue };
        let sender = team.teammate(m.sender_id);
        let mut it = items::item(d.id, m, &v.contact, &composed, &sender, d.seen_at, d.sent_at);
        if let Some(c) = conversations.iter().find(|c| c.message_id == Some(m.id)) {
            it["conversation"] = conversation_json(&state, &v, c).await?;
        }
        items.push(it);
    }
    let mut started = Vec::new();
    for c in conversations.iter().filter(|c| c.message_id.is_none()) {
        started.push(conversation_json(&state, &v, c).await?);
    }
    let unread = unread_count(&state, ws, v.contact.id).await?;
    Ok(JsonResponse(
        json!({"type": "messenger_messages", "items": items, "conversations": started, "unread_count": unread}),
    ))
}

pub async fn seen(State(state): State<AppState>, v: Visitor, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let Some(Json::Array(ids)) = b.get("delivery_ids") else {
        return Err(ApiError::bad_request("delivery_ids", "delivery_ids must be a list"));
    };
    let ids: Vec<i64> = ids.iter().filter_map(parse_id).collect();
    let marked = state.engine.seen(v.workspace.id, v.contact.id, &ids).await?;
    let unread = unread_count(&state, v.workspace.id, v.contact.id).await?;
    Ok(JsonResponse(json!({"type": "messenger_seen", "marked": marked, "unread_count": unread})))
}

/// A click on a link in a delivered message. The widget reports it as the link opens; a click
/// counts once per delivery, and a message clicked was seen.
pub async fn click(State(state): State<AppState>, v: Visitor, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let id = crate::input::path_id(&id).ok_or_else(ApiError::not_found)?;
    let clicked = state.engine.clicked(v.workspace.id, v.contact.id, id).await?;
    Ok(JsonResponse(json!({"type": "messenger_click", "clicked": clicked})))
}

fn words(b: &Map<String, Json>) -> &str {
    b.get("body").and_then(Json::as_str).unwrap_or_default()
}

pub async fn reply_to_delivery(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let id = crate::input::path_id(&id).ok_or_else(ApiError::not_found)?;
    let c = state.engine.contact_replies(&v.workspace, &v.contact, ReplyTo::Delivery(id), words(&b)).await?;
    written_in(&state, &v, &c).await
}

pub async fn start_conversation(
    State(state): State<AppState>,
    v: Visitor,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let c = state.engine.contact_starts(&v.workspace, &v.contact, words(&b)).await?;
    Ok(JsonResponse(conversation_json(&state, &v, &c).await?))
}

pub async fn reply_to_conversation(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let id = crate::input::path_id(&id).ok_or_else(ApiError::not_found)?;
    let c = state.engine.contact_replies(&v.workspace, &v.contact, ReplyTo::Conversation(id), words(&b)).await?;
    written_in(&state, &v, &c).await
}

/// The conversation a contact just wrote in from their Messenger, where they read everything
/// it held: it is seen, so the team's earlier words (a chat's first one included) are no longer
/// counted unread when the team writes again.
async fn written_in(state: &AppState, v: &Visitor, c: &Conversation) -> ApiResult<JsonResponse<Json>> {
    state.engine.contact_saw(&v.workspace, v.contact.id, c.id).await?;
    Ok(JsonResponse(conversation_json(state, v, c).await?))
}

/// Keeps `last_seen_at` fresh. The session is checked as everywhere, but without reading the
/// contact, and the write is batched (see `presence`): a ping is the Messenger's most frequent
/// request.
pub async fn ping(State(state): State<AppState>, claim: super::session::SessionClaim) -> StatusCode {
    state.engine.presence().record(claim.workspace, claim.contact);
    StatusCode::NO_CONTENT
}

pub async fn websocket(State(state): State<AppState>, v: Visitor, upgrade: WebSocketUpgrade) -> Response {
    hub::upgrade(upgrade, state.hub.clone(), v.workspace.id, v.contact.id)
}

pub async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "Unknown Messenger route").into_response()
}
