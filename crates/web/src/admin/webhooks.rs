//! Settings › Webhooks' forms: add a subscription with its topics, switch it off or on, delete
//! it. The owner and admins only ([`Permission::Webhooks`]); every change goes through the
//! engine, and the settings page answers with the section as it now stands (read by
//! [`super::webhooks_section`], which also shows each one's signing secret and what became of its
//! recent notifications).

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tidings_engine::webhooks::WebhookInput;

use super::session::Admin;
use super::settings::{Notice, settings_page};
use super::webhooks_section::{WebhooksSection, choices};
use crate::AppState;
use crate::error::ApiError;
use crate::roles::Permission;

fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response()
}

/// Every message of a refusal, as one sentence for the page.
fn words(e: &ApiError) -> String {
    e.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join(" ")
}

/// Checks the form's CSRF token and the teammate's permission; the answer to give when either fails.
async fn refused(state: &AppState, admin: &Admin, csrf: &str) -> Option<Response> {
    if !admin.csrf_ok(csrf) {
        return Some(csrf_refused());
    }
    match admin.require(Permission::Webhooks) {
        Ok(()) => None,
        Err(f) => Some(settings_page(state, admin, Notice::forbidden(f)).await),
    }
}

/// `POST /app/settings/webhooks`: `url` and any number of `topics`.
pub async fn create(State(state): State<AppState>, admin: Admin, Form(form): Form<Vec<(String, String)>>) -> Response {
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
    if let Some(no) = refused(&state, &admin, &value("csrf")).await {
        return no;
    }
    let url = value("url").trim().to_owned();
    let topics: Vec<String> = form.iter().filter(|(k, _)| k == "topics").map(|(_, v)| v.clone()).collect();
    let input = WebhookInput { url: Some(url.clone()), topics: Some(topics.clone()), active: Some(true) };
    match state.engine.create_webhook(&admin.workspace, input).await {
        Ok(w) => {
            let done = format!("Webhook added: {} is sent what you chose, signed with its secret below.", w.url);
            settings_page(&state, &admin, Notice::done(done)).await
        }
        Err(e) => {
            let e = ApiError::from(e);
            // What was typed stays in the form, to be corrected.
            let section = match WebhooksSection::of(&state, &admin.workspace).await {
                Ok(mut s) => {
                    s.url = url;
                    s.topics = choices(&topics);
                    s.bad_url = e.errors.iter().any(|x| x.field.as_deref() == Some("url"));
                    s
                }
                Err(e) => return e.into_response(),
            };
            let notice = Notice { webhooks: Some(section), ..Notice::error(words(&e)) };
            settings_page(&state, &admin, Notice { status: e.status, ..notice }).await
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ActiveForm {
    csrf: String,
    /// `on` or `off`.
    active: String,
}

/// `POST /app/settings/webhooks/{id}/active`: switches a subscription on or off.
pub async fn set_active(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<ActiveForm>,
) -> Response {
    if let Some(no) = refused(&state, &admin, &f.csrf).await {
        return no;
    }
    let on = f.active == "on";
    let input = WebhookInput { active: Some(on), ..WebhookInput::default() };
    let notice = match state.engine.update_webhook(&admin.workspace, id, input).await {
        Ok(w) if on => Notice::done(format!("{} is on: it hears what happens from now on.", w.url)),
        Ok(w) => Notice::done(format!("{} is off: nothing is sent to it until it is switched on.", w.url)),
        Err(e) => Notice::error(words(&ApiError::from(e))),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /app/settings/webhooks/{id}/delete`: deletes a subscription and its notifications.
pub async fn delete(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(no) = refused(&state, &admin, &f.csrf).await {
        return no;
    }
    let notice = match state.engine.delete_webhook(&admin.workspace, id).await {
        Ok(()) => Notice::done("Webhook deleted: nothing more is sent to it."),
        Err(e) => Notice::error(words(&ApiError::from(e))),
    };
    settings_page(&state, &admin, notice).await
}
