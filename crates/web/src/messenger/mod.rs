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

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

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
