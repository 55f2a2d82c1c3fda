//! The Messenger's server side: the HTTP and WebSocket protocol the embedded widget speaks
//! (documented in `docs/messenger.md`), under `/messenger/v1`.
//!
//! Fetching is what delivers: a pending in-app delivery becomes `sent` when the contact's
//! Messenger fetches it, or when it is pushed to an open Messenger. A delivery cancelled by a
//! stop is never returned, because delivering is a conditional update from `pending`.

pub mod hub;
pub mod presence;
mod routes;
pub mod session;

pub(crate) use routes::contact_html;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tidings_core::contact::Contact;
use tidings_core::markdown::Body;
use tidings_store::{ConversationPart, Message};

use crate::AppState;
use crate::api::ApiRoute;

/// The Messenger's routes, documented: the router and the OpenAPI document are built from this
/// one list, like the REST API's.
pub fn routes() -> Vec<ApiRoute> {
    let r = |method: Method, path: &'static str, summary, request, response, handler| {
        crate::api::route_for(method, path, summary, request, response, handler)
    };
    vec![
        r(
            Method::POST,
            "/messenger/v1/boot",
            "Start a Messenger session: a user (user_id/email, with user_hash when the workspace verifies identity) or a visitor",
            Some("messenger_boot"),
            "messenger_session",
            post(routes::boot),
        ),
        r(
            Method::POST,
            "/messenger/v1/update",
            "Update the contact's attributes (those the Messenger may write)",
            Some("messenger_update"),
            "messenger_unread",
            post(routes::update),
        ),
        r(
            Method::GET,
            "/messenger/v1/messages",
            "Deliver every pending in-app message to this contact, then list their messages and conversations",
            None,
            "messenger_messages",
            get(routes::messages),
        ),
        r(
            Method::POST,
            "/messenger/v1/seen",
            "Mark deliveries seen",
            Some("messenger_seen_request"),
            "messenger_unread",
            post(routes::seen),
        ),
        r(
            Method::POST,
            "/messenger/v1/deliveries/{id}/click",
            "Record a click on a link in a delivered message",
            None,
            "messenger_click",
            post(routes::click),
        ),
        r(
            Method::POST,
            "/messenger/v1/deliveries/{id}/reply",
            "Reply to a chat: opens or continues the conversation with its sender",
            Some("messenger_text"),
            "messenger_conversation",
            post(routes::reply_to_delivery),
        ),
        r(
            Method::POST,
            "/messenger/v1/conversations",
            "Start a new conversation",
            Some("messenger_text"),
            "messenger_conversation",
            post(routes::start_conversation),
        ),
        r(
            Method::POST,
            "/messenger/v1/conversations/{id}/reply",
            "Reply in one of the contact's conversations",
            Some("messenger_text"),
            "messenger_conversation",
            post(routes::reply_to_conversation),
        ),
        r(Method::POST, "/messenger/v1/ping", "Keep last_seen_at fresh (204)", None, "empty", post(routes::ping)),
        r(
            Method::GET,
            "/messenger/v1/ws",
            "WebSocket (?session=…): the server pushes {type: hello|message|conversation_part} frames; see docs/messenger.md",
            None,
            "websocket",
            get(routes::websocket),
        ),
    ]
}

pub fn router(state: AppState) -> Router<AppState> {
    routes()
        .into_iter()
        // Preflights reach every route (the middleware below answers them), whatever its method.
        .fold(Router::new(), |router, r| router.route(r.path, r.handler.options(|| async { StatusCode::NO_CONTENT })))
        .route("/messenger/v1/{*rest}", axum::routing::any(routes::not_found))
        .layer(axum::middleware::from_fn_with_state(state, cors))
}

/// CORS for the widget, which runs on the company's own site. Preflights are answered for any
/// origin; the requests themselves are refused unless the workspace allows the origin (the
/// session and boot handlers check it, since only they know the workspace).
async fn cors(State(_state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut response =
        if req.method() == Method::OPTIONS { StatusCode::NO_CONTENT.into_response() } else { next.run(req).await };
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type, x-messenger-session"));
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    response
}

/// One in-app message as a contact sees it.
pub(crate) fn item(
    delivery_id: i64,
    m: &Message,
    contact: &Contact,
    body: &Body,
    sender: &str,
    seen_at: Option<i64>,
    sent_at: Option<i64>,
) -> serde_json::Value {
    json!({
        "type": m.channel.as_str(),
        "delivery_id": delivery_id.to_string(),
        "message_id": m.id.to_string(),
        "title": m.subject.as_deref().map(|s| tidings_core::personalise::Template::parse(s, &[], "subject").map(|t| t.render_text(contact)).unwrap_or_else(|_| s.to_owned())),
        "html": body.html_for(contact),
        "sender": {"name": sender},
        "sent_at": sent_at,
        "seen_at": seen_at,
    })
}

/// Pushes a freshly sent in-app message to every recipient whose Messenger is open on this
/// server, delivering it to them in bulk. Runs after the send has committed.
pub async fn push_message(state: AppState, workspace: i64, message: Message) {
    let online = state.hub.online(workspace);
    if online.is_empty() || !message.channel.is_in_app() {
        return;
    }
    let now = crate::auth::now();
    let delivered = match state.store.deliver_message_to(workspace, message.id, &online, now).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(message = message.id, error = %e, "real-time push failed; recipients will fetch it");
            return;
        }
    };
    if delivered.is_empty() {
        return;
    }
    let custom = state.store.custom_attributes(workspace).await.unwrap_or_default();
    let Ok(body) = Body::compile(&message.body, &custom, "body") else { return };
    let sender =
        state.store.teammate(workspace, message.sender_id).await.ok().flatten().map(|t| t.name).unwrap_or_default();
    // Without personalisation every recipient gets the same frame: render it once.
    let shared: Option<Arc<str>> = (!body.is_personalised() && message.subject.is_none()).then(|| {
        let anyone = Contact::new(workspace, tidings_core::contact::Role::User, 0);
        frame(&item(0, &message, &anyone, &body, &sender, None, Some(now)))
    });
    let mut pushed = 0usize;
    for (delivery_id, contact_id) in &delivered {
        let text = match &shared {
            Some(f) => Arc::from(f.replacen("\"delivery_id\":\"0\"", &format!("\"delivery_id\":\"{delivery_id}\""), 1)),
            None => match state.store.contact(workspace, *contact_id).await {
                Ok(Some(c)) => frame(&item(*delivery_id, &message, &c, &body, &sender, None, Some(now))),
                _ => continue,
            },
        };
        pushed += state.hub.send(workspace, *contact_id, text);
    }
    tracing::info!(message = message.id, delivered = delivered.len(), pushed, "pushed to open Messengers");
}

fn frame(item: &serde_json::Value) -> Arc<str> {
    Arc::from(json!({"type": "message", "item": item}).to_string())
}

/// Whether the contact sees a part: the team's notes, and state changes without words, are not
/// shown in the Messenger.
pub(crate) fn visible_to_contact(p: &ConversationPart) -> bool {
    p.part_type != "note" && p.body.is_some()
}

/// One part of a conversation as the Messenger shows it; `html` is already safe to insert
/// (teammates' Markdown is rendered with raw HTML escaped, contacts' text is escaped).
pub(crate) fn part_item(p: &ConversationPart, sender: &str) -> serde_json::Value {
    json!({
        "id": p.id.to_string(),
        "author": p.author_type,
        "sender": {"name": sender},
        "html": p.body,
        "created_at": p.created_at,
    })
}

/// Pushes a teammate's new part to every open Messenger of the conversation's contact. Best
/// effort: a contact who is not connected sees it in the conversation on their next
/// `GET /messages`. Returns how many Messengers got it.
pub(crate) fn push_part(
    state: &AppState,
    workspace: i64,
    contact_id: i64,
    part: &ConversationPart,
    sender: &str,
) -> usize {
    if !visible_to_contact(part) {
        return 0;
    }
    let text = json!({
        "type": "conversation_part",
        "conversation_id": part.conversation_id.to_string(),
        "part": part_item(part, sender),
    });
    state.hub.send(workspace, contact_id, Arc::from(text.to_string()))
}
