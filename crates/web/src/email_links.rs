//! The links in emails: unsubscribe (RFC 8058 one-click by `POST`, a confirmation page by
//! `GET`, since link scanners fetch every address in an email), the open pixel, and tracked
//! clicks. Each carries its own signature (see the engine's `email::links`): nobody needs to be
//! logged in, and a link works for its own delivery only.
//!
//! Also where mail systems report back: `POST /email/reports` takes a whole email received at
//! the bounce address (a delivery status notification, a complaint, an automatic reply), as a
//! mail server's pipe hands it on, with `?recipient=` the address it came to; `POST
//! /email/events` takes a relay's webhook events. Both act only on deliveries named by a signed
//! reference, and answer 503 when they could not be recorded, so the sender tries again.
//!
//! And where contacts answer reply emails: `POST /email/inbound` takes a whole email received at
//! the reply address, the same way (`?recipient=` the address it came to, the same body limit,
//! 503 so the mail server tries again); the engine adds its new words to the conversation its
//! signed reply address, or the email it answers, names.

use askama::Template;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};
use tidings_engine::email::inbound::Received;
use tidings_engine::email::links::LinkKind;
use tidings_engine::email::reports::Reported;

use crate::AppState;
use crate::admin::render as render_page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/email/unsubscribe/{token}", get(ask).post(unsubscribe))
        .route("/email/open/{file}", get(opened))
        .route("/email/click/{token}", get(clicked))
        .route("/email/reports", post(report).layer(DefaultBodyLimit::max(REPORT_LIMIT)))
        .route("/email/events", post(events))
        .route("/email/inbound", post(inbound).layer(DefaultBodyLimit::max(REPORT_LIMIT)))
}

/// A report may carry the whole email it is about, and a contact's answer the whole thread.
const REPORT_LIMIT: usize = 10 * 1024 * 1024;

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

fn reported(r: Reported) -> Json {
    match r {
        Reported::Bounced { delivery } => {
            json!({"type": "email_report", "result": "bounced", "delivery_id": delivery.to_string()})
        }
        Reported::Complained { delivery } => {
            json!({"type": "email_report", "result": "complained", "delivery_id": delivery.to_string()})
        }
        Reported::Ignored { why } => json!({"type": "email_report", "result": "ignored", "why": why}),
        Reported::NotOurs => json!({"type": "email_report", "result": "not_ours",
            "why": "no delivery of this server is named by a valid reference"}),
    }
}

/// A whole email received at the bounce address.
async fn report(
    State(state): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    match state.engine.email_report(&body, q.get("recipient").map(String::as_str)).await {
        Ok(r) => axum::Json(reported(r)).into_response(),
        Err(e) => unavailable(&e),
    }
}

/// A whole email a contact sent to a conversation's reply address.
async fn inbound(
    State(state): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let answer = match state.engine.email_reply(&body, q.get("recipient").map(String::as_str)).await {
        Ok(Received::Added { conversation, part }) => json!({"type": "email_reply", "result": "added",
            "conversation_id": conversation.to_string(), "part_id": part.to_string()}),
        Ok(Received::Ignored { why }) => json!({"type": "email_reply", "result": "ignored", "why": why}),
        Ok(Received::NotOurs) => json!({"type": "email_reply", "result": "not_ours",
            "why": "no conversation of this server is named by a valid reply address or Message-ID"}),
        Err(e) => return unavailable(&e),
    };
    axum::Json(answer).into_response()
}

/// A relay's webhook: one event, a list of them, or an Amazon SNS envelope around one.
async fn events(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let Ok(value) = serde_json::from_slice::<Json>(&body) else {
        return crate::error::ApiError::bad_request("body", "the body must be a JSON object or a list of them")
            .into_response();
    };
    let list = match value {
        Json::Array(items) => items,
        one => vec![one],
    };
    let mut results = Vec::with_capacity(list.len());
    for mut event in list {
        if event["Type"] == "SubscriptionConfirmation" {
            tracing::warn!(url = %event["SubscribeURL"], "confirm this SNS subscription by opening its SubscribeURL");
        }
        // SNS wraps the notification in a string.
        if event["Type"] == "Notification"
            && let Some(inner) = event["Message"].as_str().and_then(|m| serde_json::from_str::<Json>(m).ok())
        {
            event = inner;
        }
        match state.engine.email_event(&event).await {
            Ok(r) => results.push(reported(r)),
            Err(e) => return unavailable(&e),
        }
    }
    axum::Json(json!({"type": "list", "data": results})).into_response()
}
