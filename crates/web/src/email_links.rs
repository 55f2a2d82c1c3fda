//! The links in emails: unsubscribe (RFC 8058 one-click by `POST`, a confirmation page by
//! `GET`, since link scanners fetch every address in an email), the open pixel, and tracked
//! clicks. Each carries its own signature (see the engine's `email::links`): nobody needs to be
//! logged in, and a link works for its own delivery only.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tidings_engine::email::links::LinkKind;

use crate::AppState;
use crate::admin::render as render_page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/email/unsubscribe/{token}", get(ask).post(unsubscribe))
        .route("/email/open/{file}", get(opened))
        .route("/email/click/{token}", get(clicked))
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage {
    title: &'static str,
    /// `ask`, `done` or `invalid`.
    state: &'static str,
    workspace: String,
    email: String,
    action: String,
}

fn invalid() -> Response {
    let page = UnsubscribePage {
        title: "Link not valid",
        state: "invalid",
        workspace: String::new(),
        email: String::new(),
        action: String::new(),
    };
    (StatusCode::NOT_FOUND, render_page(&page)).into_response()
}

fn unavailable(e: &tidings_engine::EngineError) -> Response {
    tracing::warn!(error = %e, "an email link could not be followed");
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], "Please try again in a moment.").into_response()
}

/// `GET`: asks, changes nothing.
async fn ask(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.engine.email_link(&token, LinkKind::Unsubscribe, None).await {
        Ok(Some(t)) => render_page(&UnsubscribePage {
            title: if t.contact.unsubscribed_from_emails { "You are unsubscribed" } else { "Unsubscribe" },
            state: if t.contact.unsubscribed_from_emails { "done" } else { "ask" },
            workspace: t.workspace.name,
            email: t.contact.email.unwrap_or_default(),
            action: format!("/email/unsubscribe/{token}"),
        }),
        Ok(None) => invalid(),
        Err(e) => unavailable(&e),
    }
}

/// `POST`: unsubscribes at once, from the page's button or a mail client's one-click
/// (`List-Unsubscribe=One-Click`).
async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.engine.unsubscribe_by_link(&token).await {
        Ok(Some(t)) => render_page(&UnsubscribePage {
            title: "You are unsubscribed",
            state: "done",
            workspace: t.workspace.name,
            email: t.contact.email.unwrap_or_default(),
            action: String::new(),
        }),
        Ok(None) => invalid(),
        Err(e) => unavailable(&e),
    }
}

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
    0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The open pixel: always the image (a reader never sees an error), recorded when the link is ours.
async fn opened(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".gif").unwrap_or(&file);
    if let Err(e) = state.engine.email_opened(token).await {
        tracing::warn!(error = %e, "an email open could not be recorded");
    }
    ([(header::CONTENT_TYPE, "image/gif"), (header::CACHE_CONTROL, "no-store, max-age=0")], PIXEL).into_response()
}

/// A tracked link: records the click and sends the reader on, only to the address the email
/// carried (signed with the delivery), never anywhere a changed link names.
async fn clicked(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(url) = q.get("u") else { return invalid() };
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return invalid();
    }
    match state.engine.email_clicked(&token, url).await {
        Ok(Some(to)) => Redirect::to(&to).into_response(),
        Ok(None) => invalid(),
        Err(e) => unavailable(&e),
    }
}
