//! `/manual_messages`: compose, schedule, send, stop and measure manual messages (a Tidings
//! resource following Intercom's conventions), and the audience they go to.
//!
//! An audience is an object whose parts all apply together:
//! `{"contact_ids": [...]}` hand-picked contacts, `{"segment_ids": [...]}` members of any of these
//! segments, `{"query": {...}}` contacts matching a filter, or `{"everyone": true}`. With
//! `"conversation": true`, a chat that reaches exactly one contact opens its conversation when sent.

use std::collections::HashMap;

use axum::Json as JsonResponse;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value as Json, json};
use tidings_core::filter::{Pred, check_size, compile};
use tidings_core::markdown::Body as MessageBody;
use tidings_core::message::{Channel, MessageAction, MessageState, TransitionError, transition};
use tidings_core::personalise::Template;
use tidings_core::text;
use tidings_store::{Message, MessageListQuery, NewMessage, Recipients, Refused, StatFilter};

use super::{ApiRoute, Body, SchemaData, clock, fields, list_page, pages, parse_id, path_id, route, shapes};
use crate::AppState;
use crate::auth::{Caller, now};
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
            "Send now: resolve the audience and write one delivery per recipient",
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
            "Stop an in-app message: no one who has not received it will. Cannot be undone.",
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
            "The contacts behind one figure (stat=targeted|pending|sent|seen|clicked|replied|cancelled|failed)",
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

fn refused(r: Refused) -> ApiError {
    match r {
        Refused::NotFound => ApiError::not_found(),
        Refused::WrongState(state) => {
            let e = match state {
                MessageState::Stopped => TransitionError::Stopped,
                MessageState::Sending => TransitionError::AlreadySent,
                _ => TransitionError::NotStoppable,
            };
            transition_error(e)
        }
    }
}

/// A saved message with no audience yet cannot be sent or scheduled: its state, not the request,
/// is what is missing.
fn no_audience(doing: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "audience_missing",
        format!("Choose an audience before {doing}: edit the message"),
    )
    .with_field("audience")
}

fn transition_error(e: TransitionError) -> ApiError {
    let code = match e {
        TransitionError::Stopped => "message_stopped",
        TransitionError::AlreadySent => "message_already_sent",
        TransitionError::NotStoppable => "message_not_stoppable",
        TransitionError::NotScheduled => "message_not_scheduled",
    };
    ApiError::new(StatusCode::CONFLICT, code, e.to_string())
}

/// The most contacts an audience may pick by hand.
const MAX_CONTACTS: usize = 10_000;
/// The most segments an audience may name.
const MAX_SEGMENTS: usize = 100;

/// Resolves an audience object into a filter and an optional list of contacts.
pub(crate) async fn audience(
    state: &AppState,
    caller: &Caller,
    audience: &Json,
) -> ApiResult<(Option<Pred>, Option<Vec<i64>>)> {
    let Json::Object(a) = audience else {
        return Err(ApiError::bad_request(
            "audience",
            "audience must be an object: contact_ids, segment_ids, query or everyone",
        ));
    };
    let known = ["contact_ids", "segment_ids", "query", "everyone", "conversation"];
    if let Some(k) = a.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            &format!("audience.{k}"),
            format!("audience.{k} is not an audience part; use {}", known.join(", ")),
        ));
    }
    if a.get("conversation").is_some_and(|c| !c.is_boolean()) {
        return Err(ApiError::bad_request("audience.conversation", "audience.conversation must be true or false"));
    }
    let everyone = fields::boolean(a, "everyone", "audience.everyone")?.unwrap_or(false);
    let query = a.get("query").filter(|q| !q.is_null());
    let ids = |key: &str| -> ApiResult<Option<Vec<i64>>> {
        match a.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    parse_id(v).ok_or_else(|| ApiError::bad_request(&format!("audience.{key}[{i}]"), "must be an id"))
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => {
                Err(ApiError::bad_request(&format!("audience.{key}"), format!("audience.{key} must be a list of ids")))
            }
        }
    };
    let contact_ids = ids("contact_ids")?;
    let mut segment_ids = ids("segment_ids")?;
    if contact_ids.as_ref().is_some_and(|c| c.len() > MAX_CONTACTS) {
        return Err(ApiError::bad_request(
            "audience.contact_ids",
            "Pick at most 10,000 contacts; use a filter or a segment for more",
        ));
    }
    // An empty list reaches nobody: almost certainly not what was meant, so it is refused.
    for (key, list, what) in [("contact_ids", &contact_ids, "contact"), ("segment_ids", &segment_ids, "segment")] {
        if list.as_ref().is_some_and(Vec::is_empty) {
            return Err(ApiError::bad_request(
                &format!("audience.{key}"),
                format!("audience.{key} is empty: pick at least one {what}, or leave it out"),
            ));
        }
    }
    if let Some(s) = segment_ids.as_mut() {
        s.sort_unstable();
        s.dedup();
        if s.len() > MAX_SEGMENTS {
            return Err(ApiError::bad_request("audience.segment_ids", format!("Pick at most {MAX_SEGMENTS} segments")));
        }
    }
    if !everyone && query.is_none() && contact_ids.is_none() && segment_ids.is_none() {
        return Err(ApiError::bad_request("audience", "Choose an audience: contacts, segments, a filter, or everyone"));
    }
    let data = SchemaData::load(state, caller, &query.into_iter().collect::<Vec<_>>()).await?;
    let clock = clock(caller);
    let mut parts = Vec::new();
    if let Some(q) = query {
        parts.push(compile(q, &data.schema(), &clock, "audience.query")?);
    }
    if let Some(segments) = &segment_ids {
        let mut any = Vec::new();
        for (i, id) in segments.iter().enumerate() {
            let q = json!({"field": "segment_id", "operator": "=", "value": id});
            any.push(compile(&q, &data.schema(), &clock, &format!("audience.segment_ids[{i}]"))?);
        }
        parts.push(Pred::Any(any));
    }
    let pred = match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Pred::All(parts)),
    };
    check_size(pred.as_ref(), contact_ids.as_ref().map_or(0, Vec::len), "audience")?;
    Ok((pred, contact_ids))
}

/// An audience as it is stored: parts set to `null` left out, and no parts at all is no audience.
fn without_nulls(audience: &Json) -> Json {
    match audience {
        Json::Object(parts) => {
            let kept: Map<String, Json> =
                parts.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
            if kept.is_empty() { Json::Null } else { Json::Object(kept) }
        }
        other => other.clone(),
    }
}

/// A message's fields from a create or update body, checked.
struct Draft {
    title: String,
    channel: Channel,
    subject: Option<String>,
    body: String,
    audience: Json,
    sender_id: i64,
}

async fn parse_draft(
    state: &AppState,
    caller: &Caller,
    b: &Map<String, Json>,
    base: Option<&Message>,
) -> ApiResult<Draft> {
    let text = |k: &str| fields::text(b, k, k).map(|t| t.map(str::to_owned));
    let channel = match text("channel")? {
        Some(c) => Channel::parse(&c)
            .ok_or_else(|| ApiError::bad_request("channel", "channel must be chat, post, email or push"))?,
        None => base.map_or(Channel::Chat, |m| m.channel),
    };
    if !channel.is_in_app() {
        return Err(ApiError::bad_request(
            "channel",
            "Email and push manual messages are not available yet; use chat or post",
        ));
    }
    let body = text("body")?.or_else(|| base.map(|m| m.body.clone())).unwrap_or_default();
    if body.trim().is_empty() {
        return Err(ApiError::bad_request("body", "Body is required"));
    }
    text::check("body", &body, text::BODY)?;
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    MessageBody::compile(&body, &custom, "body")?;
    let subject = match b.get("subject") {
        Some(_) => text("subject")?,
        None => base.and_then(|m| m.subject.clone()),
    };
    if let Some(s) = &subject {
        text::check("subject", s, text::SUBJECT)?;
        Template::parse(s, &custom, "subject")?;
    }
    let audience = match b.get("audience") {
        Some(a) => without_nulls(a),
        None => base.map_or(Json::Null, |m| m.audience.clone()),
    };
    if !audience.is_null() {
        self::audience(state, caller, &audience).await?;
    }
    let sender_id = match fields::id(b, "sender_id", "sender_id")? {
        Some(id) => {
            state.store.teammate(caller.workspace.id, id).await?.ok_or_else(|| {
                ApiError::new(StatusCode::NOT_FOUND, "admin_not_found", "Admin not found").with_field("sender_id")
            })?;
            id
        }
        None => base.map_or(caller.teammate.id, |m| m.sender_id),
    };
    let title = text("title")?
        .or_else(|| base.map(|m| m.title.clone()))
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| body.lines().next().unwrap_or("Untitled").chars().take(60).collect());
    text::check("title", &title, text::NAME)?;
    Ok(Draft { title, channel, subject, body, audience, sender_id })
}

/// The message object, with its stats and sender.
pub(crate) async fn render(state: &AppState, caller: &Caller, m: &Message) -> ApiResult<Json> {
    let stats = state.store.message_stats(caller.workspace.id, m.id).await?;
    let sender = state.store.teammate(caller.workspace.id, m.sender_id).await?;
    let custom = state.store.custom_attributes(caller.workspace.id).await?;
    let body_html = MessageBody::compile(&m.body, &custom, "body").ok().map(|b| {
        // Unpersonalised: tags shown as written, for the list and the editor's preview.
        let placeholder =
            tidings_core::contact::Contact::new(caller.workspace.id, tidings_core::contact::Role::User, 0);
        b.html_for(&placeholder)
    });
    Ok(json!({
        "type": "manual_message",
        "id": m.id.to_string(),
        "title": m.title,
        "channel": m.channel.as_str(),
        "state": m.state.as_str(),
        "subject": m.subject,
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
    let d = parse_draft(&state, &caller, &b, None).await?;
    let scheduled_at = match fields::present(&b, "scheduled_at") {
        None => None,
        Some(v) => Some(
            v.as_number()
                .and_then(tidings_core::attribute::whole_number)
                .ok_or_else(|| ApiError::bad_request("scheduled_at", "scheduled_at must be a time in UNIX seconds"))?,
        ),
    };
    let send_now = fields::boolean(&b, "send", "send")?.unwrap_or(false);
    if (send_now || scheduled_at.is_some()) && d.audience.is_null() {
        return Err(ApiError::bad_request("audience", "Choose an audience before sending or scheduling"));
    }
    let new = NewMessage {
        title: d.title,
        sender_id: d.sender_id,
        channel: d.channel,
        subject: d.subject,
        body: d.body,
        audience: d.audience,
        state: if scheduled_at.is_some() && !send_now { MessageState::Scheduled } else { MessageState::Draft },
        scheduled_at: if send_now { None } else { scheduled_at },
    };
    let m = state.store.create_message(caller.workspace.id, new, now()).await?;
    let m = if send_now { send_message(&state, &caller, m).await? } else { m };
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

async fn audience_count(State(state): State<AppState>, caller: Caller, Body(b): Body) -> ApiResult<JsonResponse<Json>> {
    let (pred, ids) = audience(&state, &caller, b.get("audience").unwrap_or(&Json::Null)).await?;
    let count = match ids {
        None => state.store.count_contacts(caller.workspace.id, pred.as_ref()).await?,
        Some(ids) => {
            let id_pred = Pred::Test(
                tidings_core::filter::Target::Column(&tidings_core::attribute::ID),
                tidings_core::filter::Test::In(ids.into_iter().map(tidings_core::attribute::Value::Int).collect()),
            );
            let all = match pred {
                Some(p) => Pred::All(vec![p, id_pred]),
                None => id_pred,
            };
            state.store.count_contacts(caller.workspace.id, Some(&all)).await?
        }
    };
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
    let mut m = find(&state, &caller, &id).await?;
    transition(m.state, m.channel, MessageAction::Edit).map_err(transition_error)?;
    let d = parse_draft(&state, &caller, &b, Some(&m)).await?;
    (m.title, m.channel, m.subject, m.body, m.audience, m.sender_id) =
        (d.title, d.channel, d.subject, d.body, d.audience, d.sender_id);
    if !state.store.update_message(caller.workspace.id, &m, now()).await? {
        return Err(refused(Refused::WrongState(
            state.store.message(caller.workspace.id, m.id).await?.map_or(MessageState::Sending, |x| x.state),
        )));
    }
    let m = find(&state, &caller, &id).await?;
    Ok(JsonResponse(render(&state, &caller, &m).await?))
}

/// Sends a draft or scheduled message now: resolves its audience there and then and writes the
/// snapshot. Used by the API, the admin app and the scheduler.
pub(crate) async fn send_message(state: &AppState, caller: &Caller, m: Message) -> ApiResult<Message> {
    transition(m.state, m.channel, MessageAction::Send).map_err(transition_error)?;
    if m.audience.is_null() {
        return Err(no_audience("sending"));
    }
    let (pred, ids) = audience(state, caller, &m.audience).await?;
    let to = Recipients { pred: pred.as_ref(), contact_ids: ids.as_deref() };
    let sent = state.store.send_message(caller.workspace.id, m.id, to, now()).await?.map_err(refused)?;
    tracing::info!(message = sent.id, targeted = sent.targeted, "manual message sent");
    if sent.channel == Channel::Chat && sent.targeted == 1 && m.audience.get("conversation") == Some(&Json::Bool(true))
    {
        // The send has committed: a failure here must not report it as failed. The contact's
        // first reply opens the conversation anyway.
        if let Err(e) = open_conversation(state, caller.workspace.id, &sent).await {
            tracing::warn!(message = sent.id, error = ?e, "could not open the conversation of a one-contact chat");
        }
    }
    // Contacts whose Messenger is open get it now; everyone else when they next open it.
    tokio::spawn(crate::messenger::push_message(state.clone(), caller.workspace.id, sent.clone()));
    Ok(sent)
}

/// A chat to one chosen contact (`audience.conversation`, set by the admin app's "Start a
/// conversation" and its composer for one contact) is a conversation from the moment it is sent:
/// it shows on the contact's profile, the sender's and the message's page, and the contact's
/// reply continues it.
async fn open_conversation(state: &AppState, ws: i64, sent: &Message) -> ApiResult<()> {
    let (contacts, _) = state.store.message_recipients(ws, sent.id, StatFilter::Targeted, 0, 1).await?;
    let Some(contact) = contacts.first() else { return Ok(()) };
    let custom = state.store.custom_attributes(ws).await?;
    let first = MessageBody::compile(&sent.body, &custom, "body")?.html_for(contact);
    state.store.conversation_for(ws, contact.id, sent, &first, now()).await?;
    Ok(())
}

/// Sends a scheduled message on behalf of the teammate who wrote it (the scheduler's path).
///
/// # Errors
/// When the message is gone, no longer scheduled, or its audience no longer resolves.
pub async fn send_scheduled(state: &AppState, workspace: i64, id: i64) -> ApiResult<()> {
    let ws = state.store.workspace(workspace).await?.ok_or_else(ApiError::not_found)?;
    let m = state.store.message(workspace, id).await?.ok_or_else(ApiError::not_found)?;
    let teammate = state.store.teammate(workspace, m.sender_id).await?.ok_or_else(ApiError::not_found)?;
    let caller = Caller { workspace: ws, teammate, via: crate::auth::Via::Scheduler };
    send_message(state, &caller, m).await.map(|_| ())
}

async fn send(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    let sent = send_message(&state, &caller, m).await?;
    Ok(JsonResponse(render(&state, &caller, &sent).await?))
}

async fn schedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(b): Body,
) -> ApiResult<JsonResponse<Json>> {
    let mut m = find(&state, &caller, &id).await?;
    m.state = transition(m.state, m.channel, MessageAction::Schedule).map_err(transition_error)?;
    let at = b
        .get("scheduled_at")
        .and_then(|v| tidings_core::attribute::DataType::Date.coerce(v).ok().flatten())
        .and_then(|v| if let tidings_core::attribute::Value::Date(d) = v { Some(d) } else { None })
        .ok_or_else(|| {
            ApiError::bad_request("scheduled_at", "scheduled_at must be a time (UNIX seconds or RFC 3339)")
        })?;
    if m.audience.is_null() {
        return Err(no_audience("scheduling"));
    }
    m.scheduled_at = Some(at);
    state.store.update_message(caller.workspace.id, &m, now()).await?;
    Ok(JsonResponse(render(&state, &caller, &find(&state, &caller, &id).await?).await?))
}

async fn unschedule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let mut m = find(&state, &caller, &id).await?;
    m.state = transition(m.state, m.channel, MessageAction::Unschedule).map_err(transition_error)?;
    m.scheduled_at = None;
    state.store.update_message(caller.workspace.id, &m, now()).await?;
    Ok(JsonResponse(render(&state, &caller, &find(&state, &caller, &id).await?).await?))
}

async fn stop(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    transition(m.state, m.channel, MessageAction::Stop).map_err(transition_error)?;
    let (stopped, cancelled) = state.store.stop_message(caller.workspace.id, m.id, now()).await?.map_err(refused)?;
    tracing::info!(message = stopped.id, cancelled, "manual message stopped");
    Ok(JsonResponse(render(&state, &caller, &stopped).await?))
}

async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<JsonResponse<Json>> {
    let m = find(&state, &caller, &id).await?;
    if m.sent_at.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "message_not_sent",
            "Only a message that was sent has people who did not receive it",
        ));
    }
    let audience = json!({"query": {"operator": "AND", "value": [
        {"field": "targeted_by_message", "operator": "=", "value": m.id},
        {"field": "received_message", "operator": "!=", "value": m.id},
    ]}});
    let new = NewMessage {
        title: format!("{} (to those who did not receive it)", m.title),
        sender_id: m.sender_id,
        channel: m.channel,
        subject: m.subject.clone(),
        body: m.body.clone(),
        audience,
        state: MessageState::Draft,
        scheduled_at: None,
    };
    let draft = state.store.create_message(caller.workspace.id, new, now()).await?;
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
    let body = MessageBody::compile(body, &custom, "body")?;
    let subject = match subject {
        Some(s) => Some(Template::parse(s, &custom, "subject")?.render_text(&contact)),
        None => None,
    };
    Ok(JsonResponse(json!({
        "type": "preview",
        "contact_id": contact.id.to_string(),
        "subject": subject,
        "html": body.html_for(&contact),
        "text": body.text_for(&contact),
    })))
}
