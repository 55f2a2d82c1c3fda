//! `/manual_messages`: compose, schedule, send, stop and measure manual messages (a Tidings
//! resource following Intercom's conventions), and the audience they go to.
//!
//! An audience is an object whose parts all apply together:
//! `{"contact_ids": [...]}` hand-picked contacts, `{"segment_ids": [...]}` members of any of these
//! segments, `{"query": {...}}` contacts matching a filter, or `{"everyone": true}`. With
//! `"conversation": true`, a chat that reaches exactly one contact opens its conversation when sent.
//!
//! `delivery_window` (`{"days": [1, …, 7], "start": "09:00", "end": "17:00"}`, 1 = Monday, or
//! null) says when the message may reach each contact: emails in the contact's time zone, in-app
//! messages in the workspace's.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::Method;
use serde_json::{Map, Value as Json, json};
use tidings_core::attribute::{DataType, Value};
use tidings_core::message::{Channel, DeliveryWindow, EmailTemplate, MessageState};
use tidings_engine::messages::{MessageInput, Then};
use tidings_engine::render::Composed;
use tidings_store::{Message, MessageListQuery, StatFilter};

use super::{ApiRoute, Body, fields, list_page, pages, parse_id, path_id, route, shapes};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Vec<ApiRoute> {
    vec![
        route(
            Method::GET,
            "/manual_messages",
            "List manual messages (filter by state, search by title or sender name)",
            None,
            "manual_message_list",
            list,
        ),
        route(
            Method::POST,
            "/manual_messages",
            "Create a manual message: a draft, a scheduled message, or sent at once",
            Some("manual_message_input"),
            "manual_message",
            create,
        ),
        route(
            Method::POST,
            "/manual_messages/audience_count",
            "Count the contacts an audience would reach now",
            Some("audience_request"),
            "count",
            audience_count,
        ),
        route(
            Method::POST,
            "/manual_messages/preview",
            "Render a body (and subject) as one contact would see it, before it is saved",
            Some("preview_unsaved_request"),
            "preview",
            preview_unsaved,
        ),
        route(Method::GET, "/manual_messages/{id}", "Get a manual message with its stats", None, "manual_message", get),
        route(
            Method::PUT,
            "/manual_messages/{id}",
            "Edit a draft or scheduled message",
            Some("manual_message_update"),
            "manual_message",
            update,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/send",
            "Send now: resolve the audience and write one delivery per recipient; refused (400, audience) when nobody matches",
            None,
            "manual_message",
            send,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/schedule",
            "Schedule for a time (scheduled_at, UNIX seconds)",
            Some("schedule_request"),
            "manual_message",
            schedule,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/unschedule",
            "Turn a scheduled message back into a draft",
            None,
            "manual_message",
            unschedule,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/stop",
            "Stop an in-app or email message: no one who has not received it will. Cannot be undone.",
            None,
            "manual_message",
            stop,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/follow_up",
            "A new draft to everyone this message targeted who has not received it",
            None,
            "manual_message",
            follow_up,
        ),
        route(
            Method::GET,
            "/manual_messages/{id}/recipients",
            "The contacts behind one figure (stat=targeted|pending|sent|seen|clicked|replied|cancelled|failed|bounced|skipped|unsubscribed)",
            None,
            "contact_list",
            recipients,
        ),
        route(
            Method::POST,
            "/manual_messages/{id}/preview",
            "The message as one contact would see it",
            Some("preview_request"),
            "preview",
            preview,
        ),
    ]
}

/// A message's fields as the API gives them; the engine checks what they mean.
fn input(b: &Map<String, Json>) -> ApiResult<MessageInput> {
    let text = |k: &str| fields::text(b, k, k).map(|t| t.map(str::to_owned));
    let channel = match text("channel")? {
        Some(c) => Some(
            Channel::parse(&c)
                .ok_or_else(|| ApiError::bad_request("channel", "channel must be chat, post, email or push"))?,
        ),
        None => None,
    };
    let template = match text("template")? {
        Some(t) => Some(
            EmailTemplate::parse(&t)
                .ok_or_else(|| ApiError::bad_request("template", "template must be plain or personal"))?,
        ),
        None => None,
    };
    // Absent: as it is; null: none; an object: days and hours to send during.
    let delivery_window = match b.get("delivery_window") {
        None => None,
        Some(Json::Null) => Some(None),
        Some(w) => Some(Some(DeliveryWindow::parse(w)?)),
    };
    Ok(MessageInput {
        title: text("title")?,
        channel,
        template,
        delivery_window,
        subject: if b.contains_key("subject") { Some(text("subject")?) } else { None },
        body: text("body")?,
        audience: b.get("audience").cloned(),
        sender_id: fields::id(b, "sender_id", "sender_id")?,
    })
}

/// The message object, with its stats and sender.
pub(crate) async fn render(state: &AppState, caller: &Caller, m: &Message) -> ApiResult<Json> {
    let stats = state.store.message_stats(caller.workspace.id, m.id).await?;
    let reasons: Vec<Json> = state
        .store
        .delivery_reasons(caller.workspace.id, m.id)
        .await?
        .into_iter()
        .map(|(s, reason, count)| json!({"state": s.as_str(), "reason": reason, "count": count}))
        .collect();
    let links: Vec<Json> = state
        .store
        .link_clicks(caller.workspace.id, m.id)
        .await?
        .into_iter()
        .map(|l| json!({"url": l.url, "clicks": l.clicks, "people": l.people}))
        .collect();
    let sender = state.store.teammate(caller.workspace.id, m.sender_id).await?;
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let body_html = Composed::of(m, &custom).ok().map(|c| {
        // Nobody's values: fallbacks shown, for the list and the editor's preview.
        let placeholder =
            tidings_core::contact::Contact::new(caller.workspace.id, tidings_core::contact::Role::User, 0);
        c.html_for(&placeholder)
    });
    Ok(json!({
        "type": "manual_message",
        "id": m.id.to_string(),
        "title": m.title,
        "channel": m.channel.as_str(),
        "state": m.state.as_str(),
        "subject": m.subject,
        "template": m.template.as_str(),
        "delivery_window": m.delivery_window.map(|w| w.to_json()),
        "body": m.body,
        "body_html": body_html,
        "audience": m.audience,
        "sender": sender.as_ref().map(shapes::admin),
        "scheduled_at": m.scheduled_at,
        "sent_at": m.sent_at,
        "stopped_at": m.stopped_at,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "stats": {
            "targeted": stats.targeted, "sent": stats.sent, "pending": stats.pending, "seen": stats.seen,
            "clicked": stats.clicked, "replied": stats.replied, "cancelled": stats.cancelled, "failed": stats.failed,
            "bounced": stats.bounced, "skipped": stats.skipped, "unsubscribed": stats.unsubscribed,
            "reasons": reasons,
            "links": links,
        },
    }))
}

async fn find(state: &AppState, caller: &Caller, raw: &str) -> ApiResult<Message> {
    let id = path_id(raw).ok_or_else(ApiError::not_found)?;
    state.store.message(caller.workspace.id, id).await?.ok_or_else(ApiError::not_found)
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let (offset, per_page) = list_page(&q, 20)?;
    let states = match q.get("state").map(String::as_str) {
        None | Some("") | Some("all") => vec![],
        Some(s) => vec![
            MessageState::parse(s)
                .ok_or_else(|| ApiError::bad_request("state", "state must be sent, draft, scheduled or stopped"))?,
        ],
    };
    let query = MessageListQuery { states, search: q.get("search").cloned(), offset, limit: per_page };
    let (rows, total) = state.store.messages(caller.workspace.id, &query).await?;
    let mut data = Vec::new();
    for r in &rows {
        data.push(render(&state, &caller, &r.message).await?);
    }
    Ok(JsonResponse(
        json!({"type": "list", "data": data, "total_count": total, "pages": pages(offset, per_page, total)}),
    ))
}

async fn create(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let input = input(&b)?;
    let scheduled_at = match fields::present(&b, "scheduled_at") {
        None => None,
        Some(v) => Some(
            v.as_number()
                .and_then(tidings_core::attribute::whole_number)
                .ok_or_else(|| ApiError::bad_request("scheduled_at", "scheduled_at must be a time in UNIX seconds"))?,
        ),
    };
    let then = match (fields::boolean(&b, "send", "send")?.unwrap_or(false), scheduled_at) {
        (true, _) => Then::Send,
        (false, Some(at)) => Then::Schedule(at),
        (false, None) => Then::Keep,
    };
    let m = state.engine.create_message(&caller.workspace, caller.teammate.id, input, then).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn audience_count(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let count = state.engine.count_audience(&caller.workspace, b.get("audience").unwrap_or(&Json::Null)).await?;
    Ok(JsonResponse(json!({"type": "count", "count": count})))
}

async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let m = state.engine.edit_message(&caller.workspace, caller.teammate.id, id, input(&b)?).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn send(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let sent = state.engine.send_message_by_id(&caller.workspace, id).await?;
    Ok(JsonResponse(render(&state, &caller, &sent).await?))
}

async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let at = b
        .get("scheduled_at")
        .and_then(|v| DataType::Date.coerce(v).ok().flatten())
        .and_then(|v| if let Value::Date(d) = v { Some(d) } else { None })
        .ok_or_else(|| {
            ApiError::bad_request("scheduled_at", "scheduled_at must be a time (UNIX seconds or RFC 3339)")
        })?;
    let m = state.engine.schedule_message(&caller.workspace, id, at).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn unschedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let m = state.engine.unschedule_message(&caller.workspace, id).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn stop(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let stopped = state.engine.stop_message(&caller.workspace, id).await?;
    Ok(JsonResponse(render(&state, &caller, &stopped).await?))
}

async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let id = path_id(&id).ok_or_else(ApiError::not_found)?;
    let draft = state.engine.follow_up(&caller.workspace, id).await?;
    Ok(JsonResponse(render(&state, &caller, &draft).await?))
}

async fn recipients(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    let which = StatFilter::parse(q.get("stat").map_or("targeted", String::as_str)).ok_or_else(|| {
        ApiError::bad_request(
            "stat",
            "stat must be targeted, pending, sent, seen, clicked, replied, cancelled or failed",
        )
    })?;
    let (offset, per_page) = list_page(&q, 50)?;
    let (contacts, total) = state.store.message_recipients(caller.workspace.id, m.id, which, offset, per_page).await?;
    let data = super::contacts::render(&state, &caller, &contacts).await?;
    Ok(JsonResponse(
        json!({"type": "list", "data": data, "total_count": total, "pages": pages(offset, per_page, total)}),
    ))
}

async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    render_preview(&state, &caller, &b, &m.body, m.subject.as_deref()).await
}

async fn preview_unsaved(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let body = b.get("body").and_then(Json::as_str).unwrap_or_default();
    if body.trim().is_empty() {
        return Err(ApiError::bad_request("body", "Body is required"));
    }
    let subject = b.get("subject").and_then(Json::as_str);
    render_preview(&state, &caller, &b, body, subject).await
}

/// `body` and `subject` personalised for the contact that `request.contact_id` names.
async fn render_preview(
    state: &AppState,
    caller: &Caller,
    request: &Map<String, Json>,
    body: &str,
    subject: Option<&str>,
) -> ApiResult<JsonResponse<Json>> {
    let contact_id = request
        .get("contact_id")
        .and_then(parse_id)
        .ok_or_else(|| ApiError::bad_request("contact_id", "contact_id is required"))?;
    let contact = state.store.contact(caller.workspace.id, contact_id).await?.ok_or_else(ApiError::user_not_found)?;
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let rendered = Composed::new(body, subject, &custom).map_err(ApiError::from)?.for_contact(&contact);
    Ok(JsonResponse(json!({
        "type": "preview",
        "contact_id": contact.id.to_string(),
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
    })))
}
