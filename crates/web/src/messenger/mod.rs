//! The Messenger's server side: the HTTP and WebSocket protocol the embedded widget speaks
//! (documented in `docs/messenger.md`), under `/messenger/v1`.
//!
//! Fetching is what delivers: a pending in-app delivery becomes `sent` when the contact's
//! Messenger fetches it, or when it is pushed to a Messenger open on this node ([`relay`], which
//! hears every send on the engine's bus). A delivery cancelled by a stop is never returned,
//! because delivering is a conditional update from `pending`. Everything the Messenger writes
//! goes through the engine.

pub mod hub;
mod items;
pub mod relay;
mod routes;
pub mod session;
mod threads;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};

use crate::AppState;
use crate::routes::ApiRoute;

/// The Messenger's routes, documented: the router and the OpenAPI document are built from this
/// one list, like the REST API's.
pub fn routes() -> Vec<ApiRoute> {
    let r = |method: Method, path: &'static str, summary, request, response, handler| {
        crate::routes::route_for(method, path, summary, request, response, handler)
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
            "/messenger/v1/home",
            "How the Messenger presents the workspace: its name, greeting and colour, and its teammates' names and avatars",
            None,
            "messenger_home",
            get(threads::home),
        ),
        r(
            Method::GET,
            "/messenger/v1/conversations",
            "Deliver every pending in-app message to this contact, then list their conversations (newest first, each with its last part and unread count) and their announcements",
            None,
            "messenger_conversation_list",
            get(threads::list),
        ),
        r(
            Method::GET,
            "/messenger/v1/conversations/{id}",
            "One of the contact's conversations: every part they see, in order, with its author's name and avatar",
            None,
            "messenger_conversation",
            get(threads::show),
        ),
        r(
            Method::POST,
            "/messenger/v1/conversations/{id}/seen",
            "The contact opened a conversation: everything in it so far is seen (the chat that opened it too)",
            None,
            "messenger_conversation_seen",
            post(threads::seen),
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
            "WebSocket (?session=…): the server pushes {type: hello|message|conversation_part|conversation_seen|resync} frames; see docs/messenger.md",
            None,
            "websocket",
            get(routes::websocket),
        ),
    ]
}

pub fn router(state: AppState) -> Router<AppState> {
    // One method router per path (a path may take several methods), each answering preflights
    // too (the middleware below answers them), whatever its methods.
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes() {
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(r.handler),
            None => r.handler.options(|| async { StatusCode::NO_CONTENT }),
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| router.route(path, handler))
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
